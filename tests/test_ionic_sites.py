"""Site assignment and jumps: a lattice random walk with known rates, no-jump and bad-cell cases."""

import numpy as np
import pytest

from mdargy.analysis.sites import (
    SiteReference,
    analyse_sites,
    core_radius_states,
    nearest_sites,
    tile_reference,
)
from mdargy.errors import InputError

A = 2.0          # site spacing, Å (rock-salt arrangement of A and B sites on a cubic grid)
DT = 0.01        # ps
P_ESC = {"A": 0.02, "B": 0.05}   # escape probability per frame: rates 2 and 5 per ps


def checkerboard_reference():
    """One cubic cell of edge 2A holding 8 sites: A where i+j+k is even, B where odd."""
    g = np.stack(np.meshgrid(*[np.arange(2)] * 3, indexing="ij"), -1).reshape(-1, 3)
    labels = tuple("A" if (i + j + k) % 2 == 0 else "B" for i, j, k in g)
    return SiteReference("checkerboard", np.eye(3) * 2 * A, g / 2.0, labels)


def lattice_walk(seed, n_ions=40, n_frames=6000, reps=4, vib=0.15):
    """Ions hopping between nearest-neighbour sites (always A <-> B) with per-type escape
    probabilities, plus Gaussian vibration; exclusion is ignored (ideal lattice gas)."""
    rng = np.random.default_rng(seed)
    n = 2 * reps
    site = rng.integers(0, n, size=(n_ions, 3))
    out = np.empty((n_frames, n_ions, 3))
    for f in range(n_frames):
        out[f] = site * A
        is_a = site.sum(axis=1) % 2 == 0
        p = np.where(is_a, P_ESC["A"], P_ESC["B"])
        hop = rng.random(n_ions) < p
        ax = rng.integers(0, 3, n_ions)
        sg = rng.choice([-1, 1], n_ions)
        site[hop, ax[hop]] = (site[hop, ax[hop]] + sg[hop]) % n
    out += rng.normal(scale=vib, size=out.shape)
    box = np.eye(3) * n * A
    return out, box


def test_random_walk_recovers_rates_residence_times_and_occupancies():
    pos, box = lattice_walk(1)
    el = ["Li"] * pos.shape[1]
    r = analyse_sites(pos, el, box, DT, checkerboard_reference(), "Li", core_radius_A=0.7,
                      paths={"via B": ["B"]})
    k_a, k_b = P_ESC["A"] / DT, P_ESC["B"] / DT
    ia, ib = r.site_types.index("A"), r.site_types.index("B")
    # mean residence = dt / p (geometric waiting times); escape rates k
    assert r.residence_time_ps[ia] == pytest.approx(1 / k_a, rel=0.06)
    assert r.residence_time_ps[ib] == pytest.approx(1 / k_b, rel=0.06)
    assert r.escape_rate_per_ps[ia] == pytest.approx(k_a, rel=0.06)
    assert r.escape_rate_per_ps[ib] == pytest.approx(k_b, rel=0.06)
    # stationary fraction on A: k_b / (k_a + k_b); every jump is A<->B
    assert r.ion_fraction[ia] == pytest.approx(k_b / (k_a + k_b), abs=0.03)
    assert r.jump_counts[ia][ia] == 0 and r.jump_counts[ib][ib] == 0
    # total jump rate per ion = 2 k_a k_b / (k_a + k_b)
    assert r.jump_rate_total_per_ion_ps == pytest.approx(2 * k_a * k_b / (k_a + k_b), rel=0.05)
    assert r.mean_jump_distance_A == pytest.approx(A, rel=1e-6)
    assert r.D_jump_uncorrelated_cm2_s == pytest.approx(
        r.jump_rate_total_per_ion_ps * A**2 / 6 * 1e-4, rel=1e-9)
    assert r.path_share["via B"] == 1.0 and r.path_share["other"] == 0.0
    assert r.n_sites == (256, 256) and r.core_fraction > 0.9 and not r.warnings
    # occupancy = ions per site
    assert sum(o * n for o, n in zip(r.site_occupancy, r.n_sites)) == pytest.approx(40)
    back = type(r).from_dict(r.to_dict())
    assert back.jump_counts == tuple(tuple(x) for x in r.jump_counts)


def test_vibration_without_jumps_says_no_jumps():
    rng = np.random.default_rng(2)
    ref = checkerboard_reference()
    frac, _, _ = tile_reference(ref, np.eye(3) * 8 * A)
    sites = frac[rng.choice(len(frac), 20, replace=False)] * 8 * A
    pos = sites[None] + rng.normal(scale=0.2, size=(500, 20, 3))
    r = analyse_sites(pos, ["Cu"] * 20, np.eye(3) * 8 * A, DT, ref, "Cu")
    assert r.n_jumps == 0 and r.jump_rate_total_per_ion_ps == 0
    assert all(np.isnan(r.residence_time_ps))
    assert any("no jumps in 4.99 ps" in w for w in r.warnings)


def test_core_radius_rule_ignores_flicker_between_close_sites():
    idx = np.array([[0], [1], [0], [1], [1], [1]])
    dist = np.array([[0.1], [0.6], [0.7], [0.2], [0.1], [0.3]])
    st = core_radius_states(idx, dist, 0.4)
    assert st[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    assert core_radius_states(idx, np.full((6, 1), 0.9), 0.4)[:, 0].tolist() == [-1] * 6


def test_freud_and_scipy_agree():
    pytest.importorskip("freud")
    pos, box = lattice_walk(3, n_frames=50)
    frac, _, _ = tile_reference(checkerboard_reference(), box)
    i1, d1 = nearest_sites(pos, box, frac, engine="freud")
    i2, d2 = nearest_sites(pos, box, frac, engine="scipy")
    assert np.array_equal(i1, i2) and np.allclose(d1, d2, atol=1e-5)


def test_reference_cell_mismatch_is_a_clear_error():
    ref = checkerboard_reference()
    with pytest.raises(InputError, match=r"reference structure 'checkerboard' \(cell \[4 x 4 x 4\] A\)"
                                         r".*trajectory's cell \[13 x 13 x 13\] A"):
        tile_reference(ref, np.eye(3) * 13.0)
    pos = np.zeros((3, 1, 3))
    with pytest.raises(InputError, match="no Cu atoms"):
        analyse_sites(pos, ["Li"], np.eye(3) * 8, DT, ref, "Cu")


def test_framework_drift_is_followed():
    """A framework drifting by 3 Å carries its sites: jumps are counted in its frame."""
    from mdargy.analysis.sites import framework_drift

    pos, box = lattice_walk(4, n_ions=20, n_frames=2000)
    n = pos.shape[0]
    drift = np.linspace(0, 3.0, n)[:, None] * np.array([1.0, 0.5, 0.0])
    rng = np.random.default_rng(0)
    fw = rng.uniform(0, box[0, 0], (1, 30, 3)) + rng.normal(scale=0.1, size=(n, 30, 3))
    moved = np.concatenate([pos, fw], axis=1) + drift[:, None, :]
    el = ["Li"] * 20 + ["O"] * 30
    assert np.allclose(framework_drift(moved, el, "Li"), drift, atol=0.1)
    ref = checkerboard_reference()
    a = analyse_sites(pos, el[:20], box, DT, ref, "Li", core_radius_A=0.7)
    b = analyse_sites(moved, el, box, DT, ref, "Li", core_radius_A=0.7)
    c = analyse_sites(moved, el, box, DT, ref, "Li", core_radius_A=0.7, drift_correct=False)
    assert abs(b.n_jumps - a.n_jumps) < 0.03 * a.n_jumps
    assert c.core_fraction < b.core_fraction - 0.2  # in the lab frame the sites are lost
