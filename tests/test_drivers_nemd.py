"""NEMD driver on fcc LJ argon: κ from Langevin baths and Müller-Plathe swaps, restart, MPI."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from _runs import EXAMPLES, MPIRUN
from _runs import PYTHON as PY
from mdargy.drivers.config import NEMDConfig
from mdargy.errors import AlreadyDoneError, InputError
from mdargy.potentials.spec import lj_argon


def bar(out, **kw):
    """fcc LJ argon at 50 K, a = 5.30 Å, 12 x 3 x 3 cells (432 atoms, L = 63.6 Å), 120 ps."""
    base = dict(structure=str(EXAMPLES / "Ar_fcc.cif"), potential=lj_argon(), output_dir=str(out),
                replicate=(12, 3, 3), temperature_K=50.0, timestep_fs=5.0, seed=777,
                bins_per_cell=1, equilibration_ps=10.0, production_ps=120.0, block_ps=2.5,
                sample_every_fs=50.0, delta_T_K=40.0, bath_damp_fs=250.0, swap_every_fs=100.0,
                checkpoint_every_ps=30.0, n_error_blocks=4)
    base.update(kw)
    return NEMDConfig(**base)


def small(out, **kw):
    """A quick bar (12 x 2 x 2 cells, 192 atoms) for restart and MPI checks."""
    base = dict(replicate=(12, 2, 2), equilibration_ps=2.0, production_ps=15.0,
                block_ps=1.0, checkpoint_every_ps=4.0, n_error_blocks=3, discard_blocks=3)
    base.update(kw)
    return bar(out, **base)


def run(config):
    from mdargy.drivers import run_nemd

    return run_nemd(config, progress=False)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    d = tmp_path_factory.mktemp("nemd")
    return run(bar(d / "langevin", method="langevin")), run(bar(d / "mp", method="muller-plathe"))


def test_kappa_order_of_magnitude(both):
    for r in both:
        # LJ argon near 50 K: bulk ~0.3-0.5 W/m/K; a short bar gives a somewhat smaller kappa(L)
        assert 0.1 < r.kappa_W_mK < 1.0, r.method
        assert 0 < r.kappa_err_W_mK < 0.3 * r.kappa_W_mK
        assert 40 < r.T_mean_K < 60
        assert r.length_A == pytest.approx(12 * 5.30) and r.area_A2 == pytest.approx((3 * 5.30) ** 2)
        # the profile peaks at the hot slab (bin 6) and is lowest at the cold slab (bin 0)
        T = np.array(r.T_K)
        assert T.argmax() == 6 and T.argmin() == 0
        # gradient consistent with kappa = Q / (2 S |grad T|)
        k = r.Q_W / (2 * r.area_A2 * 1e-20 * r.gradT_K_m)
        assert k == pytest.approx(r.kappa_W_mK, rel=1e-12)


def test_methods_agree_within_uncertainty(both):
    lang, mp = both
    diff = abs(lang.kappa_W_mK - mp.kappa_W_mK)
    sigma = math.hypot(lang.kappa_err_W_mK, mp.kappa_err_W_mK)
    assert diff < 3.0 * sigma, (lang.kappa_W_mK, lang.kappa_err_W_mK, mp.kappa_W_mK, mp.kappa_err_W_mK)


def test_energy_balance(both):
    lang, mp = both
    assert lang.heat_in_eV > 1.0 and lang.heat_out_eV > 1.0
    assert abs(lang.imbalance_fraction) < 0.05  # includes the fluctuation of the bar's energy
    assert abs(lang.closure_fraction) < 0.01  # in - out - dE: only integration error left
    assert mp.imbalance_fraction == 0.0  # swaps move the energy exactly
    assert abs(mp.closure_fraction) < 0.005  # total energy conserved by the integrator + swaps


def test_outputs(both):
    for r in both:
        out = Path(r.output_dir)
        for name in ("result.json", "profile.csv", "blocks.csv", "profiles.csv",
                     "thermo.csv", "structure.data"):
            assert (out / name).is_file(), name
        assert not (out / "profile.png").exists()  # drivers draw no figures (the CLI does)
        d = json.loads((out / "result.json").read_text())
        assert d["result_type"] == "NEMDResult" and d["method"] == r.method
        assert d["provenance"]["inputs"]["config"]["seed"] == 777
        prof = np.genfromtxt(out / "profile.csv", delimiter=",", names=True)
        assert len(prof) == 12 and prof["in_fit_up"].sum() == 3 and prof["in_fit_down"].sum() == 3
        blocks = np.genfromtxt(out / "blocks.csv", delimiter=",", names=True)
        assert len(blocks) == 48 and blocks["steady"].sum() == 48 - r.n_discarded_blocks


def test_bath_groups_every_step_give_the_same_kappa(both, tmp_path, monkeypatch):
    """Bath groups re-evaluated every 10 fs (here 2 steps) instead of every step: same bar, same
    seeds; kappa, heat and profile agree within the run's own uncertainty."""
    import mdargy.drivers.nemd as nemd

    lang = both[0]
    assert nemd.bath_group_every(bar(tmp_path / "x")) == 2
    monkeypatch.setattr(nemd, "bath_group_every", lambda config: 1)
    ref = run(bar(tmp_path / "every1", method="langevin"))
    sigma = math.hypot(lang.kappa_err_W_mK, ref.kappa_err_W_mK)
    assert abs(lang.kappa_W_mK - ref.kappa_W_mK) < 2.0 * sigma, (lang.kappa_W_mK, ref.kappa_W_mK,
                                                                 sigma)
    assert lang.Q_eV_ps == pytest.approx(ref.Q_eV_ps, abs=3 * math.hypot(lang.Q_err_eV_ps,
                                                                         ref.Q_err_eV_ps))
    assert abs(ref.closure_fraction) < 0.01 and abs(lang.closure_fraction) < 0.01
    T, Tr = np.array(lang.T_K), np.array(ref.T_K)
    err = np.hypot(lang.T_err_K, ref.T_err_K)
    assert np.all(np.abs(T - Tr) < 4 * err + 0.5)


@pytest.mark.parametrize("dt_fs, sample_every, group_every",
                         [(1.0, 10, 10), (5.0, 10, 2), (1.0, 4, 2), (2.0, 5, 5), (10.0, 10, 1)])
def test_stage_intervals(tmp_path, dt_fs, sample_every, group_every):
    """The LAMMPS input samples the profile every sample_every steps, updates the bath groups
    about every 10 fs on a divisor of sample_every, and guards LJ every 10 steps."""
    from mdargy.drivers.nemd import bath_group_every, nemd_input

    c = bar(tmp_path, timestep_fs=dt_fs, sample_every_fs=sample_every * dt_fs)
    assert bath_group_every(c) == group_every and c.block_steps % group_every == 0
    text = nemd_input(c, type_elements=["Ar"])
    assert f"group hot dynamic all region rhot every {group_every}\n" in text
    assert f"group cold dynamic all region rcold every {group_every}\n" in text
    assert (f"fix prof all ave/chunk {sample_every} {c.block_steps // sample_every} "
            f"{c.block_steps} slabs temp") in text
    assert "fix mdargy_guard all halt 10 " in text
    mp = nemd_input(bar(tmp_path, timestep_fs=dt_fs, sample_every_fs=sample_every * dt_fs,
                        swap_every_fs=20 * dt_fs, method="muller-plathe"), type_elements=["Ar"])
    assert "\ngroup " not in mp and "fix mp all thermal/conductivity 20 x 12 swap 1" in mp


def test_finished_run_reports_done(both):
    with pytest.raises(AlreadyDoneError):
        run(bar(both[0].output_dir, method="langevin"))


@pytest.mark.parametrize("method", ["langevin", "muller-plathe"])
def test_restart_gives_the_same_result(tmp_path, monkeypatch, method):
    ref = run(small(tmp_path / "ref", method=method))
    out = tmp_path / "killed"
    for n in (1, 2):  # killed in the equilibration, then during the NEMD stage
        monkeypatch.setenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS", str(n))
        with pytest.raises(KeyboardInterrupt):
            run(small(out, method=method))
    monkeypatch.delenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS")
    res = run(small(out, method=method))
    # same seeds per block: the resumed run reproduces the uninterrupted one (to round-off)
    assert res.n_blocks == ref.n_blocks == 15
    assert res.kappa_W_mK == pytest.approx(ref.kappa_W_mK, rel=1e-8)
    assert res.heat_in_eV == pytest.approx(ref.heat_in_eV, rel=1e-8)
    np.testing.assert_allclose(res.T_K, ref.T_K, rtol=1e-8)
    a = np.genfromtxt(tmp_path / "ref" / "blocks.csv", delimiter=",", skip_header=1)
    b = np.genfromtxt(out / "blocks.csv", delimiter=",", skip_header=1)
    assert a.shape == b.shape
    np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-10)


def test_two_ranks(tmp_path):
    """The CLI under mpirun -np 2 runs the same bar as the serial driver."""
    run(small(tmp_path / "np1", method="muller-plathe"))  # the serial reference, read back below
    toml = tmp_path / "mp.toml"
    toml.write_text(f"""structure = "{EXAMPLES / 'Ar_fcc.cif'}"
replicate = [12, 2, 2]
output_dir = "{tmp_path / 'np2'}"
temperature_K = 50.0
timestep_fs = 5.0
seed = 777
method = "muller-plathe"
bins_per_cell = 1
swap_every_fs = 100.0
sample_every_fs = 50.0
equilibration_ps = 2.0
production_ps = 15.0
block_ps = 1.0
checkpoint_every_ps = 4.0
n_error_blocks = 3
discard_blocks = 3
[potential]
kind = "lj"
cutoff_A = 8.5
extra_commands = ["pair_modify shift yes"]
masses_amu = {{ Ar = 39.948 }}
lj = {{ Ar = {{ epsilon_eV = 0.0104, sigma_A = 3.40 }} }}
""")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([MPIRUN, "-np", "2", PY, "-m", "mdargy", "nemd", str(toml), "-q"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("kappa  =") == 1
    r2 = json.loads((tmp_path / "np2" / "result.json").read_text())
    a = np.genfromtxt(tmp_path / "np1" / "blocks.csv", delimiter=",", skip_header=1)
    b = np.genfromtxt(tmp_path / "np2" / "blocks.csv", delimiter=",", skip_header=1)
    # identical start (loop geom velocities); the first blocks agree before chaos separates them
    np.testing.assert_allclose(b[:2, 2], a[:2, 2], rtol=1e-6)
    assert r2["n_blocks"] == 15 and 0.05 < r2["kappa_W_mK"] < 2.0
    assert (tmp_path / "np2" / "profile.png").stat().st_size > 1000  # drawn by the CLI


def test_dry_run_and_bad_inputs(tmp_path):
    p = subprocess.run([PY, "-m", "mdargy", "nemd", str(EXAMPLES / "lj_argon_nemd.toml"),
                        "--dry-run", "-o", str(tmp_path / "dry")], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert "group hot dynamic all region rhot every 2" in p.stdout  # 10 fs at 5 fs
    assert "fix hot hot langevin 70 70 0.25" in p.stdout and "tally yes" in p.stdout
    assert "heat/flux" not in p.stdout
    p = subprocess.run([PY, "-m", "mdargy", "nemd", str(EXAMPLES / "lj_argon_nemd.toml"),
                        "--dry-run", str(tmp_path / "deck-mp"), "--method", "muller-plathe"],
                       capture_output=True, text=True, timeout=120)
    assert "fix mp all thermal/conductivity 20 x 12 swap 1" in p.stdout
    with pytest.raises(InputError, match="is odd"):
        bar(tmp_path, replicate=(13, 3, 3))
    with pytest.raises(InputError, match="method"):
        bar(tmp_path, method="green-kubo")
    with pytest.raises(InputError, match="whole multiple of block_ps"):
        bar(tmp_path, production_ps=123.4)
    with pytest.raises(InputError, match="delta_T_K"):
        bar(tmp_path, delta_T_K=150.0)
    p = subprocess.run([PY, "-m", "mdargy", "nemd", str(tmp_path / "none.toml")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "none.toml" in p.stderr and "Traceback" not in p.stderr
