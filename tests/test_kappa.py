"""Length extrapolation 1/κ = 1/κ∞ + A/L and Fourier's law against known answers."""

import numpy as np
import pytest

from mdargy.analysis.kappa import KappaExtrapolation, extrapolate_kappa, fourier_kappa
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
