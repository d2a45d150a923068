"""Wigner thermal conductivity kappa = kappa_p + kappa_c with phono3py.

The Wigner transport equation (Simoncelli, Marzari & Mauri, *Nat. Phys.* 15, 809 (2019)) in the
relaxation-time approximation splits the conductivity into the particle-like (populations,
Peierls) term kappa_p (phono3py's ``kappa_P_RTA``, the band-diagonal part) and the wave-like
coherence term kappa_c (``kappa_C``, the band-off-diagonal part). phono3py (Togo, Chaput &
Tanaka, *PRB* 91, 094306 (2015)) computes both from fc2 and fc3 on a q-mesh
(``transport_type="SMM19"``); this module hands it our force constants and returns
:class:`WignerResult`: tensors and scalars per temperature, spectral and cumulative kappa_p(ω)
and kappa_c(ω), and a two-mesh convergence check.

``classical=True`` replaces the quantum (two-mode) heat capacities by k_B, mode by mode, to
compare with classical MD. phono3py has no classical-occupation option for the linewidths, so
these keep Bose–Einstein occupations: the result is classical in its heat capacities only
(``classical_note`` says so); the linewidths differ by O((ħω/k_BT)²) where ħω ≪ k_BT.

Units: W/m/K, THz, K. Scalars are the trace / 3 of the tensor.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Sequence

import numpy as np

from mdargy.constants import K_B_EV_K
from mdargy.errors import InputError
from mdargy.lattice.fcfit import phono3py_object
from mdargy.results import Result, provenance


CLASSICAL_NOTE = ("classical heat capacities (k_B per mode and mode pair); linewidths from "
                  "phono3py with Bose-Einstein occupations (no classical option there)")


@dataclasses.dataclass(frozen=True)
class WignerResult(Result):
    """Wigner conductivity per temperature.

    Attributes
    ----------
    temperatures_K : tuple of float
    mesh : tuple of int
    kappa_p_W_mK, kappa_c_W_mK : ndarray (nT, 6)
        Tensors in Voigt order xx, yy, zz, yz, xz, xy.
    kappa_p_scalar_W_mK, kappa_c_scalar_W_mK, kappa_total_scalar_W_mK : ndarray (nT,)
        Trace / 3.
    freq_bins_THz : ndarray (nb + 1,)
        Edges of the spectral bins.
    spectral_kappa_p_W_mK_THz, spectral_kappa_c_W_mK_THz : ndarray (nT, nb)
        Scalar kappa per unit frequency; a band-pair (s, s') term of kappa_c is shared equally
        between ω_s and ω_s'.
    cumulative_kappa_p_W_mK, cumulative_kappa_c_W_mK : ndarray (nT, nb + 1)
        Scalar kappa from modes below each bin edge.
    classical : bool
    classical_note : str
    n_ignored_modes : int
        Modes phono3py skipped (imaginary or below its frequency cutoff).
    coarse_mesh : tuple of int
        The mesh of the convergence check (empty when not run).
    coarse_kappa_total_scalar_W_mK : ndarray (nT,)
    mesh_change : ndarray (nT,)
        |κ(mesh) − κ(coarse)| / κ(mesh) of kappa_p + kappa_c.
    wall_s : dict
    provenance : dict
    """

    temperatures_K: tuple
    mesh: tuple
    kappa_p_W_mK: np.ndarray
    kappa_c_W_mK: np.ndarray
    kappa_p_scalar_W_mK: np.ndarray
    kappa_c_scalar_W_mK: np.ndarray
    kappa_total_scalar_W_mK: np.ndarray
    freq_bins_THz: np.ndarray
    spectral_kappa_p_W_mK_THz: np.ndarray
    spectral_kappa_c_W_mK_THz: np.ndarray
    cumulative_kappa_p_W_mK: np.ndarray
    cumulative_kappa_c_W_mK: np.ndarray
    classical: bool
    classical_note: str
    n_ignored_modes: int
    coarse_mesh: tuple
    coarse_kappa_total_scalar_W_mK: np.ndarray
    mesh_change: np.ndarray
    wall_s: dict
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    def band_share(self, f_lo_THz: float, f_hi_THz: float, channel: str = "c",
                   index: int = 0) -> float:
        """Share of kappa_c (``"c"``) or kappa_p (``"p"``) from modes in [f_lo, f_hi] THz."""
        cum = np.asarray(self.cumulative_kappa_c_W_mK if channel == "c"
                         else self.cumulative_kappa_p_W_mK)[index]
        edges = np.asarray(self.freq_bins_THz)
        lo, hi = np.interp([f_lo_THz, f_hi_THz], edges, cum)
        return float((hi - lo) / cum[-1]) if cum[-1] else float("nan")

    def table(self) -> str:
        lines = ["   T_K  kappa_p_W_mK  kappa_c_W_mK  kappa_total_W_mK"
                 + ("  coarse_total  change" if len(self.coarse_mesh) else "")]
        for i, T in enumerate(self.temperatures_K):
            row = (f"{T:6.0f}  {self.kappa_p_scalar_W_mK[i]:12.4f}  "
                   f"{self.kappa_c_scalar_W_mK[i]:12.4f}  {self.kappa_total_scalar_W_mK[i]:16.4f}")
            if len(self.coarse_mesh):
                row += (f"  {self.coarse_kappa_total_scalar_W_mK[i]:12.4f}  "
                        f"{100 * self.mesh_change[i]:5.1f} %")
            lines.append(row)
        return "\n".join(lines)


def _mesh(mesh) -> tuple:
    m = (int(mesh),) * 3 if np.isscalar(mesh) else tuple(int(v) for v in mesh)
    if len(m) != 3 or min(m) < 1:
        raise InputError(f"mesh must be a positive integer or three, got {mesh}")
    return m


def _scalar(t) -> np.ndarray:
    return np.asarray(t)[..., :3].sum(axis=-1) / 3.0


def _run_phono3py(unitcell, reps, fc2, fc3, mesh, temperatures, log_level=0):
    """phono3py SMM19 RTA; returns (calculator, kappa solver)."""
    ph3 = phono3py_object(unitcell, reps, mesh=list(mesh))
    ph3.log_level = log_level
    ph3.fc2 = np.asarray(fc2, dtype=float)
    ph3.fc3 = np.asarray(fc3, dtype=float)
    ph3.init_phph_interaction()
    ph3.run_thermal_conductivity(temperatures=list(temperatures), transport_type="SMM19",
                                 log_level=log_level)
    tc = ph3.thermal_conductivity
    return tc, tc._kappa_solver


def _split(tc, ks, temperatures, classical: bool, bins):
    """Tensors and spectra from phono3py's band-pair mode-kappa matrix."""
    K = np.asarray(ks.mode_kappa_matrix)[0]  # (nT, ngp, nb, nb, 6), weights included
    n_mesh = float(np.prod(tc.mesh_numbers))
    if classical:
        C = np.asarray(tc._heat_capacity_matrix)  # (nT, ngp, nb, nb), eV/K
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(C > 0, K_B_EV_K / C, 0.0)  # phono3py's C is in eV/K
        K = K * ratio[..., None]
    nb = K.shape[2]
    eye = np.eye(nb, dtype=bool)
    Kp = K[:, :, eye, :]  # (nT, ngp, nb, 6)
    Kc = np.where(eye[None, None, :, :, None], 0.0, K)
    kp = Kp.sum(axis=(1, 2)) / n_mesh
    kc = Kc.sum(axis=(1, 2, 3)) / n_mesh
    f = np.asarray(tc.frequencies)  # (ngp, nb)
    sp_p = _scalar(Kp) / n_mesh  # (nT, ngp, nb)
    sp_c = _scalar(Kc.sum(axis=3)) / n_mesh  # row sums assigned to ω_s (K symmetric in s, s')
    width = np.diff(bins)
    hp = np.array([np.histogram(f.ravel(), bins, weights=s.ravel())[0] for s in sp_p])
    hc = np.array([np.histogram(f.ravel(), bins, weights=s.ravel())[0] for s in sp_c])
    cum_p = np.concatenate([np.zeros((len(hp), 1)), np.cumsum(hp, axis=1)], axis=1)
    cum_c = np.concatenate([np.zeros((len(hc), 1)), np.cumsum(hc, axis=1)], axis=1)
    return kp, kc, hp / width, hc / width, cum_p, cum_c


def wigner_conductivity(unitcell, reps: Sequence[int], fc2, fc3,
                        temperatures_K: Sequence[float] = (300.0,),
                        mesh: Sequence[int] | int = 8,
                        coarse_mesh: Sequence[int] | int | None = None,
                        classical: bool = False, freq_step_THz: float = 0.05,
                        progress=None) -> WignerResult:
    """kappa_p and kappa_c per temperature from fc2/fc3 (phonopy formats, eV/Å^n).

    Parameters
    ----------
    unitcell : ase.Atoms
        The reference cell the force constants belong to.
    reps : three ints
        Supercell of the force constants.
    fc2, fc3 : arrays
        Compact or full phonopy/phono3py arrays in phonopy's supercell order.
    temperatures_K : sequence of float
    mesh : int or three ints
        q-mesh of the conductivity.
    coarse_mesh : int or three ints, optional
        A second, coarser mesh for the convergence check (``mesh_change``).
    classical : bool
        Classical heat capacities (see the module notes).
    freq_step_THz : float
        Bin width of the spectral kappa.
    progress : callable, optional
        ``progress(message)``; with it phono3py also prints its per-q-point log.
    """
    say = progress or (lambda m: None)
    T = tuple(float(t) for t in np.atleast_1d(temperatures_K))
    if not T or min(T) <= 0:
        raise InputError(f"temperatures must be positive, got {T}")
    m = _mesh(mesh)
    wall = {}
    t0 = time.perf_counter()
    say(f"phono3py Wigner (SMM19 RTA) on a {m} mesh at T = {T} K")
    tc, ks = _run_phono3py(unitcell, reps, fc2, fc3, m, T, log_level=1 if progress else 0)
    wall["mesh"] = time.perf_counter() - t0
    fmax = float(np.asarray(tc.frequencies).max())
    bins = np.arange(0.0, fmax + 2 * freq_step_THz, freq_step_THz)
    kp, kc, sp, sc, cp, cc = _split(tc, ks, T, classical, bins)
    ignored = int(np.asarray(tc.number_of_ignored_phonon_modes).max())
    tot = _scalar(kp) + _scalar(kc)
    cm, ctot, change = (), np.full(len(T), np.nan), np.full(len(T), np.nan)
    if coarse_mesh is not None:
        cm = _mesh(coarse_mesh)
        t0 = time.perf_counter()
        say(f"convergence check: {cm} mesh")
        tc2, ks2 = _run_phono3py(unitcell, reps, fc2, fc3, cm, T, log_level=0)
        wall["coarse_mesh"] = time.perf_counter() - t0
        kp2, kc2, *_ = _split(tc2, ks2, T, classical, bins)
        ctot = _scalar(kp2) + _scalar(kc2)
        change = np.abs(tot - ctot) / np.abs(tot)
    return WignerResult(
        temperatures_K=T, mesh=m, kappa_p_W_mK=kp, kappa_c_W_mK=kc,
        kappa_p_scalar_W_mK=_scalar(kp), kappa_c_scalar_W_mK=_scalar(kc),
        kappa_total_scalar_W_mK=tot, freq_bins_THz=bins, spectral_kappa_p_W_mK_THz=sp,
        spectral_kappa_c_W_mK_THz=sc, cumulative_kappa_p_W_mK=cp, cumulative_kappa_c_W_mK=cc,
        classical=bool(classical), classical_note=CLASSICAL_NOTE if classical else "",
        n_ignored_modes=ignored, coarse_mesh=cm, coarse_kappa_total_scalar_W_mK=ctot,
        mesh_change=change, wall_s=wall,
        provenance=provenance(reps=tuple(reps), mesh=m, coarse_mesh=cm, temperatures_K=T,
                              classical=classical, method="phono3py SMM19 RTA",
                              phono3py=_v("phono3py")))


def _v(pkg):
    from importlib import metadata

    return metadata.version(pkg)


def read_fc3(path) -> np.ndarray:
    """fc3 array of a phono3py ``fc3.hdf5``."""
    from pathlib import Path

    from phono3py.file_IO import read_fc3_from_hdf5

    p = Path(path)
    if not p.is_file():
        raise InputError("no such force-constant file", p)
    return np.asarray(read_fc3_from_hdf5(str(p)))
