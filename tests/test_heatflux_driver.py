"""Heat-current output of the EMD driver: file contents, kill + resume, refusal of styles without
a centroid per-atom virial, bad files. Real small LAMMPS runs (LJ argon, 108 atoms)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from _runs import EXAMPLES, MPIRUN, PYTHON, ROOT, argon_emd_config
from _runs import run_emd_quiet as run
from mdargy.drivers.config import EMDConfig
from mdargy.errors import InputError, MissingCapabilityError
from mdargy.io.heatflux import read_heatflux
from mdargy.potentials.spec import PotentialSpec


def argon(out, **kw):
    """The shared LJ-argon run (:func:`_runs.argon_emd_config`) with the heat current every
    25 fs."""
    return argon_emd_config(out, **{"heat_every_fs": 25.0, **kw})


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hf") / "nve"
    return run(argon(out)), out


def test_file_layout_units_and_sampling(hf_run):
    res, out = hf_run
    assert res.heatflux_path == str(out / "heatflux.dat")
    s = read_heatflux(out)
    assert s.n_samples == 400 // 5 + 1
    assert s.step[0] == 200 and s.step[-1] == 600
    np.testing.assert_allclose(s.time_ps, np.arange(81) * 0.025, atol=1e-12)
    assert s.dt_ps == pytest.approx(0.025)
    assert s.species == ("Ar",) and s.n_atoms_per_species == (108,)
    assert s.volume_A3 == pytest.approx(res.volume_A3, rel=1e-9)
    assert s.temperature_source.startswith("thermo.csv")
    assert s.temperature_K == pytest.approx(res.T_mean_K, rel=1e-9)
    assert "eV*A/ps" in s.meta["units"]["J"] and s.meta["ensemble"] == "nve"
    np.testing.assert_allclose(s.J_eVA_ps, s.Jconv_eVA_ps + s.Jvir_eVA_ps, atol=1e-12)
    # both parts are genuinely present (a solid: the virial part dominates)
    assert np.std(s.Jvir_eVA_ps) > np.std(s.Jconv_eVA_ps) > 0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["heat_current"] == {"file": "heatflux.dat", "heat_every": 5, "dt_ps": 0.025}
    # the column line is sportran's 'table' layout: name[1] name[2] name[3]
    cols = [ln for ln in (out / "heatflux.dat").read_text().splitlines()
            if not ln.startswith("#")][0].split()
    assert cols[2:5] == ["J_eVA_ps[1]", "J_eVA_ps[2]", "J_eVA_ps[3]"]


def test_species_velocity_sum_matches_the_trajectory(hf_run):
    """Independent check against the frames of traj.nc (every 20 steps = every 4th sample):
    vsum = Σ v_i. (J itself is proven by the cluster identity test.)"""
    from mdargy.io.netcdf import read_netcdf_trajectory

    res, out = hf_run
    s = read_heatflux(out)
    tr = read_netcdf_trajectory(out / "traj.nc", mmap=False)
    assert (np.asarray(tr.steps) == s.step[::4]).all()  # both LAMMPS's own steps
    np.testing.assert_allclose(s.vsum_A_ps[0, ::4], tr.velocities.sum(axis=1), atol=1e-7)
    # total momentum ~ 0 (velocities created with mom yes), so vsum is tiny but recorded
    assert np.abs(s.vsum_A_ps).max() < 1e-8


def test_kill_and_resume_gives_the_same_file(hf_run, tmp_path, monkeypatch):
    _, ref = hf_run
    out = tmp_path / "killed"
    for n in (2, 2, 1):  # equilibration done; killed in production twice
        monkeypatch.setenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS", str(n))
        with pytest.raises(KeyboardInterrupt):
            run(argon(out))
        # half-written rows past the checkpoint: the resume must cut them
        with open(out / "heatflux.dat", "ab") as fh:
            fh.write(b"999999 1.0 garbage\n")
    monkeypatch.delenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS")
    run(argon(out))
    a, b = read_heatflux(ref), read_heatflux(out)
    assert b.step.tolist() == a.step.tolist()  # no duplicate, no missing sample
    np.testing.assert_allclose(b.J_eVA_ps, a.J_eVA_ps, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b.Jconv_eVA_ps, a.Jconv_eVA_ps, rtol=1e-8, atol=1e-10)


def test_style_without_centroid_virial_is_refused_before_md(tmp_path):
    si = PotentialSpec(kind="native", style="sw", files=("lammps:Si.sw",), elements=("Si",))
    cfg = EMDConfig(structure=str(EXAMPLES / "Si_diamond.cif"), potential=si,
                    output_dir=str(tmp_path / "sw"), equilibration_ps=0.01, production_ps=0.01,
                    dump_every_fs=10.0, heat_every_fs=5.0, temperature_K=300.0)
    with pytest.raises(MissingCapabilityError, match="pair style 'sw'.*centroid"):
        run(cfg)
    assert not (tmp_path / "sw" / "thermo.csv").exists()
    assert not (tmp_path / "sw" / "heatflux.dat").exists()


def test_config_checks_and_dry_run(tmp_path):
    from mdargy.drivers.emd import emd_input

    with pytest.raises(InputError, match="heat_every_fs"):
        argon(tmp_path, heat_every_fs=-5.0)
    with pytest.raises(InputError, match="production_ps.*multiple of heat_every_fs"):
        argon(tmp_path, heat_every_fs=35.0)
    with pytest.raises(InputError, match="equilibration_ps.*multiple of heat_every_fs"):
        argon(tmp_path, heat_every_fs=40.0, equilibration_ps=1.02)
    text = emd_input(argon(tmp_path), type_elements=["Ar"])
    assert "compute mdargy_hf_stress all centroid/stress/atom NULL virial" in text
    assert "heat/flux mdargy_hf_ke mdargy_hf_pe mdargy_hf_stress" in text
    assert "fix mdargy_hf_store all vector 5" in text
    assert "heat/flux" not in emd_input(argon(tmp_path, heat_every_fs=0.0), type_elements=["Ar"])
    # LJ (guard every 10 steps): a multiple of 5 already, the guard stays
    assert "fix mdargy_guard all halt 10" in text and "halt 5 " not in text


def test_guard_interval_is_aligned_with_the_sampling():
    """fix halt schedules every per-atom compute for its next check: a guard every step with
    the heat computes defined costs +16 % (Cu7PS6 MTP); a guard on the sampling steps costs
    nothing. It is moved only when that keeps it within 5 steps."""
    from mdargy.drivers.heatflux import MAX_GUARD_INTERVAL, guard_interval

    assert MAX_GUARD_INTERVAL == 5
    assert guard_interval(5, 1) == 5  # MTP: every step -> every 5 steps
    assert guard_interval(1, 1) is None and guard_interval(5, 10) is None  # aligned already
    assert guard_interval(2, 1) == 2 and guard_interval(3, 10) == 9 and guard_interval(4, 10) == 8
    assert guard_interval(10, 1) is None  # too sparse for an MTP: keep every step (and pay)


def test_mtp_run_moves_its_guard_to_the_sampling_steps(tmp_path):
    from mdargy.drivers.emd import emd_input

    pot = PotentialSpec(kind="mtp", files=(str(ROOT / "inputs" / "potentials" / "Cu7PS6.mtp"),),
                        elements=("Cu", "P", "S"))
    cfg = EMDConfig(structure=str(ROOT / "inputs" / "structures" / "Cu7PS6_P213_derived.cif"),
                    potential=pot, output_dir=str(tmp_path / "cu"), equilibration_ps=0.02,
                    production_ps=0.02, dump_every_fs=10.0, heat_every_fs=5.0,
                    thermo_every_fs=10.0,
                    production_ensemble="nve", text_dump=False)
    text = emd_input(cfg, type_elements=["Cu", "P", "S"])
    assert text.index("fix mdargy_guard all halt 1 ") < text.index("fix mdargy_guard all halt 5 ")
    res = run(cfg)  # 56-atom cell: a few seconds
    s = read_heatflux(res.output_dir)
    assert s.n_samples == 5 and s.species == ("Cu", "P", "S")
    assert np.abs(s.Jvir_eVA_ps).max() > 0


def _write(path, text):
    path.write_text(text)
    return path


def test_reader_rejects_gaps_interval_changes_and_foreign_files(hf_run, tmp_path):
    _, out = hf_run
    lines = (out / "heatflux.dat").read_text().splitlines(keepends=True)
    head = [ln for ln in lines if ln.startswith("#")] + [lines[3]]
    body = lines[4:]
    gap = _write(tmp_path / "gap.dat", "".join(head + body[:10] + body[11:]))
    with pytest.raises(InputError, match="gap.dat.*a gap between step 245 and step 255"):
        read_heatflux(gap)
    dup = _write(tmp_path / "dup.dat", "".join(head + body[:10] + body[9:]))
    with pytest.raises(InputError, match="duplicate"):
        read_heatflux(dup)
    # sampling interval changed half-way (every 10 steps instead of 5)
    chg = _write(tmp_path / "chg.dat", "".join(head + body[:10] + body[10::2]))
    with pytest.raises(InputError, match="chg.dat.*gap"):
        read_heatflux(chg)
    odd = [ln for ln in body[:5]] + [ln.replace(ln.split()[0], str(int(ln.split()[0]) + 2), 1)
                                      for ln in body[5:6]]
    with pytest.raises(InputError, match="change of the sampling interval"):
        read_heatflux(_write(tmp_path / "odd.dat", "".join(head + odd)))
    with pytest.raises(InputError, match="not an mdargy heat-current file"):
        read_heatflux(_write(tmp_path / "x.dat", "step a b\n1 2 3\n"))
    with pytest.raises(InputError, match="not found.*heat_every"):
        read_heatflux(tmp_path / "nothing")
    nan = _write(tmp_path / "nan.dat", "".join(head + body[:3] + [body[3].replace(
        body[3].split()[4], "nan", 1)]))
    with pytest.raises(InputError, match="non-finite"):
        read_heatflux(nan)


def test_two_species_velocity_sums(tmp_path):
    """Two species (an Ar/Kr-like LJ mixture on the fcc lattice): one vsum per species, and
    their mass-weighted sum is the total momentum (zero)."""
    from mdargy.structures.load import read_structure, replicate
    import ase.io

    atoms = replicate(read_structure(str(EXAMPLES / "Ar_fcc.cif")), (3, 3, 3))
    sym = atoms.get_chemical_symbols()
    for i in range(0, len(sym), 3):
        sym[i] = "Kr"
    atoms.set_chemical_symbols(sym)
    ase.io.write(tmp_path / "ArKr.extxyz", atoms)
    pot = PotentialSpec(kind="lj", lj={"Ar": {"epsilon_eV": 0.0104, "sigma_A": 3.40},
                                       "Kr": {"epsilon_eV": 0.0140, "sigma_A": 3.60}},
                        cutoff_A=8.5)
    res = run(argon(tmp_path / "mix", structure=str(tmp_path / "ArKr.extxyz"), potential=pot,
                    production_ps=0.5, equilibration_ps=0.5))
    s = read_heatflux(res.output_dir)
    assert s.species == tuple(res.type_elements) and len(s.species) == 2
    m = np.array(s.masses_amu)[:, None, None]
    p = (m * s.vsum_A_ps).sum(axis=0)
    assert np.abs(p).max() < 1e-6 * np.abs(m * s.vsum_A_ps).max() + 1e-9
    assert np.abs(s.vsum_A_ps).max() > 1.0  # the species do move against each other


def test_two_ranks_match_serial_and_resume_exactly(hf_run, tmp_path):
    """mpirun -np 2: the same heat current as the serial run (summation order aside), and a run
    stopped after its 3rd checkpoint and resumed writes the same file as an uninterrupted one."""
    import subprocess

    _, ref = hf_run
    py, mpirun = PYTHON, MPIRUN
    args = [str(EXAMPLES / "lj_argon_emd.toml"), "-q", "--set", "replicate=[3, 3, 3]",
            "--set", "seed=321", "--set", "equilibration_ps=1.0", "--set",
            "production_ps=2.0", "--set", "dump_every_fs=100.0", "--set", "thermo_every_fs=50.0",
            "--set", "checkpoint_every_ps=0.5", "--set", "heat_every_fs=25.0", "-T", "50",
            "--set", "max_temperature_K=1000"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [mpirun, "-np", "2", py, "-m", "mdargy", "emd", *args]
    full = subprocess.run(cmd + ["-o", str(tmp_path / "np2")], capture_output=True, text=True,
                          timeout=300, env=env)
    assert full.returncode == 0, full.stderr
    cut = subprocess.run(cmd + ["-o", str(tmp_path / "cut")], capture_output=True, text=True,
                         timeout=300, env=dict(env, MDARGY_TEST_STOP_AFTER_CHECKPOINTS="4"))
    assert cut.returncode == 130
    res = subprocess.run(cmd + ["-o", str(tmp_path / "cut")], capture_output=True, text=True,
                         timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    a, b = read_heatflux(tmp_path / "np2"), read_heatflux(tmp_path / "cut")
    assert a.step.tolist() == b.step.tolist() == list(range(200, 601, 5))
    np.testing.assert_allclose(b.J_eVA_ps, a.J_eVA_ps, rtol=0, atol=1e-9)
    s = read_heatflux(ref)  # serial, same structure, seed and settings
    np.testing.assert_allclose(a.J_eVA_ps, s.J_eVA_ps, atol=1e-5 * np.abs(s.J_eVA_ps).max())
