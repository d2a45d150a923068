"""Self-diffusion coefficients from the MSD (Einstein relation) and their Arrhenius fit.

Einstein relation in :math:`d` dimensions: :math:`\\mathrm{MSD}(t) \\to 2 d D t` at long times, so
:math:`D` is the slope of a straight line through the MSD over the *diffusive window*, divided by
:math:`2d`. The line has a free intercept (it absorbs the ballistic/vibrational offset).

Diffusive window. Short lags are ballistic (:math:`\\mathrm{MSD}\\propto t^2`, log-log slope 2)
or caged (slope < 1); long lags rest on few time origins and are noisy. The window is set by the
user, or found automatically as the longest-lived range, ending at ``end_fraction`` of the lags
available, over which the local log-log slope stays within ``1 ± tol``.

Uncertainty. MSD points at neighbouring lags are strongly correlated, so the ordinary
least-squares error of the slope is far too small. D is therefore fitted by generalised least
squares with the covariance of the MSD (the approach of kinisi: McCluskey, Coles & Morgan,
J. Chem. Theory Comput. 20, 2024): the variance of one squared displacement is measured at each
fitted lag (so non-Gaussian, jump-like motion is accounted for) and the correlation between lags
is that of a random walk averaged over all overlapping time origins (Qian, Sheetz & Elson,
Biophys. J. 60, 910 (1991); Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, 024116 (2020)).
kinisi's own covariance model (independent observations ``n_atoms (n_frames-1)/lag``) is
available as ``covariance="kinisi"``; on random walks it overestimates σ(D) by 1.2-1.4×, while the
default gives a pull distribution of unit width (tests). D is also refitted over neighbouring
windows (``window_scan``) so that its dependence on the window is reported, not hidden.

Species that do not diffuse (no diffusive regime, or D below ``min_significance`` σ) are
reported as *bounded*: no D (NaN), an apparent upper value ``D_upper_cm2_s``, and they are kept
out of Arrhenius fits (:func:`is_diffusing`).

Arrhenius: :math:`D(T) = D_0 \\exp(-E_a / k_B T)`, fitted as a weighted straight line
:math:`\\ln D` vs :math:`1/T` (weights :math:`(D/\\sigma_D)^2`).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mdargy.analysis.msd import MSDResult, center_of_mass_shift, compute_msd, species_groups
from mdargy.analysis.stats import weighted_linear_fit
from mdargy.constants import A2_PS_TO_CM2_S, K_B_EV_K
from mdargy.errors import InputError
from mdargy.results import Result, provenance

__all__ = [
    "K_B_EV_K",
    "local_loglog_slope",
    "find_diffusive_window",
    "fit_einstein",
    "EinsteinFit",
    "squared_displacement_variance",
    "msd_covariance",
    "overlap_traces",
    "overlap_msd_covariance",
    "smooth_sd_variance",
    "GLSLineFit",
    "gls_line_fit",
    "fit_lags",
    "gls_diffusion_fit",
    "DiffusionResult",
    "is_diffusing",
    "DiffusionAnalysis",
    "diffusion_coefficients",
    "ArrheniusResult",
    "fit_arrhenius",
    "DIFFUSION_COLUMNS",
    "diffusion_row",
    "ARRHENIUS_COLUMNS",
    "arrhenius_row",
    "ArrheniusPerSpecies",
    "fit_arrhenius_per_species",
]



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


def squared_displacement_variance(positions, lags, group_index, n_groups: int, shift=None,
                                  max_samples: int = 1_000_000, mean_variance: bool = False):
    """Variance of the squared displacement :math:`|r_i(t_0+L)-r_i(t_0)|^2` over atoms and
    time origins, per group, at each lag ``L`` (frames).

    Origins are taken every ``max(1, L // 4)`` frames (and sparser if needed to stay under
    ``max_samples`` samples per lag): the squared displacements of nearby origins are strongly
    correlated, so denser origins hardly improve the estimate.

    Parameters
    ----------
    positions : array, shape (n_frames, n_atoms, 3)
        Unwrapped positions, Å (may be a memory map).
    lags : sequence of int
        Lags in frames, 1 … n_frames-1.
    group_index : array of int, shape (n_atoms,)
    n_groups : int
    shift : array, shape (n_frames, 3), optional
        Subtracted from every atom (centre-of-mass drift).

    mean_variance : bool
        Also return the variance over origins of the *group mean* squared displacement: for
        independent atoms it is the first array divided by the group size; correlated motion
        of the atoms (collective hops) makes it larger.

    Returns
    -------
    ndarray, shape (n_groups, n_lags)
        Sample variance (ddof=1), Å⁴.
    ndarray, shape (n_groups, n_lags), only with ``mean_variance``
    """
    x = positions
    n_frames, n_atoms = x.shape[0], x.shape[1]
    gi = np.asarray(group_index, dtype=np.intp)
    counts = np.bincount(gi, minlength=n_groups).astype(float)
    out = np.empty((n_groups, len(lags)))
    outm = np.full((n_groups, len(lags)), np.nan)
    onehot = np.zeros((n_atoms, n_groups))
    onehot[np.arange(n_atoms), gi] = 1.0 / np.maximum(counts[gi], 1)
    for k, L in enumerate(lags):
        L = int(L)
        if not 1 <= L < n_frames:
            raise InputError(f"lag {L} outside 1..{n_frames - 1}")
        n_orig = n_frames - L
        stride = max(1, L // 4, math.ceil(n_orig * n_atoms / max_samples))
        o = np.arange(0, n_orig, stride)
        d = np.asarray(x[o + L], dtype=np.float64) - np.asarray(x[o], dtype=np.float64)
        if shift is not None:
            d -= (shift[o + L] - shift[o])[:, None, :]
        s = np.einsum("oad,oad->oa", d, d)
        s1 = np.bincount(gi, weights=s.sum(axis=0), minlength=n_groups)
        s2 = np.bincount(gi, weights=(s * s).sum(axis=0), minlength=n_groups)
        m = counts * o.size
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, k] = (s2 - s1 * s1 / m) / np.maximum(m - 1, 1)
        if mean_variance and o.size >= 2:
            outm[:, k] = (s @ onehot).var(axis=0, ddof=1)
    return (out, outm) if mean_variance else out


def msd_covariance(var_sd_A4, n_independent):
    """Covariance matrix of MSD values at increasing lags (kinisi's model).

    With :math:`n_i` the number of independent observations at lag :math:`t_i`
    (``n_particles × (n_frames-1) / lag``) and :math:`v_i` the variance of one squared
    displacement, :math:`\\Sigma_{ii} = v_i/n_i` and, for :math:`i \\le j`,
    :math:`\\Sigma_{ij} = \\Sigma_{ii}\\, n_i/n_j = v_i/n_j`: the displacement over the longer lag
    contains the shorter one (McCluskey, Coles & Morgan, J. Chem. Theory Comput. 20, 2024).

    Parameters
    ----------
    var_sd_A4 : array, shape (n,)
        Variance of the squared displacement at each lag (increasing lags).
    n_independent : array, shape (n,)

    Returns
    -------
    ndarray, shape (n, n), Å⁴
    """
    v = np.asarray(var_sd_A4, float)
    n = np.asarray(n_independent, float)
    i = np.arange(v.size)
    lo = np.minimum.outer(i, i)
    hi = np.maximum.outer(i, i)
    return v[lo] / n[hi]


@dataclasses.dataclass(frozen=True)
class GLSLineFit:
    """Generalised least-squares straight line ``y = slope t + intercept``.

    ``covariance`` is :math:`(A^T\\Sigma^{-1}A)^{-1}` for ``(slope, intercept)``: with a Gaussian
    likelihood and flat priors it is also the posterior covariance that kinisi samples.
    ``chi2_red`` compares the residuals with Σ (≈ 1 when the covariance model is right).
    """

    slope: float
    intercept: float
    slope_err: float
    intercept_err: float
    covariance: np.ndarray
    chi2_red: float
    n_points: int


def gls_line_fit(t, y, cov) -> GLSLineFit:
    """Straight line through correlated points ``y`` (covariance ``cov``) by GLS.

    The covariance is factorised by Cholesky; if it is not positive definite within rounding,
    eigenvalues below ``1e-12 × max`` are clipped (as kinisi's minimum-eigenvalue method).
    """
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    C = np.asarray(cov, float)
    if t.size < 3:
        raise InputError(f"a GLS line fit needs at least 3 points, got {t.size}")
    A = np.column_stack([t, np.ones_like(t)])
    scale = float(np.max(np.diag(C)))
    if not scale > 0 or not np.isfinite(scale):
        raise InputError("MSD covariance is zero or not finite: the atoms do not move")
    Cn = C / scale
    try:
        Lc = np.linalg.cholesky(Cn)
    except np.linalg.LinAlgError:
        w, V = np.linalg.eigh(0.5 * (Cn + Cn.T))
        w = np.maximum(w, 1e-12 * w.max())
        Lc = np.linalg.cholesky((V * w) @ V.T)
    from scipy.linalg import solve_triangular

    Aw = solve_triangular(Lc, A, lower=True)
    yw = solve_triangular(Lc, y, lower=True)
    theta, *_ = np.linalg.lstsq(Aw, yw, rcond=None)
    ctheta = np.linalg.inv(Aw.T @ Aw) * scale
    r = yw - Aw @ theta
    chi2 = float(r @ r) / scale / max(t.size - 2, 1)
    return GLSLineFit(
        slope=float(theta[0]), intercept=float(theta[1]),
        slope_err=float(math.sqrt(max(ctheta[0, 0], 0.0))),
        intercept_err=float(math.sqrt(max(ctheta[1, 1], 0.0))),
        covariance=ctheta, chi2_red=chi2, n_points=int(t.size),
    )


def fit_lags(n_frames: int, dt_ps: float, window_ps, n_points: int = 64):
    """Up to ``n_points`` evenly spaced lags (frames, ≥ 1) inside ``window_ps``."""
    l0 = max(1, int(math.ceil(window_ps[0] / dt_ps - 1e-9)))
    l1 = min(n_frames - 1, int(math.floor(window_ps[1] / dt_ps + 1e-9)))
    if l1 - l0 + 1 < 3:
        raise InputError(
            f"the fit window [{window_ps[0]:g}, {window_ps[1]:g}] ps holds {max(l1 - l0 + 1, 0)} "
            "lags; need at least 3"
        )
    return np.unique(np.round(np.linspace(l0, l1, min(n_points, l1 - l0 + 1))).astype(int))


def gls_diffusion_fit(msd_total_A2, var_sd_A4, lags, n_particles: int, n_frames: int,
                      dt_ps: float, covariance: str = "overlap") -> GLSLineFit:
    """GLS fit of ``MSD = 2 d D t + c`` at ``lags`` (frames) with the MSD covariance.

    ``msd_total_A2`` is indexed by lag (frames); ``var_sd_A4`` holds the variance of the squared
    displacement at each of ``lags`` (smoothed by :func:`smooth_sd_variance`).

    covariance : {"overlap", "kinisi"}
        ``"overlap"`` (default): :func:`overlap_msd_covariance`, exact for a random walk.
        ``"kinisi"``: :func:`msd_covariance`, kinisi's model with
        ``n_particles × (n_frames-1) / L`` independent observations; it ignores the gain from
        overlapping origins and overestimates σ(D) (by about 1.2-1.4× on random walks whose
        fit starts at the first lags).
    """
    lags = np.asarray(lags, int)
    t = lags * dt_ps
    y = np.asarray(msd_total_A2, float)[lags]
    n_ind = n_particles * (n_frames - 1) / lags
    if covariance not in ("overlap", "kinisi"):
        raise InputError(f"covariance must be 'overlap' or 'kinisi', got {covariance!r}")
    trace = overlap_traces(lags, n_frames) if covariance == "overlap" else None
    # the variance model uses the fitted line, not the measured MSD: weights that follow the
    # data's own noise would bias the slope low
    slope, icpt = np.polyfit(t, y, 1)
    fit = None
    for _ in range(3):
        model = slope * t + icpt
        if not np.all(model > 0):
            model = np.maximum(model, np.max(y) * 1e-6)
        v = smooth_sd_variance(t, y, var_sd_A4, n_ind, model_A2=model)
        if covariance == "kinisi":
            cov = msd_covariance(v, n_ind)
        else:
            g = np.sqrt(v) / lags
            cov = trace * np.outer(g, g) / n_particles
        fit = gls_line_fit(t, y, cov)
        if abs(fit.slope - slope) <= 1e-6 * abs(fit.slope) + 1e-300:
            break
        slope, icpt = fit.slope, fit.intercept
    return fit


def overlap_traces(lags, n_frames: int):
    r""":math:`\mathrm{tr}(A_L A_M)` for the all-origins MSD of a random walk.

    With :math:`N-1` independent increments, the all-origins mean square of the displacement
    over ``L`` frames is the quadratic form :math:`\xi^T A_L \xi`,
    :math:`A_L = \frac{1}{N-L}\sum_k u_k u_k^T` (:math:`u_k` the indicator of the increments
    ``k … k+L-1``). For Gaussian increments of variance :math:`s` the covariance of two such
    means is :math:`2 s^2 \mathrm{tr}(A_L A_M)`, with
    :math:`\mathrm{tr}(A_LA_M) = \sum_\delta c(\delta)\, o(\delta)^2 / ((N-L)(N-M))`
    (:math:`o` the overlap of two windows offset by :math:`\delta`, :math:`c` the number of such
    pairs). This is the exact overlapping-window covariance (Qian, Sheetz & Elson, Biophys. J.
    60, 910 (1991); Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, 024116 (2020)).
    """
    lags = np.asarray(lags, int)
    n = lags.size
    T = np.empty((n, n))
    for i in range(n):
        L = int(lags[i])
        KL = n_frames - L
        M = lags[i:, None].astype(float)
        KM = n_frames - M
        d = np.arange(-int(lags[i:].max()) + 1, L, dtype=float)[None, :]
        o = np.maximum(np.minimum(L, d + M) - np.maximum(0.0, d), 0.0)
        c = np.maximum(np.minimum(KL, KM - d) - np.maximum(0.0, -d), 0.0)
        T[i, i:] = (c * o * o).sum(axis=1) / (KL * KM[:, 0])
        T[i:, i] = T[i, i:]
    return T


def overlap_msd_covariance(var_sd_A4, lags, n_particles: int, n_frames: int):
    r"""Covariance of all-origins MSD values at ``lags`` (frames), Å⁴.

    The correlation structure is the exact one of a Gaussian random walk averaged over all
    overlapping time origins (:func:`overlap_traces`); the scale at each lag comes from the
    measured variance :math:`v_i` of one squared displacement:
    :math:`\Sigma_{ij} = \sqrt{v_i v_j}\,\mathrm{tr}(A_iA_j)/(n_p L_i L_j)`. For a random walk
    (:math:`v_i = 6 s^2 L_i^2` in 3D) this is exact; non-Gaussian (jump) displacements enter
    through their larger :math:`v_i`. It is positive definite by construction.
    """
    L = np.asarray(lags, float)
    g = np.sqrt(np.asarray(var_sd_A4, float)) / L
    return overlap_traces(lags, n_frames) * np.outer(g, g) / n_particles


def smooth_sd_variance(t_ps, msd_A2, var_sd_A4, n_independent, model_A2=None):
    r"""Smoothed variance of the squared displacement, for a positive-definite covariance.

    The measured variances are noisy at long lags (few independent origins), and the noise
    alone can make the covariance of :func:`msd_covariance` indefinite (it is positive definite
    only while :math:`v_i n_i` grows with the lag). The ratio :math:`v_i/\mathrm{MSD}_i^2`
    (2/3 for Gaussian displacements in 3D; larger for jump diffusion) varies slowly, so it is
    replaced by a quadratic in :math:`\ln t` fitted to the measured ratios, and
    :math:`v_i n_i` is then made non-decreasing (running maximum). With ``model_A2`` (the
    fitted line) the smoothed ratio multiplies the model's square instead of the data's.
    """
    t = np.asarray(t_ps, float)
    y = np.asarray(msd_A2, float)
    v = np.asarray(var_sd_A4, float)
    n = np.asarray(n_independent, float)
    ok = (y > 0) & np.isfinite(v) & (v > 0) & (t > 0)
    if np.count_nonzero(ok) >= 4:
        lt = np.log(t)
        deg = 2 if np.count_nonzero(ok) >= 8 else 0
        c = np.polyfit(lt[ok], np.log(v[ok] / y[ok] ** 2), deg)
        ym = y if model_A2 is None else np.asarray(model_A2, float)
        vs = np.exp(np.polyval(c, lt)) * np.maximum(ym, 0) ** 2
    else:
        vs = np.where(np.isfinite(v) & (v > 0), v, np.nanmax(v[v > 0]) if np.any(v > 0) else 1.0)
    vs = np.maximum(vs, 1e-300)
    return np.maximum.accumulate(vs * n) / n


@dataclasses.dataclass(frozen=True)
class DiffusionResult(Result):
    """Self-diffusion coefficient of one species.

    Attributes
    ----------
    species : str
    n_atoms : int
    D_cm2_s : float
        Slope of the MSD over the window / 6 (GLS with the MSD covariance). NaN when the species
        does not diffuse (``diffusing`` false): a bounded MSD has no diffusion coefficient.
    D_err_cm2_s : float
        One-sigma uncertainty of D from the GLS covariance (``D_err_method``); NaN if no D.
    D_xyz_cm2_s : tuple of 3 float
        Along x, y, z (ordinary least squares over the same window, no σ).
    window_ps : tuple (t_start, t_end)
    window_auto : bool
    loglog_slope : float
        Log-log slope of the MSD in the window (1 for normal diffusion).
    intercept_A2 : float
    D_blocks_cm2_s : tuple of float
        Optional cross-check: D fitted in independent blocks (empty unless asked for).
    D_err_method : str
    D_ols_err_cm2_s : float
        Least-squares error ignoring correlations (for comparison only; too small).
    T_K : float or None
    warnings : tuple of str
    diffusing : bool
        False when the MSD has no diffusive regime (log-log slope never near 1) or its slope is
        not significantly positive (< 3σ): the species is bounded (caged, vibrating).
    status : str
        ``"diffusive"`` or ``"bounded"``.
    D_upper_cm2_s : float
        For a bounded species, :math:`\\mathrm{MSD}(t_1)/(6 t_1)` at the end of the window: the
        apparent D, an upper bound on any long-time diffusion hidden in this run.
    msd_end_A2 : float
        Total MSD at the end of the window.
    gls_chi2_red : float
        χ² per degree of freedom of the GLS fit against its covariance.
    window_scan : tuple of (t_start_ps, t_end_ps, D_cm2_s, D_err_cm2_s)
        D over other windows (start ×½…×4, end ×½ and ×1.5 within the run): how D depends on
        the window choice.
    D_window_spread_cm2_s : float
        Standard deviation of D over ``window_scan``.
    correlation_inflation : float
        Factor (≥ 1) applied to the variance of the squared displacements because the atoms
        do not move independently: the variance over time origins of the species-mean
        squared displacement divided by that expected for independent atoms (median over the
        fitted lags with at least 10 independent origins). 1.0–1.1 for random walks; about 1.7
        for Cu in Cu7PS6 at 550 K (collective hops, Haven ratio ~0.5).
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
    diffusing: bool = True
    status: str = "diffusive"
    D_upper_cm2_s: float = float("nan")
    msd_end_A2: float = float("nan")
    gls_chi2_red: float = float("nan")
    window_scan: tuple = ()
    D_window_spread_cm2_s: float = float("nan")
    correlation_inflation: float = 1.0
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, d):
        r = super().from_dict(d)
        nan = float("nan")
        fix = {k: (nan if getattr(r, k) is None else float(getattr(r, k)))
               for k in ("D_cm2_s", "D_err_cm2_s", "D_upper_cm2_s", "msd_end_A2",
                         "gls_chi2_red", "D_window_spread_cm2_s")}
        return dataclasses.replace(
            r, **fix, window_ps=tuple(r.window_ps), warnings=tuple(r.warnings),
            window_scan=tuple(tuple(w) for w in r.window_scan),
            D_blocks_cm2_s=tuple(r.D_blocks_cm2_s),
        )


def is_diffusing(d) -> bool:
    """True when a diffusion result (object or its dict) has a usable D.

    Results written before the ``diffusing`` flag existed count as diffusing when D > 2σ.
    """
    get = (lambda k, dflt=None: d.get(k, dflt)) if isinstance(d, dict) else (
        lambda k, dflt=None: getattr(d, k, dflt))
    flag = get("diffusing")
    D, err = get("D_cm2_s"), get("D_err_cm2_s")
    if D is None or err is None or not (math.isfinite(D) and math.isfinite(err)):
        return False
    if flag is not None:
        return bool(flag)
    return D > 0 and D >= 2 * err


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


def _window_scan(t0, t1, t_total, dt_ps):
    """Alternative windows around (t0, t1): start ×½, ×2, ×4; end ×½, ×1.5 (within the run)."""
    out = []
    for f in (0.5, 2.0, 4.0):
        s = max(t0 * f, dt_ps)
        if t1 / s >= 1.5:
            out.append((s, t1))
    for f in (0.5, 1.5):
        e = min(t1 * f, 0.8 * t_total)
        if e / t0 >= 1.5 and abs(e - t1) > dt_ps:
            out.append((t0, e))
    return out


def diffusion_coefficients(
    positions,
    dt_ps: float,
    species=None,
    masses=None,
    window_ps=None,
    n_blocks: int | None = None,
    remove_com: bool = True,
    tol: float = 0.2,
    end_fraction: float = 0.5,
    T_K: float | None = None,
    workers: int | None = 1,
    msd: MSDResult | None = None,
    n_fit_points: int = 64,
    min_significance: float = 3.0,
    covariance: str = "overlap",
    correlated_atoms: bool = True,
) -> DiffusionAnalysis:
    """MSD and self-diffusion coefficient, with a GLS uncertainty, of every species.

    D is the slope of the all-origins MSD over the diffusive window, fitted by generalised least
    squares with kinisi's model of the MSD covariance (:func:`msd_covariance`; McCluskey, Coles &
    Morgan, J. Chem. Theory Comput. 20, 2024): the variance of the squared displacement is
    measured at each fitted lag, and the number of independent observations is
    ``n_atoms × (n_frames-1) / lag``. This σ(D) is calibrated on random walks (unit-width pull
    distribution in the tests) and agrees with kinisi's posterior on the same trajectories.

    Parameters
    ----------
    positions : array, shape (n_frames, n_atoms, 3)
        Unwrapped positions, Å.
    dt_ps : float
        Time between frames, ps.
    species, masses, remove_com, workers
        As in :func:`mdargy.analysis.msd.compute_msd`.
    window_ps : (float, float), optional
        Fit window, ps; found from the data per species when None
        (:func:`find_diffusive_window`: log-log slope within ``1 ± tol``, ending at
        ``end_fraction`` of the run).
    n_blocks : int, optional
        When given (≥ 2), D is also fitted in that many independent blocks (over the window
        clipped to a block) as a cross-check recorded in ``D_blocks_cm2_s``; σ(D) stays the GLS
        one.
    T_K : float, optional
        Temperature, recorded for Arrhenius fits.
    msd : MSDResult, optional
        The whole-trajectory MSD when already computed.
    n_fit_points : int
        Lags used in the GLS fit (evenly spaced in the window).
    min_significance : float
        A species whose D is below this many σ (or whose MSD has no diffusive regime) is
        reported as bounded, with no D.
    covariance : {"overlap", "kinisi"}
        MSD covariance model (:func:`gls_diffusion_fit`); "overlap" is calibrated.
    correlated_atoms : bool
        Measure how much correlated motion of the atoms inflates the variance of the
        species-mean MSD and scale the covariance by it (``correlation_inflation``); False
        treats the atoms as independent (as kinisi does).

    Returns
    -------
    DiffusionAnalysis
    """
    if n_blocks is not None and n_blocks < 2:
        raise InputError(f"n_blocks must be at least 2 for a block cross-check, got {n_blocks}")
    n_frames = np.shape(positions)[0]
    if n_frames < 8:
        raise InputError(f"{n_frames} frames are too few for a diffusion coefficient (need ≥ 8)")
    if msd is None:
        msd = compute_msd(positions, dt_ps, species=species, masses=masses,
                          remove_com=remove_com, workers=workers)
    names, gi = species_groups(species, np.shape(positions)[1])
    shift = center_of_mass_shift(positions, masses) if remove_com else None
    t_total = (n_frames - 1) * dt_ps
    seg = n_frames // n_blocks if n_blocks else 0
    if n_blocks and seg < 8:
        raise InputError(
            f"{n_frames} frames cannot be cut into {n_blocks} blocks of at least 8 frames"
        )
    blocks = [
        compute_msd(positions[b * seg: (b + 1) * seg], dt_ps, species=species, masses=masses,
                    remove_com=remove_com, workers=workers)
        for b in range(n_blocks or 0)
    ]
    var_cache: dict = {}
    counts = np.bincount(gi, minlength=len(names))

    def variances(lags, si):
        need = [int(L) for L in lags if (si, int(L)) not in var_cache]
        if need:
            v, vm = squared_displacement_variance(positions, need, gi, len(names), shift,
                                                  mean_variance=True)
            for k, L in enumerate(need):
                for g in range(len(names)):
                    var_cache[(g, L)] = (v[g, k], vm[g, k])
        return np.array([var_cache[(si, int(L))][0] for L in lags])

    def inflation(lags, si):
        """Variance of the species-mean squared displacement over that of independent atoms
        (median over lags with >= 10 independent origins; >= 1)."""
        good = [int(L) for L in lags if (n_frames - L) / L >= 10]
        if counts[si] < 2 or not good:
            return 1.0
        variances(good, si)
        r = [counts[si] * var_cache[(si, L)][1] / var_cache[(si, L)][0] for L in good
             if var_cache[(si, L)][0] > 0 and np.isfinite(var_cache[(si, L)][1])]
        return float(max(1.0, np.median(r))) if r else 1.0

    def gls(si, win, g=None):
        lags = fit_lags(n_frames, dt_ps, win, n_fit_points)
        if g is None:
            g = inflation(lags, si) if correlated_atoms else 1.0
        f = gls_diffusion_fit(msd.total(si), g * variances(lags, si), lags,
                              int(msd.n_atoms[si]), n_frames, dt_ps, covariance=covariance)
        return f, g

    out = []
    for si, name in enumerate(msd.species):
        warns = []
        no_regime = False
        if window_ps is None:
            win, w = find_diffusive_window(msd.time_ps, msd.total(si), tol=tol,
                                           end_fraction=end_fraction)
            no_regime = any("no diffusive regime" in x for x in w)
            warns += w
        else:
            win = (float(window_ps[0]), float(window_ps[1]))
            if win[1] > t_total:
                raise InputError(
                    f"fit window end {win[1]:g} ps is longer than the trajectory "
                    f"({t_total:g} ps)"
                )
        fit = fit_einstein(msd.time_ps, msd.msd_A2[si], win)
        g, infl = gls(si, win)
        D = g.slope / 6.0 * A2_PS_TO_CM2_S
        err = g.slope_err / 6.0 * A2_PS_TO_CM2_S
        if window_ps is not None and abs(fit.loglog_slope - 1) > tol:
            no_regime = True
            warns.append(
                f"log-log slope of the MSD in the window is {fit.loglog_slope:.2f}, not 1: the "
                "window is not in the diffusive regime"
            )
        scan = []
        for w0, w1 in _window_scan(win[0], win[1], t_total, dt_ps):
            try:
                gs, _ = gls(si, (w0, w1), infl)
            except InputError:
                continue
            scan.append((float(w0), float(w1), gs.slope / 6.0 * A2_PS_TO_CM2_S,
                         gs.slope_err / 6.0 * A2_PS_TO_CM2_S))
        spread = float(np.std([s[2] for s in scan] + [D], ddof=1)) if scan else float("nan")
        t_end_idx = int(np.searchsorted(msd.time_ps, win[1] * (1 + 1e-12), side="right") - 1)
        msd_end = float(msd.total(si)[t_end_idx])
        t_end = float(msd.time_ps[t_end_idx])
        D_upper = msd_end / (6.0 * t_end) * A2_PS_TO_CM2_S if t_end > 0 else float("nan")
        significant = D > 0 and D >= min_significance * err
        diffusing = significant and not no_regime
        if not significant:
            warns.append(
                f"D = {D:.3g} ± {err:.2g} cm2/s is not significantly positive "
                f"(< {min_significance:g}σ): {name} does not diffuse measurably in this run"
            )
        if diffusing and scan and spread > max(err, 1e-300):
            warns.append(
                f"D depends on the fit window more than its σ: spread {spread:.2g} cm2/s over "
                f"{len(scan) + 1} windows (σ = {err:.2g}); the MSD is not a clean straight line"
            )
        if not diffusing:
            warns.append(
                f"{name} is bounded (no diffusive regime): no D is reported; the MSD reaches "
                f"{msd_end:.3g} A2 after {t_end:.4g} ps (apparent D <= {D_upper:.2g} cm2/s)"
            )
        Db = []
        if n_blocks:
            t_blk = (seg - 1) * dt_ps
            bwin = (win[0], min(win[1], end_fraction * t_blk))
            for b in blocks:
                try:
                    Db.append(fit_einstein(b.time_ps, b.msd_A2[si], bwin).D_cm2_s)
                except InputError:
                    Db.append(float("nan"))
        out.append(
            DiffusionResult(
                species=name,
                n_atoms=int(msd.n_atoms[si]),
                D_cm2_s=float(D) if diffusing else float("nan"),
                D_err_cm2_s=float(err) if diffusing else float("nan"),
                D_xyz_cm2_s=fit.D_xyz_cm2_s,
                window_ps=tuple(float(v) for v in win),
                window_auto=window_ps is None,
                loglog_slope=fit.loglog_slope,
                intercept_A2=g.intercept,
                D_blocks_cm2_s=tuple(float(v) for v in Db),
                D_err_method=(
                    f"GLS fit of the MSD at {g.n_points} lags, covariance '{covariance}' "
                    "(variance of squared displacements measured per lag)"
                ),
                D_ols_err_cm2_s=fit.D_ols_err_cm2_s,
                T_K=None if T_K is None else float(T_K),
                warnings=tuple(warns),
                diffusing=bool(diffusing),
                status="diffusive" if diffusing else "bounded",
                D_upper_cm2_s=float(D_upper),
                msd_end_A2=msd_end,
                gls_chi2_red=g.chi2_red,
                window_scan=tuple(scan),
                D_window_spread_cm2_s=spread,
                correlation_inflation=float(infl),
            )
        )
    return DiffusionAnalysis(
        msd=msd,
        diffusion=tuple(out),
        n_blocks=int(n_blocks or 0),
        provenance=provenance(
            analysis="diffusion", method=f"GLS, covariance {covariance}", dt_ps=dt_ps,
            n_frames=n_frames, window_ps=window_ps, n_blocks=n_blocks, remove_com=remove_com,
            tol=tol, end_fraction=end_fraction, T_K=T_K, n_fit_points=n_fit_points,
            min_significance=min_significance, covariance=covariance,
            correlated_atoms=correlated_atoms,
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


# -- tables shared by ``mdargy msd`` and the campaign report --------------------------------

#: Columns of a D table (one row per species and temperature); units in the names.
DIFFUSION_COLUMNS = ("T_K", "T_mean_K", "species", "n_atoms", "status", "D_cm2_s", "D_err_cm2_s",
                     "Dx_cm2_s", "Dy_cm2_s", "Dz_cm2_s", "window_start_ps", "window_end_ps",
                     "loglog_slope", "D_upper_cm2_s", "D_window_spread_cm2_s")


def diffusion_row(d: DiffusionResult, T_K: float | None = None,
                  T_mean_K: float | None = None) -> list:
    """One row of :data:`DIFFUSION_COLUMNS`.

    ``T_K`` (the set temperature) defaults to the result's own; ``T_mean_K`` is the mean
    temperature the run actually had (an NVE production drifts from the set one), empty when
    unknown.
    """
    T = d.T_K if T_K is None else T_K
    return ["" if T is None else float(T), "" if T_mean_K is None else float(T_mean_K),
            d.species, d.n_atoms, d.status, d.D_cm2_s,
            d.D_err_cm2_s, *d.D_xyz_cm2_s, d.window_ps[0], d.window_ps[1], d.loglog_slope,
            d.D_upper_cm2_s, d.D_window_spread_cm2_s]


#: Columns of an Arrhenius table (one row per species); units in the names.
ARRHENIUS_COLUMNS = ("species", "n_temperatures", "T_min_K", "T_max_K", "Ea_eV", "Ea_err_eV",
                     "D0_cm2_s", "D0_err_cm2_s", "chi2_red", "weighted", "n_warnings")


def arrhenius_row(f: ArrheniusResult) -> list:
    """One row of :data:`ARRHENIUS_COLUMNS`."""
    return [f.species, int(len(f.T_K)), float(np.min(f.T_K)), float(np.max(f.T_K)), f.Ea_eV,
            f.Ea_err_eV, f.D0_cm2_s, f.D0_err_cm2_s, f.chi2_red, int(f.weighted),
            len(f.warnings)]


@dataclasses.dataclass(frozen=True)
class ArrheniusPerSpecies:
    """:func:`fit_arrhenius_per_species`: the fits, and why the other species have none.

    ``skipped`` maps a species that diffuses at fewer than 2 temperatures to the reason;
    ``failed`` maps a species whose fit was refused to the error; ``bounded_T_K`` lists, per
    species, the temperatures left out because the species did not diffuse there.
    """

    fits: tuple
    skipped: dict
    failed: dict
    bounded_T_K: dict


def fit_arrhenius_per_species(T_K, species, D_cm2_s, D_err_cm2_s,
                              diffusing) -> ArrheniusPerSpecies:
    """Arrhenius fit (:func:`fit_arrhenius`) of every species that diffuses at 2 or more
    temperatures.

    Parameters
    ----------
    T_K, species, D_cm2_s, D_err_cm2_s, diffusing : sequences, one entry per (T, species)
        Temperature (K), species, D and its one-sigma error (cm²/s), and whether the species
        diffuses at that temperature (:func:`is_diffusing`). Bounded points are left out.

    The fit is weighted by the errors when every kept point has a positive, finite error, and
    unweighted (errors from the scatter) otherwise. A species whose points cannot be fitted
    (e.g. D ≤ 0) is listed in ``failed`` with the reason instead of raising.
    """
    T = [float(t) for t in T_K]
    n = len(T)
    cols = [list(species), list(D_cm2_s), list(D_err_cm2_s), list(diffusing)]
    if any(len(c) != n for c in cols):
        raise InputError("Arrhenius fits: T_K, species, D_cm2_s, D_err_cm2_s and diffusing "
                         "must have one entry each per point")
    sp, D, E, ok = cols
    fits, skipped, failed, bounded = [], {}, {}, {}
    for s in sorted(set(sp)):
        idx = [i for i in range(n) if sp[i] == s and ok[i]]
        left = sorted(T[i] for i in range(n) if sp[i] == s and not ok[i])
        if left:
            bounded[s] = left
        if len({T[i] for i in idx}) < 2:
            skipped[s] = ("diffuses at fewer than 2 temperatures (bounded at "
                          f"{', '.join(f'{t:g}' for t in left) or 'none'} K)")
            continue
        err = np.array([np.nan if E[i] is None else E[i] for i in idx], float)
        use_err = bool(np.all(np.isfinite(err) & (err > 0)))
        try:
            fits.append(fit_arrhenius([T[i] for i in idx], [D[i] for i in idx],
                                      err if use_err else None, species=s))
        except InputError as exc:
            failed[s] = str(exc)
    return ArrheniusPerSpecies(fits=tuple(fits), skipped=skipped, failed=failed,
                               bounded_T_K=bounded)
