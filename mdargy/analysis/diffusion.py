"""Self-diffusion coefficients from the MSD (Einstein relation) and their Arrhenius fit.

Einstein relation in :math:`d` dimensions: :math:`\\mathrm{MSD}(t) \\to 2 d D t` at long times, so
:math:`D` is the slope of a straight line through the MSD over the *diffusive window*, divided by
:math:`2d`. The line has a free intercept (it absorbs the ballistic/vibrational offset).

Diffusive window. Short lags are ballistic (:math:`\\mathrm{MSD}\\propto t^2`, log-log slope 2)
or caged (slope < 1); long lags rest on few time origins and are noisy. The window is set by the
user, or found automatically as the longest-lived range, ending at ``end_fraction`` of the lags
available, over which the local log-log slope stays within ``1 ± tol``.

Uncertainty. MSD points at neighbouring lags are strongly correlated, so the least-squares error
of the slope is far too small. σ(D) is instead estimated by block averaging: the trajectory is
cut into ``n_blocks`` independent segments, :math:`D` is fitted in each over the same window, and
:math:`\\sigma(D) = \\mathrm{std}(D_b)/\\sqrt{n_b}` (Flyvbjerg & Petersen, J. Chem. Phys. 91, 461
(1989); see also Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, 024116 (2020) and
McCluskey et al., kinisi, J. Open Source Softw. 9, 5984 (2024) on MSD covariances). Because the
window must fit in one block, the automatic window ends at ``end_fraction`` of the block length.

Arrhenius: :math:`D(T) = D_0 \\exp(-E_a / k_B T)`, fitted as a weighted straight line
:math:`\\ln D` vs :math:`1/T` (weights :math:`(D/\\sigma_D)^2`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mdargy.analysis.msd import A2_PS_TO_CM2_S, MSDResult, compute_msd
from mdargy.analysis.stats import weighted_linear_fit
from mdargy.errors import InputError
from mdargy.results import Result, provenance

__all__ = [
    "K_B_EV_K",
    "local_loglog_slope",
    "find_diffusive_window",
    "fit_einstein",
    "EinsteinFit",
    "DiffusionResult",
    "DiffusionAnalysis",
    "diffusion_coefficients",
    "ArrheniusResult",
    "fit_arrhenius",
]

#: Boltzmann constant, eV/K (CODATA 2018, exact).
K_B_EV_K = 8.617333262e-5


def local_loglog_slope(time_ps, msd, points_per_decade: int = 20):
    """Local slope :math:`d\\ln \\mathrm{MSD}/d\\ln t` on a logarithmic grid of lags.

    Parameters
    ----------
    time_ps, msd : array, shape (n_lags,)
        Lag times (the first may be 0) and MSD values.
    points_per_decade : int
        Density of the logarithmic grid; each slope is a centred difference over one grid
        step on each side.

    Returns
    -------
    t : ndarray
        Grid times, ps (lags with MSD > 0).
    alpha : ndarray
        Local log-log slope at ``t``: 2 ballistic, 1 diffusive, ≈ 0 caged/solid.
    """
    t = np.asarray(time_ps, float)
    y = np.asarray(msd, float)
    ok = np.flatnonzero((t > 0) & (y > 0))
    if ok.size < 3:
        raise InputError("MSD has fewer than 3 positive points; cannot find a diffusive regime")
    lo, hi = ok[0], ok[-1]
    n_dec = math.log10(t[hi] / t[lo])
    npts = max(3, int(round(n_dec * points_per_decade)) + 1)
    idx = np.unique(np.round(np.geomspace(lo, hi, npts)).astype(int))
    idx = idx[(y[idx] > 0) & (t[idx] > 0)]
    if idx.size < 3:
        raise InputError("MSD has fewer than 3 positive points; cannot find a diffusive regime")
    lt, ly = np.log(t[idx]), np.log(y[idx])
    return t[idx], np.gradient(ly, lt)


def find_diffusive_window(
    time_ps,
    msd,
    tol: float = 0.2,
    end_fraction: float = 0.5,
    min_span: float = 2.0,
    t_max_ps: float | None = None,
):
    """Automatic diffusive window of an MSD curve.

    The window ends at ``end_fraction`` of the largest lag (or of ``t_max_ps``), excluding the
    noisy long-lag tail. It starts at the earliest time after which the local log-log slope
    stays within ``1 ± tol`` up to the end (excluding the ballistic and caged regimes). When
    that range is shorter than a factor ``min_span`` in time, the longest contiguous range with
    slope in ``1 ± tol`` is used instead; when there is none, the last factor ``min_span``
    before the end is used and a warning says that no diffusive regime was found.

    Returns
    -------
    (t_start, t_end) : tuple of float, ps
    warnings : list of str
    """
    t = np.asarray(time_ps, float)
    y = np.asarray(msd, float)
    t_end = end_fraction * (t[-1] if t_max_ps is None else min(t_max_ps, t[-1]))
    sel = t <= t_end
    warnings: list[str] = []
    if np.count_nonzero(sel & (t > 0)) < 4:
        raise InputError(
            f"too few MSD points below {t_end:g} ps to find a diffusive window; use a longer "
            "trajectory, fewer blocks, or set the window explicitly"
        )
    tg, alpha = local_loglog_slope(t[sel], y[sel])
    good = np.abs(alpha - 1.0) <= tol
    if good[-1]:
        j = len(good) - 1
        while j > 0 and good[j - 1]:
            j -= 1
        start = tg[j]
        if t_end / start >= min_span:
            return (float(start), float(t_end)), warnings
    # longest contiguous run of good points (in log time)
    best, best_span = None, 0.0
    j = 0
    while j < len(good):
        if good[j]:
            k = j
            while k + 1 < len(good) and good[k + 1]:
                k += 1
            span = tg[k] / tg[j]
            if span > best_span:
                best, best_span = (tg[j], tg[k]), span
            j = k + 1
        else:
            j += 1
    if best is not None and best_span >= min_span:
        warnings.append(
            f"the MSD is diffusive (log-log slope 1±{tol:g}) only between {best[0]:.4g} and "
            f"{best[1]:.4g} ps, not up to {t_end:.4g} ps; that range is used"
        )
        return (float(best[0]), float(best[1])), warnings
    start = t_end / min_span
    a_end = float(np.median(alpha[tg >= start])) if np.any(tg >= start) else float(alpha[-1])
    warnings.append(
        f"no diffusive regime found: the log-log slope of the MSD never stays within 1±{tol:g} "
        f"over a factor {min_span:g} in time (slope {a_end:.2f} near {t_end:.4g} ps); D is fitted "
        f"over [{start:.4g}, {t_end:.4g}] ps and is not a reliable diffusion coefficient "
        "(the species may not diffuse, or the run is too short)"
    )
    return (float(start), float(t_end)), warnings


@dataclasses.dataclass(frozen=True)
class EinsteinFit:
    """Straight line through the MSD over a window.

    ``D_cm2_s`` is from the total MSD (``slope / (2 d)``); ``D_xyz_cm2_s`` from each direction
    (``slope / 2``). ``D_ols_err_cm2_s`` is the ordinary least-squares error, which ignores the
    correlation between MSD points and underestimates the true uncertainty.
    """

    D_cm2_s: float
    D_xyz_cm2_s: tuple
    D_ols_err_cm2_s: float
    intercept_A2: float
    window_ps: tuple
    loglog_slope: float
    n_points: int


def fit_einstein(time_ps, msd_xyz_A2, window_ps) -> EinsteinFit:
    """Fit :math:`\\mathrm{MSD}(t) = 2dDt + c` over ``window_ps``.

    Parameters
    ----------
    time_ps : array, shape (n_lags,)
    msd_xyz_A2 : array, shape (n_lags, 3) or (n_lags,)
        Per-direction MSD, Å² (a 1-D array is taken as the total 3-D MSD).
    window_ps : (float, float)
        Fit range, ps, inclusive.
    """
    t = np.asarray(time_ps, float)
    m = np.asarray(msd_xyz_A2, float)
    total = m if m.ndim == 1 else m.sum(axis=1)
    t0, t1 = float(window_ps[0]), float(window_ps[1])
    if not t1 > t0:
        raise InputError(f"fit window must have t_end > t_start, got {window_ps}")
    sel = (t >= t0 - 1e-12 * abs(t0)) & (t <= t1 * (1 + 1e-12))
    if np.count_nonzero(sel) < 3:
        raise InputError(
            f"the fit window [{t0:g}, {t1:g}] ps holds {np.count_nonzero(sel)} MSD points; "
            "need at least 3"
        )
    f = weighted_linear_fit(t[sel], total[sel])
    D = f.slope / 6.0 * A2_PS_TO_CM2_S
    if m.ndim == 2:
        Dxyz = tuple(
            float(weighted_linear_fit(t[sel], m[sel, k]).slope / 2.0 * A2_PS_TO_CM2_S)
            for k in range(3)
        )
    else:
        Dxyz = (float("nan"),) * 3
    ts, ys = t[sel], total[sel]
    pos = (ts > 0) & (ys > 0)
    alpha = (
        float(weighted_linear_fit(np.log(ts[pos]), np.log(ys[pos])).slope)
        if np.count_nonzero(pos) >= 3 and np.ptp(ts[pos]) > 0
        else float("nan")
    )
    return EinsteinFit(
        D_cm2_s=float(D),
        D_xyz_cm2_s=Dxyz,
        D_ols_err_cm2_s=float(f.slope_err / 6.0 * A2_PS_TO_CM2_S),
        intercept_A2=float(f.intercept),
        window_ps=(t0, t1),
        loglog_slope=alpha,
        n_points=int(np.count_nonzero(sel)),
    )


@dataclasses.dataclass(frozen=True)
class DiffusionResult(Result):
    """Self-diffusion coefficient of one species.

    Attributes
    ----------
    species : str
    n_atoms : int
    D_cm2_s : float
        From the whole trajectory's MSD over the window.
    D_err_cm2_s : float
        One-sigma uncertainty from block averaging (``D_err_method``).
    D_xyz_cm2_s : tuple of 3 float
        Along x, y, z.
    window_ps : tuple (t_start, t_end)
    window_auto : bool
    loglog_slope : float
        Log-log slope of the MSD in the window (1 for normal diffusion).
    D_blocks_cm2_s : tuple of float
        D fitted in each independent block over the same window.
    D_err_method : str
    D_ols_err_cm2_s : float
        Least-squares error ignoring correlations (for comparison only; too small).
    T_K : float or None
    warnings : tuple of str
    """

    species: str
    n_atoms: int
    D_cm2_s: float
    D_err_cm2_s: float
    D_xyz_cm2_s: tuple
    window_ps: tuple
    window_auto: bool
    loglog_slope: float
    intercept_A2: float
    D_blocks_cm2_s: tuple
    D_err_method: str
    D_ols_err_cm2_s: float
    T_K: float | None = None
    warnings: tuple = ()
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)


@dataclasses.dataclass(frozen=True)
class DiffusionAnalysis(Result):
    """MSD of the whole trajectory plus the diffusion coefficient of each species."""

    msd: MSDResult
    diffusion: tuple
    n_blocks: int
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    def __getitem__(self, species: str) -> DiffusionResult:
        for d in self.diffusion:
            if d.species == species:
                return d
        raise KeyError(species)


def diffusion_coefficients(
    positions,
    dt_ps: float,
    species=None,
    masses=None,
    window_ps=None,
    n_blocks: int = 5,
    remove_com: bool = True,
    tol: float = 0.2,
    end_fraction: float = 0.5,
    T_K: float | None = None,
    workers: int | None = 1,
    msd: MSDResult | None = None,
) -> DiffusionAnalysis:
    """MSD and self-diffusion coefficient (with block-averaged σ) of every species.

    Parameters
    ----------
    positions : array, shape (n_frames, n_atoms, 3)
        Unwrapped positions, Å.
    dt_ps : float
        Time between frames, ps.
    species, masses, remove_com, workers
        As in :func:`mdargy.analysis.msd.compute_msd`.
    window_ps : (float, float), optional
        Fit window, ps; found automatically per species when None.
    n_blocks : int
        Independent segments for σ(D) (≥ 2). The window must fit in one segment.
    tol, end_fraction
        Automatic window settings (:func:`find_diffusive_window`).
    T_K : float, optional
        Temperature, recorded for Arrhenius fits.
    msd : MSDResult, optional
        The whole-trajectory MSD when already computed.

    Returns
    -------
    DiffusionAnalysis
    """
    if n_blocks < 2:
        raise InputError(f"n_blocks must be at least 2 for an uncertainty, got {n_blocks}")
    n_frames = np.shape(positions)[0]
    seg = n_frames // n_blocks
    if seg < 8:
        raise InputError(
            f"{n_frames} frames cannot be cut into {n_blocks} blocks of at least 8 frames"
        )
    if msd is None:
        msd = compute_msd(positions, dt_ps, species=species, masses=masses,
                          remove_com=remove_com, workers=workers)
    blocks = [
        compute_msd(positions[b * seg : (b + 1) * seg], dt_ps, species=species, masses=masses,
                    remove_com=remove_com, workers=workers)
        for b in range(n_blocks)
    ]
    t_block_max = (seg - 1) * dt_ps
    out = []
    for si, name in enumerate(msd.species):
        warns = []
        if window_ps is None:
            win, w = find_diffusive_window(
                msd.time_ps, msd.total(si), tol=tol, end_fraction=end_fraction,
                t_max_ps=t_block_max,
            )
            warns += w
        else:
            win = (float(window_ps[0]), float(window_ps[1]))
            if win[1] > t_block_max:
                raise InputError(
                    f"fit window end {win[1]:g} ps is longer than one of the {n_blocks} blocks "
                    f"({t_block_max:g} ps); shorten the window or use fewer blocks"
                )
        fit = fit_einstein(msd.time_ps, msd.msd_A2[si], win)
        Db = np.array([fit_einstein(b.time_ps, b.msd_A2[si], win).D_cm2_s for b in blocks])
        err = float(Db.std(ddof=1) / math.sqrt(n_blocks))
        if window_ps is not None and abs(fit.loglog_slope - 1) > tol:
            warns.append(
                f"log-log slope of the MSD in the window is {fit.loglog_slope:.2f}, not 1: the "
                "window is not in the diffusive regime"
            )
        if fit.D_cm2_s <= 0 or fit.D_cm2_s < 2 * err:
            warns.append(
                f"D = {fit.D_cm2_s:.3g} ± {err:.2g} cm2/s is not significantly positive: "
                f"{name} does not diffuse measurably in this run"
            )
        out.append(
            DiffusionResult(
                species=name,
                n_atoms=int(msd.n_atoms[si]),
                D_cm2_s=fit.D_cm2_s,
                D_err_cm2_s=err,
                D_xyz_cm2_s=fit.D_xyz_cm2_s,
                window_ps=tuple(float(v) for v in win),
                window_auto=window_ps is None,
                loglog_slope=fit.loglog_slope,
                intercept_A2=fit.intercept_A2,
                D_blocks_cm2_s=tuple(float(v) for v in Db),
                D_err_method=f"block averaging over {n_blocks} independent segments of "
                f"{seg} frames: std(D_b)/sqrt({n_blocks})",
                D_ols_err_cm2_s=fit.D_ols_err_cm2_s,
                T_K=None if T_K is None else float(T_K),
                warnings=tuple(warns),
            )
        )
    return DiffusionAnalysis(
        msd=msd,
        diffusion=tuple(out),
        n_blocks=int(n_blocks),
        provenance=provenance(
            analysis="diffusion", dt_ps=dt_ps, n_frames=n_frames, window_ps=window_ps,
            n_blocks=n_blocks, remove_com=remove_com, tol=tol, end_fraction=end_fraction,
            T_K=T_K,
        ),
    )


@dataclasses.dataclass(frozen=True)
class ArrheniusResult(Result):
    """:math:`D(T) = D_0 \\exp(-E_a/k_BT)` fitted to D at several temperatures.

    ``D0_err_cm2_s`` is the first-order error ``D0 * σ(ln D0)``; the error of ``ln D0`` is
    ``ln_D0_err``. ``chi2_red`` ≈ 1 when the points follow the law within their errors.
    """

    species: str
    T_K: np.ndarray
    D_cm2_s: np.ndarray
    D_err_cm2_s: np.ndarray | None
    Ea_eV: float
    Ea_err_eV: float
    D0_cm2_s: float
    D0_err_cm2_s: float
    ln_D0_err: float
    chi2_red: float
    weighted: bool
    warnings: tuple = ()
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    def D_at(self, T_K):
        """Fitted D (cm²/s) at temperature(s) ``T_K``."""
        return self.D0_cm2_s * np.exp(-self.Ea_eV / (K_B_EV_K * np.asarray(T_K, float)))


def fit_arrhenius(T_K, D_cm2_s, D_err_cm2_s=None, species: str = "") -> ArrheniusResult:
    """Fit :math:`\\ln D = \\ln D_0 - E_a/(k_B T)`.

    Parameters
    ----------
    T_K : array, shape (n,)
        Temperatures, K (at least 2, distinct).
    D_cm2_s : array, shape (n,)
        Diffusion coefficients, cm²/s (all > 0).
    D_err_cm2_s : array, shape (n,), optional
        One-sigma errors; without them an unweighted fit with scatter-based errors is made.
    """
    T = np.asarray(T_K, float).ravel()
    D = np.asarray(D_cm2_s, float).ravel()
    if T.shape != D.shape:
        raise InputError(f"Arrhenius fit: {T.size} temperatures but {D.size} D values")
    if np.any(T <= 0):
        raise InputError("Arrhenius fit: temperatures must be > 0 K")
    if np.any(D <= 0):
        raise InputError(
            "Arrhenius fit: every D must be > 0 (a species that does not diffuse at some "
            "temperature cannot be fitted; drop those points)"
        )
    if np.unique(T).size < 2:
        raise InputError("Arrhenius fit needs at least 2 distinct temperatures")
    warns = []
    if T.size < 3:
        warns.append(f"only {T.size} temperatures: the fit has no degrees of freedom left")
    sig = None
    if D_err_cm2_s is not None:
        E = np.asarray(D_err_cm2_s, float).ravel()
        if E.shape != D.shape or np.any(~np.isfinite(E)) or np.any(E <= 0):
            raise InputError("Arrhenius fit: D errors must be positive, one per temperature")
        sig = E / D
    f = weighted_linear_fit(1.0 / T, np.log(D), sig)
    Ea = -f.slope * K_B_EV_K
    D0 = math.exp(f.intercept)
    if sig is not None and f.dof > 0 and f.p_value < 0.01:
        warns.append(
            f"chi2_red = {f.chi2_red:.2f}: the points scatter more than their errors; one "
            "Arrhenius law may not describe all temperatures (e.g. a phase transition)"
        )
    return ArrheniusResult(
        species=str(species),
        T_K=T,
        D_cm2_s=D,
        D_err_cm2_s=None if D_err_cm2_s is None else np.asarray(D_err_cm2_s, float).ravel(),
        Ea_eV=float(Ea),
        Ea_err_eV=float(f.slope_err * K_B_EV_K),
        D0_cm2_s=float(D0),
        D0_err_cm2_s=float(D0 * f.intercept_err),
        ln_D0_err=float(f.intercept_err),
        chi2_red=float(f.chi2_red),
        weighted=sig is not None,
        warnings=tuple(warns),
        provenance=provenance(analysis="arrhenius", T_K=T, D_cm2_s=D, D_err_cm2_s=D_err_cm2_s),
    )
