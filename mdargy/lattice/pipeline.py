"""From an mdargy EMD run folder to force constants, phonons and Wigner kappa, resumably.

:func:`lattice_from_run` is the one call a campaign or script needs. Each stage writes its
output into ``output_dir`` and is skipped when that output exists (a killed run resumes at the
stage it was in):

``snapshots.npz``  displacements and LAMMPS forces of the chosen frames (:mod:`.snapshots`)
``fc2.hdf5``, ``fc3.hdf5``, ``model.fcp``, ``fit.json``  the hiPhive fit (:mod:`.fcfit`)
``phonons.json``  dispersion, DOS, imaginary modes (:mod:`.phonons`)
``wigner.json``  kappa_p, kappa_c, spectra, mesh check (:mod:`.wigner`)
``lattice.json``  :class:`LatticeResult`: the headline numbers and the file names
"""

from __future__ import annotations

import dataclasses
import resource
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from mdargy.errors import InputError
from mdargy.lattice.fcfit import FCFitResult, fit_force_constants
from mdargy.lattice.phonons import PhononResult, compute_phonons, read_fc2
from mdargy.lattice.snapshots import MAX_DISPLACEMENT_A, SnapshotSet, snapshots_from_run
from mdargy.lattice.wigner import WignerResult, read_fc3, wigner_conductivity
from mdargy.results import Result, provenance


@dataclasses.dataclass(frozen=True)
class LatticeResult(Result):
    """Headline numbers of one temperature's lattice-dynamics chain (details in the stage files).

    ``kappa_*_W_mK`` are scalars (trace/3) at ``temperature_K``; ``wall_s`` and
    ``peak_rss_MiB`` per stage (peak resident memory of the process when the stage ended);
    ``warnings``: clipped cutoffs, an unconverged mesh, imaginary modes.
    """

    run_dir: str
    output_dir: str
    temperature_K: float
    n_snapshots: int
    cutoffs_A: dict
    fit_rmse_eV_A: float
    fit_r2: float
    fit_cv_rmse_eV_A: float
    has_imaginary: bool
    n_imaginary_modes: int
    min_freq_THz: float
    mesh: tuple
    kappa_p_W_mK: float
    kappa_c_W_mK: float
    kappa_total_W_mK: float
    mesh_change: float
    classical: bool
    files: dict
    wall_s: dict
    peak_rss_MiB: dict
    warnings: tuple = ()
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def lattice_from_run(run_dir, output_dir, n_snapshots: int = 50, skip_ps: float = 0.0,
                     cutoffs_A=None, max_order: int = 3, cv_splits: int = 5,
                     mesh: Sequence[int] | int = 8, coarse_mesh=None,
                     dos_mesh: Sequence[int] | int = 12, classical: bool = False,
                     potential=None, structure=None, check_diffusion: bool = True,
                     phonons: bool = True, wigner: bool = True, reference: str = "average",
                     comm=None,
                     progress=None, *, window_ps: float = 0.0,
                     max_displacement_A: float = MAX_DISPLACEMENT_A) -> LatticeResult:
    """Snapshots -> hiPhive fit -> phonopy phonons -> phono3py Wigner kappa for one EMD run.

    Parameters
    ----------
    run_dir : path
        A finished mdargy EMD run (``metadata.json``, ``traj.mdtraj``); its temperature,
        structure, replication and potential are used unless overridden.
    output_dir : path
        Where the stage files go (created); existing stage files are reused.
    n_snapshots, skip_ps, window_ps, reference, max_displacement_A : see
        :func:`mdargy.lattice.snapshots.snapshots_from_run` (``max_displacement_A``, Å: how far
        an atom may sit from its reference site, and move from its mean position, before the
        run is refused).
    cutoffs_A, max_order, cv_splits : see :func:`mdargy.lattice.fcfit.fit_force_constants`.
    mesh, coarse_mesh, classical : see :func:`mdargy.lattice.wigner.wigner_conductivity`; kappa
        is computed at the run's temperature.
    dos_mesh : q-mesh of the phonon DOS.
    phonons, wigner : run these stages.
    progress : callable ``progress(message)``, optional.

    Raises
    ------
    InputError
        Diffusing run, unmappable atoms, cutoffs too long, underdetermined fit, ...
    """
    say = progress or (lambda m: None)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    wall, peak = {}, {}
    old = out / "lattice.json"
    if old.is_file():  # keep the timings of stages done by an earlier (killed) call
        import json

        try:
            d = json.loads(old.read_text())
            wall.update(d.get("wall_s", {}))
            peak.update(d.get("peak_rss_MiB", {}))
        except (OSError, ValueError):
            pass

    snap_path = out / "snapshots.npz"
    if snap_path.is_file():
        say(f"reusing {snap_path}")
        snaps = SnapshotSet.load(snap_path)
    else:
        t0 = time.perf_counter()
        say(f"snapshots: {n_snapshots} frames of {run_dir}, forces in LAMMPS")
        snaps = snapshots_from_run(
            run_dir, n_snapshots, skip_ps, potential, structure, check_diffusion,
            window_ps=window_ps, max_displacement_A=max_displacement_A, reference=reference,
            comm=comm,
            progress=lambda i, m: say(f"  forces {i}/{m}") if (i == m or i % 10 == 0) else None)
        snaps.save(snap_path)
        wall["snapshots"] = time.perf_counter() - t0
        peak["snapshots"] = _peak_mib()
    T = snaps.temperature_K
    reps = snaps.reference.reps
    uc = snaps.reference.unitcell

    fit_json = out / "fit.json"
    if fit_json.is_file() and (out / "fc2.hdf5").is_file() and (
            max_order < 3 or (out / "fc3.hdf5").is_file()):
        say(f"reusing {fit_json}")
        fit = FCFitResult.from_json(fit_json)
    else:
        t0 = time.perf_counter()
        fit = fit_force_constants(snaps, cutoffs_A, max_order, cv_splits, output_dir=out,
                                  progress=say).result
        wall["fit"] = time.perf_counter() - t0
        peak["fit"] = _peak_mib()
    cv = fit.cv_rmse_eV_A if fit.cv_rmse_eV_A is not None else float("nan")
    say(f"fit: RMSE {fit.rmse_eV_A:.4f} eV/Å of {fit.force_rms_eV_A:.4f}, R² {fit.r2:.4f}, "
        f"CV RMSE {cv:.4f} eV/Å, {fit.n_parameters} parameters")

    ph = None
    if phonons:
        ph_json = out / "phonons.json"
        if ph_json.is_file():
            ph = PhononResult.from_json(ph_json)
        else:
            t0 = time.perf_counter()
            say("phonons (phonopy)")
            ph = compute_phonons(uc, reps, read_fc2(out / "fc2.hdf5"), T, mesh=dos_mesh)
            ph.to_json(ph_json)
            wall["phonons"] = time.perf_counter() - t0
            peak["phonons"] = _peak_mib()
        say(ph.summary())
        for mode in ph.imaginary_modes[:5]:
            say(f"  imaginary: q = {np.round(mode['q'], 3).tolist()} band {mode['band']} "
                f"{mode['freq_THz']:.3f} THz ({mode['where']})")

    w = None
    if wigner:
        if max_order < 3:
            raise InputError("Wigner kappa needs third-order force constants (max_order >= 3)")
        w_json = out / "wigner.json"
        if w_json.is_file():
            w = WignerResult.from_json(w_json)
        else:
            t0 = time.perf_counter()
            w = wigner_conductivity(uc, reps, read_fc2(out / "fc2.hdf5"),
                                    read_fc3(out / "fc3.hdf5"), [T], mesh, coarse_mesh,
                                    classical, progress=say)
            w.to_json(w_json)
            wall["wigner"] = time.perf_counter() - t0
            peak["wigner"] = _peak_mib()
        say(w.table())

    def _f(x):
        return float(np.asarray(x).ravel()[0]) if x is not None else float("nan")

    notes = list(fit.messages or ())
    if w is not None and np.isfinite(_f(w.mesh_change)) and _f(w.mesh_change) > 0.05:
        notes.append(f"kappa_p + kappa_c changes by {100 * _f(w.mesh_change):.0f} % from the "
                     f"{'x'.join(map(str, w.coarse_mesh))} mesh: not converged")
    if ph is not None and ph.has_imaginary:
        notes.append(f"{len(ph.imaginary_modes)} imaginary mode(s), lowest "
                     f"{ph.min_freq_THz:.3g} THz")
    res = LatticeResult(
        run_dir=str(run_dir), output_dir=str(out), temperature_K=T,
        n_snapshots=snaps.n_snapshots, cutoffs_A=fit.cutoffs_A, fit_rmse_eV_A=fit.rmse_eV_A,
        fit_r2=fit.r2, fit_cv_rmse_eV_A=cv,
        has_imaginary=bool(ph.has_imaginary) if ph else False,
        n_imaginary_modes=len(ph.imaginary_modes) if ph else 0,
        min_freq_THz=ph.min_freq_THz if ph else float("nan"),
        mesh=tuple(w.mesh) if w else (),
        kappa_p_W_mK=_f(w.kappa_p_scalar_W_mK) if w else float("nan"),
        kappa_c_W_mK=_f(w.kappa_c_scalar_W_mK) if w else float("nan"),
        kappa_total_W_mK=_f(w.kappa_total_scalar_W_mK) if w else float("nan"),
        mesh_change=_f(w.mesh_change) if w else float("nan"),
        classical=bool(classical),
        files={k: str(out / v) for k, v in (("snapshots", "snapshots.npz"), ("fit", "fit.json"),
                                             ("fc2", "fc2.hdf5"), ("fc3", "fc3.hdf5"),
                                             ("phonons", "phonons.json"),
                                             ("wigner", "wigner.json"))
               if (out / v).is_file()},
        wall_s=wall, peak_rss_MiB=peak, warnings=tuple(notes),
        provenance=provenance(run_dir=str(run_dir), n_snapshots=n_snapshots, skip_ps=skip_ps,
                              cutoffs_A=cutoffs_A, max_order=max_order, mesh=mesh,
                              coarse_mesh=coarse_mesh, classical=classical))
    res.to_json(out / "lattice.json")
    return res
