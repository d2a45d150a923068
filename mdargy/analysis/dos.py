"""Phonon density of states from the mass-weighted velocity autocorrelation function.

For a classical harmonic crystal in equilibrium, the mass-weighted VACF of atom :math:`i` is
:math:`m_i\\langle v_i(0)\\cdot v_i(t)\\rangle = k_BT \\sum_s |e_{is}|^2 \\cos\\omega_s t`, so its
cosine transform is :math:`k_BT` times the DOS projected on atom :math:`i`, which integrates to 3
(Dickey & Paskin, Phys. Rev. 188, 1407 (1969); Lee et al., Phys. Rev. B 47, 4863 (1993)).
Summed over the atoms of element :math:`e` this gives the partial DOS :math:`g_e(\\nu)`, with
:math:`\\int g_e\\,d\\nu = 3N_e`; the total is :math:`g = \\sum_e g_e`, :math:`\\int g = 3N`.

Method
------
1. :math:`C_e(m) = \\sum_{i\\in e} m_i \\langle v_i(k)\\cdot v_i(k+m)\\rangle_k` by FFT over all
   origins (unbiased: divided by :math:`N-m`), summed over atoms in frequency space
   (:func:`mdargy.analysis.msd.summed_correlations`).
2. Lags up to ``max_lag`` (the correlation time :math:`T_c`, which sets the frequency resolution
   :math:`\\approx 1/T_c`) are multiplied by a lag window (half-Hann by default, which suppresses
   the ringing of a sharp cut-off), mirrored, zero-padded and cosine-transformed:
   :math:`g_e(\\nu) \\propto 2\\,\\Delta t\\,\\sum_m w(m) C_e(m)\\cos(2\\pi\\nu m \\Delta t)`.
3. Each partial is normalised to :math:`3N_e` by its trapezoid integral on the returned grid. On
   the even-length FFT grid that integral equals :math:`C_e(0)` exactly, so the normalisation
   only fixes the units; the sum rules hold to rounding error. The departure of each element's
   kinetic temperature from the total (equipartition) is reported, not hidden.

A Hann-windowed spectrum can dip slightly below zero between sharp peaks (its kernel has
negative side lobes); the values are returned as computed.

Thermodynamics (harmonic, quantum occupation; e.g. Dove, *Introduction to Lattice Dynamics*,
ch. 4), with :math:`x = h\\nu/k_BT`:
:math:`C_V = k_B\\int g(\\nu)\\, x^2 e^x/(e^x-1)^2\\,d\\nu` and
:math:`S = k_B\\int g(\\nu)\\,[x/(e^x-1) - \\ln(1-e^{-x})]\\,d\\nu`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.fft as sfft

from mdargy.analysis.msd import species_groups, summed_correlations
from mdargy.constants import (AMU_A2_PS2_TO_EV, H_EV_PS, K_B_EV_K, R_J_MOLK, THZ_TO_CM1,
                              THZ_TO_MEV)
from mdargy.errors import InputError
from mdargy.results import Result, provenance

__all__ = [
    "DOSResult",
    "compute_dos",
    "vacf_direct",
    "lag_window",
    "harmonic_thermo",
    "THZ_TO_MEV",
    "THZ_TO_CM1",
]


WINDOWS = ("hann", "rect", "blackman")


def lag_window(name: str, n: int) -> np.ndarray:
    """Decaying lag window :math:`w(m)`, :math:`m = 0 \\dots n-1`, with :math:`w(0) = 1`.

    ``"hann"``: :math:`\\tfrac12[1+\\cos(\\pi m/n)]`; ``"blackman"``: the Blackman window's
    right half; ``"rect"``: no window (sharp cut-off, ringing side lobes).
    """
    m = np.arange(n, dtype=float)
    if name == "hann":
        return 0.5 * (1.0 + np.cos(np.pi * m / n))
    if name == "blackman":
        return 0.42 + 0.5 * np.cos(np.pi * m / n) + 0.08 * np.cos(2 * np.pi * m / n)
    if name in ("rect", "none", None):
        return np.ones(n)
    raise InputError(f"unknown window {name!r}; choose one of {', '.join(WINDOWS)}")


def harmonic_thermo(freq_THz, dos, T_K: float):
    """Harmonic heat capacity and vibrational entropy from a DOS.

    Parameters
    ----------
    freq_THz : array, shape (n,)
        Frequencies (ν, not ω), THz, ascending from 0.
    dos : array, shape (n,)
        States per THz (integrating to the number of modes).
    T_K : float

    Returns
    -------
    Cv_kB, S_kB : float
        Totals for the modes of ``dos``, in units of :math:`k_B`. The ν = 0 point is given
        the classical weight 1 in :math:`C_V` and weight 0 in :math:`S` (where the integrand
        has an integrable log singularity); this is exact for solids (:math:`g(0)=0`) and an
        approximation for diffusing atoms, for which a harmonic entropy is not meaningful.
    """
    nu = np.asarray(freq_THz, float)
    g = np.asarray(dos, float)
    if not T_K > 0:
        raise InputError(f"temperature must be > 0 K, got {T_K}")
    x = H_EV_PS * nu / (K_B_EV_K * T_K)
    cv_w = np.ones_like(x)
    s_w = np.zeros_like(x)
    pos = x > 0
    xp = x[pos]
    # x^2 e^x/(e^x-1)^2 = x^2 e^-x/(1-e^-x)^2 (overflow-safe)
    em = np.exp(-xp)
    cv_w[pos] = xp * xp * em / (-np.expm1(-xp)) ** 2
    s_w[pos] = xp * em / (-np.expm1(-xp)) - np.log(-np.expm1(-xp))
    return float(np.trapezoid(g * cv_w, nu)), float(np.trapezoid(g * s_w, nu))


@dataclasses.dataclass(frozen=True)
class DOSResult(Result):
    """Phonon DOS (total and per element) from the mass-weighted VACF.

    Attributes
    ----------
    freq_THz, freq_meV, freq_cm1 : ndarray, shape (n_freq,)
        The same frequency axis in THz (ν), meV (hν) and cm⁻¹.
    dos_per_THz : ndarray, shape (n_freq,)
        Total DOS, states/THz; ∫ dos d(freq_THz) = 3N.
    elements : tuple of str
    n_atoms : tuple of int
    dos_partial_per_THz : ndarray, shape (n_elements, n_freq)
        Partial DOS of each element, ∫ = 3 N_e; they sum to the total.
    time_ps : ndarray, shape (n_lags,)
        VACF lags, ps.
    vacf_norm : ndarray, shape (n_lags,)
        Mass-weighted VACF of all atoms, normalised to 1 at t = 0 (before windowing).
    vacf_partial_norm : ndarray, shape (n_elements, n_lags)
    mvv_partial_amu_A2_ps2 : ndarray, shape (n_elements, n_lags)
        Unnormalised :math:`\\langle m v(0)\\cdot v(t)\\rangle` per atom of each element.
    window : str
    max_lag : int
        Lags used in the transform (correlation time ``max_lag * dt_ps``).
    resolution_THz : float
        ``1 / (max_lag * dt_ps)``; the Hann window's peak FWHM is about twice this.
    dt_ps : float
    T_K : float
        Kinetic temperature of all atoms (3N degrees of freedom).
    T_partial_K : tuple of float
        Kinetic temperature per element (equal to ``T_K`` at equipartition).
    thermo_T_K : float
        Temperature at which Cv and S are evaluated.
    Cv_kB_per_atom, S_kB_per_atom : float
        Harmonic heat capacity and entropy per atom, units of k_B.
    Cv_J_molK, S_J_molK : float
        The same per mole of atoms.
    warnings : tuple of str
    """

    freq_THz: np.ndarray
    freq_meV: np.ndarray
    freq_cm1: np.ndarray
    dos_per_THz: np.ndarray
    elements: tuple
    n_atoms: tuple
    dos_partial_per_THz: np.ndarray
    time_ps: np.ndarray
    vacf_norm: np.ndarray
    vacf_partial_norm: np.ndarray
    mvv_partial_amu_A2_ps2: np.ndarray
    window: str
    max_lag: int
    resolution_THz: float
    dt_ps: float
    T_K: float
    T_partial_K: tuple
    thermo_T_K: float
    Cv_kB_per_atom: float
    S_kB_per_atom: float
    Cv_J_molK: float
    S_J_molK: float
    warnings: tuple = ()
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    @property
    def dos_per_meV(self):
        """Total DOS in states/meV (against :attr:`freq_meV`)."""
        return self.dos_per_THz / THZ_TO_MEV

    @property
    def dos_per_cm1(self):
        """Total DOS in states/cm⁻¹ (against :attr:`freq_cm1`)."""
        return self.dos_per_THz / THZ_TO_CM1

    def partial(self, element: str) -> np.ndarray:
        """Partial DOS of one element, states/THz."""
        try:
            return self.dos_partial_per_THz[self.elements.index(element)]
        except ValueError:
            raise InputError(f"no element {element!r} (have {', '.join(self.elements)})")


def compute_dos(
    velocities,
    dt_ps: float,
    elements=None,
    masses_amu=None,
    max_lag: int | None = None,
    resolution_THz: float | None = None,
    window: str = "hann",
    pad_factor: int = 4,
    T_K: float | None = None,
    memory_mb: float = 8.0,
    workers: int = 1,
) -> DOSResult:
    """Mass-weighted VACF and phonon DOS (total and per element).

    Parameters
    ----------
    velocities : array, shape (n_frames, n_atoms, 3)
        Velocities, Å/ps (LAMMPS metal units), any float dtype.
    dt_ps : float
        Time between frames, ps. The Nyquist frequency is ``1/(2 dt_ps)`` THz.
    elements : sequence of str, length n_atoms, optional
        Element (or type) of each atom; one group ``"all"`` when None.
    masses_amu : array, shape (n_atoms,), optional
        Masses, amu. Without them all masses are 1 (then the "temperature" is not in K).
    max_lag : int, optional
        Lags of the VACF used in the transform. Default: ``resolution_THz`` if given, else
        ``n_frames // 2``.
    resolution_THz : float, optional
        Frequency resolution, sets ``max_lag = ceil(1/(resolution_THz * dt_ps))``.
    window : {"hann", "blackman", "rect"}
        Lag window.
    pad_factor : int
        Zero padding (≥ 1) of the transform: a finer frequency grid, not more resolution.
    T_K : float, optional
        Temperature for Cv and S; the kinetic temperature when None.
    memory_mb, workers
        As in :func:`mdargy.analysis.msd.compute_msd`.
    """
    v = np.asarray(velocities) if not isinstance(velocities, np.ndarray) else velocities
    if v.ndim != 3 or v.shape[2] != 3:
        raise InputError(f"velocities must have shape (n_frames, n_atoms, 3), got {v.shape}")
    n_frames, n_atoms, _ = v.shape
    if n_frames < 4:
        raise InputError(f"a DOS needs at least 4 frames, got {n_frames}")
    if not (dt_ps > 0 and math.isfinite(dt_ps)):
        raise InputError(f"dt_ps must be a positive number, got {dt_ps}")
    names, gi = species_groups(elements, n_atoms)
    counts = np.bincount(gi, minlength=len(names))
    warns = []
    if masses_amu is None:
        m = np.ones(n_atoms)
        warns.append("no masses given: all masses set to 1 amu (temperatures are not in K)")
    else:
        m = np.asarray(masses_amu, float)
        if m.shape != (n_atoms,) or np.any(~np.isfinite(m)) or np.any(m <= 0):
            raise InputError(f"masses_amu must be {n_atoms} positive values")
    if resolution_THz is not None:
        if not resolution_THz > 0:
            raise InputError(f"resolution_THz must be > 0, got {resolution_THz}")
        max_lag = int(math.ceil(1.0 / (resolution_THz * dt_ps)))
    if max_lag is None:
        max_lag = n_frames // 2
    max_lag = int(max_lag)
    if max_lag < 2:
        raise InputError(f"max_lag must be at least 2, got {max_lag}")
    if max_lag > n_frames - 1:
        raise InputError(
            f"the requested resolution needs {max_lag} lags but the trajectory has only "
            f"{n_frames} frames; ask for a coarser resolution or a longer run"
        )
    if max_lag > n_frames // 2:
        warns.append(
            f"max_lag {max_lag} exceeds half the trajectory ({n_frames} frames): the long "
            "lags rest on few time origins"
        )
    pad_factor = max(1, int(pad_factor))

    A = summed_correlations(v, gi, len(names), weights=m, memory_mb=memory_mb, workers=workers)
    nor = (n_frames - np.arange(n_frames)).astype(float)
    C = A.sum(axis=1)[:, : max_lag + 1] / nor[: max_lag + 1]  # (n_el, L+1) amu Å²/ps²
    if not np.all(np.isfinite(C)):
        raise InputError("velocities contain NaN or infinite values")
    if np.any(C[:, 0] <= 0):
        bad = [names[i] for i in np.flatnonzero(C[:, 0] <= 0)]
        raise InputError(f"velocities of {', '.join(bad)} are all zero; no DOS can be computed")

    w = lag_window(window, max_lag + 1)
    n_fft = sfft.next_fast_len(2 * max_lag * pad_factor, real=True)
    while n_fft % 2:
        n_fft = sfft.next_fast_len(n_fft + 1, real=True)
    sym = np.zeros((len(names), n_fft))
    cw = C * w
    sym[:, : max_lag + 1] = cw
    sym[:, n_fft - max_lag :] = cw[:, :0:-1]
    spec = 2.0 * dt_ps * sfft.rfft(sym, axis=1).real  # one-sided, per THz
    freq = np.arange(spec.shape[1]) / (n_fft * dt_ps)
    integ = np.trapezoid(spec, freq, axis=1)
    partial = spec * (3.0 * counts / integ)[:, None]
    total = partial.sum(axis=0)

    ke = C[:, 0] * AMU_A2_PS2_TO_EV  # Σ_i m v² per element, eV
    T_part = ke / (3.0 * counts * K_B_EV_K)
    T_all = ke.sum() / (3.0 * n_atoms * K_B_EV_K)
    if masses_amu is not None and len(names) > 1:
        dev = np.abs(T_part / T_all - 1.0)
        if np.any(dev > 0.1):
            warns.append(
                "kinetic temperatures differ between elements by more than 10% ("
                + ", ".join(f"{n}: {t:.1f} K" for n, t in zip(names, T_part))
                + "): not in equipartition; each partial DOS is still normalised to 3 N_e"
            )
    if total[0] > 0.05 * total.max():
        warns.append(
            f"the DOS at zero frequency is {100 * total[0] / total.max():.0f}% of its maximum: "
            "atoms diffuse (liquid-like), so the harmonic Cv and S are only indicative"
        )
    Tth = float(T_all if T_K is None else T_K)
    cv, s = harmonic_thermo(freq, total, Tth)
    C_all = C.sum(axis=0)
    return DOSResult(
        freq_THz=freq,
        freq_meV=freq * THZ_TO_MEV,
        freq_cm1=freq * THZ_TO_CM1,
        dos_per_THz=total,
        elements=names,
        n_atoms=tuple(int(c) for c in counts),
        dos_partial_per_THz=partial,
        time_ps=np.arange(max_lag + 1) * float(dt_ps),
        vacf_norm=C_all / C_all[0],
        vacf_partial_norm=C / C[:, :1],
        mvv_partial_amu_A2_ps2=C / counts[:, None],
        window=str(window),
        max_lag=max_lag,
        resolution_THz=float(1.0 / (max_lag * dt_ps)),
        dt_ps=float(dt_ps),
        T_K=float(T_all),
        T_partial_K=tuple(float(t) for t in T_part),
        thermo_T_K=Tth,
        Cv_kB_per_atom=cv / n_atoms,
        S_kB_per_atom=s / n_atoms,
        Cv_J_molK=cv / n_atoms * R_J_MOLK,
        S_J_molK=s / n_atoms * R_J_MOLK,
        warnings=tuple(warns),
        provenance=provenance(
            analysis="dos", method="mass-weighted VACF (FFT, all origins) -> cosine transform",
            dt_ps=dt_ps, n_frames=n_frames, n_atoms=n_atoms, max_lag=max_lag, window=window,
            pad_factor=pad_factor, T_K=T_K, masses_given=masses_amu is not None,
        ),
    )


def vacf_direct(velocities, masses_amu=None, max_lag: int | None = None) -> np.ndarray:
    """Reference :math:`\\sum_i m_i\\langle v_i(0)\\cdot v_i(t)\\rangle` by the direct sum (tests).

    Returns
    -------
    ndarray, shape (max_lag+1,)
        Summed over atoms, averaged over all origins, amu Å²/ps².
    """
    v = np.asarray(velocities, float)
    n = v.shape[0]
    m = np.ones(v.shape[1]) if masses_amu is None else np.asarray(masses_amu, float)
    L = n - 1 if max_lag is None else min(max_lag, n - 1)
    out = np.empty(L + 1)
    for k in range(L + 1):
        out[k] = np.einsum("fad,fad,a->", v[k:], v[: n - k], m) / (n - k)
    return out
