"""Runs that never lie: resume identity, verified checkpoints, output folders (small LJ runs).

Every test here reproduces a way an earlier mdargy recorded a wrong result and exited 0: a
resume with other settings, a resume over a truncated/deleted/garbled trajectory or restart
file, writes through symbolic links, a new run over somebody's old trajectory.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from _runs import AR_FCC_CIF as CIF, argon_emd_config as argon, run_emd_quiet as run
from mdargy.errors import AlreadyDoneError, InputError


def killed(out, n_checkpoints, monkeypatch, **kw):
    """Run and stop after ``n_checkpoints`` checkpoints (a simulated kill)."""
    monkeypatch.setenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS", str(n_checkpoints))
    with pytest.raises(KeyboardInterrupt):
        run(argon(out, **kw))
    monkeypatch.delenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS")
    assert not (out / "result.json").exists()


def state(out):
    return json.loads((out / "checkpoints" / "state.json").read_text())


@pytest.fixture
def reference(argon_emd_run):
    return argon_emd_run


def assert_identical(out, ref):
    from mdargy.io.netcdf import read_netcdf_trajectory

    a = read_netcdf_trajectory(ref / "traj.nc")
    b = read_netcdf_trajectory(out / "traj.nc")
    assert b.steps.tolist() == a.steps.tolist()
    np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-9)
    assert (out / "traj.lammpstrj").read_text().count("ITEM: TIMESTEP") == a.n_frames
    ta = np.genfromtxt(ref / "thermo.csv", delimiter=",", skip_header=1, usecols=range(11))
    tb = np.genfromtxt(out / "thermo.csv", delimiter=",", skip_header=1, usecols=range(11))
    np.testing.assert_allclose(tb, ta, rtol=1e-9)


# -- run identity ---------------------------------------------------------------------------
def test_resume_with_other_temperature_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "r"
    killed(out, 4, monkeypatch)
    before = (out / "checkpoints" / "state.json").read_bytes()
    size = (out / "traj.nc").stat().st_size
    with pytest.raises(InputError) as err:
        run(argon(out, temperature_K=90.0))
    msg = str(err.value)
    assert "temperature_K: 50.0 here -> 90.0 now" in msg
    assert "--fresh" in msg and "another output directory" in msg
    assert (out / "checkpoints" / "state.json").read_bytes() == before
    assert (out / "traj.nc").stat().st_size == size
    assert not (out / "result.json").exists()


def test_cli_refusal_exits_non_zero(tmp_path, monkeypatch, capsys):
    from mdargy.cli import main

    toml = tmp_path / "run.toml"
    toml.write_text(f'''structure = "{CIF}"
replicate = [3, 3, 3]
output_dir = "{tmp_path / 'cli'}"
temperature_K = 60.0
timestep_fs = 5.0
equilibration_ps = 0.5
production_ensemble = "nve"
production_ps = 1.0
dump_every_fs = 100.0
thermo_every_fs = 50.0
checkpoint_every_ps = 0.5
[potential]
kind = "lj"
cutoff_A = 8.5
lj = {{ Ar = {{ epsilon_eV = 0.0104, sigma_A = 3.40 }} }}
''')
    assert main(["emd", str(toml), "-q"]) == 0
    assert main(["emd", str(toml), "-q"]) == 0  # same settings: done already
    assert "done already" in capsys.readouterr().err
    # a finished run re-run with other physics is refused, not reported as done
    assert main(["emd", str(toml), "-q", "-T", "90"]) == 2
    err = capsys.readouterr().err
    assert "temperature_K: 60.0 here -> 90.0 now" in err and "done already" not in err


def test_finished_run_with_other_physics_is_refused(reference):
    res, out = reference
    before = (out / "result.json").read_bytes()
    with pytest.raises(InputError, match="timestep_fs: 5.0 here -> 2.5 now"):
        run(argon(out, timestep_fs=2.5))
    with pytest.raises(AlreadyDoneError):
        run(argon(out))
    assert (out / "result.json").read_bytes() == before


def test_other_potential_file_content_is_refused(tmp_path, monkeypatch):
    """The identity holds the checksum of the structure (and potential) files, not their path."""
    cif = tmp_path / "Ar.cif"
    cif.write_bytes(CIF.read_bytes())
    out = tmp_path / "r"
    killed(out, 2, monkeypatch, structure=str(cif))
    cif.write_text(CIF.read_text().replace("5.3", "5.4"))
    with pytest.raises(InputError, match="files.structure"):
        run(argon(out, structure=str(cif)))


def test_truncated_result_is_not_done(tmp_path, reference):
    ref_res, ref = reference
    out = tmp_path / "r"
    res = run(argon(out))
    text = (out / "result.json").read_text()
    (out / "result.json").write_text(text[: len(text) // 2])
    res2 = run(argon(out))  # not "done": resumes from the final checkpoint, writes it again
    assert json.loads((out / "result.json").read_text())["n_frames"] == res.n_frames
    assert res2.T_mean_K == pytest.approx(ref_res.T_mean_K, rel=1e-9)
    assert_identical(out, ref)


def test_fresh_moves_the_old_run_aside(tmp_path, monkeypatch, reference):
    out = tmp_path / "r"
    killed(out, 4, monkeypatch, temperature_K=60.0)
    old = (out / "traj.nc").read_bytes()
    run(argon(out), fresh=True)
    moved = list(out.glob("superseded-*/traj.nc"))
    assert len(moved) == 1 and moved[0].read_bytes() == old
    assert_identical(out, reference[1])


# -- verified checkpoints -------------------------------------------------------------------
def test_truncated_trajectory_is_refused_not_resumed(tmp_path, monkeypatch, reference):
    out = tmp_path / "r"
    killed(out, 4, monkeypatch)  # latest checkpoint at step 400, the previous at 300
    st = state(out)
    traj = out / "traj.nc"
    rec = st["outputs"]["traj.nc"]
    assert rec["bytes"] <= traj.stat().st_size
    os.truncate(traj, rec["bytes"] - 3040)
    with pytest.raises(InputError) as err:
        run(argon(out))
    msg = str(err.value)
    assert "traj.nc was truncated" in msg and "--recover" in msg
    assert traj.stat().st_size == rec["bytes"] - 3040  # neither padded nor cut
    # the previous checkpoint is intact: resume from it, identical to an uninterrupted run
    run(argon(out), recover=True)
    assert_identical(out, reference[1])


def test_deleted_trajectory_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "r"
    killed(out, 4, monkeypatch)
    (out / "traj.nc").unlink()
    with pytest.raises(InputError, match="traj.nc is missing"):
        run(argon(out))
    assert not (out / "traj.nc").exists()
    with pytest.raises(InputError, match="no intact checkpoint"):
        run(argon(out), recover=True)


def test_truncated_text_dump_is_not_padded(tmp_path, monkeypatch):
    out = tmp_path / "r"
    killed(out, 4, monkeypatch)
    dump = out / "traj.lammpstrj"
    n = state(out)["outputs"]["traj.lammpstrj"]["bytes"]
    os.truncate(dump, n // 3)
    with pytest.raises(InputError, match="traj.lammpstrj was truncated"):
        run(argon(out))
    assert dump.stat().st_size == n // 3


def test_altered_trajectory_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "r"
    killed(out, 4, monkeypatch)
    traj = out / "traj.nc"
    with open(traj, "r+b") as fh:
        fh.seek(5000)
        fh.write(b"\0" * 64)
    with pytest.raises(InputError, match="traj.nc was altered: bytes 0-"):
        run(argon(out))


def test_garbled_restart_is_detected_before_lammps_reads_it(tmp_path, monkeypatch, reference):
    out = tmp_path / "r"
    killed(out, 4, monkeypatch)
    rf = out / "checkpoints" / state(out)["restart"]
    rng = np.random.default_rng(1)
    rf.write_bytes(rng.integers(0, 256, rf.stat().st_size, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match="restart file .* is damaged") as err:
        run(argon(out))
    assert "--recover" in str(err.value)
    run(argon(out), recover=True)
    assert_identical(out, reference[1])


def test_damaged_state_offers_the_previous_checkpoint(tmp_path, monkeypatch, reference):
    out = tmp_path / "r"
    killed(out, 4, monkeypatch)
    sp = out / "checkpoints" / "state.json"
    sp.write_text(sp.read_text()[:100])
    with pytest.raises(InputError) as err:
        run(argon(out))
    msg = str(err.value)
    assert "unreadable checkpoint state" in msg and "--recover" in msg
    assert "remove the directory" not in msg
    run(argon(out), recover=True)
    assert_identical(out, reference[1])


def test_two_kills_in_a_row_resume_identically(tmp_path, monkeypatch, reference):
    out = tmp_path / "r"
    killed(out, 3, monkeypatch)
    killed(out, 2, monkeypatch)
    run(argon(out))
    assert_identical(out, reference[1])


# -- output folders -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["traj.nc", "traj.pdb", "traj.lammpstrj"])
def test_symlinked_output_is_never_written_through(tmp_path, name):
    out = tmp_path / "r"
    out.mkdir()
    target = tmp_path / "precious.dat"
    target.write_text("keep me\n")
    (out / name).symlink_to(target)
    with pytest.raises(InputError, match="symbolic link"):
        run(argon(out))
    assert target.read_text() == "keep me\n"


def test_symlink_planted_before_resume_is_refused(tmp_path, monkeypatch):
    out = tmp_path / "r"
    killed(out, 4, monkeypatch)
    copy = tmp_path / "elsewhere.nc"
    copy.write_bytes((out / "traj.nc").read_bytes())
    (out / "traj.nc").unlink()
    (out / "traj.nc").symlink_to(copy)
    size = copy.stat().st_size
    with pytest.raises(InputError, match="symbolic link"):
        run(argon(out))
    assert copy.stat().st_size == size


def test_old_trajectory_without_result_is_not_overwritten(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "traj.lammpstrj").write_text("ITEM: TIMESTEP\n0\n(an old trajectory)\n")
    with pytest.raises(InputError, match="no finished or checkpointed run of mdargy owns"):
        run(argon(out))
    assert "old trajectory" in (out / "traj.lammpstrj").read_text()
    assert not (out / "identity.json").exists()


def test_paths_with_spaces_and_dollar_signs_run(tmp_path):
    out = tmp_path / "a dir with $HOME and #"
    cif = tmp_path / "my $x structure.cif"
    cif.write_bytes(CIF.read_bytes())
    res = run(argon(out, structure=str(cif), equilibration_ps=0.0, production_ps=0.5))
    assert res.n_frames == 6 and (out / "traj.nc").exists()


def test_path_with_a_newline_is_refused(tmp_path):
    from mdargy.potentials.spec import lammps_path

    out = tmp_path / "run\nshell rm -rf x"
    with pytest.raises(InputError, match="cannot be passed to LAMMPS"):
        run(argon(out))
    assert not out.exists()

    with pytest.raises(InputError, match="newline|\\\\n"):
        lammps_path(tmp_path / "bad\nrun_style verlet")
    assert lammps_path("/a b/c") == '"/a b/c"' and lammps_path("/a/b") == "/a/b"


def test_heat_current_file_is_verified_like_the_trajectories(tmp_path, monkeypatch):
    """The EMD driver registers heatflux.dat with the checkpoints: a truncated one is refused."""
    out = tmp_path / "r"
    killed(out, 4, monkeypatch, heat_every_fs=50.0)
    rec = state(out)["outputs"]["heatflux.dat"]
    assert rec["bytes"] > 0
    hf = out / "heatflux.dat"
    os.truncate(hf, rec["bytes"] - 10)
    with pytest.raises(InputError, match="heatflux.dat was truncated"):
        run(argon(out, heat_every_fs=50.0))
    assert hf.stat().st_size == rec["bytes"] - 10


def test_moved_input_files_with_the_same_content_resume(tmp_path, monkeypatch, reference):
    """The identity holds what the input files contain, not where they are."""
    a, b = tmp_path / "a" / "Ar.cif", tmp_path / "b" / "Ar.cif"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(CIF.read_bytes())
    out = tmp_path / "r"
    killed(out, 4, monkeypatch, structure=str(a))
    run(argon(out, structure=str(b)))
    assert_identical(out, reference[1])


def test_damaged_result_without_checkpoint_is_not_run_over(tmp_path):
    out = tmp_path / "r"
    run(argon(out))
    traj = (out / "traj.nc").read_bytes()
    (out / "result.json").write_text('{"n_frames": 2')
    for p in (out / "checkpoints").iterdir():
        if p.name != "manifest.json":
            p.unlink()
    with pytest.raises(InputError, match="damaged and no checkpoint is left"):
        run(argon(out))
    assert (out / "traj.nc").read_bytes() == traj
