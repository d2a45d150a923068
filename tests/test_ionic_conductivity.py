"""Ionic conductivity, Nernst–Einstein and Haven ratio on lattice random walks with known answers."""

import numpy as np
import pytest

from mdargy.analysis.diffusion import diffusion_coefficients
from mdargy.analysis.conductivity import (
    DEFAULT_FORMAL_CHARGES_E,
    atom_charges,
    charge_displacement,
    ionic_conductivity,
    sigma_factor_S_cm,
)
from mdargy.errors import InputError

A = 2.0      # jump length, Å
P = 0.05     # jump probability per frame
DT = 0.01    # ps
L_BOX = 20.0  # Å


def lattice_walk(seed, n_mobile=64, n_frames=2000, pairs=False):
    """Cations hopping on a cubic lattice (6 directions, probability P per frame) among static
    anions of charge -1 (same number). With ``pairs``, atoms 2k and 2k+1 make identical jumps."""
    rng = np.random.default_rng(seed)
    n_walk = n_mobile // 2 if pairs else n_mobile
    hop = rng.random((n_frames - 1, n_walk)) < P
    dirs = rng.integers(0, 6, size=(n_frames - 1, n_walk))
    step = np.zeros((n_frames - 1, n_walk, 3))
    ax, sign = dirs // 2, np.where(dirs % 2 == 0, 1.0, -1.0)
    fi, ai = np.nonzero(hop)
    step[fi, ai, ax[fi, ai]] = A * sign[fi, ai]
    if pairs:
        step = np.repeat(step, 2, axis=1)
    x0 = rng.uniform(0, L_BOX, (1, n_mobile, 3))
    mob = x0 + np.concatenate([np.zeros((1, n_mobile, 3)), np.cumsum(step, axis=0)])
    anions = np.broadcast_to(rng.uniform(0, L_BOX, (1, n_mobile, 3)), (n_frames, n_mobile, 3))
    pos = np.concatenate([mob, anions], axis=1)
    el = ["Li"] * n_mobile + ["Cl"] * n_mobile
    return pos, el


CH = {"Li": 1.0, "Cl": -1.0}


def tracer(pos, el):
    # the synthetic cell does not conserve momentum (static anions, hopping cations): its
    # centre of mass wanders, so the tracer D is taken in the lab frame
    return diffusion_coefficients(pos, DT, species=el, remove_com=False)
T = 600.0
V = L_BOX**3
D_EXACT_A2_PS = P * A**2 / (6 * DT)  # per-frame hop probability P, jump length A


def sigma_exact(n_mobile, corr=1):
    # Nernst–Einstein, exact for uncorrelated hops: sigma = e^2 N q^2 D / (V kT) (x corr)
    return sigma_factor_S_cm(V, T) * 6 * n_mobile * D_EXACT_A2_PS * corr


def test_uncorrelated_hops_give_exact_sigma_and_haven_ratio_one():
    pulls, H = [], []
    for seed in range(24):
        pos, el = lattice_walk(seed)
        r = ionic_conductivity(pos, DT, el, V, T, charges_e=CH, window_ps=(0.5, 10.0),
                               diffusion=tracer(pos, el))
        assert r.sigma_status == "diffusive"
        pulls.append((r.sigma_S_cm - sigma_exact(64)) / r.sigma_err_S_cm)
        H.append(r.haven_ratio)
        # the tracer part is exact too (the static anions are bounded and add nothing)
        assert r.sigma_NE_S_cm == pytest.approx(sigma_exact(64), rel=0.1)
        assert r.sigma_NE_species_S_cm["Cl"] == 0.0
    pulls = np.array(pulls)
    # σ_ion's error bar is calibrated: pulls of unit width around 0 (24 runs)
    assert abs(pulls.mean()) < 0.6 and 0.7 < pulls.std(ddof=1) < 1.4, (pulls.mean(), pulls.std())
    assert np.mean(H) == pytest.approx(1.0, abs=0.08)


def test_pairs_that_always_jump_together_have_haven_ratio_one_half():
    H, s, ne, full = [], [], [], []
    for seed in range(12):
        pos, el = lattice_walk(100 + seed, pairs=True)
        r = ionic_conductivity(pos, DT, el, V, T, charges_e=CH, window_ps=(0.5, 10.0),
                               diffusion=tracer(pos, el))
        H.append(r.haven_ratio)
        s.append(r.sigma_S_cm / sigma_exact(64, corr=2))
        ne.append(r.sigma_NE_S_cm)
        full.append(r.sigma_S_cm)
        assert r.haven_ratio == pytest.approx(0.5, abs=4 * r.haven_ratio_err)
    # a ratio of noisy numbers is biased (E[1/σ] > 1/E[σ]): pool before dividing
    assert np.mean(ne) / np.mean(full) == pytest.approx(0.5, abs=0.04)
    assert np.median(H) == pytest.approx(0.5, abs=0.08)
    assert np.mean(s) == pytest.approx(1.0, abs=0.1)


def test_charge_msd_is_fast_path_and_exact():
    pos, el = lattice_walk(3, n_frames=300)
    q = atom_charges(el, CH)
    X = charge_displacement(pos.astype(np.float32), q)
    ref = (pos * q[None, :, None]).sum(axis=1)
    assert np.allclose(X[:, 0], ref, atol=1e-3)
    r = ionic_conductivity(pos, DT, el, V, T, charges_e=CH, window_ps=(0.2, 1.0))
    d = X[5:, 0] - X[:-5, 0]
    assert r.charge_msd_e2A2[5] == pytest.approx(np.mean(np.sum(d**2, axis=1)), rel=0.02)


def test_charges_defaults_and_refusals():
    assert DEFAULT_FORMAL_CHARGES_E == {"Cu": 1.0, "P": 5.0, "S": -2.0}
    q = atom_charges(["Cu"] * 7 + ["P"] + ["S"] * 6)  # Cu7PS6 is neutral with the defaults
    assert q.sum() == 0
    with pytest.raises(InputError, match=r"sum to \+1 e"):
        atom_charges(["Cu"] * 8 + ["P"] + ["S"] * 6)
    with pytest.raises(InputError, match="no formal charge for Li"):
        atom_charges(["Li", "S"])
    with pytest.raises(InputError, match="sum to"):
        atom_charges(["Li", "Cl", "Cl"], {"Li": 1, "Cl": -1})


def test_nothing_moves_gives_no_sigma():
    pos, el = lattice_walk(4, n_frames=400)
    pos = np.broadcast_to(pos[:1], pos.shape) + np.random.default_rng(0).normal(
        scale=0.05, size=pos.shape)
    r = ionic_conductivity(pos, DT, el, V, T, charges_e=CH)
    assert r.sigma_status == "bounded" and np.isnan(r.sigma_S_cm) and np.isnan(r.haven_ratio)
    assert r.sigma_NE_S_cm == 0.0
    assert any("no ionic conductivity" in w for w in r.warnings)
    back = type(r).from_dict(r.to_dict())
    assert np.isnan(back.sigma_S_cm) and back.sigma_status == "bounded"
