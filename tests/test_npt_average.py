"""The NPT volume average: its error bar is right for correlated rows (known answers)."""

from __future__ import annotations

import numpy as np
import pytest

from mdargy.analysis.npt import lattice_length_err_A, npt_average
from mdargy.errors import InputError


def _ar1(rng, n, phi, mean, sd):
    """An AR(1) series with stationary mean and standard deviation (correlation time
    (1 + phi) / (1 - phi) rows)."""
    x = np.empty(n)
    x[0] = rng.normal()
    e = rng.normal(size=n) * np.sqrt(1 - phi * phi)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return mean + sd * x


def test_means_of_the_kept_rows_and_the_discarded_start():
    v = np.r_[np.full(50, 900.0), np.arange(50) + 1000.0]  # a drifting start, then data
    p = np.r_[np.full(50, 5000.0), np.zeros(50)]
    avg = npt_average(v, p)
    assert avg.volume_A3 == pytest.approx(1024.5)
    assert avg.pressure_bar == 0.0 and avg.pressure_err_bar == 0.0
    assert avg.n_rows == 50 and avg.n_blocks == 5
    # blocks of 10 rows: means 1004.5 ... 1044.5, 10 apart: sem = std(ddof=1) / sqrt(5)
    assert avg.volume_err_A3 == pytest.approx(np.std(np.arange(5) * 10.0, ddof=1) / np.sqrt(5))
    assert npt_average(v, p, discard_fraction=0.0).volume_A3 == pytest.approx(v.mean())


def test_error_is_right_for_correlated_rows_where_the_row_scatter_is_not():
    """400 independent AR(1) runs (correlation time 19 rows): the block error's mean square
    matches the scatter of the run means; the rows' scatter / sqrt(n) is 4x too small."""
    rng = np.random.default_rng(11)
    means, err2, naive2 = [], [], []
    for _ in range(400):
        v = _ar1(rng, 2000, 0.9, 1000.0, 2.0)
        avg = npt_average(v, _ar1(rng, 2000, 0.9, 0.0, 300.0))
        means.append(avg.volume_A3)
        err2.append(avg.volume_err_A3 ** 2)
        kept = v[1000:]
        naive2.append(kept.var(ddof=1) / kept.size)
    true_var = np.var(means, ddof=1)
    assert np.mean(err2) / true_var == pytest.approx(1.0, abs=0.2)
    assert np.mean(naive2) / true_var < 0.1
    pulls = (np.array(means) - 1000.0) / np.sqrt(err2)
    # 5 blocks: pulls follow Student's t with 4 degrees of freedom, P(|t| < 1) = 0.626
    assert np.mean(np.abs(pulls) < 1.0) == pytest.approx(0.626, abs=0.06)


def test_lattice_length_error_from_the_volume_error():
    avg = npt_average(np.r_[np.zeros(10), 1000.0 + np.arange(10.0)], np.zeros(20))
    assert lattice_length_err_A(10.0, avg) == pytest.approx(10.0 * avg.volume_err_A3 / 3 / avg.volume_A3)


@pytest.mark.parametrize("v, p, kw, match", [
    (np.ones(15), np.ones(15), {}, "only 8 NPT thermo rows"),
    (np.ones(20), np.ones(19), {}, "one row each"),
    (np.ones(20), np.ones(20), {"discard_fraction": 1.0}, "must be in"),
])
def test_bad_input_is_a_clear_error(v, p, kw, match):
    with pytest.raises(InputError, match=match):
        npt_average(v, p, **kw)
