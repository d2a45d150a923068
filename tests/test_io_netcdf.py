"""NetCDF (AMBER convention) trajectories: the EMD driver's traj.nc opens in MDAnalysis, ASE,
scipy and the NetCDF C library with element names; mdargy reads it back bit for bit, survives
crashes while appending and resumes with the checkpoint's integrity guarantee."""

from __future__ import annotations

import json
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from mdargy.drivers.config import EMDConfig
from mdargy.errors import InputError
from mdargy.io.integrity import extend_record, record_problem
from mdargy.io.masses import mass_of
from mdargy.io.netcdf import (
    NetCDFTrajectoryWriter,
    cell_from_lengths_angles,
    lengths_angles_from_cell,
    read_netcdf_header,
    read_netcdf_trajectory,
)
from mdargy.io.pdb import write_pdb_topology
from mdargy.io.trajectory import detect_format, load_trajectory
from mdargy.potentials.spec import lj_argon

ROOT = Path(__file__).resolve().parent.parent
CIF = ROOT / "inputs" / "examples" / "Ar_fcc.cif"
ELEMENTS = ["Cu", "Cu", "P", "S", "S", "S"]
BOX = np.array([[10.0, 0.0, 0.0], [1.5, 11.0, 0.0], [-0.7, 0.4, 12.0]])  # LAMMPS triclinic


def _frames(n_frames=5, seed=0):
    rng = np.random.default_rng(seed)
    pos = np.cumsum(rng.normal(scale=0.3, size=(n_frames, len(ELEMENTS), 3)), axis=0) + 5.0
    vel = rng.normal(size=pos.shape)
    return pos, vel


def _write(path, pos, vel, **kw):
    w = NetCDFTrajectoryWriter(path, len(ELEMENTS), elements=ELEMENTS,
                               masses_amu=[mass_of(e) for e in ELEMENTS], dt_ps=0.02,
                               box_A=BOX, timestep_ps=0.002, metadata={"temperature_K": 300.0},
                               **kw)
    for i in range(len(pos)):
        w.append(1000 + 10 * i, pos[i], vel[i])
    return w


def test_round_trip_is_exact_and_memory_mapped(tmp_path):
    pos, vel = _frames()
    _write(tmp_path / "t.nc", pos, vel).close()
    assert detect_format(tmp_path / "t.nc") == "netcdf"
    for mmap in (True, False):
        t = read_netcdf_trajectory(tmp_path / "t.nc", mmap=mmap)
        assert np.array_equal(t.positions, pos) and np.array_equal(t.velocities, vel)
        assert t.elements.tolist() == ELEMENTS and t.masses_amu[2] == pytest.approx(30.974, 1e-4)
        assert t.steps.tolist() == [1000, 1010, 1020, 1030, 1040] and t.dt_ps == 0.02
        np.testing.assert_allclose(t.box_A, BOX, rtol=0, atol=1e-12)
        assert t.metadata["temperature_K"] == 300.0 and t.metadata["timestep_ps"] == 0.002
    mapped = read_netcdf_trajectory(tmp_path / "t.nc").positions
    assert isinstance(mapped.base, np.ndarray) or mapped.base is not None  # a view, not a copy
    assert not mapped.flags.writeable and mapped.dtype.byteorder == ">"
    # a frame selection reads only those frames; the spacing follows
    t = load_trajectory(tmp_path / "t.nc", frames=slice(1, None, 2))
    assert t.steps.tolist() == [1010, 1030] and t.dt_ps == pytest.approx(0.04)
    assert np.array_equal(t.positions, pos[1::2])


def test_cell_lengths_and_angles_round_trip():
    lengths, angles = lengths_angles_from_cell(BOX)
    np.testing.assert_allclose(cell_from_lengths_angles(lengths, angles), BOX, atol=1e-12)
    ortho = np.diag([10.0, 11.0, 12.0])
    la = lengths_angles_from_cell(ortho)
    assert la[1].tolist() == [90.0, 90.0, 90.0]
    assert np.array_equal(cell_from_lengths_angles(*la), ortho)  # exact zeros off the diagonal


def test_other_readers_open_it_with_elements(tmp_path):
    """scipy, MDAnalysis (with the PDB topology), ASE (through netCDF4) and the NetCDF C
    library read the same numbers and elements."""
    import MDAnalysis as mda
    import scipy.io

    pos, vel = _frames()
    _write(tmp_path / "t.nc", pos, vel).close()
    write_pdb_topology(tmp_path / "t.pdb", ELEMENTS, pos[0], BOX)
    with scipy.io.netcdf_file(tmp_path / "t.nc", mmap=False) as f:
        assert f.Conventions == b"AMBER" and f.ConventionVersion == b"1.0"
        assert np.array_equal(f.variables["coordinates"].data, pos)
        assert f.variables["Z"].data.tolist() == [29, 29, 15, 16, 16, 16]
        assert f.variables["time"].units == b"picosecond"
        np.testing.assert_allclose(f.variables["time"].data, 2.0 + 0.02 * np.arange(5))
    u = mda.Universe(str(tmp_path / "t.pdb"), str(tmp_path / "t.nc"))
    assert u.atoms.elements.tolist() == ELEMENTS and len(u.trajectory) == 5
    assert u.trajectory.dt == pytest.approx(0.02)
    u.trajectory[3]
    np.testing.assert_allclose(u.atoms.positions, pos[3], atol=1e-5)  # MDAnalysis keeps float32
    np.testing.assert_allclose(u.atoms.velocities, vel[3], atol=1e-5)
    np.testing.assert_allclose(u.dimensions[:3], np.linalg.norm(BOX, axis=1), rtol=1e-6)

    netCDF4 = pytest.importorskip("netCDF4", reason="ASE's NetCDF reader needs netCDF4")
    import ase.io

    images = ase.io.read(tmp_path / "t.nc", index=":", format="netcdftrajectory")
    assert len(images) == 5 and images[2].get_chemical_symbols() == ELEMENTS
    np.testing.assert_allclose(images[2].positions, pos[2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(images[2].cell[:], BOX, atol=1e-10)
    assert images[4].info["step"] == 1040
    with netCDF4.Dataset(tmp_path / "t.nc") as d:  # the reference C library's own checks
        assert d.data_model == "NETCDF3_64BIT_OFFSET" and d.dimensions["frame"].size == 5


def test_appending_after_reopen_and_truncating(tmp_path):
    pos, vel = _frames(8)
    w = _write(tmp_path / "t.nc", pos[:5], vel[:5], overwrite=True)
    w.close()
    with pytest.raises(InputError, match="exists already"):
        _write(tmp_path / "t.nc", pos[:1], vel[:1])
    w = NetCDFTrajectoryWriter(tmp_path / "t.nc", len(ELEMENTS), elements=ELEMENTS,
                               masses_amu=[mass_of(e) for e in ELEMENTS], dt_ps=0.02, box_A=BOX,
                               append=True, timestep_ps=0.002)
    assert w.n_frames == 5
    w.truncate(3)
    for i in range(3, 8):
        w.append(1000 + 10 * i, pos[i], vel[i])
    w.close()
    t = read_netcdf_trajectory(tmp_path / "t.nc")
    assert t.steps.tolist() == list(range(1000, 1080, 10)) and np.array_equal(t.positions, pos)
    with pytest.raises(InputError, match="different system"):
        NetCDFTrajectoryWriter(tmp_path / "t.nc", len(ELEMENTS), elements=ELEMENTS[::-1],
                               masses_amu=np.ones(6), dt_ps=0.02, box_A=BOX, append=True)


def test_a_crash_while_appending_loses_at_most_the_frame_being_written(tmp_path):
    pos, vel = _frames(4)
    path = tmp_path / "t.nc"
    _write(path, pos, vel).close()
    full = path.read_bytes()
    rsize = (len(full) - read_netcdf_header(path).begin_rec) // 4
    # killed after writing half a record: the header still counts 4 frames
    path.write_bytes(full + full[-rsize:][: rsize // 2])
    with pytest.warns(UserWarning, match="bytes after the last counted frame"):
        t = read_netcdf_trajectory(path)
    assert t.n_frames == 4
    # killed after a whole record but before the count was updated: the same
    path.write_bytes(full + full[-rsize:])
    with pytest.warns(UserWarning, match="using the 4 complete frames"):
        assert read_netcdf_trajectory(path).n_frames == 4
    with pytest.warns(UserWarning, match="cut off"):
        w = NetCDFTrajectoryWriter(path, 6, elements=ELEMENTS, masses_amu=np.ones(6),
                                   dt_ps=0.02, box_A=BOX, append=True)
    assert w.n_frames == 4 and path.stat().st_size == len(full)
    w.close()
    # cut short (a file cut back by a resume): the header counts more frames than it holds
    path.write_bytes(full[: len(full) - rsize - 10])
    with pytest.warns(UserWarning, match="counts 4 frames but the file holds 2"):
        assert read_netcdf_trajectory(path).n_frames == 2
    w = NetCDFTrajectoryWriter(path, 6, elements=ELEMENTS, masses_amu=np.ones(6), dt_ps=0.02,
                               box_A=BOX, append=True)
    w.close()
    assert read_netcdf_header(path).numrecs == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_netcdf_trajectory(path).n_frames == 2


def test_integrity_records_ignore_the_record_count_only(tmp_path):
    pos, vel = _frames(6)
    path = tmp_path / "t.nc"
    w = _write(path, pos[:3], vel[:3], overwrite=True)
    w.flush()
    rec = extend_record(path, None)
    assert rec["volatile"] == [[4, 8]]
    for i in range(3, 6):  # appending rewrites the count in the header
        w.append(2000 + i, pos[i], vel[i])
    w.flush()
    assert record_problem(path, rec) is None
    rec2 = extend_record(path, rec)
    assert len(rec2["segments"]) == 2 and record_problem(path, rec2) is None
    w.close()
    with open(path, "r+b") as fh:  # any other byte of the header is guarded
        fh.seek(9)
        fh.write(b"\xff")
    assert "was altered: bytes 0-" in record_problem(path, rec2)


def test_other_programs_files_types_ids_float32(tmp_path):
    """A NetCDF-3 file as LAMMPS's dump netcdf writes it (float coordinates, per-frame ids in
    any order, LAMMPS types instead of atomic numbers), written here with scipy."""
    import scipy.io

    rng = np.random.default_rng(3)
    n, nf = 4, 3
    pos = rng.uniform(0, 9, size=(nf, n, 3)).astype(np.float32)
    ids = np.array([[3, 1, 4, 2], [1, 2, 3, 4], [4, 3, 2, 1]])
    types = np.where(ids <= 2, 1, 2)
    path = tmp_path / "lammps.nc"
    with scipy.io.netcdf_file(path, "w", version=2) as f:
        f.Conventions = "AMBER"
        f.ConventionVersion = "1.0"
        f.createDimension("frame", None)
        f.createDimension("atom", n)
        f.createDimension("spatial", 3)
        f.createDimension("cell_spatial", 3)
        f.createDimension("cell_angular", 3)
        v = f.createVariable("time", "f", ("frame",))
        v.units = "picosecond"
        v[:] = [0.0, 0.5, 1.0]
        for name, units, vals in (("cell_lengths", "angstrom", [9.0, 9.0, 9.0]),
                                  ("cell_angles", "degree", [90.0, 90.0, 90.0])):
            v = f.createVariable(name, "d", ("frame", "cell_" + ("spatial" if "len" in name
                                                                   else "angular")))
            v.units = units
            v[:] = np.tile(vals, (nf, 1))
        v = f.createVariable("coordinates", "f", ("frame", "atom", "spatial"))
        v.units = "angstrom"
        v[:] = pos
        f.createVariable("id", "i", ("frame", "atom"))[:] = ids
        f.createVariable("type", "i", ("frame", "atom"))[:] = types
    with pytest.raises(InputError, match="no atomic numbers.*--types"):
        load_trajectory(path)
    t = load_trajectory(path, types="1=Cu,2=S")
    assert t.elements.tolist() == ["Cu", "Cu", "S", "S"] and t.ids.tolist() == [1, 2, 3, 4]
    for f_ in range(nf):
        order = np.argsort(ids[f_])
        np.testing.assert_allclose(t.positions[f_], pos[f_][order].astype(float), atol=1e-6)
    assert t.dt_ps == pytest.approx(0.5) and t.positions.dtype == np.float64


# -- the EMD driver's trajectory -----------------------------------------------------------

def argon(out, **kw):
    base = dict(structure=str(CIF), potential=lj_argon(), output_dir=str(out),
                replicate=(3, 3, 3), temperature_K=50.0, timestep_fs=5.0, seed=321,
                equilibration_ps=1.0, production_ensemble="nve", production_ps=2.0,
                dump_every_fs=100.0, thermo_every_fs=50.0, checkpoint_every_ps=0.5)
    base.update(kw)
    return EMDConfig(**base)


def run(config, **kw):
    from mdargy.drivers import run_emd

    return run_emd(config, progress=False, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    return run(argon(out)), out


def test_emd_trajectory_opens_in_mdanalysis_and_ase_with_elements(reference):
    import MDAnalysis as mda

    res, out = reference
    assert Path(res.trajectory_path).name == "traj.nc"
    ours = load_trajectory(out / "traj.nc")
    u = mda.Universe(str(out / "traj.pdb"), str(out / "traj.nc"))
    assert set(u.atoms.elements) == {"Ar"} and len(u.atoms) == 108
    assert len(u.trajectory) == ours.n_frames == 21
    u.trajectory[-1]
    np.testing.assert_allclose(u.atoms.positions, ours.positions[-1], atol=1e-4)
    np.testing.assert_allclose(u.atoms.velocities, ours.velocities[-1], atol=1e-5)
    assert u.trajectory.time == pytest.approx(float(json.loads(
        (out / "metadata.json").read_text())["trajectory"]["first_frame_step"]) * 0.005 + 2.0)
    pytest.importorskip("netCDF4", reason="ASE's NetCDF reader needs netCDF4")
    import ase.io

    last = ase.io.read(out / "traj.nc", index=-1, format="netcdftrajectory")
    assert set(last.get_chemical_symbols()) == {"Ar"}
    np.testing.assert_allclose(last.positions, ours.positions[-1], atol=1e-12)
    # the text dump: elements for ASE, the same LAMMPS steps and times as the NetCDF file
    frames = ase.io.read(out / "traj.lammpstrj", index=":", format="lammps-dump-text")
    assert len(frames) == 21 and set(frames[0].get_chemical_symbols()) == {"Ar"}
    dump = load_trajectory(out / "traj.lammpstrj")
    assert dump.steps.tolist() == ours.steps.tolist() and dump.dt_ps == pytest.approx(0.1)
    assert dump.metadata["units"] == "metal"


def test_analysis_of_a_run_checks_its_trajectory(reference, tmp_path):
    """load_trajectory verifies traj.nc against the run's last checkpoint."""
    import shutil

    _, out = reference
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    data = (copy / "traj.nc").read_bytes()
    (copy / "traj.nc").write_bytes(data[:-5000])
    with pytest.raises(InputError, match="traj.nc was truncated"):
        load_trajectory(copy / "traj.nc")


def test_resume_after_frames_written_past_the_checkpoint(tmp_path, monkeypatch, reference):
    """A kill between checkpoints leaves frames (and a larger record count in the header)
    after the checkpoint: the resume accepts the count, cuts the frames and repeats them."""
    _, ref = reference
    out = tmp_path / "r"
    monkeypatch.setenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS", "4")
    with pytest.raises(KeyboardInterrupt):
        run(argon(out))
    monkeypatch.delenv("MDARGY_TEST_STOP_AFTER_CHECKPOINTS")
    st = json.loads((out / "checkpoints" / "state.json").read_text())
    n0 = read_netcdf_header(out / "traj.nc").numrecs
    w = NetCDFTrajectoryWriter(out / "traj.nc", 108, elements=["Ar"] * 108,
                               masses_amu=[39.948] * 108, dt_ps=0.1, box_A=np.eye(3) * 16,
                               append=True, timestep_ps=0.005)
    for k in range(2):  # frames the killed run wrote after its last checkpoint
        w.append(99999 + k, np.zeros((108, 3)), np.zeros((108, 3)))
    w.close()
    with open(out / "traj.lammpstrj", "ab") as fh:
        fh.write(b"ITEM: TIME\n123\nITEM: TIMESTEP\n99999\n")  # and a frame cut short
    assert read_netcdf_header(out / "traj.nc").numrecs == n0 + 2
    assert st["outputs"]["traj.nc"]["volatile"] == [[4, 8]]
    run(argon(out))
    a, b = (read_netcdf_trajectory(d / "traj.nc") for d in (ref, out))
    assert b.steps.tolist() == a.steps.tolist()
    assert np.array_equal(b.positions, a.positions) and np.array_equal(b.velocities, a.velocities)
    assert (out / "traj.lammpstrj").read_bytes() == (ref / "traj.lammpstrj").read_bytes()
    assert (out / "traj.pdb").read_bytes() == (ref / "traj.pdb").read_bytes()


def test_old_runs_keep_their_binary_trajectory(reference, tmp_path):
    """A finished run from before NetCDF (traj.mdtraj) stays readable, and so does its folder
    through io.runmeta.run_trajectory."""
    from mdargy.io.binary import BinaryTrajectoryWriter
    from mdargy.io.runmeta import run_trajectory

    _, out = reference
    t = load_trajectory(out / "traj.nc")
    old = tmp_path / "old"
    old.mkdir()
    with BinaryTrajectoryWriter(old / "traj.mdtraj", 108, elements=list(t.elements),
                                masses_amu=t.masses_amu, dt_ps=t.dt_ps, box_A=t.box_A) as w:
        for i in range(t.n_frames):
            w.append(int(t.steps[i]), t.positions[i], t.velocities[i])
    assert run_trajectory(old) == old / "traj.mdtraj" and run_trajectory(out) == out / "traj.nc"
    b = load_trajectory(run_trajectory(old))
    assert np.array_equal(b.positions, t.positions) and b.dt_ps == t.dt_ps
    with pytest.raises(InputError, match="no traj.nc"):
        run_trajectory(tmp_path)


def test_writer_never_writes_through_a_symlink(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep\n")
    (tmp_path / "t.nc").symlink_to(target)
    for kw in (dict(overwrite=True), dict(append=True)):
        with pytest.raises(InputError, match="symbolic link"):
            NetCDFTrajectoryWriter(tmp_path / "t.nc", 1, elements=["Ar"], masses_amu=[40.0],
                                   dt_ps=0.1, box_A=[9, 9, 9], **kw)
    assert target.read_text() == "keep\n"


def test_the_record_count_is_big_endian_at_byte_4(tmp_path):
    pos, vel = _frames(3)
    _write(tmp_path / "t.nc", pos, vel).close()
    head = (tmp_path / "t.nc").read_bytes()[:8]
    assert head[:4] == b"CDF\x02" and struct.unpack(">i", head[4:8])[0] == 3
    assert os.path.getsize(tmp_path / "t.nc") % 8 == 0
