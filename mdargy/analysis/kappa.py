"""Length extrapolation of NEMD thermal conductivity: 1/κ(L) = 1/κ∞ + A/L.

In a direct (NEMD) simulation of length :math:`L` between heat source and sink, phonons with
mean free paths longer than about :math:`L` are scattered by the boundaries, so
:math:`\\kappa(L) < \\kappa_\\infty`. Matthiessen's rule with a single effective mean free path
:math:`\\Lambda` gives (Schelling, Phillpot & Keblinski, Phys. Rev. B 65, 144306 (2002))

.. math:: \\frac{1}{\\kappa(L)} = \\frac{1}{\\kappa_\\infty}\\left(1 + \\frac{4\\Lambda}{L}\\right)
          = \\frac{1}{\\kappa_\\infty} + \\frac{A}{L},

a straight line in :math:`1/L` whose intercept is :math:`1/\\kappa_\\infty`, and
:math:`\\Lambda_\\mathrm{eff} = A\\kappa_\\infty/4`. The fit is weighted by the NEMD errors
propagated to :math:`1/\\kappa` (:math:`\\sigma_{1/\\kappa} = \\sigma_\\kappa/\\kappa^2`).

The linear form is known to *underestimate* :math:`\\kappa_\\infty` when the lengths are not long
compared with the mean free paths that carry the heat (Sellan, Landry, Turney, McGaughey &
Amon, Phys. Rev. B 81, 214305 (2010)); the result warns when the longest length recovers less
than half of the extrapolated value, i.e. :math:`L_\\max < A\\kappa_\\infty = 4\\Lambda_\\mathrm{eff}`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mdargy.analysis.stats import weighted_linear_fit, weighted_mean
from mdargy.errors import InputError
from mdargy.results import Result, provenance

__all__ = ["KappaExtrapolation", "extrapolate_kappa", "fourier_kappa", "KAPPA_INF_COLUMNS",
           "kappa_inf_row", "KappaPerTemperature", "group_temperatures",
           "extrapolate_kappa_per_T"]


def fourier_kappa(heat_flux_W_m2, grad_T_K_m):
    """Fourier's law, :math:`\\kappa = -J / \\nabla T` (W/m/K).

    Parameters
    ----------
    heat_flux_W_m2 : float or array
        Heat flux density along the transport axis, W/m² (positive along +axis).
    grad_T_K_m : float or array
        Temperature gradient along the same axis, K/m.
    """
    g = np.asarray(grad_T_K_m, float)
    if np.any(g == 0):
        raise InputError("Fourier's law: the temperature gradient is zero")
    return -np.asarray(heat_flux_W_m2, float) / g


@dataclasses.dataclass(frozen=True)
class KappaExtrapolation(Result):
    """Result of :func:`extrapolate_kappa`.

    Attributes
    ----------
    kappa_inf_W_mK, kappa_inf_err_W_mK : float
        Extrapolated conductivity and its one-sigma error (from the intercept's variance,
        :math:`\\sigma_{\\kappa_\\infty} = \\sigma_b / b^2`, first order).
    inv_kappa_inf_mK_W, inv_kappa_inf_err_mK_W : float
        The intercept :math:`b = 1/\\kappa_\\infty` (m·K/W) and its error.
    A_AmK_W, A_err_AmK_W : float
        Slope :math:`A` of 1/κ vs 1/L, in Å·m·K/W.
    mfp_eff_A : float
        Effective mean free path :math:`A\\kappa_\\infty/4`, Å (Schelling et al. 2002).
    chi2_red, p_value : float
        Fit quality (``nan`` with fewer than 3 lengths or without errors for ``p_value``).
    kappa_max_fraction : float
        :math:`\\kappa(L_\\max)/\\kappa_\\infty` predicted by the fit.
    length_A, kappa_W_mK, kappa_err_W_mK : ndarray
        The input points.
    T_K : float or None
    weighted : bool
    kappa_mean_W_mK, kappa_mean_err_W_mK : float
        The other reading of the same points: one length-independent κ (their weighted mean)
        and its error. It is κ over the lengths simulated, a lower bound of κ∞ where longer
        bars would add phonons; it is the better estimate when no length dependence is
        resolved (:attr:`length_dependence_resolved` False and a good ``mean_p_value``).
    mean_chi2_red, mean_p_value : float
        Fit quality of that constant (weighted fits only).
    length_dependence_resolved : bool
        Whether the slope differs from zero by more than 2σ (:math:`|A| > 2\\sigma_A`).
    warnings : tuple of str
    """

    kappa_inf_W_mK: float
    kappa_inf_err_W_mK: float
    inv_kappa_inf_mK_W: float
    inv_kappa_inf_err_mK_W: float
    A_AmK_W: float
    A_err_AmK_W: float
    mfp_eff_A: float
    chi2_red: float
    p_value: float
    kappa_max_fraction: float
    length_A: np.ndarray
    kappa_W_mK: np.ndarray
    kappa_err_W_mK: np.ndarray | None
    T_K: float | None
    weighted: bool
    kappa_mean_W_mK: float = float("nan")
    kappa_mean_err_W_mK: float = float("nan")
    mean_chi2_red: float = float("nan")
    mean_p_value: float = float("nan")
    length_dependence_resolved: bool = True
    warnings: tuple = ()
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    def kappa_at(self, length_A):
        """κ(L) of the fitted law, W/m/K."""
        L = np.asarray(length_A, float)
        return 1.0 / (self.inv_kappa_inf_mK_W + self.A_AmK_W / L)


def extrapolate_kappa(length_A, kappa_W_mK, kappa_err_W_mK=None, T_K=None) -> KappaExtrapolation:
    """Fit :math:`1/\\kappa = 1/\\kappa_\\infty + A/L` to NEMD results at several lengths.

    Parameters
    ----------
    length_A : array, shape (n,)
        Lengths (heat source to sink distance, or the periodic cell length, as the NEMD
        driver defines it), Å. At least 2 distinct values.
    kappa_W_mK : array, shape (n,)
        κ(L), W/m/K (> 0).
    kappa_err_W_mK : array, shape (n,), optional
        One-sigma errors of κ(L); the fit is then weighted and the errors are absolute.
        Without them, an unweighted fit with scatter-based errors (none with 2 lengths).
    T_K : float, optional
        Temperature, recorded.

    Returns
    -------
    KappaExtrapolation
    """
    L = np.asarray(length_A, float).ravel()
    k = np.asarray(kappa_W_mK, float).ravel()
    if L.shape != k.shape:
        raise InputError(f"kappa extrapolation: {L.size} lengths but {k.size} kappa values")
    if L.size == 0:
        raise InputError("kappa extrapolation: no results given")
    if np.any(~np.isfinite(L)) or np.any(L <= 0):
        raise InputError("kappa extrapolation: every length must be > 0 Å")
    if np.any(~np.isfinite(k)) or np.any(k <= 0):
        raise InputError("kappa extrapolation: every kappa must be > 0 W/m/K")
    if np.unique(L).size < 2:
        raise InputError(
            "kappa extrapolation needs at least 2 distinct lengths (3 or more recommended), "
            f"got {np.unique(L).size}"
        )
    warns = []
    if np.unique(L).size < 3:
        warns.append(
            f"only {np.unique(L).size} distinct lengths: the fit quality cannot be judged; use "
            "at least 3"
        )
    sig = None
    if kappa_err_W_mK is not None:
        e = np.asarray(kappa_err_W_mK, float).ravel()
        if e.shape != k.shape or np.any(~np.isfinite(e)) or np.any(e <= 0):
            raise InputError("kappa extrapolation: errors must be positive, one per length")
        sig = e / k**2
    f = weighted_linear_fit(1.0 / L, 1.0 / k, sig)
    b, A = f.intercept, f.slope
    if b <= 0:
        raise InputError(
            f"kappa extrapolation: the intercept 1/kappa_inf = {b:.3g} m K/W is not positive; "
            "the data do not follow 1/kappa = 1/kappa_inf + A/L (lengths too short or too noisy)"
        )
    kinf = 1.0 / b
    kerr = f.intercept_err / b**2
    const = weighted_mean(k, kappa_err_W_mK)
    resolved = bool(math.isfinite(f.slope_err) and abs(A) > 2.0 * f.slope_err)
    mfp = A * kinf / 4.0
    Lmax = float(L.max())
    frac = 1.0 / (1.0 + A * kinf / Lmax)
    if A < 0:
        warns.append(
            f"kappa decreases with length (A = {A:.3g} ± {f.slope_err:.2g} < 0"
            + ("" if resolved else ", within 2σ of 0") + "): size effects are not of the "
            "boundary-scattering kind, or the results are noise-dominated"
        )
    elif Lmax < A * kinf:
        warns.append(
            f"the longest length {Lmax:.4g} Å is short compared with the effective mean free "
            f"path {mfp:.4g} Å (L_max < 4 Λ_eff; kappa(L_max) is {100 * frac:.0f}% of kappa_inf): "
            "linear extrapolation is known to underestimate kappa_inf here (Sellan et al. 2010); "
            "add longer systems"
        )
    if f.weighted and f.dof > 0 and f.p_value < 0.01:
        warns.append(
            f"poor fit: chi2_red = {f.chi2_red:.2f} (p = {f.p_value:.2g}); the points do not "
            "follow 1/kappa = 1/kappa_inf + A/L within their errors"
        )
    if math.isfinite(kerr) and kerr > 0.5 * kinf:
        warns.append(
            f"kappa_inf is poorly determined: {kinf:.3g} ± {kerr:.2g} W/m/K (first-order error "
            "propagation is unreliable when σ(1/kappa_inf) is this large)"
        )
    return KappaExtrapolation(
        kappa_inf_W_mK=float(kinf),
        kappa_inf_err_W_mK=float(kerr),
        inv_kappa_inf_mK_W=float(b),
        inv_kappa_inf_err_mK_W=float(f.intercept_err),
        A_AmK_W=float(A),
        A_err_AmK_W=float(f.slope_err),
        mfp_eff_A=float(mfp),
        chi2_red=float(f.chi2_red),
        p_value=float(f.p_value),
        kappa_max_fraction=float(frac),
        length_A=L,
        kappa_W_mK=k,
        kappa_err_W_mK=None if kappa_err_W_mK is None else np.asarray(kappa_err_W_mK, float),
        T_K=None if T_K is None else float(T_K),
        weighted=sig is not None,
        kappa_mean_W_mK=const.mean,
        kappa_mean_err_W_mK=const.mean_err,
        mean_chi2_red=const.chi2_red,
        mean_p_value=const.p_value,
        length_dependence_resolved=resolved,
        warnings=tuple(warns),
        provenance=provenance(
            analysis="kappa_extrapolation", model="1/kappa = 1/kappa_inf + A/L",
            length_A=L, kappa_W_mK=k, kappa_err_W_mK=kappa_err_W_mK, T_K=T_K,
        ),
    )


# -- per temperature: shared by ``mdargy kappa`` and the campaign report ----------------------

#: Columns of a κ∞(T) table (one row per temperature); units in the names.
KAPPA_INF_COLUMNS = ("T_K", "n_lengths", "L_min_A", "L_max_A", "kappa_inf_W_mK",
                     "kappa_inf_err_W_mK", "A_AmK_W", "A_err_AmK_W", "mfp_eff_A", "chi2_red",
                     "p_value", "kappa_Lmax_over_kappa_inf", "kappa_mean_W_mK",
                     "kappa_mean_err_W_mK", "mean_chi2_red", "mean_p_value",
                     "length_dependence_resolved", "weighted", "n_warnings")


def kappa_inf_row(f: KappaExtrapolation) -> list:
    """One row of :data:`KAPPA_INF_COLUMNS` (an empty ``T_K`` when the fit has none)."""
    return ["" if f.T_K is None else f.T_K, int(len(f.length_A)), float(np.min(f.length_A)),
            float(np.max(f.length_A)), f.kappa_inf_W_mK, f.kappa_inf_err_W_mK, f.A_AmK_W,
            f.A_err_AmK_W, f.mfp_eff_A, f.chi2_red, f.p_value, f.kappa_max_fraction,
            f.kappa_mean_W_mK, f.kappa_mean_err_W_mK, f.mean_chi2_red, f.mean_p_value,
            int(f.length_dependence_resolved), int(f.weighted), len(f.warnings)]


@dataclasses.dataclass(frozen=True)
class KappaPerTemperature:
    """:func:`extrapolate_kappa_per_T`: one extrapolation per temperature group, and the
    groups that have none with the reason (``skipped``: tuple of ``(T_K, n_points, reason)``,
    ``T_K`` None for points without a temperature)."""

    fits: tuple
    skipped: tuple


def group_temperatures(T_K, tolerance_K: float = 0.0) -> list[list[int]]:
    """Indices of ``T_K`` grouped by temperature: sorted, single linkage within
    ``tolerance_K`` (0: equal temperatures only). Entries that are None form a last group."""
    with_T = sorted((i for i, t in enumerate(T_K) if t is not None), key=lambda i: T_K[i])
    groups, cur = [], []
    for i in with_T:
        if cur and T_K[i] - T_K[cur[-1]] > tolerance_K:
            groups.append(cur)
            cur = []
        cur.append(i)
    if cur:
        groups.append(cur)
    none = [i for i, t in enumerate(T_K) if t is None]
    if none:
        groups.append(none)
    return groups


def extrapolate_kappa_per_T(T_K, length_A, kappa_W_mK, kappa_err_W_mK=None,
                            tolerance_K: float = 0.0, weighted: bool = True) -> KappaPerTemperature:
    """:func:`extrapolate_kappa` at each temperature.

    Parameters
    ----------
    T_K : sequence of float or None
        Temperature of each κ(L) point, K. Points within ``tolerance_K`` of each other (single
        linkage) form one group, whose temperature is their mean (NEMD mean temperatures
        scatter by a few K); points without a temperature form one group.
    length_A, kappa_W_mK : sequences
        Length (Å) and κ(L) (W/m/K) of each point.
    kappa_err_W_mK : sequence of float or None, optional
        One-sigma errors. A group is fitted with its errors (``weighted``) when every one of
        them is positive and finite, without them otherwise.

    A group that cannot be extrapolated (fewer than 2 lengths, a non-positive intercept, ...)
    is listed in ``skipped`` with the reason instead of raising.
    """
    n = len(T_K)
    T = [None if t is None else float(t) for t in T_K]
    errs = [None] * n if kappa_err_W_mK is None else list(kappa_err_W_mK)
    if not (len(length_A) == len(kappa_W_mK) == len(errs) == n):
        raise InputError("kappa per temperature: T_K, length_A, kappa_W_mK and kappa_err_W_mK "
                         "must have one entry each per point")
    fits, skipped = [], []
    for g in group_temperatures(T, tolerance_K):
        Tg = None if T[g[0]] is None else float(np.mean([T[i] for i in g]))
        e = [errs[i] for i in g]
        use_err = weighted and all(x is not None and math.isfinite(x) and x > 0 for x in e)
        try:
            fits.append(extrapolate_kappa([length_A[i] for i in g], [kappa_W_mK[i] for i in g],
                                          np.array(e, float) if use_err else None, T_K=Tg))
        except InputError as exc:
            skipped.append((Tg, len(g), str(exc)))
    return KappaPerTemperature(fits=tuple(fits), skipped=tuple(skipped))
