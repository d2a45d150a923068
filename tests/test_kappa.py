"""Length extrapolation 1/κ = 1/κ∞ + A/L and Fourier's law against known answers."""

import numpy as np
import pytest

from mdargy.analysis.kappa import (
    KAPPA_INF_COLUMNS,
    KappaExtrapolation,
    extrapolate_kappa,
    extrapolate_kappa_per_T,
    fourier_kappa,
    group_temperatures,
    kappa_inf_row,
)
from mdargy.analysis.stats import weighted_linear_fit
from mdargy.errors import InputError

K_INF, A = 0.6, 40.0  # W/m/K, Å m K/W  (Λ_eff = A κ∞ / 4 = 6 Å)


def exact(L):
    return 1.0 / (1.0 / K_INF + A / np.asarray(L, float))


def test_exact_data_recover_kappa_inf():
    L = np.array([50.0, 100, 200, 400])
    r = extrapolate_kappa(L, exact(L), 0.02 * exact(L), T_K=300)
    assert r.kappa_inf_W_mK == pytest.approx(K_INF, rel=1e-10)
    assert r.A_AmK_W == pytest.approx(A, rel=1e-10)
    assert r.mfp_eff_A == pytest.approx(A * K_INF / 4)
    assert r.chi2_red == pytest.approx(0, abs=1e-18)
    assert r.kappa_at(123.0) == pytest.approx(exact(123.0))
    assert r.kappa_max_fraction == pytest.approx(exact(400) / K_INF)
    assert r.T_K == 300 and r.weighted and not r.warnings
    # σ(κ∞) from the intercept's variance: σ_b / b²
    assert r.kappa_inf_err_W_mK == pytest.approx(r.inv_kappa_inf_err_mK_W * K_INF**2)


def test_errors_are_calibrated():
    rng = np.random.default_rng(2)
    L = np.array([40.0, 60, 90, 140, 220])
    k = exact(L)
    e = 0.03 * k
    pulls, chi = [], []
    for _ in range(150):
        r = extrapolate_kappa(L, k + rng.normal(0, e), e)
        pulls.append((r.inv_kappa_inf_mK_W - 1 / K_INF) / r.inv_kappa_inf_err_mK_W)
        chi.append(r.chi2_red)
    assert abs(np.std(pulls) - 1) < 0.2 and abs(np.mean(pulls)) < 0.25
    assert abs(np.mean(chi) - 1) < 0.2


def test_length_independent_kappa_and_its_calibrated_error():
    """κ(L) without length dependence (a glass-like solid): the weighted mean recovers the
    constant with calibrated errors, the constant fits (p uniform), and a slope is resolved
    in about 5 % of the runs only; a real 1/L law is resolved."""
    rng = np.random.default_rng(5)
    L = np.array([78.0, 117, 156, 233])
    e = np.array([0.04, 0.03, 0.05, 0.06])
    pulls, p, resolved = [], [], []
    for _ in range(400):
        r = extrapolate_kappa(L, 0.3 + rng.normal(0, e), e)
        pulls.append((r.kappa_mean_W_mK - 0.3) / r.kappa_mean_err_W_mK)
        p.append(r.mean_p_value)
        resolved.append(r.length_dependence_resolved)
    assert abs(np.std(pulls) - 1) < 0.1 and abs(np.mean(pulls)) < 0.15
    assert np.mean(np.array(p) < 0.05) == pytest.approx(0.05, abs=0.03)
    assert np.mean(resolved) == pytest.approx(0.046, abs=0.03)  # |A| > 2σ_A by chance
    r = extrapolate_kappa(L, exact(L), 0.01 * exact(L))
    assert r.length_dependence_resolved and r.mean_p_value < 1e-6
    assert r.kappa_mean_W_mK < K_INF  # κ over the lengths simulated: below κ∞
    r = extrapolate_kappa(L, 0.3 + 0 * L)  # unweighted: the mean and the scatter's error
    assert r.kappa_mean_W_mK == pytest.approx(0.3) and not r.weighted


def test_warnings():
    L = np.array([50.0, 100])
    r = extrapolate_kappa(L, exact(L))
    assert any("only 2 distinct lengths" in w for w in r.warnings)
    # the longest L (20 Å) is shorter than 4 Λ_eff = 24 Å: extrapolation underestimates
    L = np.array([5.0, 10, 20])
    r = extrapolate_kappa(L, exact(L), 0.01 * exact(L))
    assert r.kappa_max_fraction < 0.5
    assert any("mean free path" in w for w in r.warnings)
    # data that do not follow the law
    L = np.array([50.0, 100, 200, 400])
    k = exact(L) * np.array([1.0, 1.3, 0.8, 1.1])
    r = extrapolate_kappa(L, k, 0.01 * k)
    assert any("poor fit" in w for w in r.warnings)


def test_bad_input():
    for args in (([], []), ([10, 20], [1.0]), ([10, 10], [1.0, 1.1]), ([10, -20], [1, 1]),
                 ([10, 20], [1.0, 0.0]), ([10, 20, 30], [1, 1, 1], [0.1, 0.0, 0.1])):
        with pytest.raises(InputError):
            extrapolate_kappa(*args)
    # κ rising steeply with L: negative intercept, no finite κ∞
    with pytest.raises(InputError, match="not positive"):
        extrapolate_kappa([10, 20, 40], [0.2, 1.0, 5.0])


def test_roundtrip(tmp_path):
    L = np.array([50.0, 100, 200])
    r = extrapolate_kappa(L, exact(L), 0.05 * exact(L))
    r.to_json(tmp_path / "k.json")
    back = KappaExtrapolation.from_json(tmp_path / "k.json")
    assert back.kappa_inf_W_mK == r.kappa_inf_W_mK
    assert np.allclose(back.length_A, L)


def test_imposed_linear_profile_and_flux_recover_kappa():
    """T(x) = T0 - J x / κ with noise; the fitted gradient and the flux give κ back."""
    kappa, J = 0.45, 2.0e9  # W/m/K, W/m²
    x_m = np.linspace(5e-9, 45e-9, 21)
    rng = np.random.default_rng(1)
    sig = np.full(x_m.size, 0.5)  # K
    T = 300.0 - J / kappa * x_m + rng.normal(0, sig)
    fit = weighted_linear_fit(x_m, T, sig)
    k = fourier_kappa(J, fit.slope)
    k_err = k * fit.slope_err / abs(fit.slope)
    assert abs(k - kappa) < 3 * k_err and k_err < 0.02 * kappa
    assert fourier_kappa(J, -J / kappa) == pytest.approx(kappa)
    with pytest.raises(InputError):
        fourier_kappa(J, 0.0)


def test_temperature_groups():
    T = [301.0, None, 500.0, 299.0, 310.0, 520.0]
    assert group_temperatures(T, 0.0) == [[3], [0], [4], [2], [5], [1]]
    # single linkage: 299-301-310 chain within 10 K, 500 and 520 apart by 20 K
    assert group_temperatures(T, 10.0) == [[3, 0, 4], [2], [5], [1]]


def test_per_temperature_recovers_each_kappa_inf_and_reports_what_it_cannot_fit():
    L = np.array([50.0, 100, 200, 400])
    k300, k500 = exact(L), 0.7 * exact(L)  # κ∞ 0.6 and 0.42 W/m/K, same A/κ∞ ratio
    T = [300.4, 299.6, 300.0, 300.2] + [500.0] * 4 + [700.0]
    res = extrapolate_kappa_per_T(T, [*L, *L, 77.0], [*k300, *k500, 0.5],
                                  [*(0.02 * k300), *(0.02 * k500), 0.01], tolerance_K=2.0)
    assert [f.T_K for f in res.fits] == [pytest.approx(300.05), 500.0]
    assert res.fits[0].kappa_inf_W_mK == pytest.approx(K_INF, rel=1e-10)
    assert res.fits[1].kappa_inf_W_mK == pytest.approx(0.7 * K_INF, rel=1e-10)
    assert all(f.weighted for f in res.fits)
    ((T_skip, n, why),) = res.skipped
    assert T_skip == 700.0 and n == 1 and "2 distinct lengths" in why
    # a missing error makes that group unweighted; equal temperatures only without tolerance
    res = extrapolate_kappa_per_T([300.0] * 4, L, k300, [None, 0.1, 0.1, 0.1])
    assert not res.fits[0].weighted
    assert res.fits[0].kappa_inf_W_mK == pytest.approx(K_INF, rel=1e-10)
    with pytest.raises(InputError, match="one entry each"):
        extrapolate_kappa_per_T([300.0] * 3, L, k300)


def test_kappa_inf_table_row_matches_its_columns():
    L = np.array([50.0, 100, 200])
    f = extrapolate_kappa(L, exact(L), 0.02 * exact(L), T_K=300)
    row = dict(zip(KAPPA_INF_COLUMNS, kappa_inf_row(f)))
    assert len(kappa_inf_row(f)) == len(KAPPA_INF_COLUMNS)
    assert row["T_K"] == 300 and row["n_lengths"] == 3 and row["L_max_A"] == 200
    assert row["kappa_inf_W_mK"] == f.kappa_inf_W_mK and row["weighted"] == 1
    assert all(c.split("_")[-1] in ("K", "A", "mK", "W", "red", "value", "inf", "lengths",
                                    "weighted", "warnings", "resolved") for c in KAPPA_INF_COLUMNS)
