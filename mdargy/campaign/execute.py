"""Run one campaign task: the LAMMPS driver on the group's communicator, then its analysis.

* NEMD task -> :func:`mdargy.drivers.run_nemd` in ``<work>/run``; the outputs are κ(L) ± σ,
  the length and the mean temperature from the driver's ``result.json``.
* EMD task -> :func:`mdargy.drivers.run_emd` in ``<work>/run``; then, on the group's rank 0,
  the MSD and D per species (:func:`mdargy.analysis.diffusion.diffusion_coefficients`,
  ``msd.json`` + ``diffusion.json``) and/or the total and partial DOS
  (:func:`mdargy.analysis.dos.compute_dos`, ``dos.json``) from the run's binary trajectory,
  and/or the Green–Kubo κ ± σ of its heat current (:func:`mdargy.analysis.greenkubo.green_kubo`,
  ``gk.json``), and/or force constants, phonons and Wigner κ_p + κ_c of its snapshots
  (:func:`mdargy.lattice.pipeline.lattice_from_run`, ``lattice.json`` and ``lattice/``).

The drivers resume from the checkpoints in ``<work>/run`` and refuse to redo a finished run; a
task interrupted after its MD finished therefore only redoes the analysis.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from mdargy.analysis.diffusion import diffusion_coefficients
from mdargy.analysis.dos import compute_dos
from mdargy.analysis.greenkubo import green_kubo
from mdargy.analysis.ionic import ionic_transport
from mdargy.campaign import adapters
from mdargy.campaign.tasks import format_T, task_seed
from mdargy.drivers import run_emd, run_nemd
from mdargy.drivers.checkpoint import RunDirectory
from mdargy.drivers.emd import EMDResult
from mdargy.drivers.nemd import NEMDResult
from mdargy.errors import InputError, MdargyError
from mdargy.io.atomic import atomic_write_json
from mdargy.io.cube import write_cube
from mdargy.io.heatflux import read_heatflux
from mdargy.io.trajectory import load_trajectory
from mdargy.lammps.runtime import self_comm
from mdargy.lattice.pipeline import lattice_from_run
from mdargy.structures.ionic_reference import site_reference


def _idle_bcast(comm, value, poll_s: float = 0.05):
    """Broadcast from rank 0 after an idle wait (the others sleep instead of spinning)."""
    if comm.Get_size() == 1:
        return value
    req = comm.Ibarrier()
    while not req.Test():
        time.sleep(poll_s)
    return comm.bcast(value, root=0)


def _rank0(comm, fn):
    """Run ``fn`` on rank 0, share its value or its error with every rank of ``comm``."""
    payload = None
    if comm.Get_rank() == 0:
        try:
            payload = (fn(), None)
        except Exception as exc:  # noqa: BLE001 - re-raised on every rank below
            payload = (None, exc if isinstance(exc, MdargyError) else
                       MdargyError(f"{type(exc).__name__}: {exc}"))
    value, exc = _idle_bcast(comm, payload)
    if exc is not None:
        raise exc
    return value


def _resume_step(run_dir: Path) -> int | None:
    try:
        return int(json.loads((run_dir / "checkpoints" / "state.json").read_text())["step"])
    except (OSError, ValueError, KeyError):
        return None


def _finished(run_dir: Path, result_type):
    """The driver's result when ``result.json`` is complete; None when absent or damaged (a
    truncated result is not "done": the driver resumes from its checkpoint and rewrites it)."""
    if not RunDirectory(run_dir).is_done():
        return None
    try:
        return result_type.from_json(run_dir / "result.json")
    except (ValueError, TypeError, KeyError, OSError):
        return None


def run_task(spec, task, workdir, comm) -> dict:
    """Execute ``task`` of campaign ``spec`` in ``workdir``, collectively on ``comm``.

    Returns the task's outputs (a JSON-able dict, on every rank): file names relative to the
    task directory and the headline numbers.
    """
    workdir = Path(workdir)
    structure_file, type_elements = _rank0(comm, lambda: adapters.structure_source(spec, workdir))
    config = adapters.driver_config(spec, task, workdir, structure_file, type_elements)
    run_dir = Path(config.output_dir)
    resumed_from = _rank0(comm, lambda: _resume_step(run_dir))
    if task.kind == "nemd":
        npt = None
        res = _rank0(comm, lambda: _finished(run_dir, NEMDResult))
        if res is None:
            if spec.nemd.npt_ps > 0:
                scaled, npt = _npt_lattice(spec, task, workdir, comm, structure_file,
                                           type_elements)
                config = adapters.driver_config(spec, task, workdir, scaled,
                                                tuple(npt["type_elements"]))
            res = run_nemd(config, comm=comm, progress=False)
        elif (workdir / "npt_lattice.json").is_file():
            npt = _rank0(comm, lambda: json.loads((workdir / "npt_lattice.json").read_text()))
        return {
            "kind": "nemd", "T_K": task.T_K, "length_cells": task.params["length_cells"],
            "length_A": float(res.length_A), "kappa_W_mK": float(res.kappa_W_mK),
            "kappa_err_W_mK": float(res.kappa_err_W_mK), "T_mean_K": float(res.T_mean_K),
            "n_atoms": int(res.n_atoms), "area_A2": float(res.area_A2),
            "T_hot_K": res.T_hot_K, "T_cold_K": res.T_cold_K,
            "gradient_asymmetry": float(res.gradient_asymmetry),
            "imbalance_fraction": float(res.imbalance_fraction),
            "n_discarded_blocks": int(res.n_discarded_blocks), "result": "run/result.json",
            "resumed_from_step": resumed_from, "npt_lattice": npt,
            "warnings": list(getattr(res, "notes", ()) or ()),
        }

    res = _rank0(comm, lambda: _finished(run_dir, EMDResult))
    if res is None:
        res = run_emd(config, comm=comm, progress=False)
    return _rank0(comm, lambda: _analyse_emd(spec, task, workdir, res, resumed_from))


def _analyse_emd(spec, task, workdir: Path, res, resumed_from) -> dict:
    e = spec.emd
    out = {"kind": "emd", "T_K": task.T_K, "T_mean_K": float(res.T_mean_K),
           "n_atoms": int(res.n_atoms), "n_frames": int(res.n_frames),
           "frame_dt_ps": float(res.frame_dt_ps), "result": "run/result.json",
           "resumed_from_step": resumed_from,
           "analysis": {"msd_fit_range_ps": e.msd_fit_range_ps, "msd_blocks": e.msd_blocks,
                        "dos_resolution_THz": e.dos_resolution_THz,
                        "gk_fstar_THz": e.gk_fstar_THz},
           "msd": None, "diffusion": None, "dos": None, "D_cm2_s": {}, "gk": None,
           "kappa_GK_W_mK": None, "kappa_GK_err_W_mK": None, "warnings": []}
    if task.params.get("gk"):
        out.update(_analyse_gk(e, task, workdir, res))
    if task.params.get("lattice"):
        try:
            out.update(_analyse_lattice(spec.lattice, task, workdir, res, out["warnings"]))
        except InputError as exc:
            # e.g. a run that diffused (harmonic force constants are meaningless there): the
            # task's other analyses stand; the report lists the refusal and its reason
            out.update(lattice=None, lattice_refused=str(exc))
            out["warnings"].append(f"lattice dynamics refused: {exc}")
    if not (task.params.get("msd") or task.params.get("dos") or task.params.get("ionic")):
        return out
    traj = load_trajectory(res.trajectory_path, velocities=bool(task.params.get("dos")))
    if traj.dt_ps is None:
        traj = traj.replace(dt_ps=float(res.frame_dt_ps))
    out.update(n_frames=int(traj.n_frames), frame_dt_ps=float(traj.dt_ps))
    if task.params.get("ionic"):
        out.update(_analyse_ionic(spec.ionic, task, workdir, res, traj, out["warnings"]))
    if task.params.get("msd"):
        da = diffusion_coefficients(traj.positions, traj.dt_ps, species=traj.elements,
                                    masses=traj.masses_amu, window_ps=e.msd_fit_range_ps,
                                    n_blocks=e.msd_blocks, T_K=task.T_K)
        da.msd.to_json(workdir / "msd.json")
        atomic_write_json(workdir / "diffusion.json", {
            "diffusion": [d.to_dict() for d in da.diffusion], "n_blocks": da.n_blocks,
            "provenance": da.provenance})
        out.update(msd="msd.json", diffusion="diffusion.json")
        out["D_cm2_s"] = {d.species: [d.D_cm2_s, d.D_err_cm2_s] for d in da.diffusion}
        out["warnings"] += [f"D_{d.species}: {w}" for d in da.diffusion for w in d.warnings]
    if task.params.get("dos"):
        if traj.velocities is None:
            raise MdargyError(f"{res.trajectory_path} has no velocities: cannot compute a DOS")
        dos = compute_dos(traj.velocities, traj.dt_ps, elements=traj.elements,
                          masses_amu=traj.masses_amu, resolution_THz=e.dos_resolution_THz,
                          T_K=task.T_K)
        dos.to_json(workdir / "dos.json")
        out["dos"] = "dos.json"
        out["warnings"] += [f"DOS: {w}" for w in dos.warnings]
    return out


def _analyse_gk(e, task, workdir: Path, res) -> dict:
    """Green–Kubo κ of a task's heat current (cepstral, multicomponent for several species)."""
    if not res.heatflux_path:
        raise MdargyError(f"{res.output_dir}: the run recorded no heat current (heat_every_fs = 0)")
    s = read_heatflux(res.heatflux_path)
    try:
        gk = green_kubo(s.J_eVA_ps, s.dt_ps, s.volume_A3, s.temperature_K,
                        species_flux=s.vsum_A_ps, species=s.species, fstar_THz=e.gk_fstar_THz,
                        ensemble=s.ensemble,
                        inputs={"file": s.path, "temperature_source": s.temperature_source,
                                "task": task.id})
    except InputError as exc:
        raise InputError(str(exc), s.path) from None
    gk.to_json(workdir / "gk.json")
    return {"gk": "gk.json", "kappa_GK_W_mK": float(gk.kappa_W_mK),
            "kappa_GK_err_W_mK": float(gk.kappa_err_W_mK), "gk_method": gk.method,
            "warnings": [f"Green-Kubo: {f}" for f in gk.flags]}


def _analyse_lattice(la, task, workdir: Path, res, warnings: list) -> dict:
    """Force constants, phonons and Wigner κ of a task's EMD run (on this rank alone).

    The stages are files in ``workdir/lattice`` and are reused when present, so a task killed
    in the (long) phono3py stage resumes there.
    """
    cutoffs = None
    if la.cutoffs_A is not None:
        cutoffs = {order: c for order, c in zip((2, 3, 4), la.cutoffs_A)}
    lat = lattice_from_run(res.output_dir, workdir / "lattice", n_snapshots=la.n_snapshots,
                           skip_ps=la.skip_ps, window_ps=la.window_ps,
                           max_displacement_A=la.max_displacement_A, cutoffs_A=cutoffs, max_order=la.max_order,
                           mesh=la.mesh, coarse_mesh=la.coarse_mesh, classical=la.classical,
                           comm=self_comm())
    lat.to_json(workdir / "lattice.json")
    warnings += [f"lattice: {w}" for w in getattr(lat, "warnings", ()) or ()]
    if lat.has_imaginary:
        warnings.append(f"lattice: {lat.n_imaginary_modes} imaginary mode(s), lowest "
                        f"{lat.min_freq_THz:.3g} THz (see lattice/phonons.json)")
    return {"lattice": "lattice.json", "kappa_p_W_mK": lat.kappa_p_W_mK,
            "kappa_c_W_mK": lat.kappa_c_W_mK, "kappa_wigner_W_mK": lat.kappa_total_W_mK,
            "warnings": warnings}


def _analyse_ionic(io_spec, task, workdir: Path, res, traj, warnings: list) -> dict:
    """Ionic conductivity, Haven ratio, site jumps and the density map of a task's trajectory."""
    ref = ops = paths = None
    if io_spec.site_reference != "none":
        ref, ops, paths = site_reference(io_spec.site_reference)
    r = ionic_transport(traj.positions, traj.elements, traj.boxes_A, traj.dt_ps,
                        float(res.T_mean_K), species=io_spec.species, masses=traj.masses_amu,
                        charges_e=io_spec.charges_e, reference=ref, symmetry_ops=ops,
                        paths=paths, density_shape=(io_spec.density_grid,) * 3,
                        density_sigma_A=io_spec.density_sigma_A)
    summary = r.summary()
    summary["provenance"] = r.provenance
    atomic_write_json(workdir / "ionic.json", summary)
    r.conductivity.to_json(workdir / "conductivity.json")
    files = {"ionic": "ionic.json", "conductivity": "conductivity.json"}
    if r.density is not None:
        d = r.density
        write_cube(workdir / "density.cube", d.density_per_A3, d.cell_A,
                   comment=f"mdargy: number density of {d.species} ({d.n_frames_used} frames, "
                   f"{d.n_symmetry_ops} symmetry ops, T = {d.T_K} K)")
        files["density_cube"] = "density.cube"
    c = r.conductivity
    warnings += [f"sigma_ion: {w}" for w in c.warnings]
    if r.sites is not None:
        warnings += [f"sites: {w}" for w in r.sites.warnings]
    return {**files, "sigma_ion_S_cm": c.sigma_S_cm, "sigma_ion_err_S_cm": c.sigma_err_S_cm,
            "haven_ratio": c.haven_ratio, "warnings": warnings}


def _npt_lattice(spec, task, workdir: Path, comm, structure_file, type_elements):
    """NPT run at the task's temperature; the unit cell scaled to its mean volume.

    Returns the path of the scaled unit cell (``workdir/unit_cell_npt.data``) and what was
    used (also in ``workdir/npt_lattice.json``). Resumes like any EMD run.
    """
    cfg = adapters.npt_config(spec, task, workdir, structure_file, type_elements,
                              seed=task_seed(spec.seed, f"npt_T{format_T(task.T_K)}K"))
    if _rank0(comm, lambda: _finished(Path(cfg.output_dir), EMDResult)) is None:
        run_emd(cfg, comm=comm, progress=False)
    path = workdir / "unit_cell_npt.data"
    n_cells = int(spec.nemd.npt_cells[0] * spec.nemd.npt_cells[1] * spec.nemd.npt_cells[2])

    def scale():
        info = adapters.scaled_unit_cell(spec, Path(cfg.output_dir) / "thermo.csv", n_cells,
                                         path, type_elements)
        info.update(T_K=task.T_K, npt_ps=spec.nemd.npt_ps, pressure_bar=spec.nemd.pressure_bar,
                    npt_cells=list(spec.nemd.npt_cells), run="npt/result.json")
        atomic_write_json(workdir / "npt_lattice.json", info)
        return info

    info = _rank0(comm, scale)
    return str(path), info
