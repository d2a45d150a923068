"""MD snapshots for a force-constant fit: reference cell, frame choice, atom mapping, diffusion.

The reference is the ideal crystal: the unit (or primitive) cell of the structure file with its
cell scaled to the run's mean box, repeated like the run. Snapshot atoms are mapped onto the
reference supercell by element and nearest site (minimum image); the displacements
``u = x - x_ref`` and the LAMMPS forces of the snapshot are what the fit uses (Hellman,
Abrikosov & Simak, *PRB* 84, 180301 (2011)).

A run in which atoms hop between sites (Cu in argyrodites at high T) has no harmonic reference:
:func:`diffusion_check` detects it from the per-element MSD and :func:`build_snapshots` refuses it
with the numbers. Pure functions on arrays except :func:`snapshots_from_run`, which reads an
mdargy EMD run folder and calls LAMMPS for the forces.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from mdargy.analysis.msd import compute_msd
from mdargy.constants import A2_PS_TO_CM2_S
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_bytes
from mdargy.io.runmeta import run_trajectory
from mdargy.io.trajectory import load_trajectory
from mdargy.lattice.forces import LammpsForces
from mdargy.potentials.spec import PotentialSpec
from mdargy.results import Result, provenance, to_jsonable
from mdargy.structures.load import read_structure

#: Default limits of the diffusion check (see :func:`diffusion_check`).
MSD_GROWTH_LIMIT_A2 = 0.25
MAX_DISPLACEMENT_A = 1.5


# -- reference ----------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Reference:
    """Ideal reference: the unit cell and its supercell (ASE ``Atoms``), scaled to the run.

    ``supercell`` is ``unitcell.repeat(reps)`` (ASE order: all unit-cell atoms of one lattice
    translation, then the next).
    """

    unitcell: object
    supercell: object
    reps: tuple
    scale: float  # run lattice / file lattice (isotropic mean), dimensionless


def make_reference(unitcell, reps: Sequence[int], box_A=None) -> Reference:
    """Scale ``unitcell`` to ``box_A`` / ``reps`` (if given) and repeat it ``reps`` times.

    Parameters
    ----------
    unitcell : ase.Atoms
        The reference unit (or primitive) cell; fractional positions are kept.
    reps : three ints
        Repetitions of the supercell (as in the run's ``replicate``).
    box_A : (3, 3) array, optional
        The run's (mean) supercell, rows in Å. Its cell must equal ``reps`` unit cells up to a
        strain below 2 %; otherwise the structure does not belong to the run.
    """
    reps = tuple(int(r) for r in reps)
    if len(reps) != 3 or min(reps) < 1:
        raise InputError(f"reps must be three positive integers, got {reps}")
    uc = unitcell.copy()
    uc.pbc = True
    scale = 1.0
    if box_A is not None:
        box = np.asarray(box_A, dtype=float)
        target = box / np.asarray(reps)[:, None]
        cell = np.array(uc.cell.array)
        # the run's cell may be rotated (LAMMPS frame): compare metric tensors
        g_run, g_ref = target @ target.T, cell @ cell.T
        strain = np.abs(g_run - g_ref).max() / np.abs(g_ref).max()
        if strain > 0.04:
            raise InputError(
                f"the run's box {np.round(box, 3).tolist()} Å is not {reps} unit cells of "
                f"{np.round(cell, 3).tolist()} Å (metric differs by {100 * strain:.1f} %)")
        frac = uc.get_scaled_positions(wrap=False)
        uc.set_cell(target, scale_atoms=False)
        uc.set_scaled_positions(frac)
        scale = float((abs(np.linalg.det(target)) / abs(np.linalg.det(cell))) ** (1 / 3))
    return Reference(unitcell=uc, supercell=uc.repeat(reps), reps=reps, scale=scale)


def symmetrized_average_reference(reference: Reference, mean_positions, box_A, elements,
                                  symprec: float = 1e-3,
                                  max_displacement_A: float = None) -> tuple[Reference, float]:
    """The reference moved to the run's time-averaged positions, averaged over the supercell's
    lattice translations and symmetrised with the space group of the reference cell.

    TDEP's reference is the thermal average structure; when the potential's equilibrium differs
    from the structure file (a structure relaxed with another model), the file's sites give
    spurious static displacements. Returns the new reference and the largest shift (Å).
    """
    import spglib

    max_displacement_A = MAX_DISPLACEMENT_A if max_displacement_A is None else max_displacement_A
    uc = reference.unitcell
    n_uc = len(uc)
    order, d = map_to_reference(mean_positions, elements, box_A, reference.supercell,
                                max_displacement_A, source="time-averaged positions")
    off_cart = d.reshape(-1, n_uc, 3).mean(axis=0)  # ASE repeat order: cell-major
    cell = np.array(uc.cell.array)
    p = uc.get_scaled_positions(wrap=False)
    f = p + np.linalg.solve(cell.T, off_cart.T).T
    sym = spglib.get_symmetry((cell, p, uc.numbers), symprec=symprec)
    acc = np.zeros_like(f)
    for R, t in zip(sym["rotations"], sym["translations"]):
        img = p @ R.T + t  # site k -> image of k
        dd = img[:, None, :] - p[None, :, :]
        dd -= np.round(dd)
        perm = np.argmin(np.linalg.norm(dd @ cell, axis=-1), axis=1)  # op maps k -> perm[k]
        # f_perm[k] ~ R f_k + t: back-transform f_perm[k] onto site k
        g = f[perm] - t
        back = np.linalg.solve(R.astype(float), g.T).T
        shift = back - p
        shift -= np.round(shift)
        acc += shift
    fsym = p + acc / len(sym["rotations"])
    new = uc.copy()
    new.set_scaled_positions(fsym)
    moved = float(np.linalg.norm((fsym - p) @ cell, axis=1).max())
    return Reference(new, new.repeat(reference.reps), reference.reps, reference.scale), moved


# -- mapping ------------------------------------------------------------------------------------

def map_to_reference(positions, elements, cell, ref_supercell,
                     max_displacement_A: float = MAX_DISPLACEMENT_A, source: str = ""):
    """Map the atoms of one configuration onto the sites of ``ref_supercell``.

    Parameters
    ----------
    positions : (n, 3) array
        Cartesian positions, Å (wrapped or unwrapped), in the frame of ``cell``.
    elements : (n,) sequence of str
    cell : (3, 3) array
        The configuration's cell (rows, Å); it must equal the reference cell up to a rotation
        (the fractional coordinates are compared).
    ref_supercell : ase.Atoms
    max_displacement_A : float
        Largest allowed distance between an atom and its site.

    Returns
    -------
    order : (n,) int array
        ``order[j]`` is the configuration atom on reference site ``j``.
    displacements : (n, 3) array
        ``x[order] - x_ref`` in Å, in the reference frame (minimum image).

    Raises
    ------
    InputError
        Different atom counts or compositions, an atom farther than ``max_displacement_A`` from
        every site of its element, or two atoms on one site; the message gives the numbers.
    """
    where = f"{source}: " if source else ""
    x = np.asarray(positions, dtype=float)
    els = np.asarray(elements).astype(str)
    ref_els = np.asarray(ref_supercell.get_chemical_symbols())
    if len(x) != len(ref_supercell):
        raise InputError(f"{where}{len(x)} atoms in the snapshot but {len(ref_supercell)} in the "
                         f"reference supercell; the snapshot does not map onto the reference")
    cs, cr = _counts(els), _counts(ref_els)
    if cs != cr:
        raise InputError(f"{where}snapshot composition {cs} differs from the reference {cr}")
    frac = np.linalg.solve(np.asarray(cell, float).T, x.T).T
    ref_frac = ref_supercell.get_scaled_positions(wrap=False)
    rcell = ref_supercell.cell.array
    order = np.full(len(x), -1)
    disp = np.zeros_like(x)
    for el in cr:
        js = np.flatnonzero(ref_els == el)
        ii = np.flatnonzero(els == el)
        d = frac[ii][:, None, :] - ref_frac[js][None, :, :]
        d -= np.round(d)
        dc = d @ rcell
        dist = np.linalg.norm(dc, axis=-1)  # (atoms, sites)
        best = np.argmin(dist, axis=1)
        dmin = dist[np.arange(len(ii)), best]
        bad = np.flatnonzero(dmin > max_displacement_A)
        if len(bad):
            k = bad[np.argmax(dmin[bad])]
            raise InputError(
                f"{where}{len(bad)} {el} atom(s) do not map onto the reference: atom {ii[k]} is "
                f"{dmin[k]:.2f} Å from the nearest {el} site (limit {max_displacement_A:g} Å). "
                "Wrong reference structure or cell, or atoms left their sites")
        taken = np.bincount(best, minlength=len(js))
        if taken.max() > 1:
            j = int(np.argmax(taken))
            raise InputError(
                f"{where}{int(np.sum(taken > 1))} {el} site(s) are claimed by more than one "
                f"atom (site {js[j]}: {taken[j]} atoms) and {int(np.sum(taken == 0))} are empty; "
                "the snapshot does not map one-to-one onto the reference")
        order[js[best]] = ii
        disp[js[best]] = dc[np.arange(len(ii)), best]
    return order, disp


def _counts(els) -> dict:
    u, c = np.unique(np.asarray(els), return_counts=True)
    return {str(a): int(b) for a, b in zip(u, c)}


# -- frames and diffusion -----------------------------------------------------------------------

def select_frames(n_frames: int, n_snapshots: int, skip_frames: int = 0) -> np.ndarray:
    """``n_snapshots`` frame indices evenly spread over ``skip_frames .. n_frames-1``."""
    avail = n_frames - skip_frames
    if n_snapshots < 1:
        raise InputError(f"n_snapshots must be at least 1, got {n_snapshots}")
    if avail < n_snapshots:
        raise InputError(f"{n_snapshots} snapshots requested but only {avail} frames available "
                         f"({n_frames} frames, {skip_frames} skipped)")
    return np.unique(np.round(np.linspace(skip_frames, n_frames - 1, n_snapshots)).astype(int))


@dataclasses.dataclass(frozen=True)
class DiffusionCheck(Result):
    """Per-element MSD test for site hopping (the run is harmonic-fittable when ``ok``).

    ``msd_half_A2`` and ``msd_quarter_A2`` are the element's MSD at lags of one half and one
    quarter of the analysed time (``time_ps``); a vibrating crystal plateaus, so the growth
    ``msd_half - msd_quarter`` stays near zero; ``D_cm2_s`` is the slope between them / 6.
    ``max_displacement_A`` is the largest distance of any atom from its time-averaged position.
    """

    elements: tuple
    msd_quarter_A2: tuple
    msd_half_A2: tuple
    growth_A2: tuple
    D_cm2_s: tuple
    max_displacement_A: tuple
    time_ps: float
    growth_limit_A2: float
    displacement_limit_A: float
    ok: bool
    message: str


def diffusion_check(positions, elements, dt_ps: float,
                    growth_limit_A2: float = MSD_GROWTH_LIMIT_A2,
                    displacement_limit_A: float = MAX_DISPLACEMENT_A) -> DiffusionCheck:
    """Detect atoms hopping between sites from unwrapped positions (n_frames, n_atoms, 3)."""
    x = np.asarray(positions, dtype=float)
    if x.ndim != 3 or x.shape[0] < 8:
        raise InputError(f"the diffusion check needs at least 8 frames, got {x.shape[0]}")
    els = np.asarray(elements).astype(str)
    n = x.shape[0]
    res = compute_msd(x, dt_ps, species=list(els))
    q, h = n // 4, n // 2
    mean = x.mean(axis=0)
    rows = []
    for k, el in enumerate(res.species):
        m = res.total(k)
        idx = np.flatnonzero(els == el)
        dmax = float(np.linalg.norm(x[:, idx] - mean[idx], axis=-1).max())
        slope = (m[h] - m[q]) / ((h - q) * dt_ps)  # Å²/ps
        rows.append((el, float(m[q]), float(m[h]), float(m[h] - m[q]),
                     slope / 6 * A2_PS_TO_CM2_S, dmax))
    bad = [r for r in rows if r[3] > growth_limit_A2 or r[5] > displacement_limit_A]
    if bad:
        msg = "; ".join(
            f"{r[0]}: MSD grows from {r[1]:.3f} to {r[2]:.3f} Å² between {q * dt_ps:.2f} and "
            f"{h * dt_ps:.2f} ps (limit {growth_limit_A2:g} Å²), D ≈ {r[4]:.2e} cm²/s, largest "
            f"excursion {r[5]:.2f} Å (limit {displacement_limit_A:g} Å)" for r in bad)
        msg = ("the run diffused, so harmonic force constants are meaningless: " + msg)
    else:
        msg = "no diffusion: " + "; ".join(f"{r[0]} MSD {r[2]:.3f} Å² (growth {r[3]:+.3f})"
                                           for r in rows)
    return DiffusionCheck(
        elements=tuple(r[0] for r in rows), msd_quarter_A2=tuple(r[1] for r in rows),
        msd_half_A2=tuple(r[2] for r in rows), growth_A2=tuple(r[3] for r in rows),
        D_cm2_s=tuple(r[4] for r in rows), max_displacement_A=tuple(r[5] for r in rows),
        time_ps=float((n - 1) * dt_ps), growth_limit_A2=float(growth_limit_A2),
        displacement_limit_A=float(displacement_limit_A), ok=not bad, message=msg)


# -- the snapshot set ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SnapshotSet:
    """Displacements and forces of ``n`` snapshots on the reference supercell.

    Attributes
    ----------
    reference : Reference
    displacements_A : (m, n, 3) array
        Displacement of the atom on each reference site, Å.
    forces_eV_A : (m, n, 3) array
        LAMMPS forces on those atoms, eV/Å (reference-site order).
    temperature_K : float
    frames : (m,) int array
        Frame indices taken from the trajectory.
    spacing_ps : float
        Time between consecutive snapshots, ps.
    source : str
    diffusion : DiffusionCheck or None
    info : dict
        Inputs and diagnostics (potential, run folder, mean residual force, ...).
    """

    reference: Reference
    displacements_A: np.ndarray
    forces_eV_A: np.ndarray
    temperature_K: float
    frames: np.ndarray
    spacing_ps: float
    source: str = ""
    diffusion: DiffusionCheck | None = None
    info: dict = dataclasses.field(default_factory=dict)

    @property
    def n_snapshots(self) -> int:
        return int(self.displacements_A.shape[0])

    @property
    def n_force_components(self) -> int:
        return int(self.forces_eV_A.size)

    def structures(self) -> list:
        """The ideal supercell with each snapshot's ``displacements`` and ``forces`` arrays
        (hiPhive's input: positions stay ideal), in reference-site order."""
        out = []
        for u, f in zip(self.displacements_A, self.forces_eV_A):
            a = self.reference.supercell.copy()
            a.new_array("displacements", np.array(u))
            a.new_array("forces", np.array(f))
            out.append(a)
        return out

    def save(self, path) -> Path:
        """Write an ``.npz`` (arrays, reference cells, info) so a fit can resume without LAMMPS."""
        import io

        buf = io.BytesIO()
        ref = self.reference
        np.savez_compressed(
            buf, displacements_A=self.displacements_A, forces_eV_A=self.forces_eV_A,
            frames=self.frames, temperature_K=self.temperature_K, spacing_ps=self.spacing_ps,
            uc_cell=ref.unitcell.cell.array, uc_numbers=ref.unitcell.numbers,
            uc_frac=ref.unitcell.get_scaled_positions(wrap=False),
            uc_masses=ref.unitcell.get_masses(), reps=np.array(ref.reps),
            scale=ref.scale, source=self.source,
            diffusion=json.dumps(self.diffusion.to_dict() if self.diffusion else None),
            info=json.dumps(_jsonable(self.info)))
        return atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path) -> "SnapshotSet":
        import ase

        path = Path(path)
        if not path.is_file():
            raise InputError("no such snapshot file", path)
        try:
            z = np.load(path, allow_pickle=False)
            uc = ase.Atoms(numbers=z["uc_numbers"], cell=z["uc_cell"], pbc=True,
                           scaled_positions=z["uc_frac"], masses=z["uc_masses"])
            reps = tuple(int(r) for r in z["reps"])
            ref = Reference(uc, uc.repeat(reps), reps, float(z["scale"]))
            d = json.loads(str(z["diffusion"]))
            return cls(reference=ref, displacements_A=z["displacements_A"],
                       forces_eV_A=z["forces_eV_A"], temperature_K=float(z["temperature_K"]),
                       frames=z["frames"], spacing_ps=float(z["spacing_ps"]),
                       source=str(z["source"]),
                       diffusion=DiffusionCheck.from_dict(d) if d else None,
                       info=json.loads(str(z["info"])))
        except (KeyError, ValueError, OSError) as exc:
            raise InputError(f"not an mdargy snapshot file: {exc}", path) from None


def _jsonable(obj):
    return to_jsonable(obj)


def build_snapshots(positions, elements, boxes_A, reference: Reference, forces_fn,
                    frames: Sequence[int], dt_ps: float | None, temperature_K: float,
                    check_diffusion: bool = True,
                    growth_limit_A2: float = MSD_GROWTH_LIMIT_A2,
                    max_displacement_A: float = MAX_DISPLACEMENT_A,
                    source: str = "", progress=None, info: dict | None = None) -> SnapshotSet:
    """Map the chosen frames onto ``reference`` and attach their forces.

    Parameters
    ----------
    positions : (n_frames, n_atoms, 3) array
        Unwrapped positions, Å (the whole run: the diffusion check uses all frames).
    elements : (n_atoms,) str array
    boxes_A : (n_frames, 3, 3) array
    reference : Reference
    forces_fn : callable
        ``forces_fn(x)`` -> (n_atoms, 3) forces in eV/Å for positions ``x`` in the frame of the
        run's box (e.g. :meth:`mdargy.lattice.forces.LammpsForces.forces`).
    frames : sequence of int
        Frames to use (:func:`select_frames`).
    dt_ps : float
        Time between frames (for the spacing and the diffusion check).
    check_diffusion : bool
        Refuse a run in which atoms hop (:func:`diffusion_check`).
    progress : callable, optional
        ``progress(i_done, m)``.
    """
    x = np.asarray(positions)
    frames = np.asarray(frames, dtype=int)
    diff = None
    if check_diffusion:
        if dt_ps is None:
            raise InputError("the diffusion check needs the time between frames (dt_ps)", source)
        diff = diffusion_check(x, elements, dt_ps, growth_limit_A2, max_displacement_A)
        if not diff.ok:
            raise InputError(diff.message, source or None)
    m, n = len(frames), x.shape[1]
    U = np.empty((m, n, 3))
    F = np.empty((m, n, 3))
    for k, fr in enumerate(frames):
        box = np.asarray(boxes_A[fr])
        order, u = map_to_reference(x[fr], elements, box, reference.supercell,
                                    max_displacement_A, source=f"{source} frame {fr}")
        f = np.asarray(forces_fn(x[fr]))
        # forces into the reference frame: the run's box and the reference cell differ by a
        # rotation at most (x_ref_frame = x @ Q)
        Q = np.linalg.solve(box, np.asarray(reference.supercell.cell.array))
        U[k] = u
        F[k] = f[order] @ Q
        if progress is not None:
            progress(k + 1, m)
    spacing = float(np.median(np.diff(frames)) * dt_ps) if (m > 1 and dt_ps) else float("nan")
    info = dict(info or {})
    info["mean_force_rms_eV_A"] = float(np.sqrt(np.mean(F.mean(axis=0) ** 2)))
    info["mean_displacement_rms_A"] = float(np.sqrt(np.mean(U.mean(axis=0) ** 2)))
    info["displacement_rms_A"] = float(np.sqrt(np.mean(U ** 2)))
    info["force_rms_eV_A"] = float(np.sqrt(np.mean(F ** 2)))
    return SnapshotSet(reference=reference, displacements_A=U, forces_eV_A=F,
                       temperature_K=float(temperature_K), frames=frames, spacing_ps=spacing,
                       source=source, diffusion=diff, info=info)


def read_run(run_dir, potential=None, structure=None):
    """Read an mdargy EMD run folder: trajectory, metadata, potential and unit cell.

    Returns a dict with ``trajectory`` (:class:`mdargy.io.trajectory.Trajectory`),
    ``potential`` (PotentialSpec), ``unitcell`` (ase.Atoms), ``reps``, ``temperature_K``,
    ``metadata``. ``potential`` / ``structure`` override what the run's metadata names.
    """
    run = Path(run_dir)
    meta_path = run / "metadata.json"
    if not meta_path.is_file():
        raise InputError("not an mdargy EMD run folder (no metadata.json)", run)
    meta = json.loads(meta_path.read_text())
    inputs = meta.get("inputs", {})
    traj_path = run_trajectory(run)
    if not (run / "result.json").is_file():
        raise InputError("the run is not finished (no result.json); finish it with mdargy emd", run)
    traj = load_trajectory(traj_path, velocities=False)
    # paths in metadata.json are relative to the folder the run was started from: try the
    # working directory, then the run folder and its parents; a path that no longer exists
    # (a campaign moves a finished task's folder) is looked for by its name beside the run
    bases = [Path.cwd(), run.resolve(), *run.resolve().parents[:4]]

    def _find(name):
        if name is None:
            return name
        if Path(name).is_absolute():
            if Path(name).exists():
                return name
            moved = [b / Path(name).name for b in bases[1:3]]
            return next((str(m) for m in moved if m.exists()), name)
        for b in bases:
            if (b / name).exists():
                return str(b / name)
        return name

    if potential is None:
        if "potential" not in inputs:
            raise InputError("metadata.json names no potential; pass one", meta_path)
        pd = dict(inputs["potential"])
        files = pd.get("files") or []
        if files and pd.get("base_dir") is not None:
            pd["base_dir"] = _find(pd["base_dir"])
        elif files:
            pd["files"] = [_find(f) for f in files]
        potential = PotentialSpec.from_dict(pd)
        missing = [f for f in potential.resolved_files() if not f.is_file()]
        if missing:
            raise InputError(f"the run's potential file {missing[0]} is not found from the "
                             "working directory or the run folder; pass the potential "
                             "(potential=, --potential)", meta_path)
    structure = structure or _find(inputs.get("structure"))
    if not structure:
        raise InputError("metadata.json names no structure; pass the reference cell", meta_path)
    if not Path(structure).is_file():
        raise InputError(f"the run's structure file {structure!r} is not found from the working "
                         "directory or the run folder; pass the reference cell (structure=, "
                         "--structure)", meta_path)
    unitcell = read_structure(structure)
    return {"trajectory": traj, "potential": potential, "unitcell": unitcell,
            "reps": tuple(inputs.get("replicate", (1, 1, 1))),
            "temperature_K": float(meta.get("temperature_K", inputs.get("temperature_K"))),
            "metadata": meta, "run_dir": str(run), "structure": str(structure)}


def snapshots_from_run(run_dir, n_snapshots: int = 50, skip_ps: float = 0.0,
                       potential=None, structure=None, check_diffusion: bool = True,
                       growth_limit_A2: float = MSD_GROWTH_LIMIT_A2,
                       max_displacement_A: float = MAX_DISPLACEMENT_A,
                       reference: str = "average", comm=None, progress=None, *,
                       window_ps: float = 0.0) -> SnapshotSet:
    """``n_snapshots`` frames of an EMD run with forces recomputed in LAMMPS by the run's potential.

    Frames are spread evenly over the production after ``skip_ps``, over the next
    ``window_ps`` only when that is positive (0: to the end). The diffusion check and the
    time-averaged reference use the same stretch of the run: a long run of a crystal whose mobile
    ions wander further over hundreds of ps can still be fitted on a window in which they stay on
    their sites, as the short ab initio runs of TDEP studies are. The reference is the run's
    structure file scaled to the mean production box (``reference="structure"``), by default
    moved to the symmetrised time-averaged positions of the run (``"average"``,
    :func:`symmetrized_average_reference`). See :func:`build_snapshots`.
    """
    r = read_run(run_dir, potential, structure)
    traj = r["trajectory"]
    dt = traj.dt_ps
    if (skip_ps or window_ps) and dt is None:
        raise InputError("skip_ps / window_ps need the time between frames", run_dir)
    if skip_ps < 0 or window_ps < 0:
        raise InputError(f"skip_ps and window_ps must be >= 0, got {skip_ps} and {window_ps}",
                         run_dir)
    first = int(round(skip_ps / dt)) if skip_ps else 0
    end = min(traj.n_frames, first + int(round(window_ps / dt)) + 1) if window_ps else traj.n_frames
    if end - first < max(8, n_snapshots):
        raise InputError(f"skip_ps = {skip_ps:g} and window_ps = {window_ps:g} leave "
                         f"{max(0, end - first)} of {traj.n_frames} frames (every {dt} ps), fewer "
                         f"than the {max(8, n_snapshots)} needed", run_dir)
    positions = np.asarray(traj.positions[first:end])
    boxes = np.asarray(traj.boxes_A)[first:end]
    if np.ptp(boxes, axis=0).max() > 1e-6:
        raise InputError("the production box changes (NPT): use an NVT/NVE production for "
                         "force constants at one volume", run_dir)
    ref = make_reference(r["unitcell"], r["reps"], boxes.mean(axis=0))
    moved = 0.0
    diff = None
    if check_diffusion:  # before anything is mapped: hopping atoms have no site
        if dt is None:
            raise InputError("the diffusion check needs the time between frames", run_dir)
        diff = diffusion_check(positions, traj.elements, dt, growth_limit_A2,
                               max_displacement_A)
        if not diff.ok:
            raise InputError(diff.message, run_dir)
    if reference == "average":
        ref, moved = symmetrized_average_reference(ref, positions.mean(axis=0),
                                                   boxes.mean(axis=0), traj.elements,
                                                   max_displacement_A=max_displacement_A)
    elif reference != "structure":
        raise InputError(f"reference must be 'average' or 'structure', got {reference!r}")
    frames = select_frames(len(positions), n_snapshots)
    import ase

    atoms = ase.Atoms(symbols=list(traj.elements), positions=positions[0], cell=boxes[0],
                      pbc=True)
    with LammpsForces(r["potential"], atoms, comm=comm) as ff:
        snaps = build_snapshots(
            positions, traj.elements, boxes, ref, ff.forces, frames, dt,
            r["temperature_K"], False, growth_limit_A2, max_displacement_A,
            source=str(run_dir), progress=progress,
            info=provenance(run_dir=str(run_dir), potential=r["potential"].to_dict(),
                            structure=r["structure"], reps=r["reps"], n_snapshots=n_snapshots,
                            skip_ps=skip_ps, window_ps=window_ps, reference=reference,
                            reference_shift_A=moved)["inputs"])
    # frame indices in the whole trajectory
    return dataclasses.replace(snaps, diffusion=diff, frames=np.asarray(frames) + first)
