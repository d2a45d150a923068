"""Harmonic phonons from second-order force constants with phonopy.

Dispersion along the high-symmetry path of the crystal's Bravais lattice (ASE's
``Cell.bandpath``: Setyawan & Curtarolo, *Comput. Mater. Sci.* 49, 299 (2010)), total and
element-projected density of states on a q-mesh, group velocities, and the element weight
:math:`w_X(q, s) = \\sum_{i \\in X} |e_i(q, s)|^2` of every mode (for dispersions coloured by,
e.g., the Cu character). Imaginary modes (phonopy's negative frequencies) are listed with their
q-points and flagged, never raised.

Units: frequencies in THz, group velocities in THz·Å (= 100 m/s), DOS in states/THz per
primitive cell (integrating to 3 × atoms of the primitive cell).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from mdargy.errors import InputError
from mdargy.lattice.fcfit import ase_atoms, phonopy_atoms
from mdargy.lattice.forces import LammpsForces
from mdargy.results import Result, provenance

#: Frequencies below ``-IMAGINARY_TOL_THZ`` count as imaginary (acoustic modes at Γ excepted).
IMAGINARY_TOL_THZ = 0.01

#: q step (1/Å) of the central-difference group velocities.
GV_DELTA_Q = 1e-5


@dataclasses.dataclass(frozen=True)
class PhononResult(Result):
    """Harmonic phonons of one set of force constants.

    Attributes
    ----------
    temperature_K : float
        Temperature of the effective force constants (NaN for 0 K / finite displacements).
    elements : tuple of str
        Elements of the primitive cell (for the weights and projected DOS).
    n_atoms_primitive : int
    path_labels : tuple of str
        High-symmetry points in order (``"X|M"`` at a jump).
    path_label_x_inv_A : tuple of float
        Positions of the labels on the path axis, 1/Å (2π convention excluded: |q| in 1/Å).
    path_x_inv_A : ndarray (nq,)
    path_qpoints : ndarray (nq, 3)
        Fractional coordinates in the primitive reciprocal basis.
    band_freq_THz : ndarray (nq, nbands)
    band_weights : dict element -> ndarray (nq, nbands)
        Share of each mode's eigenvector norm on that element (sums to 1 over elements).
    band_speed_THz_A : ndarray (nq, nbands)
        Group-velocity magnitude, THz·Å (× 100 = m/s); NaN between ``gv_stride`` points.
    dos_freq_THz : ndarray (nf,)
    dos_total_per_THz : ndarray (nf,)
        Gaussian-broadened (see ``provenance``) from the q-mesh frequencies of phonopy.
    dos_by_element_per_THz : dict element -> ndarray (nf,)
    dos_integral : float
        ∫ DOS dω (should be 3 × n_atoms_primitive).
    mesh : tuple of int
    sound_speeds_m_s : tuple of 3 float
        ω/|q| of the three acoustic branches at |q| = 0.005 1/Å along the first path segment.
    gv_stride : int
        Group velocities are computed at every ``gv_stride``-th path point (NaN elsewhere).
    gamma_acoustic_THz : tuple of float
        The three lowest frequencies at Γ (acoustic sum rule: ~0).
    imaginary_modes : tuple of dict
        ``{"q": [..], "freq_THz": f, "band": s, "where": "path"|"mesh"}`` for each imaginary mode.
    has_imaginary : bool
    min_freq_THz : float
    provenance : dict
    """

    temperature_K: float
    elements: tuple
    n_atoms_primitive: int
    path_labels: tuple
    path_label_x_inv_A: tuple
    path_x_inv_A: np.ndarray
    path_qpoints: np.ndarray
    band_freq_THz: np.ndarray
    band_weights: dict
    band_speed_THz_A: np.ndarray
    dos_freq_THz: np.ndarray
    dos_total_per_THz: np.ndarray
    dos_by_element_per_THz: dict
    dos_integral: float
    mesh: tuple
    sound_speeds_m_s: tuple
    gv_stride: int
    gamma_acoustic_THz: tuple
    imaginary_modes: tuple
    has_imaginary: bool
    min_freq_THz: float
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, d):
        r = super().from_dict(d)
        arr = {k: np.asarray(v, float) for k, v in r.band_weights.items()}
        dos = {k: np.asarray(v, float) for k, v in r.dos_by_element_per_THz.items()}
        T = float("nan") if r.temperature_K is None else float(r.temperature_K)
        return dataclasses.replace(
            r, temperature_K=T, band_weights=arr, dos_by_element_per_THz=dos,
            path_labels=tuple(r.path_labels), path_label_x_inv_A=tuple(r.path_label_x_inv_A),
            elements=tuple(r.elements), mesh=tuple(r.mesh),
            gamma_acoustic_THz=tuple(r.gamma_acoustic_THz),
            sound_speeds_m_s=tuple(r.sound_speeds_m_s),
            imaginary_modes=tuple(r.imaginary_modes))

    def summary(self) -> str:
        s = (f"{self.n_atoms_primitive} atoms/primitive cell, {3 * self.n_atoms_primitive} "
             f"branches, max {self.band_freq_THz.max():.2f} THz; acoustic at Γ "
             f"{max(abs(g) for g in self.gamma_acoustic_THz):.1e} THz; ∫DOS = "
             f"{self.dos_integral:.3f}; sound speeds "
             f"{', '.join(f'{v:.0f}' for v in self.sound_speeds_m_s)} m/s")
        if self.has_imaginary:
            s += (f"; IMAGINARY MODES: {len(self.imaginary_modes)} (lowest "
                  f"{self.min_freq_THz:.3f} THz)")
        return s


def _phonopy(unitcell, reps):
    import warnings

    from phonopy import Phonopy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 'auto' primitive-matrix notice of phonopy 4
        # group velocities by central differences (Δq = 1e-5 1/Å): phonopy's analytical
        # derivative costs seconds per q-point for 448-atom supercells
        return Phonopy(phonopy_atoms(unitcell), supercell_matrix=np.diag(reps),
                       primitive_matrix="auto", log_level=0, group_velocity_delta_q=GV_DELTA_Q)


def phonopy_object(unitcell, reps: Sequence[int], fc2):
    """A ``Phonopy`` of ``unitcell`` and ``reps`` supercells with force constants ``fc2``.

    ``fc2`` is compact (n_prim, n_super, 3, 3) or full (n_super, n_super, 3, 3), eV/Å², in
    phonopy's supercell order (as written by :func:`mdargy.lattice.fcfit.write_phonopy_files`).
    """
    ph = _phonopy(unitcell, reps)
    fc2 = np.asarray(fc2, dtype=float)
    ns, npr = len(ph.supercell), len(ph.primitive)
    if fc2.shape not in ((npr, ns, 3, 3), (ns, ns, 3, 3)):
        raise InputError(f"fc2 has shape {fc2.shape}; expected ({npr}, {ns}, 3, 3) or "
                         f"({ns}, {ns}, 3, 3) for this cell and supercell")
    ph.force_constants = fc2
    return ph


def read_fc2(path) -> np.ndarray:
    """fc2 array of a phonopy ``fc2.hdf5`` / ``force_constants.hdf5``."""
    from pathlib import Path

    import h5py

    p = Path(path)
    if not p.is_file():
        raise InputError("no such force-constant file", p)
    with h5py.File(p, "r") as h:
        for key in ("fc2", "force_constants"):
            if key in h:
                return np.array(h[key])
    raise InputError("no fc2/force_constants dataset", p)


def band_path(primitive_cell, npoints: int = 200):
    """q-points (fractional, primitive reciprocal basis), axis (1/Å) and labels of the
    high-symmetry path of the Bravais lattice."""
    from ase.cell import Cell

    bp = Cell(np.asarray(primitive_cell)).bandpath(npoints=npoints)
    x, X, labels = bp.get_linear_kpoint_axis()
    labels = ["Γ" if lab == "G" else lab.replace("G", "Γ") for lab in labels]
    # a path break puts two labels at one position: show them as "X|M"
    XX, LL = [], []
    for xv, lab in zip(X, labels):
        if XX and abs(xv - XX[-1]) < 1e-9:
            LL[-1] = f"{LL[-1]}|{lab}"
        else:
            XX.append(xv)
            LL.append(lab)
    # ASE's axis is in Å^-1 including 2π; phonopy's in 1/Å without: divide by 2π
    return (np.asarray(bp.kpts), np.asarray(x) / (2 * np.pi), np.asarray(XX) / (2 * np.pi),
            tuple(LL))


def element_weights(eigenvectors, elements: Sequence[str]) -> dict:
    """Weight of each element in each mode from eigenvectors (nq, 3n, nbands)."""
    ev = np.asarray(eigenvectors)
    nq, dim, nb = ev.shape
    n = dim // 3
    amp = (np.abs(ev.reshape(nq, n, 3, nb)) ** 2).sum(axis=2)  # (nq, n, nb)
    els = np.asarray(elements)
    return {str(e): amp[:, els == e, :].sum(axis=1) for e in dict.fromkeys(elements)}


def smeared_dos(freqs_THz, weights: dict, sigma_THz: float = 0.05, step_THz: float = 0.01):
    """Total and per-element DOS from mesh frequencies (nq, nb) and element weights.

    Each mode is a normalised Gaussian of width ``sigma_THz`` (weighted by its element share for
    the partial DOS), so the total integrates to the number of branches per primitive cell and
    the partials sum to the total. Returns (frequencies, total, {element: partial}), per THz.
    """
    f = np.asarray(freqs_THz, dtype=float)
    if not sigma_THz > 0:
        raise InputError(f"the DOS broadening must be positive, got {sigma_THz}")
    grid = np.arange(f.min() - 5 * sigma_THz, f.max() + 5 * sigma_THz + step_THz, step_THz)
    nq = f.shape[0]
    out = {e: np.zeros_like(grid) for e in weights}
    tot = np.zeros_like(grid)
    norm = 1.0 / (np.sqrt(2 * np.pi) * sigma_THz * nq)
    fl = f.ravel()
    wl = {e: np.asarray(w).ravel() for e, w in weights.items()}
    for lo in range(0, len(fl), 2048):  # chunks keep the (modes × grid) block small
        g = np.exp(-0.5 * ((grid[None, :] - fl[lo:lo + 2048, None]) / sigma_THz) ** 2) * norm
        tot += g.sum(axis=0)
        for e in out:
            out[e] += wl[e][lo:lo + 2048] @ g
    return grid, tot, out


def sound_speeds(ph, path_q, dq_inv_A: float = 0.005) -> tuple:
    """ω/|q| (m/s) of the three lowest branches at |q| = ``dq_inv_A`` from Γ along the first
    segment of the path (``path_q[0]`` must be Γ)."""
    q0, q1 = np.asarray(path_q[0]), np.asarray(path_q[1])
    rec = np.linalg.inv(np.asarray(ph.primitive.cell)).T  # rows: reciprocal vectors / 2π
    d = (q1 - q0) @ rec
    step = (q1 - q0) * dq_inv_A / np.linalg.norm(d)
    ph.run_qpoints([q0 + step])
    f = np.sort(np.asarray(ph.qpoints.frequencies)[0])[:3]
    return tuple(float(v) for v in 100.0 * f / dq_inv_A)


def _imaginary(qpoints, freqs, tol, where) -> list:
    out = []
    for q, f in zip(qpoints, freqs):
        at_gamma = np.allclose(q, np.round(q), atol=1e-8)
        for s, v in enumerate(f):
            if at_gamma and s < 3:
                continue
            if v < -tol:
                out.append({"q": [float(c) for c in q], "freq_THz": float(v), "band": int(s),
                            "where": where})
    return out


def compute_phonons(unitcell, reps: Sequence[int], fc2, temperature_K: float = float("nan"),
                    mesh: Sequence[int] | int = 16, npoints: int = 200,
                    imaginary_tol_THz: float = IMAGINARY_TOL_THZ,
                    dos_sigma_THz: float = 0.05, dos_step_THz: float = 0.01) -> PhononResult:
    """Dispersion, DOS (total and per element), group velocities and imaginary modes.

    Parameters
    ----------
    unitcell : ase.Atoms
        The reference cell of the force constants.
    reps : three ints
        Supercell repetitions of the force constants.
    fc2 : array
        Second-order force constants (phonopy format, eV/Å²).
    mesh : int or three ints
        q-mesh of the DOS and mean speeds (an int: that many points along each axis).
    npoints : int
        Points along the dispersion path.
    dos_sigma_THz, dos_step_THz : float
        Gaussian broadening and frequency step of the DOS (:func:`smeared_dos`).
    """
    ph = phonopy_object(unitcell, reps, fc2)
    prim = ph.primitive
    elements = tuple(prim.symbols)
    q, x, X, labels = band_path(prim.cell, npoints)
    ph.run_qpoints(q, with_eigenvectors=True)
    qd = ph.qpoints
    freq = np.asarray(qd.frequencies)
    w = element_weights(qd.eigenvectors, elements)
    # phonopy's group velocities cost ~ n_bands eigen-perturbations per q-point (3 s at 168
    # bands): computed at every gv_stride-th path point, NaN elsewhere
    nb = freq.shape[1]
    stride = max(1, int(np.ceil(nb * len(q) / 3000)))
    gv = np.full(freq.shape, np.nan)
    ph.run_qpoints(q[::stride], with_group_velocities=True)
    gv[::stride] = np.linalg.norm(np.asarray(ph.qpoints.group_velocities), axis=-1)
    imag = _imaginary(q, freq, imaginary_tol_THz, "path")
    m = (int(mesh),) * 3 if np.isscalar(mesh) else tuple(int(v) for v in mesh)
    ph.run_mesh(m, with_eigenvectors=True, is_mesh_symmetry=False)
    md = ph.mesh
    mf = np.asarray(md.frequencies)
    imag += _imaginary(md.qpoints, mf, imaginary_tol_THz, "mesh")
    sound = sound_speeds(ph, q)
    fpts, tot, by_el = smeared_dos(mf, element_weights(md.eigenvectors, elements),
                                   sigma_THz=dos_sigma_THz, step_THz=dos_step_THz)
    integral = float(np.trapezoid(tot, fpts))
    ph.run_qpoints([[0, 0, 0]])
    g = np.sort(np.asarray(ph.qpoints.frequencies)[0])[:3]
    fmin = float(min(freq.min(), mf.min()))
    return PhononResult(
        temperature_K=float(temperature_K), elements=elements, n_atoms_primitive=len(prim),
        path_labels=labels, path_label_x_inv_A=tuple(float(v) for v in X), path_x_inv_A=x,
        path_qpoints=q, band_freq_THz=freq, band_weights=w, band_speed_THz_A=gv,
        dos_freq_THz=fpts, dos_total_per_THz=tot, dos_by_element_per_THz=by_el,
        dos_integral=integral, mesh=m, sound_speeds_m_s=sound, gv_stride=stride,
        gamma_acoustic_THz=tuple(float(v) for v in g), imaginary_modes=tuple(imag),
        has_imaginary=bool(imag), min_freq_THz=fmin,
        provenance=provenance(reps=tuple(reps), mesh=m, npoints=npoints,
                              dos_sigma_THz=dos_sigma_THz, dos_step_THz=dos_step_THz,
                              imaginary_tol_THz=imaginary_tol_THz,
                              phonopy=_v("phonopy")))


def _v(pkg):
    from importlib import metadata

    return metadata.version(pkg)


def finite_displacement_fc2(unitcell, reps: Sequence[int], potential, distance_A: float = 0.01,
                            comm=None) -> np.ndarray:
    """phonopy finite-displacement fc2 (full, eV/Å²) with forces from ``potential`` in LAMMPS.

    The reference 0 K method (Parlinski, Li & Kawazoe, *PRL* 78, 4063 (1997)); plus-minus
    displacements of ``distance_A``.
    """
    ph = _phonopy(unitcell, reps)
    ph.generate_displacements(distance=distance_A, is_plusminus=True)
    sc = ase_atoms(ph.supercell)
    with LammpsForces(potential, sc, comm=comm) as ff:
        ph.forces = np.array([ff.forces(ase_atoms(s).positions)
                              for s in ph.supercells_with_displacements])
    ph.produce_force_constants()
    return np.asarray(ph.force_constants)
