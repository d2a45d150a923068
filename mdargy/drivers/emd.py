"""Equilibrium MD driver: minimise (optional), equilibrate (NVT/NPT), produce (NVT/NVE).

Outputs in ``config.output_dir``:

``structure.data``
    The (replicated) input structure as run, types = ``type_elements``.
``thermo.csv``
    ``step, time_ps, T_K, pe_eV, ke_eV, etotal_eV, press_bar, vol_A3, lx_A, ly_A, lz_A, stage``
    every ``thermo_every_fs`` (global LAMMPS step and time).
``traj.nc``
    NetCDF trajectory in the AMBER convention (:mod:`mdargy.io.netcdf`; opens in MDAnalysis,
    ASE, VMD, OVITO): unwrapped positions (Å), velocities (Å/ps), cell, time (ps), LAMMPS step
    and atomic numbers, atoms by id, every ``dump_every_fs`` of production. Steps and times are
    LAMMPS's own (continuing from equilibration, as in ``thermo.csv``).
``traj.pdb``
    Topology for programs that take elements from a topology (``mda.Universe("traj.pdb",
    "traj.nc")``): element names, the first frame's cell and wrapped positions.
``traj.lammpstrj``
    The same frames as a LAMMPS ``dump custom`` text file (``id type element xu yu zu vx vy
    vz``, ``ITEM: TIME`` in ps, ``ITEM: UNITS`` in the first frame).
``traj.mdtraj``
    Only in runs begun before NetCDF: mdargy's binary trajectory (:mod:`mdargy.io.binary`), which
    such a run keeps writing when resumed (with its text dump in the old columns).
``heatflux.dat``
    Only with ``heat_every_fs > 0``: the heat current J (total, convective, virial; eV Å/ps,
    extensive) and the velocity sum of each species every ``heat_every_fs`` of production
    (:mod:`mdargy.drivers.heatflux`; read it with :func:`mdargy.io.heatflux.read_heatflux`).
``final.data`` / ``final.extxyz``
    The final structure.
``metadata.json``
    Inputs, seeds, versions, time step, frame interval, elements and masses per type.
``result.json``
    :class:`EMDResult`; its presence marks the run as finished.

Nosé–Hoover thermostat/barostat (``fix nvt``/``fix npt``; Shinoda, Shiga & Mikami, *PRB* 69,
134103 (2004)) and velocity Verlet (``fix nve``).
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
from pathlib import Path

import ase
import ase.io
import numpy as np
from ase import units

from mdargy.drivers.checkpoint import (
    THERMO_COLUMNS,
    Engine,
    box_matrix,
    RunDirectory,
    gather_frame,
    config_key,
    run_driver,
)
from mdargy.drivers.common import base_commands, guard_commands, guard_every, round_up
from mdargy.drivers.config import EMDConfig
from mdargy.drivers import heatflux as hf
from mdargy.io.atomic import atomic_write_csv, atomic_write_json, atomic_write_text
from mdargy.io.binary import BinaryTrajectoryWriter
from mdargy.io.lammpsdump import dump_frame_text
from mdargy.io.netcdf import NetCDFTrajectoryWriter
from mdargy.io.pdb import write_pdb_topology
from mdargy.results import Result, provenance, software_versions
from mdargy.structures.load import write_lammps_data

TRAJ_NAME = "traj.nc"
TOPOLOGY_NAME = "traj.pdb"
#: The trajectory of runs begun before NetCDF (kept when such a run is resumed).
LEGACY_TRAJ_NAME = "traj.mdtraj"
DUMP_NAME = "traj.lammpstrj"


@dataclasses.dataclass(frozen=True)
class EMDResult(Result):
    """Summary of an EMD run; the trajectories and tables are files in ``output_dir``.

    ``etotal_drift_eV_atom_ps`` is the slope of the total energy per atom during production
    (meaningful for NVE: energy conservation); ``etotal_std_eV_atom`` its standard deviation.
    """

    output_dir: str
    n_atoms: int
    type_elements: tuple
    masses_amu: tuple
    production_ensemble: str
    production_steps: int
    timestep_fs: float
    dump_every: int
    frame_dt_ps: float
    n_frames: int
    T_mean_K: float
    T_std_K: float
    pe_mean_eV: float
    press_mean_bar: float
    volume_A3: float
    etotal_drift_eV_atom_ps: float
    etotal_std_eV_atom: float
    trajectory_path: str
    dump_path: str | None
    thermo_path: str
    final_structure_path: str
    metadata_path: str
    provenance: dict
    heatflux_path: str | None = None


def ensemble_fix(config: EMDConfig, stage: str) -> str:
    """The integrator fix of a stage (``eq`` or ``prod``)."""
    T = config.temperature_K
    tdamp = config.tdamp_fs * 1e-3
    if stage == "equilibration":
        if config.equilibration_ensemble == "npt":
            P = config.pressure_bar
            pdamp = config.pdamp_fs * 1e-3
            return (f"fix eq all npt temp {T:g} {T:g} {tdamp:g} {config.barostat} {P:g} {P:g} "
                    f"{pdamp:g}")
        return f"fix eq all nvt temp {T:g} {T:g} {tdamp:g}"
    if config.production_ensemble == "nve":
        return "fix prod all nve"
    return f"fix prod all nvt temp {T:g} {T:g} {tdamp:g}"


def emd_input(config: EMDConfig, data_file: str = "structure.data",
              type_elements=None) -> str:
    """The LAMMPS input an uninterrupted EMD run executes (for ``--dry-run`` and tests).

    The driver executes the same commands in segments (``run N pre no post no``) with
    trajectory frames gathered in between; this text shows them as one script.
    """
    tel = list(type_elements or config.potential.elements or ["X"])
    lines = ["# mdargy EMD: " + str(config.output_dir)]
    lines += base_commands(config, data_file, tel)
    if config.minimize:
        lines += ["minimize 1.0e-10 1.0e-8 1000 10000", "reset_timestep 0"]
    lines.append(f"velocity all create {config.temperature_K:g} {config.seed} mom yes rot no "
                 "dist gaussian loop geom")
    if config.equilibration_steps:
        lines += ["# equilibration", ensemble_fix(config, "equilibration"),
                  f"run {config.equilibration_steps}", "unfix eq"]
    lines += ["# production: frames of unwrapped positions and velocities every "
              f"{config.dump_every_steps} steps (written by mdargy: {TRAJ_NAME}, {DUMP_NAME})",
              ensemble_fix(config, "production"),
              f"dump traj all custom {config.dump_every_steps} {DUMP_NAME} id type element xu yu zu "
              "vx vy vz",
              f"dump_modify traj element {' '.join(tel)} sort id time yes units yes"]
    if config.heat_every_steps:
        g = hf.guard_interval(config.heat_every_steps, guard_every(config.potential.kind))
        lines += (["# heat current every heat_every_fs (written by mdargy: "
                   f"{hf.HEATFLUX_NAME})"] + hf.compute_commands(tel)
                  + (guard_commands(config.runaway_T_K, g) if g else [])
                  + hf.fix_commands(tel, config.heat_every_steps))
    lines.append(f"run {config.production_steps}")
    return "\n".join(lines) + "\n"


def run_emd(config: EMDConfig, comm=None, progress: bool = True, *, fresh: bool = False,
            recover: bool = False) -> EMDResult:
    """Run (or resume) an EMD simulation; collective over ``comm``.

    Parameters
    ----------
    config : EMDConfig
    comm : mpi4py communicator, optional
        Defaults to ``COMM_WORLD``; any sub-communicator works.
    progress : bool
        Progress bar on rank 0.
    fresh : bool
        Move the outputs of an earlier run in ``output_dir`` aside (``superseded-<time>/``)
        and start again, instead of refusing a directory made with other settings.
    recover : bool
        Resume from the previous checkpoint when the latest fails verification.

    Returns
    -------
    EMDResult (on every rank)

    Raises
    ------
    AlreadyDoneError
        ``result.json`` of a run with the same settings exists in ``output_dir``.
    InputError, MissingCapabilityError
        Bad structure/potential/settings; raised before any MD step.
    SimulationError
        The run blew up; the last good checkpoint is kept.
    """
    # the files the loop appends to: every checkpoint records and every resume verifies them
    outputs = (TRAJ_NAME, TOPOLOGY_NAME, LEGACY_TRAJ_NAME, DUMP_NAME, hf.HEATFLUX_NAME)
    return run_driver(config, comm, progress, _emd_loop, outputs=outputs, fresh=fresh,
                      recover=recover)


def _emd_loop(config, eng: Engine, rundir: RunDirectory, prep, state):
    tel, masses, types = prep["type_elements"], prep["masses_amu"], prep["types"]
    comm, rank = eng.comm, eng.rank
    fresh = state is None
    dt_ps = config.timestep_ps
    frame_dt_ps = config.dump_every_steps * dt_ps
    # a run begun before NetCDF keeps its binary trajectory and text-dump columns
    legacy = (state is not None and (rundir.path / LEGACY_TRAJ_NAME).exists()
              and not (rundir.path / TRAJ_NAME).exists())
    traj_path = rundir.path / (LEGACY_TRAJ_NAME if legacy else TRAJ_NAME)
    topo_path = rundir.path / TOPOLOGY_NAME
    dump_path = rundir.path / DUMP_NAME
    thermo_path = rundir.path / "thermo.csv"
    meta_path = rundir.path / "metadata.json"
    elements_per_atom = [tel[t - 1] for t in types]
    masses_per_atom = [masses[t - 1] for t in types]

    heat_path = rundir.path / hf.HEATFLUX_NAME
    heat_fh = None
    sampler = None

    def heat_setup():
        """Refuse a pair style without a correct centroid virial before any MD step. The
        computes are removed again until production (their mere presence makes the blow-up
        guard request per-atom tallies on every guard step)."""
        if config.heat_every_steps:
            eng.commands(hf.compute_commands(tel))
            hf.check_centroid_support(eng.lmp, config.potential.pair_style)
            eng.commands(hf.uncompute_commands(tel))

    def heat_guard():
        g = hf.guard_interval(config.heat_every_steps, guard_every(config.potential.kind))
        return guard_commands(config.runaway_T_K, g) if g else []

    if fresh:
        eng.commands(base_commands(config, prep["data_file"], tel))
        heat_setup()
        if config.minimize:
            eng.commands(["minimize 1.0e-10 1.0e-8 1000 10000", "reset_timestep 0"])
        eng.commands(f"velocity all create {config.temperature_K:g} {config.seed} mom yes "
                     "rot no dist gaussian loop geom")
        state = {"config_key": config_key(config),
                 "stage": "equilibration" if config.equilibration_steps else "production",
                 "stage_step": 0, "stage_start": eng.step, "thermo": [], "n_frames": 0,
                 "dump_bytes": 0}
    else:
        rf = rundir.ckpt_dir / state["restart"]
        eng.commands(base_commands(config, None, tel, restart_file=str(rf)))
        heat_setup()
        eng.last_checkpoint_step = state["step"]

    thermo_rows = [list(r) for r in state["thermo"]]
    writer = None
    dump_fh = None

    def metadata(n_frames):
        return {
            "inputs": config.to_dict(),
            "seeds": {"velocity": config.seed},
            "timestep_fs": config.timestep_fs,
            "dump_every": config.dump_every_steps,
            "frame_dt_ps": frame_dt_ps,
            "n_atoms": prep["n_atoms"],
            "type_elements": tel,
            "masses_amu_per_type": masses,
            "elements_per_type": {str(i + 1): e for i, e in enumerate(tel)},
            "trajectory": ({"binary": LEGACY_TRAJ_NAME, "first_frame_step": 0} if legacy else
                           {"netcdf": TRAJ_NAME, "topology": TOPOLOGY_NAME,
                            "first_frame_step": int(state["stage_start"]),
                            "steps": "LAMMPS steps, continuing from equilibration"})
            | {"lammps_dump": DUMP_NAME if config.text_dump else None,
               "positions": "unwrapped, Å, sorted by atom id", "velocities": "Å/ps",
               "n_frames": n_frames},
            "thermo": "thermo.csv",
            "heat_current": ({"file": hf.HEATFLUX_NAME, "heat_every": config.heat_every_steps,
                              "dt_ps": config.heat_every_steps * dt_ps}
                             if config.heat_every_steps else None),
            "production_ensemble": config.production_ensemble,
            "temperature_K": config.temperature_K,
            "units": "LAMMPS metal",
            "versions": software_versions(),
            "provenance": provenance(config=config.to_dict()),
        }

    def flush_outputs():
        """Rank 0: make every output consistent with the state being checkpointed."""
        atomic_write_csv(thermo_path, THERMO_COLUMNS + ("stage",), thermo_rows)
        out = {"thermo": thermo_rows, "n_frames": writer.n_frames if writer else state["n_frames"]}
        if writer is not None:
            writer.flush(fsync=True)
        if dump_fh is not None:
            dump_fh.flush()
            out["dump_bytes"] = dump_fh.tell()
        else:
            out["dump_bytes"] = state.get("dump_bytes", 0)
        if heat_fh is not None:
            heat_fh.flush()
            os.fsync(heat_fh.fileno())
            out["heat_bytes"] = heat_fh.tell()
            out["heat_next_k"] = sampler.next_k
        return out

    try:
        # -- equilibration ------------------------------------------------------------
        if state["stage"] == "equilibration":
            n_eq = int(config.equilibration_steps)
            seg = math.gcd(int(config.thermo_every_steps), n_eq)
            ck = round_up(config.checkpoint_every_steps, seg)
            eng.commands(ensemble_fix(config, "equilibration"))
            k = int(state["stage_step"])
            eng.progress_start(n_eq, k, "EMD equilibration")
            while k < n_eq:
                th = eng.run(seg, "equilibration")
                k += seg
                if k % config.thermo_every_steps == 0:
                    thermo_rows.append([th[key] for key in ("step", "time", "temp", "pe", "ke",
                                        "etotal", "press", "vol", "lx", "ly", "lz")] + ["equilibration"])
                eng.progress_update(seg, T_K=th["temp"])
                if k == n_eq:
                    eng.commands("unfix eq")
                    state.update(stage="production", stage_step=0, stage_start=eng.step)
                    eng.checkpoint({**state, "thermo": thermo_rows}, flush_outputs)
                elif k % ck == 0:
                    state["stage_step"] = k
                    eng.checkpoint({**state, "thermo": thermo_rows}, flush_outputs)
            eng.progress_close()

        # -- production ----------------------------------------------------------------
        n_pr = int(config.production_steps)
        seg = math.gcd(math.gcd(config.thermo_every_steps, config.dump_every_steps), n_pr)
        ck = round_up(config.checkpoint_every_steps, seg)
        eng.commands(ensemble_fix(config, "production"))
        k = int(state["stage_step"])
        if config.heat_every_steps:
            eng.commands(hf.compute_commands(tel) + heat_guard())
            sampler = hf.HeatFluxSampler(eng.lmp, tel, config.heat_every_steps, dt_ps,
                                         next_k=int(state.get("heat_next_k", 0)))
            sampler.start(k, int(state["stage_start"]))

        def heat_meta():
            counts = [int(np.sum(types == t + 1)) for t in range(len(tel))]
            return {"dt_ps": config.heat_every_steps * dt_ps, "heat_every": config.heat_every_steps,
                    "timestep_fs": config.timestep_fs, "volume_A3": abs(float(np.linalg.det(box_matrix(eng.lmp)))),
                    "temperature_K": config.temperature_K, "ensemble": config.production_ensemble,
                    "type_elements": list(tel), "masses_amu": list(masses),
                    "n_atoms_per_type": counts, "n_atoms": int(prep["n_atoms"]),
                    "first_step": int(state["stage_start"]), "pair_style": config.potential.pair_style,
                    "units": {"J": "eV*A/ps (sum over atoms: J times volume)", "vsum": "A/ps",
                              "time": "ps"}}

        if rank == 0:
            box = prep["cell_A"]
            new = fresh or not traj_path.exists()
            writer = (BinaryTrajectoryWriter if legacy else NetCDFTrajectoryWriter)(
                traj_path, prep["n_atoms"], elements=elements_per_atom,
                masses_amu=masses_per_atom, dt_ps=frame_dt_ps, box_A=box, overwrite=new,
                append=not new, has_velocities=True, timestep_ps=dt_ps,
                metadata={"temperature_K": config.temperature_K, "seed": config.seed,
                          "ensemble": config.production_ensemble})
            if not new:
                writer.truncate(min(int(state["n_frames"]), writer.n_frames))
            if config.text_dump:
                if fresh or not dump_path.exists():
                    dump_fh = open(dump_path, "wb")
                else:
                    dump_fh = open(dump_path, "r+b")
                    dump_fh.truncate(int(state["dump_bytes"]))
                    dump_fh.seek(0, 2)
            if config.heat_every_steps:
                if k == 0 or not heat_path.exists():
                    heat_fh = open(heat_path, "wb")
                    heat_fh.write(hf.header_lines(heat_meta(), tel).encode("utf-8"))
                else:
                    heat_fh = open(heat_path, "r+b")
                    heat_fh.truncate(int(state["heat_bytes"]))
                    heat_fh.seek(0, 2)
            if fresh or not meta_path.exists():
                atomic_write_json(meta_path, metadata(0))

        def sample(k, th):
            # the first production step is the last equilibration step: one thermo row only
            if k % config.thermo_every_steps == 0 and not (thermo_rows and
                                                     thermo_rows[-1][0] == th["step"]):
                thermo_rows.append([th[key] for key in ("step", "time", "temp", "pe", "ke",
                                    "etotal", "press", "vol", "lx", "ly", "lz")] + ["production"])
            if k % config.dump_every_steps == 0:
                xu, v, box = gather_frame(eng.lmp, comm)
                if rank == 0:
                    if legacy:  # production steps from 0, the columns the file began with
                        writer.append(k, xu, v, box_A=box)
                    else:
                        writer.append(int(th["step"]), xu, v, box_A=box, time_ps=th["time"])
                        if not topo_path.exists():
                            write_pdb_topology(topo_path, elements_per_atom, xu, box,
                                               title="mdargy EMD: topology of traj.nc")
                    if dump_fh is not None:
                        origin = eng.lmp.extract_box()[0]
                        dump_fh.write(dump_frame_text(
                            k if legacy else int(th["step"]), box, types, xu, v, origin,
                            elements=None if legacy else elements_per_atom,
                            time_ps=None if legacy else th["time"],
                            units=None if legacy or dump_fh.tell() else "metal"))
            if heat_fh is not None:
                heat_fh.write(hf.format_rows(sampler.collect(k)))

        def bounds(k):
            """fix vector sizes its storage at setup from the run's stop step: announce the
            next checkpoint (where the fix is re-created)."""
            if sampler is None:
                return ""
            s0 = int(state["stage_start"])
            return f"start {s0} stop {s0 + min(n_pr, (k // ck + 1) * ck)}"

        if k == 0:
            th = eng.run(0, "production", bounds(0))
            sample(0, th)
        eng.progress_start(n_pr, k, f"EMD production ({config.production_ensemble.upper()})")
        while k < n_pr:
            th = eng.run(seg, "production", bounds(k))
            k += seg
            sample(k, th)
            eng.progress_update(seg, T_K=th["temp"])
            if k % ck == 0 or k == n_pr:
                state["stage_step"] = k
                if sampler is not None:  # rows collected: drop the fix (write_restart re-inits
                    sampler.stop()       # fixes, which fix vector cannot survive mid-storage)
                eng.checkpoint({**state, "thermo": thermo_rows}, flush_outputs)
                if sampler is not None and k < n_pr:
                    sampler.start(k, int(state["stage_start"]))
        eng.progress_close()

        # -- final structure and result -------------------------------------------------
        xu, v, box = gather_frame(eng.lmp, comm)
        result = None
        if rank == 0:
            writer.close()
            if dump_fh is not None:
                dump_fh.close()
                dump_fh = None
            if heat_fh is not None:
                heat_fh.close()
                heat_fh = None
            final = _write_final(rundir.path, xu, v, box, elements_per_atom, tel, masses)
            atomic_write_csv(thermo_path, THERMO_COLUMNS + ("stage",), thermo_rows)
            n_frames = n_pr // config.dump_every_steps + 1
            atomic_write_json(meta_path, metadata(n_frames))
            result = _emd_result(config, rundir, prep, thermo_rows, n_frames, final, frame_dt_ps,
                                 traj_path)
            result.to_json(rundir.result_path)
        return comm.bcast(result, root=0)
    finally:
        if writer is not None and rank == 0:
            try:
                writer.close()
            except Exception:
                pass
        if dump_fh is not None:
            dump_fh.close()
        if heat_fh is not None:
            heat_fh.close()


def _write_final(path: Path, xu, v, box, elements, tel, masses) -> Path:
    atoms = ase.Atoms(symbols=elements, positions=xu, cell=box, pbc=True)
    atoms.wrap()
    final = path / "final.data"
    write_lammps_data(final, atoms, tel, masses)
    atoms.set_velocities(np.asarray(v) / (1000.0 * units.fs))  # Å/ps -> ASE velocity units
    buf = io.StringIO()
    ase.io.write(buf, atoms, format="extxyz", parallel=False)
    atomic_write_text(path / "final.extxyz", buf.getvalue())
    return final


def _emd_result(config, rundir, prep, rows, n_frames, final, frame_dt_ps,
                traj_path) -> EMDResult:
    prod = np.array([r[:11] for r in rows if r[11] == "production"], dtype=float)
    n = prep["n_atoms"]
    t = prod[:, 1]
    e = prod[:, 5] / n
    drift = float(np.polyfit(t - t[0], e, 1)[0]) if len(t) > 2 else float("nan")
    return EMDResult(
        output_dir=str(rundir.path), n_atoms=n, type_elements=tuple(prep["type_elements"]),
        masses_amu=tuple(prep["masses_amu"]), production_ensemble=config.production_ensemble,
        production_steps=int(config.production_steps), timestep_fs=config.timestep_fs,
        dump_every=int(config.dump_every_steps), frame_dt_ps=frame_dt_ps, n_frames=n_frames,
        T_mean_K=float(prod[:, 2].mean()), T_std_K=float(prod[:, 2].std()),
        pe_mean_eV=float(prod[:, 3].mean()), press_mean_bar=float(prod[:, 6].mean()),
        volume_A3=float(prod[:, 7].mean()), etotal_drift_eV_atom_ps=drift,
        etotal_std_eV_atom=float(e.std()), trajectory_path=str(traj_path),
        dump_path=str(rundir.path / DUMP_NAME) if config.text_dump else None,
        thermo_path=str(rundir.path / "thermo.csv"), final_structure_path=str(final),
        metadata_path=str(rundir.path / "metadata.json"),
        heatflux_path=str(rundir.path / hf.HEATFLUX_NAME) if config.heat_every_steps else None,
        provenance=provenance(config=config.to_dict(), seeds={"velocity": config.seed}))
