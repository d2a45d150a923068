"""Runs that never lie: analyses check the frames they are given (spacing, atom identity,
cell), through the loaders every analysis uses."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from mdargy.errors import InputError
from mdargy.io.binary import BinaryTrajectoryWriter
from mdargy.io.trajectory import load_trajectory

ROOT = Path(__file__).resolve().parent.parent
PY = [sys.executable, "-m", "mdargy"]
L = 12.0


def lattice(n_side=4, seed=0, frames=20, sigma=0.05):
    """Atoms vibrating about an fcc-like lattice: frames (nf, n, 3), no diffusion."""
    rng = np.random.default_rng(seed)
    g = (np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
         * (L / n_side))
    return g[None] + sigma * rng.standard_normal((frames, len(g), 3))


def write_binary(path, pos, steps, dt_ps=0.1, timestep_ps=0.001, boxes=None):
    n = pos.shape[1]
    with BinaryTrajectoryWriter(path, n, elements=["Ar"] * n, masses_amu=[39.948] * n,
                                dt_ps=dt_ps, box_A=[L, L, L], has_velocities=True,
                                timestep_ps=timestep_ps) as w:
        for i, s in enumerate(steps):
            w.append(s, pos[i], np.zeros_like(pos[i]), box_A=None if boxes is None else boxes[i])


def write_dump(path, pos, types, ids_per_frame=None, order=None, steps=None):
    nf, n, _ = pos.shape
    with open(path, "w") as fh:
        for f in range(nf):
            ids = np.arange(1, n + 1) if ids_per_frame is None else ids_per_frame[f]
            rows = np.arange(n) if order is None else order[f]
            fh.write(f"ITEM: TIMESTEP\n{100 * f if steps is None else steps[f]}\n"
                     f"ITEM: NUMBER OF ATOMS\n{n}\n"
                     f"ITEM: BOX BOUNDS pp pp pp\n0 {L}\n0 {L}\n0 {L}\nITEM: ATOMS id type xu yu zu\n")
            for r in rows:
                fh.write(f"{ids[r]} {types[r]} {pos[f, r, 0]:.8f} {pos[f, r, 1]:.8f} "
                         f"{pos[f, r, 2]:.8f}\n")


# -- spacing from the file's steps ------------------------------------------------------------
def test_binary_gap_is_refused(tmp_path):
    pos = lattice()
    steps = [100 * i for i in range(20)]
    del steps[7]  # one frame missing: a jump of 200 steps
    write_binary(tmp_path / "t.mdtraj", pos[:19], steps)
    with pytest.raises(InputError, match="not evenly spaced.*frame 7, step 800 after step 600"):
        load_trajectory(tmp_path / "t.mdtraj")
    # --timestep-fs does not turn the refusal into a warning
    with pytest.raises(InputError, match="not evenly spaced"):
        load_trajectory(tmp_path / "t.mdtraj", timestep_fs=1.0)
    # an evenly spaced selection is accepted
    t = load_trajectory(tmp_path / "t.mdtraj", frames=slice(0, 7))
    assert t.n_frames == 7 and t.dt_ps == pytest.approx(0.1)


def test_msd_cli_refuses_a_gap_with_non_zero_exit(tmp_path):
    pos = lattice()
    steps = [100 * i for i in range(10)] + [100 * i + 3000 for i in range(10, 20)]
    write_binary(tmp_path / "t.mdtraj", pos, steps)
    r = subprocess.run(PY + ["msd", str(tmp_path / "t.mdtraj"), "-o", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "not evenly spaced" in r.stderr
    assert not (tmp_path / "o" / "msd.json").exists()


def test_spacing_comes_from_steps_not_a_wrong_header(tmp_path):
    pos = lattice()
    write_binary(tmp_path / "t.mdtraj", pos, [200 * i for i in range(20)], dt_ps=0.1,
                 timestep_ps=0.001)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        t = load_trajectory(tmp_path / "t.mdtraj")
    assert t.dt_ps == pytest.approx(0.2)
    assert any("give 0.2 ps between frames but its header says 0.1 ps" in w for w in t.warnings)


# -- atoms matched by id ----------------------------------------------------------------------
def test_shuffled_atom_order_is_corrected(tmp_path):
    pos = lattice(frames=6)
    n = pos.shape[1]
    types = np.where(np.arange(n) % 4 == 0, 2, 1)
    write_dump(tmp_path / "a.lammpstrj", pos, types)
    rng = np.random.default_rng(3)
    write_dump(tmp_path / "b.lammpstrj", pos, types,
               order=[rng.permutation(n) for _ in range(6)])
    kw = dict(types="1=Ar,2=Kr", timestep_fs=1.0)
    a = load_trajectory(tmp_path / "a.lammpstrj", **kw)
    b = load_trajectory(tmp_path / "b.lammpstrj", **kw)
    np.testing.assert_array_equal(a.positions, b.positions)


def test_ids_swapped_between_species_are_refused(tmp_path):
    pos = lattice(frames=6)
    n = pos.shape[1]
    types = np.where(np.arange(n) % 4 == 0, 2, 1)
    ids = [np.arange(1, n + 1) for _ in range(6)]
    for f in range(3, 6):  # from frame 3 on, atoms 1 (type 2) and 2 (type 1) swap ids
        ids[f] = ids[f].copy()
        ids[f][[0, 1]] = ids[f][[1, 0]]
    write_dump(tmp_path / "s.lammpstrj", pos, types, ids_per_frame=ids)
    with pytest.raises(InputError, match="frame 3 \\(step 300\\): atom id 1 has type 1, in "
                       "frame 0 type 2: the atom ids were reassigned"):
        load_trajectory(tmp_path / "s.lammpstrj", types="1=Ar,2=Kr", timestep_fs=1.0)


def test_ids_swapped_within_a_species_are_refused(tmp_path):
    pos = lattice(frames=8)
    n = pos.shape[1]
    ids = [np.arange(1, n + 1) for _ in range(8)]
    far = int(np.argmax(np.linalg.norm(pos[0] - pos[0, 0], axis=1)))
    for f in range(4, 8):
        ids[f] = ids[f].copy()
        ids[f][[0, far]] = ids[f][[far, 0]]
    write_dump(tmp_path / "s.lammpstrj", pos, np.ones(n, int), ids_per_frame=ids)
    with pytest.raises(InputError, match="atom id 1 moves .* between frame 3 \\(step 300\\) and "
                       "frame 4"):
        load_trajectory(tmp_path / "s.lammpstrj", types="1=Ar", timestep_fs=1.0)


def test_diffusing_atoms_with_sparse_frames_are_not_refused(tmp_path):
    """A liquid sampled rarely moves atoms far between frames, but all of them: no refusal."""
    rng = np.random.default_rng(5)
    n, nf = 64, 10
    pos = np.cumsum(rng.normal(0, 4.0, (nf, n, 3)), axis=0)
    write_dump(tmp_path / "liq.lammpstrj", pos, np.ones(n, int))
    t = load_trajectory(tmp_path / "liq.lammpstrj", types="1=Ar", timestep_fs=1.0)
    assert t.n_frames == nf


# -- a changing cell --------------------------------------------------------------------------
def test_changing_cell_is_warned_with_numbers(tmp_path):
    pos = lattice()
    boxes = [np.eye(3) * L * (1 + 0.01 * np.sin(i)) for i in range(20)]
    write_binary(tmp_path / "npt.mdtraj", pos, [100 * i for i in range(20)], boxes=boxes)
    with pytest.warns(UserWarning, match="the cell changes during the trajectory"):
        t = load_trajectory(tmp_path / "npt.mdtraj")
    w = next(w for w in t.warnings if "cell changes" in w)
    assert "volume" in w and "%" in w and "A^3" in w


def test_a_real_run_loads_without_complaint(tmp_path):
    from mdargy.drivers import run_emd
    from mdargy.drivers.config import EMDConfig
    from mdargy.potentials.spec import lj_argon

    cfg = EMDConfig(structure=str(ROOT / "inputs" / "examples" / "Ar_fcc.cif"),
                    potential=lj_argon(), output_dir=str(tmp_path / "r"), replicate=(2, 2, 2),
                    temperature_K=50.0, timestep_fs=5.0, equilibration_ps=0.0,
                    production_ps=0.5, dump_every_fs=50.0, thermo_every_fs=50.0,
                    checkpoint_every_ps=0.25)
    run_emd(cfg, progress=False)
    for name in ("traj.nc", "traj.lammpstrj"):
        t = load_trajectory(tmp_path / "r" / name)
        assert t.n_frames == 11 and t.dt_ps == pytest.approx(0.05) and not t.warnings


def test_binary_writer_never_writes_through_a_symlink(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep\n")
    (tmp_path / "t.mdtraj").symlink_to(target)
    for kw in (dict(overwrite=True), dict(append=True)):
        with pytest.raises(InputError, match="symbolic link"):
            BinaryTrajectoryWriter(tmp_path / "t.mdtraj", 1, elements=["Ar"], masses_amu=[40.0],
                                   dt_ps=0.1, box_A=[L, L, L], **kw)
    assert target.read_text() == "keep\n"
