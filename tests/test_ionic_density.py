"""Density grids, symmetry averaging, (hkl) slices and the CUBE writer."""

import numpy as np
import pytest

from mdargy.analysis.density import density_grid, plane_slice, symmetrize_grid
from mdargy.errors import InputError
from mdargy.io.cube import read_cube, write_cube

A = 8.0


def vibrating(sites_frac, reps=(2, 2, 2), n_frames=200, vib=0.25, seed=0):
    rng = np.random.default_rng(seed)
    reps = np.asarray(reps)
    g = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
    frac = ((np.asarray(sites_frac)[None] + g[:, None]) / reps).reshape(-1, 3)
    box = np.diag(reps * A)
    pos = frac @ box
    return pos[None] + rng.normal(scale=vib, size=(n_frames,) + pos.shape), box


def test_density_integral_peak_and_folding():
    sites = [[0.25, 0.25, 0.25], [0.5, 0.0, 0.5]]
    pos, box = vibrating(sites)
    d = density_grid(pos, box, shape=(32, 32, 32), reps=(2, 2, 2), species="Cu")
    # 16 atoms in 8 reference cells: 2 per cell
    assert d.atoms_per_cell == pytest.approx(2.0, rel=1e-12)
    assert np.allclose(d.cell_A, np.eye(3) * A)
    peak = np.unravel_index(np.argmax(d.density_per_A3), d.density_per_A3.shape)
    assert tuple(int(p) for p in peak) in {(8, 8, 8), (16, 0, 16)}
    # Gaussian smoothing keeps the integral
    s = density_grid(pos, box, shape=(32, 32, 32), reps=(2, 2, 2), sigma_A=0.3)
    assert s.atoms_per_cell == pytest.approx(2.0, rel=1e-6)
    assert s.density_per_A3.max() < d.density_per_A3.max()


def test_symmetry_average_over_f43m_fills_the_orbit():
    from mdargy.structures.cu7ps6 import f43m_operations, orbit

    ops = f43m_operations()
    pos, box = vibrating([[0.125, 0.125, 0.125]], reps=(1, 1, 1), n_frames=400)
    d = density_grid(pos, box, shape=(32, 32, 32), ops=ops, sigma_A=0.2)
    assert d.n_symmetry_ops == 96
    assert d.atoms_per_cell == pytest.approx(1.0, rel=1e-6)
    # every image of the 16e-like point (x,x,x) carries the same density
    pts = orbit([0.125, 0.125, 0.125], ops)
    vals = [d.density_per_A3[tuple(np.mod(np.rint(p * 32).astype(int), 32))] for p in pts]
    assert len(pts) == 16 and np.ptp(vals) < 1e-9 * max(vals)
    # averaging twice changes nothing
    assert np.allclose(symmetrize_grid(d.density_per_A3, ops), d.density_per_A3)
    with pytest.raises(InputError, match="not commensurate"):
        symmetrize_grid(np.ones((33, 33, 33)), ops)  # F centring needs even grids


def test_hkl_slice_goes_through_the_right_atoms():
    pos, box = vibrating([[0.0, 0.0, 0.0]], reps=(1, 1, 1), n_frames=500, vib=0.3)
    d = density_grid(pos, box, shape=(40, 40, 40), sigma_A=0.2)
    on = plane_slice(d, (1, 1, 1), offset=0.0, n_pixels=81)
    off = plane_slice(d, (1, 1, 1), offset=0.5, n_pixels=81)
    assert np.allclose(on.normal, np.ones(3) / np.sqrt(3))
    assert abs(on.u @ on.normal) < 1e-12 and abs(on.v @ on.u) < 1e-12
    c = on.values_per_A3[40, 40]  # the plane's centre is the atom at the origin
    assert c == pytest.approx(on.values_per_A3.max())
    assert off.values_per_A3.max() < 0.05 * c
    with pytest.raises(InputError):
        plane_slice(d, (0, 0, 0))


def test_cube_round_trip_and_ase_reads_it(tmp_path):
    rng = np.random.default_rng(1)
    g = rng.random((6, 8, 10))
    cell = np.diag([5.0, 6.0, 7.0])
    p = write_cube(tmp_path / "d.cube", g, cell, numbers=[29, 16],
                   positions_A=[[0, 0, 0], [1.0, 2.0, 3.0]])
    grid, c, o, Z, R = read_cube(p)
    assert np.allclose(grid, g, rtol=1e-5) and np.allclose(c, cell, rtol=1e-6)
    assert Z.tolist() == [29, 16] and np.allclose(R[1], [1, 2, 3], atol=1e-5)
    from ase.io.cube import read_cube_data

    data, atoms = read_cube_data(str(p))
    assert np.allclose(data, g, rtol=1e-5)
    assert np.allclose(atoms.cell[:], cell, atol=1e-5)
    assert atoms.get_chemical_symbols() == ["Cu", "S"]
    with pytest.raises(InputError):
        write_cube(tmp_path / "bad.cube", np.ones((2, 2)), cell)
