"""Green–Kubo analysis on currents with known answers: Ornstein–Uhlenbeck (OU) processes.

An OU current with variance s² per component and correlation time τ has C(t) = s² e^{-|t|/τ};
sampled every dt it is the AR(1) process x_{k+1} = a x_k + s sqrt(1 - a²) ξ_k, a = e^{-dt/τ},
whose zero-frequency spectrum gives exactly ∫_0^∞ C dt → dt s² (1 + a) / (2 (1 - a)) (= s² τ
up to (dt/τ)²/12). κ = that integral / (V k_B T²) in SI units.
"""

from __future__ import annotations

import numpy as np
import pytest

from mdargy.analysis.greenkubo import (
    cepstral_kappa,
    green_kubo,
    kappa_prefactor,
    running_integral,
    sportran_numpy_compat,
)
from mdargy.errors import InputError

V, T = 5000.0, 300.0
DT = 0.005  # ps


def ou(rng, n, tau_ps, s, dt=DT, m=3):
    a = np.exp(-dt / tau_ps)
    x = np.empty((n, m))
    x[0] = rng.normal(0, s, m)
    xi = rng.normal(0, s * np.sqrt(1 - a * a), (n, m))
    for k in range(1, n):  # (a short loop of numpy rows: fast enough for 1e5 samples)
        x[k] = a * x[k - 1] + xi[k]
    return x


def ou_fast(rng, n, tau_ps, s, dt=DT, m=3):
    from scipy.signal import lfilter

    a = np.exp(-dt / tau_ps)
    xi = rng.normal(0, s * np.sqrt(1 - a * a), (n, m))
    xi[0] = rng.normal(0, s, m)
    return lfilter([1.0], [1.0, -a], xi, axis=0)


def ou_kappa(tau_ps, s, dt=DT):
    a = np.exp(-dt / tau_ps)
    return dt * s * s * (1 + a) / (2 * (1 - a)) * kappa_prefactor(V, T)


def test_prefactor_units():
    # 1 / (V k_B T²) with J V in eV Å/ps, t in ps -> W/m/K, worked by hand:
    # eV² Å² ps⁻² ps / (Å³ eV K⁻¹ K²) = eV/(Å ps K) = 1.602176634e-19 J / (1e-22 m s K);
    # k_B = 1.380649e-23 J/K and e = 1.602176634e-19 C are exact in the SI
    k_B_eV_K = 1.380649e-23 / 1.602176634e-19
    assert kappa_prefactor(1.0, 1.0) == pytest.approx(1.602176634e3 / k_B_eV_K, rel=1e-12)
    # sportran's metal-units scale (per fs: κ = scale * S(0)/2 with S in fs) agrees to its constants
    from sportran.current.units.heat import scale_kappa_metal

    assert scale_kappa_metal(T, V) * 1e3 == pytest.approx(kappa_prefactor(V, T), rel=1e-5)


def test_generators_agree():
    rng = np.random.default_rng(0)
    a, b = ou(rng, 2000, 0.1, 1.0), ou_fast(np.random.default_rng(0), 2000, 0.1, 1.0)
    assert a.shape == b.shape and abs(a.std() - b.std()) < 0.2


def test_running_integral_reaches_the_ou_value():
    rng = np.random.default_rng(1)
    tau, s = 0.1, 30.0
    J = ou_fast(rng, 400_000, tau, s)
    lag, k = running_integral(J, DT, V, T, max_lag_ps=1.5)
    true = ou_kappa(tau, s)
    # the integral up to t is κ (1 - e^{-t/τ}); at 1 ps (10 τ) it is on its plateau; its noise
    # over 2000 ps of data is a few per cent
    assert lag[0] == 0 and k[0] == 0
    i = np.searchsorted(lag, 0.1)
    assert k[i] == pytest.approx(true * (1 - np.exp(-1)), rel=0.08)
    assert k[-1] == pytest.approx(true, rel=0.1)


def test_cepstral_sigma_is_calibrated_pull_distribution():
    """30 independent OU realisations: (κ_i - κ_true)/σ_i has mean ~0 and unit width."""
    rng = np.random.default_rng(2024)
    tau, s = 0.05, 20.0
    true = ou_kappa(tau, s)
    pulls, rel = [], []
    for _ in range(30):
        J = ou_fast(rng, 20_000, tau, s)  # 100 ps, 2000 correlation times
        e = cepstral_kappa(J, DT, V, T, fstar_THz=25.0)
        pulls.append((e.kappa_W_mK - true) / e.kappa_err_W_mK)
        rel.append(e.kappa_err_W_mK / e.kappa_W_mK)
    pulls = np.array(pulls)
    assert abs(pulls.mean()) < 0.6  # 3 / sqrt(30) ~ 0.55
    assert 0.65 < pulls.std(ddof=1) < 1.4
    assert 0.01 < np.mean(rel) < 0.2  # a genuine, non-trivial error bar


def test_multicomponent_removes_the_mass_flux_part():
    """J = J0 + c M with M a slow 'mass flux' (one species' velocity sum; the other species'
    is -M, total momentum zero): the multicomponent κ is that of J0; the one-component κ adds
    c² ∫⟨M M⟩ and is flagged."""
    rng = np.random.default_rng(7)
    n = 100_000  # 500 ps
    tau0, s0 = 0.05, 20.0
    J0 = ou_fast(rng, n, tau0, s0)
    M = ou_fast(rng, n, 0.5, 3.0)
    c = 10.0
    J = J0 + c * M
    flux = np.stack([M, -M])
    res = green_kubo(J, DT, V, T, species_flux=flux, species=("Cu", "S"), fstar_THz=10.0,
                     max_lag_ps=5.0, plateau_window_ps=(1.0, 5.0))
    assert res.method == "multicomponent" and res.n_currents == 2
    true0 = ou_kappa(tau0, s0)
    assert abs(res.kappa_W_mK - true0) < 3 * res.kappa_err_W_mK
    one_true = true0 + c * c * ou_kappa(0.5, 3.0)
    assert res.kappa_one_component_W_mK > 5 * true0
    assert abs(res.kappa_one_component_W_mK - one_true) < 0.3 * one_true
    assert any("NOT a valid" in f for f in res.flags)
    # the running integral of J minus its instantaneous regression on M reaches it too
    assert res.kappa_plateau_W_mK == pytest.approx(true0, rel=0.25)
    assert res.running_kappa_one_component_W_mK[-1] > 3 * true0
    # forcing one-component on a multi-species system gives the flagged, biased number
    res1 = green_kubo(J, DT, V, T, species_flux=flux, species=("Cu", "S"), fstar_THz=10.0,
                      multicomponent=False)
    assert res1.method == "one-component"
    assert res1.kappa_W_mK == pytest.approx(res.kappa_one_component_W_mK)
    assert any(f.startswith("ONE-COMPONENT") for f in res1.flags)


def test_one_species_default_and_result_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    J = ou_fast(rng, 40_000, 0.05, 20.0)
    res = green_kubo(J, DT, V, T, species_flux=np.zeros((1, 40_000, 3)), species=("Ar",))
    assert res.method == "one-component"
    assert not any("ONE-COMPONENT" in f or "NOT a valid" in f for f in res.flags)
    # auto f*: 95 % of the power of the (discrete) Lorentzian below f*
    from mdargy.analysis.greenkubo import periodogram

    f, sp = periodogram(J, DT, V, T)
    share = sp[f <= res.fstar_THz].sum() / sp.sum()
    assert res.fstar_auto and 0.93 < share < 0.97
    assert abs(res.kappa_W_mK - ou_kappa(0.05, 20.0)) < 3 * res.kappa_err_W_mK
    from mdargy.analysis.greenkubo import GreenKuboResult

    back = GreenKuboResult.from_json(res.to_json(tmp_path / "gk.json") and tmp_path / "gk.json")
    assert back.kappa_W_mK == res.kappa_W_mK and back.species == ("Ar",)
    assert res.provenance["inputs"]["sportran"]


def test_instantaneous_decorrelation_removes_species_energy_offsets():
    """Per-atom energies shifted by a constant per species add Σ_s ε_s vsum_s to J; the
    regression takes exactly that out (and the multicomponent κ does not see it)."""
    from mdargy.analysis.greenkubo import decorrelate_instantaneous

    rng = np.random.default_rng(11)
    J0 = ou_fast(rng, 50_000, 0.05, 20.0)
    M1, M2 = ou_fast(rng, 50_000, 0.02, 5.0), ou_fast(rng, 50_000, 0.03, 4.0)
    J = J0 + 3.0 * M1 - 7.0 * M2
    Jp, c = decorrelate_instantaneous(np.stack([J, M1, M2]))
    np.testing.assert_allclose(c, [3.0, -7.0], atol=0.1)
    assert np.abs(Jp - J0).std() < 0.02 * J0.std()
    a = green_kubo(J, DT, V, T, species_flux=np.stack([M1, M2, -M1 - M2]), species=("A", "B", "C"),
                   fstar_THz=10.0)
    b = green_kubo(J0, DT, V, T, species_flux=np.stack([M1, M2, -M1 - M2]),
                   species=("A", "B", "C"), fstar_THz=10.0)
    assert a.n_currents == 3
    assert a.kappa_W_mK == pytest.approx(b.kappa_W_mK, rel=1e-6)  # exactly invariant
    assert abs(a.kappa_W_mK - ou_kappa(0.05, 20.0)) < 3 * a.kappa_err_W_mK


def test_too_short_and_bad_inputs():
    rng = np.random.default_rng(4)
    J = ou_fast(rng, 2000, 0.05, 20.0)  # 10 ps
    with pytest.raises(InputError, match=r"too short.*at least 200.*>= 40 ps"):
        cepstral_kappa(J, DT, V, T, fstar_THz=5.0)
    with pytest.raises(InputError, match="too short"):
        green_kubo(J, DT, V, T, fstar_THz=5.0)
    with pytest.raises(InputError, match="Nyquist"):
        cepstral_kappa(J, DT, V, T, fstar_THz=500.0)
    with pytest.raises(InputError, match="shape"):
        green_kubo(J[:, :2], DT, V, T)
    with pytest.raises(InputError, match="velocity sums"):
        green_kubo(J, DT, V, T, species=("Cu", "S"), multicomponent=True)
    with pytest.raises(InputError, match="at most 2"):
        green_kubo(J, DT, V, T, species_flux=np.zeros((4, 2000, 3)), species=("A", "B", "C", "D"))
    with pytest.raises(InputError, match="non-finite"):
        bad = J.copy()
        bad[5, 1] = np.nan
        green_kubo(bad, DT, V, T)


def test_nvt_production_is_flagged():
    rng = np.random.default_rng(5)
    J = ou_fast(rng, 40_000, 0.05, 20.0)
    res = green_kubo(J, DT, V, T, fstar_THz=20.0, ensemble="nvt")
    assert any("not NVE" in f for f in res.flags)


def test_numpy_compat_shim_is_scoped():
    """np.trapz exists only inside the block (NumPy 2.4 removed it; sportran rc4 needs it), it is
    NumPy's trapezoid, and it is removed again afterwards, also after an exception."""
    had = hasattr(np, "trapz")
    with sportran_numpy_compat():
        assert np.trapz([1.0, 2.0, 3.0]) == 4.0
        assert np.trapz([0.0, 1.0], x=[0.0, 2.0]) == np.trapezoid([0.0, 1.0], x=[0.0, 2.0]) == 1.0
    assert hasattr(np, "trapz") == had
    with pytest.raises(RuntimeError):
        with sportran_numpy_compat():
            raise RuntimeError("boom")
    assert hasattr(np, "trapz") == had


def test_matplotlib_settings_survive_sportran():
    """Importing sportran applies its plot style globally (savefig.format "'pdf'", which breaks
    every later savefig); our calls leave matplotlib's rcParams as they found them."""
    import subprocess
    import sys

    code = ("import matplotlib, numpy as np\n"
            "before = dict(matplotlib.rcParams)\n"
            "from mdargy.analysis.greenkubo import cepstral_kappa\n"
            "J = np.random.default_rng(1).normal(size=(4000, 3))\n"
            "cepstral_kappa(J, 0.005, 5000.0, 300.0, 50.0)\n"
            "after = dict(matplotlib.rcParams)\n"
            "bad = [k for k in before if before[k] != after[k]]\n"
            "assert not bad, bad\n"
            "from matplotlib.figure import Figure\n"
            "import io; Figure().savefig(io.BytesIO())\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_sportran_without_the_shim_fails_on_this_numpy():
    """Documents why the shim exists: if this starts passing, sportran was fixed upstream (or
    NumPy restored trapz) and the shim can go."""
    import contextlib
    import io

    import matplotlib

    if hasattr(np, "trapz"):
        pytest.skip("this NumPy still has trapz")
    J = ou_fast(np.random.default_rng(6), 4000, 0.05, 20.0)
    with matplotlib.rc_context(), pytest.raises(AttributeError, match="trapz"):
        import sportran as st  # (its import restyles matplotlib: kept inside rc_context)

        with contextlib.redirect_stdout(io.StringIO()):
            st.HeatCurrent(np.stack([J, np.roll(J, 7, axis=1) ** 2]), DT_FS=5.0, UNITS="metal", TEMPERATURE=T,
                           VOLUME=V)


def test_unresolved_low_frequency_peak_is_flagged():
    """A slow component (τ = 20 ps, 5 % of the variance) under a fast one, in 200 ps: the
    cepstral filter at f* = 20 THz cannot resolve the narrow zero-frequency peak it makes; the
    running integral reaches it and the disagreement is flagged."""
    rng = np.random.default_rng(12)
    n = 40_000  # 200 ps
    J = ou_fast(rng, n, 0.02, 20.0) + ou_fast(rng, n, 20.0, 4.5)
    true = ou_kappa(0.02, 20.0) + ou_kappa(20.0, 4.5)
    res = green_kubo(J, DT, V, T, fstar_THz=20.0, max_lag_ps=20.0, plateau_window_ps=(15, 20))
    assert res.kappa_W_mK < 0.7 * true  # the bias the flag is about
    assert any("plateau" in f and "narrower than the cepstral filter" in f for f in res.flags)
