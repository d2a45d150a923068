"""Temperature-dependent effective force constants fitted with hiPhive.

Given snapshots (displacements and forces on a reference supercell, :class:`SnapshotSet`), fit
the force constants of orders 2, 3 (and optionally 4) by least squares in hiPhive's symmetry-
adapted cluster space (Eriksson, Fransson & Erhart, *Adv. Theory Simul.* 2, 1800184 (2019)); at
a temperature T these are the TDEP effective force constants (Hellman, Abrikosov & Simak, *PRB*
84, 180301 (2011)).

Checks before fitting, each refused with the numbers:

* a cutoff longer than the supercell allows (half its smallest perpendicular width); the
  defaults (the cutoffs of Cu7PS6 studies: 7.5/6.0/3.5 Å) are clipped to it with a message;
* fewer force components than parameters (an underdetermined fit).

Fit quality: RMSE of the forces and R² on all data, and a k-fold cross-validation RMSE over
contiguous blocks of rows (whole snapshots, so correlated components are not split).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from mdargy.errors import InputError
from mdargy.lattice.snapshots import SnapshotSet
from mdargy.results import Result, provenance

#: Default cutoffs (Å) per order, as used for Cu7PS6 with hiPhive (pairs / triplets / quadruplets).
DEFAULT_CUTOFFS_A = {2: 7.5, 3: 6.0, 4: 3.5}

#: Safety margin below the largest cutoff the supercell allows, Å.
CUTOFF_MARGIN_A = 0.01


def max_cutoff_A(supercell) -> float:
    """Largest cutoff (Å) the supercell allows: half its smallest perpendicular width.

    A pair within the cutoff must be unique under the periodic images of the supercell.
    """
    cell = np.asarray(supercell.cell.array, dtype=float)
    vol = abs(np.linalg.det(cell))
    widths = [vol / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3]))
              for i in range(3)]
    return 0.5 * min(widths) - CUTOFF_MARGIN_A


def resolve_cutoffs(supercell, cutoffs_A: Mapping[int, float] | Sequence[float] | None = None,
                    max_order: int = 3) -> tuple[dict, list[str]]:
    """Cutoffs per order (2..max_order) checked against the supercell.

    User cutoffs longer than :func:`max_cutoff_A` raise :class:`InputError`; defaults
    (:data:`DEFAULT_CUTOFFS_A`) are clipped to it and a message says so.

    Returns
    -------
    cutoffs : dict order -> Å
    messages : list of str
    """
    if max_order not in (2, 3, 4):
        raise InputError(f"max_order must be 2, 3 or 4, got {max_order}")
    lim = max_cutoff_A(supercell)
    given: dict[int, float] = {}
    if cutoffs_A is not None:
        if isinstance(cutoffs_A, Mapping):
            given = {int(k): float(v) for k, v in cutoffs_A.items() if v is not None}
        else:
            given = {2 + i: float(v) for i, v in enumerate(cutoffs_A) if v is not None}
    out, msgs = {}, []
    for order in range(2, max_order + 1):
        if order in given:
            c = given[order]
            if not c > 0:
                raise InputError(f"the order-{order} cutoff must be positive, got {c:g} Å")
            if c > lim:
                raise InputError(
                    f"the order-{order} cutoff {c:g} Å is too long for the "
                    f"{_fmt_cell(supercell)} supercell: at most {lim:.2f} Å (half its smallest "
                    "width); use a larger supercell or a shorter cutoff")
        else:
            c = DEFAULT_CUTOFFS_A[order]
            if c > lim:
                msgs.append(f"order-{order} cutoff clipped from the default {c:g} Å to {lim:.2f} "
                            f"Å, the most the {_fmt_cell(supercell)} supercell allows")
                c = lim
        out[order] = c
    # hiPhive needs non-increasing cutoffs only by convention; keep them as given
    return out, msgs


def _fmt_cell(atoms) -> str:
    L = atoms.cell.lengths()
    return f"{L[0]:.2f}×{L[1]:.2f}×{L[2]:.2f} Å"


@dataclasses.dataclass(frozen=True)
class FCFitResult(Result):
    """Quality and inputs of an effective force-constant fit.

    Attributes
    ----------
    temperature_K : float
    cutoffs_A : dict
        Order -> cutoff used, Å.
    n_parameters : int
        Free parameters of the cluster space.
    n_parameters_by_order : dict
    n_force_components : int
        Rows of the fit (3 × atoms × snapshots).
    n_snapshots : int
    rmse_eV_A : float
        RMSE of the fitted forces over all data, eV/Å.
    force_rms_eV_A : float
        RMS of the target forces, eV/Å (the scale of the RMSE).
    r2 : float
        Coefficient of determination on all data.
    cv_rmse_eV_A : float
        k-fold cross-validation RMSE (contiguous folds = whole snapshots); NaN when skipped.
    cv_r2 : float
    cv_splits : int
    messages : tuple of str
        Clipped cutoffs and other notes.
    fc2_path, fc3_path, fcp_path : str
        Files written ('' when not written).
    wall_s : dict
        Seconds spent per stage.
    provenance : dict
    """

    temperature_K: float
    cutoffs_A: dict
    n_parameters: int
    n_parameters_by_order: dict
    n_force_components: int
    n_snapshots: int
    rmse_eV_A: float
    force_rms_eV_A: float
    r2: float
    cv_rmse_eV_A: float
    cv_r2: float
    cv_splits: int
    messages: tuple
    fc2_path: str
    fc3_path: str
    fcp_path: str
    wall_s: dict
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)


@dataclasses.dataclass(frozen=True)
class FittedForceConstants:
    """What a fit returns: the quality record and the hiPhive objects to evaluate it.

    ``fcp`` is a :class:`hiphive.ForceConstantPotential`; ``unitcell`` the reference unit cell
    (ase.Atoms) and ``reps`` the supercell repetitions of the snapshots.
    """

    result: FCFitResult
    fcp: object
    unitcell: object
    reps: tuple


def _quiet_hiphive():
    from hiphive.input_output.logging_tools import set_config

    set_config(level=40)


def cluster_space(unitcell, cutoffs: Mapping[int, float]):
    """hiPhive ``ClusterSpace`` of ``unitcell`` with cutoffs for orders 2.. (Å)."""
    from hiphive import ClusterSpace

    _quiet_hiphive()
    orders = sorted(cutoffs)
    return ClusterSpace(unitcell, [cutoffs[o] for o in orders])


def fit_force_constants(snapshots: SnapshotSet, cutoffs_A=None, max_order: int = 3,
                        cv_splits: int = 5, min_overdetermination: float = 1.0,
                        output_dir: str | Path | None = None, write_fc3: bool = True,
                        progress=None) -> FittedForceConstants:
    """Fit effective force constants of orders 2..``max_order`` to the snapshots.

    Parameters
    ----------
    snapshots : SnapshotSet
    cutoffs_A : mapping order -> Å, or sequence from order 2, optional
        Defaults :data:`DEFAULT_CUTOFFS_A`, clipped to the supercell.
    max_order : {2, 3, 4}
    cv_splits : int
        Folds of the cross-validation (0 or 1: none).
    min_overdetermination : float
        Refuse when force components < this × parameters (1: at least as many equations as
        unknowns).
    output_dir : path, optional
        Write ``fc2.hdf5`` (and ``fc3.hdf5``) in phonopy/phono3py format, the hiPhive potential
        ``model.fcp`` and ``fit.json``.
    progress : callable, optional
        ``progress(message)`` for each stage.

    Raises
    ------
    InputError
        Cutoffs too long for the supercell, or an underdetermined fit (with the numbers).
    """
    from hiphive import ForceConstantPotential, StructureContainer

    say = progress or (lambda msg: None)
    ref = snapshots.reference
    cutoffs, msgs = resolve_cutoffs(ref.supercell, cutoffs_A, max_order)
    for m in msgs:
        say(m)
    wall = {}
    t0 = time.perf_counter()
    say(f"cluster space: cutoffs {cutoffs} Å")
    cs = cluster_space(ref.unitcell, cutoffs)
    wall["cluster_space"] = time.perf_counter() - t0
    n_par = int(cs.n_dofs)
    by_order = {int(o): int(cs.get_n_dofs_by_order(o)) for o in sorted(cutoffs)}
    n_rows = snapshots.n_force_components
    if n_rows < min_overdetermination * n_par:
        per = 3 * len(ref.supercell)
        need = int(np.ceil(min_overdetermination * n_par / per))
        raise InputError(
            f"underdetermined fit: {n_rows} force components ({snapshots.n_snapshots} snapshots "
            f"× {len(ref.supercell)} atoms × 3) for {n_par} parameters {by_order} "
            f"(cutoffs {cutoffs} Å); use at least {need} snapshots or shorter cutoffs")
    t0 = time.perf_counter()
    sc = StructureContainer(cs)
    structures = snapshots.structures()
    for k, s in enumerate(structures):
        sc.add_structure(s)
        say(f"sensing matrix: snapshot {k + 1}/{len(structures)}")
    A, y = sc.get_fit_data()
    wall["sensing_matrix"] = time.perf_counter() - t0
    say(f"least squares: {A.shape[0]} rows × {A.shape[1]} parameters")
    t0 = time.perf_counter()
    params, cv_rmse, cv_r2 = _fit(A, y, cv_splits)
    wall["fit"] = time.perf_counter() - t0
    pred = A @ params
    resid = y - pred
    rmse = float(np.sqrt(np.mean(resid ** 2)))
    r2 = float(1.0 - np.sum(resid ** 2) / np.sum((y - y.mean()) ** 2))
    del A
    fcp = ForceConstantPotential(cs, params)
    paths = {"fc2": "", "fc3": "", "fcp": ""}
    if output_dir is not None:
        t0 = time.perf_counter()
        say("writing force constants")
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        fcp.write(str(out / "model.fcp"))
        paths["fcp"] = str(out / "model.fcp")
        paths.update(write_phonopy_files(fcp, ref.unitcell, ref.reps, out,
                                         write_fc3=write_fc3 and max_order >= 3))
        wall["write"] = time.perf_counter() - t0
    res = FCFitResult(
        temperature_K=snapshots.temperature_K, cutoffs_A=cutoffs, n_parameters=n_par,
        n_parameters_by_order=by_order, n_force_components=n_rows,
        n_snapshots=snapshots.n_snapshots, rmse_eV_A=rmse,
        force_rms_eV_A=float(np.sqrt(np.mean(y ** 2))), r2=r2, cv_rmse_eV_A=cv_rmse,
        cv_r2=cv_r2, cv_splits=int(cv_splits if cv_splits > 1 else 0), messages=tuple(msgs),
        fc2_path=paths["fc2"], fc3_path=paths["fc3"], fcp_path=paths["fcp"], wall_s=wall,
        provenance=provenance(snapshots=snapshots.source, frames=snapshots.frames,
                              snapshot_info=snapshots.info, max_order=max_order,
                              fit_method="least-squares (hiphive/trainstation)",
                              hiphive=_version("hiphive")))
    if output_dir is not None:
        res.to_json(Path(output_dir) / "fit.json")
    return FittedForceConstants(res, fcp, ref.unitcell, ref.reps)


def _version(pkg: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:  # pragma: no cover
        return "?"


#: Above this many parameters the fit solves the normal equations (see :func:`_normal_fit`).
NORMAL_EQUATIONS_ABOVE = 1500


def _normal_fit(A, y, cv_splits: int):
    """Ordinary least squares by the normal equations, with k-fold CV from Gram updates.

    The Gram matrix ``AᵀA`` is formed once (one matrix product, ``m n²`` flops, instead of an
    SVD of ``A``: ~10× faster at Cu7PS6 sizes), scaled to unit diagonal and Cholesky-solved;
    each fold's model uses ``AᵀA − A_kᵀA_k``. Same estimator as trainstation's
    ``least-squares`` (up to the conditioning of the scaled Gram matrix, squared).
    """
    import scipy.linalg as sl

    def solve(G, b):
        d = np.sqrt(np.diag(G))
        d[d == 0] = 1.0
        Gs = G / np.outer(d, d)
        try:
            xs = sl.cho_solve(sl.cho_factor(Gs, check_finite=False), b / d, check_finite=False)
        except sl.LinAlgError:
            xs = sl.lstsq(Gs, b / d, check_finite=False)[0]
        return xs / d

    G = A.T @ A
    b = A.T @ y
    params = solve(G, b)
    if not (cv_splits and cv_splits > 1):
        return params, float("nan"), float("nan")
    edges = np.linspace(0, len(y), int(cv_splits) + 1).astype(int)
    ss, yy = 0.0, []
    for lo, hi in zip(edges[:-1], edges[1:]):
        Ak, yk = A[lo:hi], y[lo:hi]
        x = solve(G - Ak.T @ Ak, b - Ak.T @ yk)
        ss += float(np.sum((yk - Ak @ x) ** 2))
        yy.append(yk)
    yy = np.concatenate(yy)
    return params, float(np.sqrt(ss / len(yy))), float(1 - ss / np.sum((yy - yy.mean()) ** 2))


def _fit(A, y, cv_splits: int):
    """Least squares through trainstation (large problems: :func:`_normal_fit`); k-fold CV
    over contiguous row blocks (whole snapshots)."""
    if A.shape[1] > NORMAL_EQUATIONS_ABOVE:
        return _normal_fit(A, y, cv_splits)
    from trainstation import CrossValidationEstimator, Optimizer

    if cv_splits and cv_splits > 1:
        cve = CrossValidationEstimator((A, y), fit_method="least-squares",
                                       validation_method="k-fold", n_splits=int(cv_splits),
                                       shuffle=False, seed=None, check_condition=False)
        cve.validate()
        cve.train()
        return np.asarray(cve.parameters), float(cve.rmse_validation), float(cve.R2_validation)
    opt = Optimizer((A, y), fit_method="least-squares", train_size=1.0, check_condition=False)
    opt.train()
    return np.asarray(opt.parameters), float("nan"), float("nan")


# -- phonopy / phono3py files -------------------------------------------------------------------

def phonopy_atoms(atoms):
    """ASE ``Atoms`` -> ``PhonopyAtoms`` (symbols, cell, fractional positions, masses)."""
    from phonopy.structure.atoms import PhonopyAtoms

    return PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell.array,
                        scaled_positions=atoms.get_scaled_positions(), masses=atoms.get_masses())


def ase_atoms(patoms):
    """``PhonopyAtoms`` -> ASE ``Atoms``."""
    import ase

    return ase.Atoms(symbols=patoms.symbols, cell=patoms.cell, pbc=True,
                     scaled_positions=patoms.scaled_positions, masses=patoms.masses)


def force_constant_arrays(fcp, phonopy_supercell, p2s_map, orders=(2, 3)) -> dict:
    """Compact phonopy-format arrays of the fitted force constants on phonopy's supercell.

    Returns ``{2: (n_prim, n_super, 3, 3), 3: (n_prim, n_super, n_super, 3, 3, 3)}`` (eV/Å^n),
    the rows being the supercell atoms ``p2s_map`` (phonopy's primitive atoms).
    """
    import itertools

    fcs = fcp.get_force_constants(ase_atoms(phonopy_supercell))
    n = len(phonopy_supercell)
    p2s = np.asarray(p2s_map, dtype=int)
    row = {int(s): k for k, s in enumerate(p2s)}
    out = {}
    for order in orders:
        if order not in fcs.orders:
            continue
        arr = np.zeros((len(p2s),) + (n,) * (order - 1) + (3,) * order)
        for cluster, fc in fcs.get_fc_dict(order).items():
            for perm in set(itertools.permutations(range(order))):
                c = tuple(cluster[p] for p in perm)
                if c[0] in row:
                    arr[(row[c[0]],) + c[1:]] = np.transpose(fc, perm)
        out[order] = arr
    return out


def phono3py_object(unitcell, reps, mesh=None):
    """A ``Phono3py`` of ``unitcell`` with ``reps`` supercells, primitive cell found by spglib."""
    import warnings

    from phono3py import Phono3py

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 'auto' primitive-matrix notice of phonopy 4
        ph3 = Phono3py(phonopy_atoms(unitcell), supercell_matrix=np.diag(reps),
                       primitive_matrix="auto", log_level=0)
    if mesh is not None:
        ph3.mesh_numbers = mesh
    return ph3


def write_phonopy_files(fcp, unitcell, reps, output_dir, write_fc3: bool = True) -> dict:
    """Write ``fc2.hdf5`` (phonopy) and ``fc3.hdf5`` (phono3py), compact, for ``reps`` supercells.

    The supercell is phonopy's (its atom order), the primitive cell found by phonopy ('auto').
    """
    from phono3py.file_IO import write_fc2_to_hdf5, write_fc3_to_hdf5

    ph3 = phono3py_object(unitcell, reps)
    p2s = ph3.primitive.p2s_map
    arrs = force_constant_arrays(fcp, ph3.supercell, p2s, orders=(2, 3) if write_fc3 else (2,))
    out = Path(output_dir)
    paths = {}
    write_fc2_to_hdf5(arrs[2], filename=str(out / "fc2.hdf5"), p2s_map=p2s)
    paths["fc2"] = str(out / "fc2.hdf5")
    if write_fc3 and 3 in arrs:
        write_fc3_to_hdf5(arrs[3], filename=str(out / "fc3.hdf5"), p2s_map=p2s)
        paths["fc3"] = str(out / "fc3.hdf5")
    return paths
