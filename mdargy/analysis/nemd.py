"""Thermal conductivity from a non-equilibrium MD run: pure functions on arrays.

The geometry is the periodic bar of the NEMD driver (:mod:`mdargy.drivers.nemd`): heat enters at
a hot slab and leaves at a cold slab half a period away, so it flows along *two* paths (towards
+x and towards -x) and Fourier's law gives

.. math:: \\kappa = \\frac{Q}{2 S |\\nabla T|},

with ``Q`` the power injected at the source (eV/ps), ``S`` the cross-section (Å²) and
``|∇T|`` the magnitude of the gradient (K/Å), fitted to the temperature profile away from the
baths (Müller-Plathe, *J. Chem. Phys.* 106, 6082 (1997); Schelling, Phillpot & Keblinski, *PRB*
65, 144306 (2002)).

Inputs are time series of *blocks*: each block is one slab-temperature profile averaged over a
block of steps, with the heat injected and extracted during that block. The transient before the
steady state is found with the marginal standard error rule (MSER, White, *Simulation* 69, 323
(1997)) and discarded. The uncertainty of κ combines (in quadrature) the spread of κ computed on
``n_error_blocks`` consecutive groups of steady blocks (block averaging, Flyvbjerg & Petersen,
*J. Chem. Phys.* 91, 461 (1989)) and the disagreement of the two heat paths, ``κ |g_up -
g_down| / (g_up + g_down)``: the paths are two measurements of the same gradient, and their
difference reveals slow fluctuations (relaxing over ~L²/α, tens of ps for a 10 nm bar) that
groups shorter than that relaxation time miss.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mdargy.analysis.stats import LinearFit, block_average, weighted_linear_fit
from mdargy.constants import ANGSTROM_M, EV_PS_TO_W
from mdargy.errors import InputError


__all__ = [
    "EV_PS_TO_W", "mser_truncation", "fit_masks", "GradientFit", "fit_gradient",
    "kappa_W_mK", "EnergyBalance", "energy_balance", "NEMDAnalysis", "analyse_nemd",
]


def mser_truncation(y, max_fraction: float = 0.5) -> int:
    """Number of leading samples to discard as transient (MSER rule).

    Chooses ``d`` minimising ``MSER(d) = sum_{i>=d} (y_i - mean(y[d:]))**2 / (n - d)**2``
    over ``0 <= d <= max_fraction * n``: the truncation that leaves the smallest standard error
    of the mean of the remaining samples.

    Parameters
    ----------
    y : array_like, shape (n,)
        A time series (e.g. the temperature gradient of each block).
    max_fraction : float
        Largest fraction of the series that may be discarded.

    Returns
    -------
    int
    """
    y = np.asarray(y, dtype=float).ravel()
    n = y.size
    if n < 3:
        return 0
    dmax = max(0, min(n - 2, int(max_fraction * n)))
    # suffix sums give every MSER(d) in O(n)
    rev = y[::-1]
    s1 = np.cumsum(rev)[::-1]
    s2 = np.cumsum(rev * rev)[::-1]
    m = n - np.arange(n)
    ss = s2 - s1 * s1 / m
    mser = ss / (m * m)
    return int(np.argmin(mser[: dmax + 1]))


def fit_masks(x_A, length_A: float, cold_A: tuple[float, float], hot_A: tuple[float, float],
              exclude_A: float = 0.0):
    """Bins of the two heat paths usable for the gradient fit.

    Parameters
    ----------
    x_A : array_like, shape (n_bins,)
        Bin centres in Å, in ``[0, length_A)``.
    length_A : float
        Period of the bar along x.
    cold_A, hot_A : (float, float)
        ``[lo, hi)`` of the cold and hot slabs in Å (``0 <= lo < hi <= length_A``).
    exclude_A : float
        Further margin on each side of each slab: bins whose centre is closer than this to a
        bath are left out (the profile bends near the baths).

    Returns
    -------
    up, down : ndarray of bool
        ``up``: bins between the cold and the hot slab going +x (T rises); ``down``: between
        the hot and the cold slab going +x, across the periodic boundary if needed (T falls).
    x_unwrapped : ndarray
        Bin centres with the ``down`` path made contiguous (``+ length_A`` where it wraps).
    """
    x = np.asarray(x_A, dtype=float)
    L = float(length_A)

    def between(a, b):  # open interval (a, b) going +x, periodic
        d = (x - a) % L
        return (d > exclude_A) & (d < ((b - a) % L) - exclude_A)

    up = between(cold_A[1], hot_A[0])
    down = between(hot_A[1], cold_A[0] if cold_A[0] > 0 else L)
    xu = x.copy()
    xu[down & (x < hot_A[1])] += L
    return up, down, xu


@dataclasses.dataclass(frozen=True)
class GradientFit:
    """Linear fits of T(x) on the two heat paths.

    ``gradient_K_A`` is the mean of the magnitudes of the two slopes (K/Å) and
    ``gradient_err_K_A`` its one-sigma error from the fits.
    """

    up: LinearFit
    down: LinearFit
    gradient_K_A: float
    gradient_err_K_A: float
    asymmetry: float  # (|up| - |down|) / mean: a check of the two-path geometry


def fit_gradient(x_A, T_K, T_err_K, masks) -> GradientFit:
    """Fit straight lines to the two paths of a profile (see :func:`fit_masks`)."""
    up, down, xu = masks
    T = np.asarray(T_K, dtype=float)
    err = None if T_err_K is None else np.asarray(T_err_K, dtype=float)
    if up.sum() < 2 or down.sum() < 2:
        raise InputError(f"too few bins away from the baths to fit a gradient ({int(up.sum())} "
                         f"and {int(down.sum())}): use more bins, thinner baths or a smaller "
                         "exclusion")

    def one(mask):
        s = None
        if err is not None and np.all(np.isfinite(err[mask])) and np.all(err[mask] > 0):
            s = err[mask]
        return weighted_linear_fit(xu[mask], T[mask], s)

    fu, fd = one(up), one(down)
    gu, gd = abs(fu.slope), abs(fd.slope)
    g = 0.5 * (gu + gd)
    gerr = 0.5 * math.hypot(fu.slope_err, fd.slope_err)
    return GradientFit(fu, fd, g, gerr, (gu - gd) / g if g > 0 else float("nan"))


def kappa_W_mK(Q_eV_ps, area_A2, gradient_K_A, n_paths: int = 2):
    """Fourier's law ``κ = Q / (n_paths S |∇T|)`` in W/(m K).

    Parameters
    ----------
    Q_eV_ps : float or ndarray
        Power injected at the source (eV/ps).
    area_A2 : float
        Cross-section normal to the flow (Å²).
    gradient_K_A : float or ndarray
        |∇T| (K/Å).
    n_paths : int
        Heat paths from source to sink: 2 in a periodic bar.
    """
    Q_W = np.asarray(Q_eV_ps, dtype=float) * EV_PS_TO_W
    S_m2 = float(area_A2) * ANGSTROM_M**2
    g_K_m = np.abs(np.asarray(gradient_K_A, dtype=float)) / ANGSTROM_M
    out = Q_W / (n_paths * S_m2 * g_K_m)
    return float(out) if np.ndim(out) == 0 else out


@dataclasses.dataclass(frozen=True)
class EnergyBalance:
    """Heat in at the source against heat out at the sink over the steady-state window.

    ``imbalance_fraction = (heat_in - heat_out) / mean(heat_in, heat_out)``. When the change of
    the system's total energy over the window is known, ``closure_fraction = (heat_in -
    heat_out - dE_system) / mean`` measures the integration error alone (the in/out imbalance
    also contains the natural fluctuation of the system's energy).
    """

    heat_in_eV: float
    heat_out_eV: float
    imbalance_fraction: float
    dE_system_eV: float | None = None
    closure_fraction: float | None = None


def energy_balance(heat_in_eV, heat_out_eV, dE_system_eV: float | None = None) -> EnergyBalance:
    """Totals and relative imbalance of heat in and out (see :class:`EnergyBalance`)."""
    hin = float(np.sum(heat_in_eV))
    hout = float(np.sum(heat_out_eV))
    mean = 0.5 * (hin + hout)
    imb = (hin - hout) / mean if mean != 0 else float("nan")
    clo = None
    if dE_system_eV is not None:
        clo = (hin - hout - float(dE_system_eV)) / mean if mean != 0 else float("nan")
    return EnergyBalance(hin, hout, imb, None if dE_system_eV is None else float(dE_system_eV), clo)


@dataclasses.dataclass(frozen=True)
class NEMDAnalysis:
    """Everything derived from the block series of one NEMD run (units in the names)."""

    kappa_W_mK: float
    kappa_err_W_mK: float
    kappa_groups_W_mK: np.ndarray
    kappa_err_groups_W_mK: float
    kappa_err_paths_W_mK: float
    gradient_K_A: float
    gradient_err_K_A: float
    gradient_asymmetry: float
    Q_eV_ps: float
    Q_err_eV_ps: float
    T_mean_K: float
    x_A: np.ndarray
    T_K: np.ndarray
    T_err_K: np.ndarray
    fit_up: LinearFit
    fit_down: LinearFit
    up_mask: np.ndarray
    down_mask: np.ndarray
    x_unwrapped_A: np.ndarray
    n_blocks: int
    n_discarded_blocks: int
    transient_auto: bool
    balance: EnergyBalance


def analyse_nemd(x_A, profiles_K, heat_in_eV, heat_out_eV, block_time_ps: float,
                 length_A: float, area_A2: float, cold_A, hot_A, exclude_A: float = 0.0,
                 discard_blocks: int | None = None, n_error_blocks: int = 5,
                 dE_system_eV=None, counts=None) -> NEMDAnalysis:
    """κ ± σ, ∇T, Q and the energy balance from a NEMD block series.

    Parameters
    ----------
    x_A : array_like, shape (n_bins,)
        Bin centres (Å) in ``[0, length_A)``.
    profiles_K : array_like, shape (n_blocks, n_bins)
        Slab temperatures, one row per block of steps.
    heat_in_eV, heat_out_eV : array_like, shape (n_blocks,)
        Energy injected at the hot slab and removed at the cold slab during each block (eV).
    block_time_ps : float
        Duration of one block.
    length_A, area_A2 : float
        Bar length along x and cross-section.
    cold_A, hot_A : (float, float)
        Slab extents in Å.
    exclude_A : float
        Margin next to the baths left out of the fit.
    discard_blocks : int, optional
        Blocks to drop as transient; ``None`` chooses them by MSER on the per-block gradient,
        flux and mean temperature (the largest of the three truncations).
    n_error_blocks : int
        Groups of steady blocks used for σ(κ) and σ(T); at least 2.
    dE_system_eV : array_like, shape (n_blocks,), optional
        Change of the total energy during each block, for the energy-balance closure.
    counts : array_like, shape (n_blocks, n_bins), optional
        Atoms per bin; empty bins (count 0) are an error.

    Returns
    -------
    NEMDAnalysis
    """
    x = np.asarray(x_A, dtype=float)
    P = np.atleast_2d(np.asarray(profiles_K, dtype=float))
    hin = np.asarray(heat_in_eV, dtype=float).ravel()
    hout = np.asarray(heat_out_eV, dtype=float).ravel()
    nb = P.shape[0]
    if P.shape[1] != x.size or hin.size != nb or hout.size != nb:
        raise InputError(f"inconsistent NEMD series: {P.shape} profiles, {x.size} bins, "
                         f"{hin.size}/{hout.size} heat values")
    if counts is not None and np.any(np.asarray(counts)[:, :] <= 0):
        raise InputError("a temperature bin holds no atoms: use fewer bins")
    if not np.all(np.isfinite(P)):
        raise InputError("the temperature profile contains NaN/inf")
    masks = fit_masks(x, length_A, tuple(cold_A), tuple(hot_A), exclude_A)
    n_error_blocks = int(n_error_blocks)
    if n_error_blocks < 2:
        raise InputError("n_error_blocks must be at least 2")

    auto = discard_blocks is None
    if auto:
        up, down, xu = masks
        g = np.empty(nb)
        for i in range(nb):  # quick per-block gradient: difference of the two path slopes
            su = np.polyfit(xu[up], P[i, up], 1)[0]
            sd = np.polyfit(xu[down], P[i, down], 1)[0]
            g[i] = 0.5 * (su - sd)
        q = 0.5 * (hin + hout)
        tm = P.mean(axis=1)  # the mean temperature drifts while the bar settles
        discard_blocks = max(mser_truncation(g), mser_truncation(q), mser_truncation(tm))
    discard_blocks = int(discard_blocks)
    if nb - discard_blocks < n_error_blocks:
        raise InputError(f"only {nb - discard_blocks} steady blocks after discarding "
                         f"{discard_blocks} of {nb}: run longer or use fewer error blocks "
                         f"(n_error_blocks={n_error_blocks})")
    Ps = P[discard_blocks:]
    qs = 0.5 * (hin[discard_blocks:] + hout[discard_blocks:]) / block_time_ps
    T_mean, T_err = block_average(Ps, n_error_blocks, axis=0)
    gfit = fit_gradient(x, T_mean, T_err, masks)
    Q_mean, Q_err = block_average(qs, n_error_blocks)
    kappa = kappa_W_mK(Q_mean, area_A2, gfit.gradient_K_A)
    # sigma(kappa): kappa of each group of consecutive steady blocks
    size = Ps.shape[0] // n_error_blocks
    kg = np.empty(n_error_blocks)
    for k in range(n_error_blocks):
        sl = slice(k * size, (k + 1) * size)
        gk = fit_gradient(x, Ps[sl].mean(axis=0), None, masks)
        kg[k] = kappa_W_mK(qs[sl].mean(), area_A2, gk.gradient_K_A)
    kerr_groups = float(kg.std(ddof=1) / math.sqrt(n_error_blocks))
    # the two heat paths are two measurements of one gradient: their difference shows the slow
    # fluctuations (modes relaxing over ~L^2/alpha) that groups shorter than that cannot see
    kerr_paths = float(abs(kappa) * 0.5 * abs(gfit.asymmetry)) if np.isfinite(gfit.asymmetry) else 0.0
    kerr = math.hypot(kerr_groups, kerr_paths)
    dE = None
    if dE_system_eV is not None:
        dE = float(np.sum(np.asarray(dE_system_eV, dtype=float)[discard_blocks:]))
    bal = energy_balance(hin[discard_blocks:], hout[discard_blocks:], dE)
    return NEMDAnalysis(
        kappa_W_mK=float(kappa), kappa_err_W_mK=kerr, kappa_groups_W_mK=kg,
        kappa_err_groups_W_mK=kerr_groups, kappa_err_paths_W_mK=kerr_paths,
        gradient_K_A=gfit.gradient_K_A, gradient_err_K_A=gfit.gradient_err_K_A,
        gradient_asymmetry=gfit.asymmetry, Q_eV_ps=float(Q_mean), Q_err_eV_ps=float(Q_err),
        T_mean_K=float(Ps.mean()), x_A=x, T_K=np.asarray(T_mean), T_err_K=np.asarray(T_err),
        fit_up=gfit.up, fit_down=gfit.down, up_mask=masks[0], down_mask=masks[1],
        x_unwrapped_A=masks[2], n_blocks=nb, n_discarded_blocks=discard_blocks,
        transient_auto=auto, balance=bal)
