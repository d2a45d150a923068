"""mdargy's binary trajectory format: round trips, resume (append/truncate), damaged files."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mdargy.errors import InputError
from mdargy.io.binary import (
    MAGIC,
    BinaryTrajectoryWriter,
    read_binary_trajectory,
    read_header,
    record_dtype,
)

ELEMENTS = ["Cu", "Cu", "Cu", "P", "S", "S"]
MASSES = [63.546, 63.546, 63.546, 30.974, 32.06, 32.06]


def _frames(n_frames=7, n_atoms=6, seed=1):
    rng = np.random.default_rng(seed)
    pos = np.cumsum(rng.normal(scale=0.3, size=(n_frames, n_atoms, 3)), axis=0) * np.pi
    vel = rng.normal(size=(n_frames, n_atoms, 3))
    return pos, vel


def _write(path, pos, vel=None, steps=None, boxes=None, **kw):
    n_frames, n_atoms = pos.shape[:2]
    steps = np.arange(n_frames) * 10 if steps is None else steps
    opts = dict(elements=ELEMENTS[:n_atoms], masses_amu=MASSES[:n_atoms], dt_ps=0.01,
                box_A=[10.0, 11.0, 12.0], has_velocities=vel is not None)
    opts.update(kw)
    with BinaryTrajectoryWriter(path, n_atoms, **opts) as w:
        for i in range(n_frames):
            w.append(steps[i], pos[i], None if vel is None else vel[i],
                     box_A=None if boxes is None else boxes[i])
        assert w.n_frames == n_frames
    return path


@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip_is_bit_exact(tmp_path, mmap):
    pos, vel = _frames()
    path = _write(tmp_path / "t.mdtraj", pos, vel, timestep_ps=0.001,
                  metadata={"T_K": 300.0, "seed": 7})
    t = read_binary_trajectory(path, mmap=mmap)
    assert np.array_equal(t.positions, pos) and np.array_equal(t.velocities, vel)
    assert t.positions.dtype == np.float64
    assert list(t.elements) == ELEMENTS
    assert np.array_equal(t.masses_amu, MASSES)
    assert t.dt_ps == 0.01 and np.array_equal(t.steps, np.arange(7) * 10)
    assert np.array_equal(t.box_A, np.diag([10.0, 11.0, 12.0]))
    assert t.metadata["T_K"] == 300.0 and t.metadata["timestep_ps"] == 0.001
    assert t.warnings == ()
    if mmap:  # a view of the file, not a copy
        assert not t.positions.flags.writeable


def test_layout_matches_the_documented_format(tmp_path):
    pos, vel = _frames(3, 6)
    path = _write(tmp_path / "t.mdtraj", pos, vel)
    raw = path.read_bytes()
    magic, version, _, hlen = struct.unpack("<8sIIQ", raw[:24])
    assert magic == MAGIC == b"MDARGYTJ" and version == 1
    header = json.loads(raw[24:24 + hlen])
    assert (24 + hlen) % 64 == 0
    assert header["n_atoms"] == 6 and header["units"]["velocities"] == "angstrom/ps"
    rsize = 8 + 72 + 2 * 24 * 6
    assert record_dtype(6, True).itemsize == rsize
    assert len(raw) == 24 + hlen + 3 * rsize
    # the second frame's positions sit where the format says
    off = 24 + hlen + rsize
    assert struct.unpack("<q", raw[off:off + 8])[0] == 10
    first = np.frombuffer(raw[off + 80:off + 80 + 8 * 18], dtype="<f8").reshape(6, 3)
    assert np.array_equal(first, pos[1])


def test_positions_only_and_frame_selection(tmp_path):
    pos, _ = _frames(10, 4)
    path = _write(tmp_path / "p.mdtraj", pos)
    t = read_binary_trajectory(path)
    assert t.velocities is None
    s = read_binary_trajectory(path, mmap=False, frames=slice(1, None, 3))
    assert np.array_equal(s.positions, pos[1::3]) and np.array_equal(s.steps, [10, 40, 70])
    assert s.dt_ps == pytest.approx(0.03)


def test_per_frame_box_is_kept(tmp_path):
    pos, vel = _frames(4, 6)
    boxes = np.array([np.diag([10.0 + i, 10.0, 10.0]) for i in range(4)])
    t = read_binary_trajectory(_write(tmp_path / "npt.mdtraj", pos, vel, boxes=boxes))
    assert t.box_A.shape == (4, 3, 3) and np.array_equal(t.box_A, boxes)


def test_truncated_last_frame_warns_and_keeps_complete_frames(tmp_path):
    pos, vel = _frames(5, 6)
    path = _write(tmp_path / "t.mdtraj", pos, vel)
    size = path.stat().st_size
    with open(path, "r+b") as fh:  # a run killed in the middle of writing frame 5
        fh.truncate(size - 100)
    with pytest.warns(UserWarning, match="truncated"):
        t = read_binary_trajectory(path)
    assert t.n_frames == 4 and np.array_equal(t.positions, pos[:4])
    assert any("truncated" in w for w in t.warnings)


def test_resume_truncate_and_append(tmp_path):
    pos, vel = _frames(8, 6)
    path = _write(tmp_path / "t.mdtraj", pos[:6], vel[:6])
    with open(path, "ab") as fh:  # crash debris after the last complete frame
        fh.write(b"\0" * 33)
    with pytest.warns(UserWarning, match="partial"):
        w = BinaryTrajectoryWriter(path, 6, elements=ELEMENTS, masses_amu=MASSES, dt_ps=0.01,
                                   box_A=[10, 11, 12], append=True)
    assert w.n_frames == 6
    w.truncate(4)  # the checkpoint was taken after frame 4
    for i in (4, 5, 6, 7):
        w.append(10 * i, pos[i], vel[i])
    w.close()
    t = read_binary_trajectory(path)
    assert t.warnings == ()
    assert np.array_equal(t.positions, pos) and np.array_equal(t.steps, np.arange(8) * 10)
    with pytest.raises(InputError, match="truncate"):
        BinaryTrajectoryWriter(path, 6, elements=ELEMENTS, masses_amu=MASSES, dt_ps=0.01,
                               box_A=[10, 11, 12], append=True).truncate(9)


def test_existing_file_is_not_overwritten_silently(tmp_path):
    pos, vel = _frames(2, 6)
    path = _write(tmp_path / "t.mdtraj", pos, vel)
    before = path.read_bytes()
    with pytest.raises(InputError, match="exists") as exc:
        BinaryTrajectoryWriter(path, 6, elements=ELEMENTS, masses_amu=MASSES, dt_ps=0.01,
                               box_A=[10, 11, 12])
    assert str(path) in str(exc.value) and path.read_bytes() == before
    with pytest.raises(InputError, match="different system"):
        BinaryTrajectoryWriter(path, 5, elements=ELEMENTS[:5], masses_amu=MASSES[:5],
                               dt_ps=0.01, box_A=[10, 11, 12], append=True)
    assert path.read_bytes() == before
    _write(path, pos[:1], vel[:1], overwrite=True)
    assert read_binary_trajectory(path).n_frames == 1


def test_writer_rejects_bad_frames(tmp_path):
    w = BinaryTrajectoryWriter(tmp_path / "t.mdtraj", 6, elements=ELEMENTS, masses_amu=MASSES,
                               dt_ps=0.01, box_A=[10, 11, 12])
    with pytest.raises(InputError, match="shape"):
        w.append(0, np.zeros((5, 3)), np.zeros((5, 3)))
    with pytest.raises(InputError, match="velocities"):
        w.append(0, np.zeros((6, 3)))
    w.close()
    with pytest.raises(InputError, match="closed"):
        w.append(0, np.zeros((6, 3)), np.zeros((6, 3)))
    with pytest.raises(InputError, match="one element"):
        BinaryTrajectoryWriter(tmp_path / "u.mdtraj", 6, elements=ELEMENTS[:2],
                               masses_amu=MASSES, dt_ps=0.01, box_A=[1, 1, 1])


def test_bad_files_name_the_file(tmp_path):
    missing = tmp_path / "nope.mdtraj"
    with pytest.raises(InputError, match="no such") as exc:
        read_binary_trajectory(missing)
    assert str(missing) in str(exc.value)
    junk = tmp_path / "junk.mdtraj"
    junk.write_bytes(b"this is not a trajectory at all, just text" * 3)
    with pytest.raises(InputError, match="not an mdargy binary trajectory") as exc:
        read_binary_trajectory(junk)
    assert str(junk) in str(exc.value)
    bad_header = tmp_path / "badheader.mdtraj"
    bad_header.write_bytes(struct.pack("<8sIIQ", MAGIC, 1, 0, 10) + b"{not json}")
    with pytest.raises(InputError, match="JSON"):
        read_header(bad_header)
    newer = tmp_path / "newer.mdtraj"
    newer.write_bytes(struct.pack("<8sIIQ", MAGIC, 99, 0, 2) + b"{}")
    with pytest.raises(InputError, match="newer"):
        read_header(newer)
    empty = tmp_path / "empty.mdtraj"
    BinaryTrajectoryWriter(empty, 6, elements=ELEMENTS, masses_amu=MASSES, dt_ps=0.01,
                           box_A=[10, 11, 12]).close()
    with pytest.raises(InputError, match="no complete frame") as exc:
        read_binary_trajectory(empty)
    assert str(empty) in str(exc.value)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_atoms=st.integers(1, 9), n_frames=st.integers(1, 6), velocities=st.booleans(),
       seed=st.integers(0, 2**32 - 1), cut=st.integers(1, 200))
def test_any_shape_round_trips_and_any_cut_keeps_whole_frames(tmp_path, n_atoms, n_frames,
                                                              velocities, seed, cut):
    rng = np.random.default_rng(seed)
    pos = rng.normal(scale=1e3, size=(n_frames, n_atoms, 3))
    vel = rng.normal(size=(n_frames, n_atoms, 3)) if velocities else None
    path = tmp_path / f"h{seed}_{n_atoms}_{n_frames}_{velocities}.mdtraj"
    elements = (["Cu", "P", "S"] * 3)[:n_atoms]
    with BinaryTrajectoryWriter(path, n_atoms, elements=elements, masses_amu=[1.0] * n_atoms,
                                dt_ps=0.5, box_A=[3, 4, 5], has_velocities=velocities,
                                overwrite=True) as w:
        for i in range(n_frames):
            w.append(i, pos[i], None if vel is None else vel[i])
    t = read_binary_trajectory(path, mmap=bool(seed % 2))
    assert np.array_equal(t.positions, pos)
    assert (t.velocities is None) == (vel is None)
    if vel is not None:
        assert np.array_equal(t.velocities, vel)
    # cut the file anywhere inside the last frame: the complete frames survive
    rsize = record_dtype(n_atoms, velocities).itemsize
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.truncate(size - 1 - (cut * 7919) % (rsize - 1))
    if n_frames == 1:
        with pytest.raises(InputError, match="no complete frame"), \
                pytest.warns(UserWarning, match="truncated"):
            read_binary_trajectory(path)
    else:
        with pytest.warns(UserWarning, match="truncated"):
            t = read_binary_trajectory(path)
        assert t.n_frames == n_frames - 1 and np.array_equal(t.positions, pos[:-1])
