"""Known answers for the statistics toolbox (block averages, weighted straight-line fits)."""

import numpy as np
import pytest

from mdargy.analysis.stats import block_average, weighted_linear_fit, weighted_mean
from mdargy.errors import InputError


def test_exact_line_is_recovered():
    x = np.linspace(0.5, 7.0, 9)
    f = weighted_linear_fit(x, 2.5 * x - 1.25, sigma=np.full(9, 0.1))
    assert f.slope == pytest.approx(2.5, abs=1e-12)
    assert f.intercept == pytest.approx(-1.25, abs=1e-12)
    assert f.chi2 == pytest.approx(0.0, abs=1e-20)
    assert f.dof == 7
    assert f.p_value == pytest.approx(1.0)


def test_covariance_matches_numpy_polyfit_unscaled():
    rng = np.random.default_rng(3)
    x = np.linspace(0, 10, 25)
    s = rng.uniform(0.2, 1.0, x.size)
    y = 0.7 * x + 3 + rng.normal(0, s)
    f = weighted_linear_fit(x, y, s)
    p, cov = np.polyfit(x, y, 1, w=1 / s, cov="unscaled")
    assert np.allclose([f.slope, f.intercept], p, rtol=1e-12)
    assert np.allclose(f.covariance, cov, rtol=1e-10)
    # unweighted: residual-scaled covariance as polyfit(cov=True)
    g = weighted_linear_fit(x, y)
    p, cov = np.polyfit(x, y, 1, cov=True)
    assert np.allclose(g.covariance, cov, rtol=1e-10)
    assert np.isnan(g.p_value) and not g.weighted


def test_slope_errors_are_calibrated():
    """Over many noisy data sets the pull (fit - truth)/σ has unit spread."""
    rng = np.random.default_rng(11)
    x = np.linspace(1, 5, 8)
    s = np.linspace(0.1, 0.4, 8)
    pulls, chi = [], []
    for _ in range(600):
        f = weighted_linear_fit(x, -1.5 * x + 4 + rng.normal(0, s), s)
        pulls.append((f.slope + 1.5) / f.slope_err)
        chi.append(f.chi2_red)
    assert abs(np.std(pulls) - 1) < 0.1
    assert abs(np.mean(pulls)) < 0.15
    assert abs(np.mean(chi) - 1) < 0.1


def test_predict_err_and_call():
    f = weighted_linear_fit([0, 1, 2], [1, 3, 5], [0.1, 0.1, 0.1])
    assert f(4) == pytest.approx(9)
    assert f.predict_err(0.0) == pytest.approx(f.intercept_err)


def test_block_average_iid_and_correlated():
    rng = np.random.default_rng(5)
    x = rng.normal(2.0, 1.0, 20000)
    m, e = block_average(x, 20)
    assert m == pytest.approx(x[:20000].mean())
    assert e == pytest.approx(1 / np.sqrt(20000), rel=0.5)
    # AR(1) with correlation time ~ 50 samples: the naive error is ~10x too small
    phi = np.exp(-1 / 50)
    y = np.empty(40000)
    y[0] = 0
    eps = rng.normal(size=y.size)
    for i in range(1, y.size):
        y[i] = phi * y[i - 1] + eps[i]
    _, eb = block_average(y, 20)
    naive = y.std() / np.sqrt(y.size)
    assert eb > 5 * naive
    # along an axis of a 2-D array
    m2, e2 = block_average(np.stack([x, 2 * x], axis=1), 10, axis=0)
    assert m2.shape == (2,) and e2[1] == pytest.approx(2 * e2[0])


@pytest.mark.parametrize(
    "args",
    [([1.0], [1.0], None), ([1, 1, 1], [1, 2, 3], None), ([1, 2], [1, 2], [1.0, 0.0]),
     ([1, 2, 3], [1, 2], None), ([1, 2, np.nan], [1, 2, 3], None)],
)
def test_fit_bad_input(args):
    with pytest.raises(InputError):
        weighted_linear_fit(*args)


def test_block_average_bad_input():
    with pytest.raises(InputError):
        block_average(np.arange(3.0), 1)
    with pytest.raises(InputError):
        block_average(np.arange(3.0), 5)


def test_weighted_mean_known_answers():
    m = weighted_mean([1.0, 3.0], [1.0, 1.0])
    assert m.mean == 2.0 and m.mean_err == pytest.approx(1 / np.sqrt(2))
    assert m.chi2_red == pytest.approx(2.0) and m.p_value == pytest.approx(0.1573, abs=1e-4)
    m = weighted_mean([1.0, 3.0], [1.0, 3.0])  # weights 1 and 1/9
    assert m.mean == pytest.approx((1 + 3 / 9) / (1 + 1 / 9))
    assert m.mean_err == pytest.approx(1 / np.sqrt(1 + 1 / 9))
    u = weighted_mean([1.0, 2.0, 3.0])
    assert not u.weighted and u.mean == 2.0 and u.mean_err == pytest.approx(1 / np.sqrt(3))
    with pytest.raises(InputError, match="sigma"):
        weighted_mean([1.0, 2.0], [1.0, 0.0])
