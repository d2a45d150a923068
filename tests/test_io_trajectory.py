"""load_trajectory on real LAMMPS output in every supported format, type mapping, time between
frames, and bad input.

One small LAMMPS run (liquid argon, 256 atoms, 300 steps) writes the same frames as text dumps
in several coordinate conventions, DCD, XTC and extxyz, plus a data file; every reader must give
the same unwrapped trajectory, and MDAnalysis must agree with mdargy's native dump reader.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from mdargy.errors import InputError
from mdargy.io.binary import BinaryTrajectoryWriter
from mdargy.io.trajectory import (
    Trajectory,
    detect_format,
    element_from_mass,
    load_trajectory,
    parse_types,
    read_lammps_data_masses,
)

EVERY, STEPS, TIMESTEP_FS = 10, 300, 2.0


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Liquid argon (hot start so atoms cross the periodic boundaries), every output format."""
    from mdargy.lammps.runtime import create_lammps, run_commands

    d = tmp_path_factory.mktemp("argon")
    lmp = create_lammps(load_plugins=False)
    try:
        run_commands(lmp, f"""
            units metal
            atom_style atomic
            lattice fcc 5.26
            region box block 0 4 0 4 0 4
            create_box 1 box
            create_atoms 1 box
            mass 1 39.948
            pair_style lj/cut 8.5
            pair_coeff 1 1 0.0104 3.40
            velocity all create 600.0 4928459 loop geom
            fix nve all nve
            atom_modify sort 20 3.0
            timestep {TIMESTEP_FS / 1000}
            write_data {d}/argon.data
            dump plain all custom {EVERY} {d}/xu_default.dump id type xu yu zu vx vy vz
            dump xu all custom {EVERY} {d}/xu.dump vz id xu type yu vx zu vy
            dump_modify xu format float %.17g
            dump img all custom {EVERY} {d}/images.dump id type x y z ix iy iz
            dump_modify img format float %.17g
            dump wrap all custom {EVERY} {d}/wrapped.dump id type x y z
            dump_modify wrap format float %.17g
            dump atom all atom {EVERY} {d}/atom.dump
            dump_modify atom image yes format line "%d %d %.17g %.17g %.17g %d %d %d"
            dump dcd all dcd {EVERY} {d}/traj.dcd
            dump xyz all extxyz {EVERY} {d}/traj.extxyz
            dump_modify xyz element Ar
            run {STEPS}
            undump dcd
            undump xyz
        """)
    finally:
        lmp.close()
    return d


def _n_frames():
    return STEPS // EVERY + 1


def test_native_reader_agrees_with_mdanalysis_on_a_real_dump(run):
    import MDAnalysis as mda

    t = load_trajectory(run / "xu_default.dump", topology=run / "argon.data",
                        timestep_fs=TIMESTEP_FS)
    assert t.n_frames == _n_frames() and t.n_atoms == 256
    assert set(t.elements) == {"Ar"} and np.allclose(t.masses_amu, 39.948)
    assert t.dt_ps == pytest.approx(EVERY * TIMESTEP_FS / 1000)
    assert np.array_equal(t.steps, np.arange(0, STEPS + 1, EVERY))
    assert t.metadata["dump_interval"] == EVERY
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(run / "argon.data"), str(run / "xu_default.dump"),
                         format="LAMMPSDUMP", atom_style="id type x y z",
                         lammps_coordinate_convention="unwrapped")
    order = np.argsort(u.atoms.ids)
    ref_x = np.array([ts.positions[order] for ts in u.trajectory], dtype=np.float64)
    ref_v = np.array([ts.velocities[order] for ts in u.trajectory], dtype=np.float64)
    # MDAnalysis stores float32: agreement to its precision
    np.testing.assert_allclose(t.positions, ref_x, rtol=2e-7, atol=1e-5)
    np.testing.assert_allclose(t.velocities, ref_v, rtol=2e-7, atol=1e-6)
    # the same dump through mdargy's MDAnalysis adapter (LAMMPS data file as topology)
    via = load_trajectory(run / "xu_default.dump", topology=run / "argon.data",
                          timestep_fs=TIMESTEP_FS, format="mdanalysis")
    assert via.metadata["format"] == "mdanalysis:LAMMPSDUMP" and set(via.elements) == {"Ar"}
    np.testing.assert_allclose(via.positions, t.positions, rtol=2e-7, atol=1e-5)
    assert np.array_equal(via.steps, t.steps) and via.dt_ps == pytest.approx(t.dt_ps)
    # LAMMPS reorders its atoms (spatial sort every 20 steps): the dump is not in id order
    last = (run / "xu_default.dump").read_text().rsplit("ITEM: ATOMS", 1)[1].splitlines()[1:]
    assert [int(r.split()[0]) for r in last] != list(range(1, 257))
    # atoms really moved across the boundaries: unwrapped coordinates leave the box
    L = t.box_A[0, 0]
    assert (t.positions < 0).any() or (t.positions > L).any()


def test_every_coordinate_convention_gives_the_same_trajectory(run):
    ref = load_trajectory(run / "xu.dump", types="1=Ar")
    assert ref.metadata["coordinates"] == "unwrapped"
    img = load_trajectory(run / "images.dump", types={1: "Ar"})
    assert img.metadata["coordinates"] == "wrapped+images"
    atom = load_trajectory(run / "atom.dump", types="1=Ar")
    assert atom.metadata["coordinates"] == "scaled+images"
    with pytest.warns(UserWarning, match="continuity"):
        wrap = load_trajectory(run / "wrapped.dump", types="1=Ar")
    assert any("continuity" in w for w in wrap.warnings)
    for other in (img, atom, wrap):
        np.testing.assert_allclose(other.positions, ref.positions, rtol=0, atol=1e-9)
    assert img.velocities is None and ref.velocities is not None


def _write_xtc(path, traj):
    """XTC of the wrapped coordinates, written by MDAnalysis (LAMMPS's own dump xtc leaves
    its last frame in a buffer until the process exits)."""
    import MDAnalysis as mda

    u = mda.Universe.empty(traj.n_atoms, trajectory=True)
    L = np.diag(traj.box_A)
    with mda.Writer(str(path), traj.n_atoms, precision=5) as w:
        for i in range(traj.n_frames):
            u.atoms.positions = np.mod(traj.positions[i], L)
            u.dimensions = [*L, 90, 90, 90]
            u.trajectory.ts.time = 0.02 * i
            w.write(u)


def test_dcd_xtc_extxyz_through_mdanalysis_and_ase(run, tmp_path):
    ref = load_trajectory(run / "xu.dump", types="1=Ar")
    _write_xtc(tmp_path / "traj.xtc", ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # wrapped coordinates: unwrapped by continuity
        dcd = load_trajectory(run / "traj.dcd", topology=run / "argon.data")
        xtc = load_trajectory(tmp_path / "traj.xtc", topology=run / "argon.data")
        xyz = load_trajectory(run / "traj.extxyz")
    assert dcd.metadata["format"] == "mdanalysis:DCD"
    assert any("continuity" in w for w in dcd.warnings)
    # LAMMPS writes the DCD time step in its own units (MDAnalysis alone reads it as AKMA)
    assert dcd.dt_ps == pytest.approx(EVERY * TIMESTEP_FS / 1000)
    assert np.array_equal(dcd.steps, ref.steps)
    np.testing.assert_allclose(dcd.positions, ref.positions, atol=2e-4)  # float32
    np.testing.assert_allclose(xtc.positions, ref.positions, atol=2e-4)  # 1e-5 nm
    assert xtc.dt_ps == pytest.approx(0.02, rel=1e-6)
    assert list(xyz.elements) == ["Ar"] * 256
    np.testing.assert_allclose(xyz.positions, ref.positions, atol=1e-4)
    np.testing.assert_allclose(xyz.velocities, ref.velocities, atol=1e-4)
    assert xyz.dt_ps == pytest.approx(EVERY * TIMESTEP_FS / 1000)  # from its Time field
    assert np.array_equal(xyz.steps, ref.steps)
    for t in (dcd, xtc, xyz):
        assert t.n_frames == _n_frames() and set(t.elements) == {"Ar"}
    # an XTC whose last frame was cut off by a killed run
    raw = (tmp_path / "traj.xtc").read_bytes()
    (tmp_path / "cut.xtc").write_bytes(raw[:-500])
    with pytest.warns(UserWarning, match="truncated"):
        cut = load_trajectory(tmp_path / "cut.xtc", topology=run / "argon.data")
    assert cut.n_frames == _n_frames() - 1
    np.testing.assert_allclose(cut.positions, ref.positions[:-1], atol=2e-4)


def test_binary_and_metadata_json(tmp_path):
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(5, 3, 3))
    path = tmp_path / "run" / "trajectory.mdtraj"
    with BinaryTrajectoryWriter(path, 3, elements=["Cu", "P", "S"],
                                masses_amu=[63.546, 30.974, 32.06], dt_ps=None,
                                box_A=[5, 5, 5], has_velocities=False) as w:
        for i in range(5):
            w.append(100 * i, pos[i])
    assert detect_format(path) == "mdargy"
    t = load_trajectory(path)
    assert t.dt_ps is None and t.velocities is None
    with pytest.raises(InputError, match="time between frames"):
        t.time_ps
    (path.parent / "metadata.json").write_text(json.dumps(
        {"frame_dt_ps": 0.05, "trajectory": {"binary": "trajectory.mdtraj"}}))
    t = load_trajectory(path)
    assert t.dt_ps == 0.05 and np.allclose(t.time_ps, np.arange(5) * 0.05)
    with pytest.warns(UserWarning, match="using 0.1 ps"):
        t = load_trajectory(path, timestep_fs=1.0)  # the user's 1 fs × 100 steps wins
    assert t.dt_ps == pytest.approx(0.1)
    assert t.species == ("Cu", "P", "S") and list(t.indices("S")) == [2]
    assert isinstance(t, Trajectory) and "3 atoms" in repr(t)


def test_dump_in_an_mdargy_run_directory_uses_its_metadata(tmp_path, run):
    """The EMD driver's text dump: elements and the time between frames from metadata.json."""
    (tmp_path / "traj.dump").write_bytes((run / "xu.dump").read_bytes())
    meta = {"timestep_fs": TIMESTEP_FS, "dump_every": EVERY, "elements_per_type": {"1": "Ar"},
            "trajectory": {"binary": "traj.mdtraj", "lammps_dump": "traj.dump"}}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    t = load_trajectory(tmp_path / "traj.dump")
    assert set(t.elements) == {"Ar"} and t.dt_ps == pytest.approx(EVERY * TIMESTEP_FS / 1000)
    # metadata.json of another trajectory is not used
    meta["trajectory"] = {"binary": "other.mdtraj"}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match="no elements"):
        load_trajectory(tmp_path / "traj.dump")


def test_type_maps_and_data_file_masses(tmp_path, run):
    assert parse_types("1=Cu,2=P,3=S") == {1: "Cu", 2: "P", 3: "S"}
    assert parse_types({"2": "S"}) == {2: "S"}
    for bad in ("1=Cu,2", "1=Xx", "Cu=1", ","):
        with pytest.raises(InputError):
            parse_types(bad)
    assert element_from_mass(63.546) == "Cu" and element_from_mass(30.97) == "P"
    assert element_from_mass(32.06) == "S"
    with pytest.raises(InputError, match="matches no element"):
        element_from_mass(0.3)
    assert read_lammps_data_masses(run / "argon.data") == {1: pytest.approx(39.948)}
    data = tmp_path / "cups.data"
    data.write_text("comment\n\n3 atoms\n3 atom types\n\nMasses\n\n1 63.546  # Cu\n"
                    "2 30.974\n3 32.06\n\nAtoms # atomic\n\n1 1 0 0 0\n2 2 1 1 1\n3 3 2 2 2\n")
    assert read_lammps_data_masses(data) == {1: 63.546, 2: 30.974, 3: 32.06}
    nomass = tmp_path / "nomass.data"
    nomass.write_text("comment\n\n3 atoms\n1 atom types\n\nAtoms # atomic\n\n1 1 0 0 0\n")
    with pytest.raises(InputError, match="no Masses") as exc:
        read_lammps_data_masses(nomass)
    assert str(nomass) in str(exc.value)
    # types given by the user take precedence over the data file
    t = load_trajectory(run / "xu.dump", topology=run / "argon.data", types="1=Kr")
    assert set(t.elements) == {"Kr"}
    with pytest.raises(InputError, match="atom type 1 has no element") as exc:
        load_trajectory(run / "xu.dump", types="2=Cu")
    assert "xu.dump" in str(exc.value)
    with pytest.raises(InputError, match="no elements"):
        load_trajectory(run / "xu.dump")


def test_time_between_frames(run):
    t = load_trajectory(run / "xu.dump", types="1=Ar")
    assert t.dt_ps is None  # a dump has steps but no time step
    t = load_trajectory(run / "xu.dump", types="1=Ar", timestep_fs=2.0)
    assert t.dt_ps == pytest.approx(0.02)
    t = load_trajectory(run / "xu.dump", types="1=Ar", timestep_fs=2.0, frames=slice(0, None, 3))
    assert t.dt_ps == pytest.approx(0.06) and t.n_frames == 11
    t = load_trajectory(run / "xu.dump", types="1=Ar", timestep_fs=1.0, dump_interval=5)
    assert t.dt_ps == pytest.approx(0.005)


def test_truncated_dump_through_the_loader(tmp_path, run):
    text = (run / "xu.dump").read_text()
    cut = tmp_path / "cut.dump"
    cut.write_text(text[: len(text) - 5000])
    with pytest.warns(UserWarning, match="truncated"):
        t = load_trajectory(cut, types="1=Ar", timestep_fs=2.0)
    assert t.n_frames == _n_frames() - 1 and len(t.warnings) == 1


def test_bad_inputs_name_the_file(tmp_path):
    cases = []
    cases.append((tmp_path / "missing.dump", "no such"))
    junk = tmp_path / "junk.bin2"
    junk.write_bytes(bytes(range(256)) * 4)
    cases.append((junk, "unknown trajectory format"))
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    cases.append((empty, "empty"))
    cases.append((tmp_path, "directory"))
    broken = tmp_path / "broken.dcd"
    broken.write_bytes(b"\0" * 300)
    cases.append((broken, "MDAnalysis cannot read it"))
    for path, msg in cases:
        with pytest.raises(InputError, match=msg) as exc:
            load_trajectory(path, types="1=Ar")
        assert str(path) in str(exc.value)
    with pytest.raises(InputError, match="unknown format"):
        load_trajectory(junk, format="pdbx")


def test_h5md_with_velocities_through_mdanalysis(run, tmp_path):
    """H5MD (MDAnalysis writer, h5py): unwrapped positions and velocities come back."""
    import MDAnalysis as mda

    ref = load_trajectory(run / "xu.dump", types="1=Ar")
    u = mda.Universe.empty(ref.n_atoms, trajectory=True, velocities=True)
    u.trajectory.units = {"time": "ps", "length": "Angstrom", "velocity": "Angstrom/ps"}
    L = np.diag(ref.box_A)
    path = tmp_path / "traj.h5md"
    with mda.Writer(str(path), ref.n_atoms, velocities=True, positions=True) as w:
        for i in range(ref.n_frames):
            u.atoms.positions = ref.positions[i]
            u.atoms.velocities = ref.velocities[i]
            u.dimensions = [*L, 90, 90, 90]
            u.trajectory.ts.time = 0.02 * i
            w.write(u)
    h5 = load_trajectory(path, topology=run / "argon.data")
    assert h5.metadata["format"].startswith("mdanalysis")
    assert h5.n_frames == ref.n_frames and set(h5.elements) == {"Ar"}
    np.testing.assert_allclose(h5.positions, ref.positions, atol=1e-4)
    np.testing.assert_allclose(h5.velocities, ref.velocities, rtol=1e-5, atol=1e-4)
