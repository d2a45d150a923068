"""NEMD analysis on synthetic profiles with known gradient, flux and transient."""

from __future__ import annotations

import numpy as np
import pytest

from mdargy.analysis.nemd import (
    EV_PS_TO_W,
    analyse_nemd,
    energy_balance,
    fit_masks,
    kappa_W_mK,
    mser_truncation,
)
from mdargy.errors import InputError


def test_kappa_units_and_two_paths():
    # 1 eV/ps through 2 paths of 100 Å^2 at 1 K/Å: 1.602e-7 W / (2 * 1e-18 m^2 * 1e10 K/m)
    assert kappa_W_mK(1.0, 100.0, 1.0) == pytest.approx(EV_PS_TO_W / 2e-8)
    assert kappa_W_mK(1.0, 100.0, 1.0) == pytest.approx(8.01088317, rel=1e-8)
    assert kappa_W_mK(1.0, 100.0, -1.0, n_paths=1) == pytest.approx(16.02176634, rel=1e-8)


def test_mser_finds_the_transient():
    rng = np.random.default_rng(1)
    n = 200
    t = np.arange(n)
    y = 1.0 - np.exp(-t / 10.0) + rng.normal(0, 0.02, n)  # relaxes within ~40 samples
    d = mser_truncation(y)
    assert 20 <= d <= 70
    assert mser_truncation(rng.normal(0, 1, n)) < 30  # stationary: little discarded
    assert mser_truncation([1.0, 2.0]) == 0


def test_fit_masks_geometry():
    L, n = 100.0, 20
    w = L / n
    x = (np.arange(n) + 0.5) * w
    up, down, xu = fit_masks(x, L, (0.0, w), (L / 2, L / 2 + w), exclude_A=w)
    assert np.flatnonzero(up).tolist() == list(range(2, 9))  # bins 1 and 9 touch a bath
    assert np.flatnonzero(down).tolist() == list(range(12, 19))
    # cold slab in the middle of the cell: the falling path wraps across x = L
    up, down, xu = fit_masks(x, L, (40.0, 45.0), (90.0, 95.0), exclude_A=0.0)
    assert np.flatnonzero(up).tolist() == list(range(9, 18))
    assert np.flatnonzero(down).tolist() == list(range(0, 8)) + [19]
    assert np.all(np.diff(xu[[19] + list(range(0, 8))]) > 0)  # unwrapped, contiguous


def _synthetic(nb=60, n=20, L=100.0, g=0.2, T0=300.0, noise=0.5, transient=0, seed=3,
               Q=0.05, block_ps=1.0):
    """Triangular profile: cold bath at x in [0, w), hot at [L/2, L/2 + w)."""
    rng = np.random.default_rng(seed)
    w = L / n
    x = (np.arange(n) + 0.5) * w
    d = np.where(x < L / 2, x, L - x)  # distance from the cold slab along either path
    base = T0 - g * (L / 4) + g * d
    P = np.empty((nb, n))
    hin = np.empty(nb)
    for i in range(nb):
        amp = 1.0 - np.exp(-i / 3.0) if transient else 1.0
        P[i] = T0 + amp * (base - T0) + rng.normal(0, noise, n)
        hin[i] = Q * block_ps * (1 + (2.0 if (transient and i < 5) else 0.0)) + rng.normal(0, 0.002)
    hout = hin + rng.normal(0, 0.001, nb)
    return x, P, hin, hout, dict(length_A=L, area_A2=400.0, cold_A=(0.0, w), hot_A=(L / 2, L / 2 + w),
                                 exclude_A=w, block_time_ps=block_ps)


def test_analyse_recovers_kappa_and_gradient():
    x, P, hin, hout, geo = _synthetic()
    an = analyse_nemd(x, P, hin, hout, discard_blocks=0, n_error_blocks=5, **geo)
    assert an.gradient_K_A == pytest.approx(0.2, rel=0.02)
    assert abs(an.gradient_asymmetry) < 0.05
    expect = kappa_W_mK(0.05, 400.0, 0.2)
    assert an.kappa_W_mK == pytest.approx(expect, rel=0.03)
    assert 0 < an.kappa_err_W_mK < 0.05 * expect
    assert abs(an.kappa_W_mK - expect) < 4 * an.kappa_err_W_mK + 1e-3 * expect
    assert an.T_mean_K == pytest.approx(300.0, abs=0.5)
    assert an.balance.imbalance_fraction == pytest.approx(0.0, abs=0.02)


def test_sigma_shrinks_with_more_data():
    errs = []
    for nb in (40, 640):
        x, P, hin, hout, geo = _synthetic(nb=nb, noise=2.0)
        errs.append(analyse_nemd(x, P, hin, hout, discard_blocks=0, n_error_blocks=8, **geo).kappa_err_W_mK)
    assert errs[1] < 0.5 * errs[0]  # ~ 1/sqrt(16) = 0.25 expected


def _correlated(seed, nb=200, n=20, L=100.0, g=0.2, T0=300.0, noise=1.0, phi=0.8, slow=0.02,
                Q=0.05):
    """Blocks whose noise is correlated in time (AR(1), ~5 blocks), per bin and in the amplitude
    of the gradient (a slow mode of the whole bar), with the steady gradient ``g`` underneath."""
    rng = np.random.default_rng(seed)
    w = L / n
    x = (np.arange(n) + 0.5) * w
    d = np.where(x < L / 2, x, L - x)
    e, s = np.zeros(n), 0.0
    P, hin = np.empty((nb, n)), np.empty(nb)
    for i in range(nb):
        e = phi * e + np.sqrt(1 - phi**2) * rng.normal(0, noise, n)
        s = phi * s + np.sqrt(1 - phi**2) * rng.normal(0, slow)
        P[i] = T0 - g * L / 4 + g * d + e + s * (d - L / 4)
        hin[i] = Q + rng.normal(0, 0.003)
    hout = hin + rng.normal(0, 0.001, nb)
    return x, P, hin, hout, dict(length_A=L, area_A2=400.0, cold_A=(0.0, w),
                                 hot_A=(L / 2, L / 2 + w), exclude_A=w, block_time_ps=1.0)


@pytest.mark.parametrize("groups", [5, 10])
def test_sigma_is_right_across_independent_runs(groups):
    # pulls of kappa about the true value over 200 independent series: sigma is right when
    # they are centred with unit spread; the groups' spread alone, with few groups, is not
    # enough (Student-t tails), and the paths' term added in quadrature makes up for it
    true = kappa_W_mK(0.05, 400.0, 0.2)
    full, grp = [], []
    for seed in range(200):
        x, P, hin, hout, geo = _correlated(seed)
        an = analyse_nemd(x, P, hin, hout, discard_blocks=0, n_error_blocks=groups, **geo)
        full.append((an.kappa_W_mK - true) / an.kappa_err_W_mK)
        grp.append((an.kappa_W_mK - true) / an.kappa_err_groups_W_mK)
    assert abs(np.mean(full)) < 0.25  # the mean of 200 pulls scatters by 0.07
    assert 0.85 < np.std(full) < 1.15
    if groups == 5:  # Student-t with 4 degrees of freedom: std sqrt(2)
        assert np.std(grp) > 1.25


def test_transient_is_discarded_automatically():
    x, P, hin, hout, geo = _synthetic(transient=True, nb=80)
    an = analyse_nemd(x, P, hin, hout, n_error_blocks=5, **geo)
    assert an.transient_auto and an.n_discarded_blocks >= 5
    assert an.kappa_W_mK == pytest.approx(kappa_W_mK(0.05, 400.0, 0.2), rel=0.05)
    keep_all = analyse_nemd(x, P, hin, hout, discard_blocks=0, n_error_blocks=5, **geo)
    assert keep_all.kappa_W_mK > 1.1 * an.kappa_W_mK  # the transient biases kappa upwards


def test_energy_balance():
    b = energy_balance([1.0, 1.0], [0.9, 0.9], dE_system_eV=0.2)
    assert b.heat_in_eV == 2.0 and b.heat_out_eV == pytest.approx(1.8)
    assert b.imbalance_fraction == pytest.approx(0.2 / 1.9)
    assert b.closure_fraction == pytest.approx(0.0, abs=1e-12)


def test_bad_inputs():
    x, P, hin, hout, geo = _synthetic(nb=12)
    with pytest.raises(InputError, match="steady blocks"):
        analyse_nemd(x, P, hin, hout, discard_blocks=10, n_error_blocks=5, **geo)
    P2 = P.copy()
    P2[3, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        analyse_nemd(x, P2, hin, hout, discard_blocks=0, **geo)
    with pytest.raises(InputError, match="inconsistent"):
        analyse_nemd(x[:-1], P, hin, hout, discard_blocks=0, **geo)
    geo2 = dict(geo, exclude_A=40.0)
    with pytest.raises(InputError, match="too few bins"):
        analyse_nemd(x, P, hin, hout, discard_blocks=0, **geo2)
