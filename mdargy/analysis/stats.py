"""Small statistics toolbox: block averages and weighted straight-line fits.

Every transport coefficient in mdargy ends in one of two operations: the mean of correlated
samples with an honest error bar (:func:`block_average`), or a straight line through points with
uncertainties (:func:`weighted_linear_fit`: Einstein relation, Fourier's law, 1/κ vs 1/L,
Arrhenius). Both are pure functions on numpy arrays.

References
----------
H. Flyvbjerg and H. G. Petersen, "Error estimates on averages of correlated data",
J. Chem. Phys. 91, 461 (1989).
W. H. Press et al., *Numerical Recipes*, 3rd ed., §15.2 (straight-line fit with errors).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mdargy.errors import InputError
from mdargy.results import to_jsonable

__all__ = ["block_average", "LinearFit", "weighted_linear_fit", "WeightedMean", "weighted_mean"]


def block_average(x, n_blocks: int, axis: int = 0):
    """Mean and standard error of the mean from non-overlapping blocks.

    The samples along ``axis`` are cut into ``n_blocks`` contiguous blocks of equal length
    (trailing samples that do not fill a block are dropped); the block means are treated as
    independent, so the standard error is ``std(block_means, ddof=1) / sqrt(n_blocks)``. Blocks
    must be longer than the correlation time for the error to be honest (Flyvbjerg & Petersen
    1989).

    Parameters
    ----------
    x : array_like
        Samples; any shape.
    n_blocks : int
        Number of blocks, at least 2.
    axis : int
        Axis of ``x`` along which the samples are ordered in time.

    Returns
    -------
    mean : ndarray or float
        Mean of the block means (shape of ``x`` with ``axis`` removed).
    sem : ndarray or float
        Standard error of that mean, same shape.
    """
    x = np.asarray(x, dtype=float)
    n_blocks = int(n_blocks)
    if n_blocks < 2:
        raise InputError(f"block_average needs at least 2 blocks, got {n_blocks}")
    n = x.shape[axis]
    if n < n_blocks:
        raise InputError(f"block_average: {n} samples cannot fill {n_blocks} blocks")
    size = n // n_blocks
    xm = np.moveaxis(x, axis, 0)[: size * n_blocks]
    blocks = xm.reshape((n_blocks, size) + xm.shape[1:]).mean(axis=1)
    mean = blocks.mean(axis=0)
    sem = blocks.std(axis=0, ddof=1) / math.sqrt(n_blocks)
    if np.ndim(mean) == 0:
        return float(mean), float(sem)
    return mean, sem


@dataclasses.dataclass(frozen=True)
class LinearFit:
    """A straight line ``y = slope * x + intercept`` with its uncertainties.

    Attributes
    ----------
    slope, intercept : float
    slope_err, intercept_err : float
        One-sigma uncertainties (square roots of the covariance diagonal).
    covariance : ndarray, shape (2, 2)
        Covariance of ``(slope, intercept)``.
    chi2 : float
        Sum of squared (weighted) residuals.
    chi2_red : float
        ``chi2 / dof``; about 1 when the line and the error bars are consistent. ``nan`` when
        ``dof == 0``.
    dof : int
        Degrees of freedom, ``n - 2``.
    p_value : float
        Probability of a chi-square at least this large if the model is right (weighted fits
        only; ``nan`` for unweighted fits or ``dof == 0``).
    n : int
        Number of points.
    weighted : bool
        Whether ``sigma`` was given (absolute errors) or the scatter set the errors.
    """

    slope: float
    intercept: float
    slope_err: float
    intercept_err: float
    covariance: np.ndarray
    chi2: float
    chi2_red: float
    dof: int
    p_value: float
    n: int
    weighted: bool

    def __call__(self, x):
        """Evaluate the line at ``x``."""
        return self.slope * np.asarray(x, dtype=float) + self.intercept

    def predict_err(self, x):
        """One-sigma uncertainty of the fitted line at ``x`` (from the covariance)."""
        x = np.asarray(x, dtype=float)
        c = self.covariance
        return np.sqrt(np.maximum(c[0, 0] * x * x + 2 * c[0, 1] * x + c[1, 1], 0.0))

    def to_dict(self) -> dict:
        return to_jsonable(self)


def weighted_linear_fit(x, y, sigma=None, scale_errors: bool = False) -> LinearFit:
    """Least-squares straight line through ``(x, y)``, weighted by ``1/sigma**2``.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Points; at least 2, with at least two distinct ``x``.
    sigma : array_like, shape (n,), optional
        One-sigma errors of ``y`` (absolute). Without them every point has the same weight and
        the covariance is scaled by the residual variance (ordinary least squares).
    scale_errors : bool
        With ``sigma`` given, also scale the covariance by ``chi2_red`` (as
        ``scipy.optimize.curve_fit(absolute_sigma=False)``): use when the error bars are known
        only up to a common factor. The factor is applied whatever its value.

    Returns
    -------
    LinearFit

    Notes
    -----
    Normal equations of Press et al., *Numerical Recipes* §15.2, solved in centred form for
    accuracy. With two points the line is exact and the errors come from ``sigma`` alone
    (``nan`` without ``sigma``).
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise InputError(f"weighted_linear_fit: x has {x.size} values, y has {y.size}")
    n = x.size
    if n < 2:
        raise InputError(f"weighted_linear_fit needs at least 2 points, got {n}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InputError("weighted_linear_fit: x and y must be finite")
    weighted = sigma is not None
    if weighted:
        s = np.broadcast_to(np.asarray(sigma, dtype=float), x.shape)
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise InputError("weighted_linear_fit: every sigma must be finite and > 0")
        w = 1.0 / s**2
    else:
        w = np.ones_like(x)
    sw = w.sum()
    xm = (w * x).sum() / sw
    ym = (w * y).sum() / sw
    dx = x - xm
    sxx = (w * dx * dx).sum()
    if not sxx > 0:
        raise InputError("weighted_linear_fit: all x values are equal; the slope is undefined")
    slope = (w * dx * (y - ym)).sum() / sxx
    intercept = ym - slope * xm
    resid = y - (slope * x + intercept)
    chi2 = float((w * resid * resid).sum())
    dof = n - 2
    chi2_red = chi2 / dof if dof > 0 else float("nan")
    # covariance of (slope, intercept) for unit-variance weights
    var_b = 1.0 / sxx
    var_a = 1.0 / sw + xm * xm / sxx
    cov_ab = -xm / sxx
    cov = np.array([[var_b, cov_ab], [cov_ab, var_a]])
    if not weighted:
        cov = cov * (chi2_red if dof > 0 else float("nan"))
        p_value = float("nan")
    else:
        if scale_errors and dof > 0:
            cov = cov * chi2_red
        # scipy.stats takes ~1 s to import: only where a p-value is computed
        from scipy.stats import chi2 as chi2_distribution

        p_value = float(chi2_distribution.sf(chi2, dof)) if dof > 0 else float("nan")
    return LinearFit(
        slope=float(slope),
        intercept=float(intercept),
        slope_err=float(math.sqrt(cov[0, 0])) if np.isfinite(cov[0, 0]) else float("nan"),
        intercept_err=float(math.sqrt(cov[1, 1])) if np.isfinite(cov[1, 1]) else float("nan"),
        covariance=cov,
        chi2=chi2,
        chi2_red=float(chi2_red),
        dof=int(dof),
        p_value=p_value,
        n=int(n),
        weighted=weighted,
    )


@dataclasses.dataclass(frozen=True)
class WeightedMean:
    """A constant fitted to points with uncertainties (:func:`weighted_mean`).

    Attributes
    ----------
    mean, mean_err : float
        Inverse-variance weighted mean and its one-sigma error (the scatter's standard error
        for unweighted points; ``nan`` for a single unweighted point).
    chi2_red : float
        ``chi2 / (n - 1)`` (weighted only; ``nan`` when unweighted or ``n == 1``).
    p_value : float
        Probability of a chi-square at least this large if the points share one value within
        their errors (weighted only; else ``nan``).
    n : int
    weighted : bool
    """

    mean: float
    mean_err: float
    chi2_red: float
    p_value: float
    n: int
    weighted: bool


def weighted_mean(y, sigma=None) -> WeightedMean:
    """Inverse-variance weighted mean of ``y`` (``sigma``: one-sigma errors), with the χ² test
    of a constant (Press et al., *Numerical Recipes* §15.2, the zero-slope case)."""
    y = np.asarray(y, dtype=float).ravel()
    n = y.size
    if n == 0 or not np.all(np.isfinite(y)):
        raise InputError("weighted_mean: need at least one finite value")
    dof = n - 1
    if sigma is None:
        m = float(y.mean())
        err = float(y.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
        return WeightedMean(m, err, float("nan"), float("nan"), int(n), False)
    s = np.asarray(sigma, dtype=float).ravel()
    if s.shape != y.shape or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise InputError("weighted_mean: every sigma must be finite and > 0, one per value")
    w = 1.0 / s**2
    m = float((w * y).sum() / w.sum())
    chi2 = float((w * (y - m) ** 2).sum())
    p_value = float("nan")
    if dof > 0:
        # scipy.stats takes ~1 s to import: only where a p-value is computed
        from scipy.stats import chi2 as chi2_distribution

        p_value = float(chi2_distribution.sf(chi2, dof))
    return WeightedMean(m, float(1.0 / math.sqrt(w.sum())),
                        chi2 / dof if dof > 0 else float("nan"), p_value, int(n), True)
