"""Gaussian CUBE files (volumetric data on a grid), readable by VESTA, OVITO, VMD and ASE.

Format (Gaussian cubegen): two comment lines; the number of atoms and the origin; for each of
the three grid axes the number of points and the voxel vector; one line per atom (atomic
number, charge, position); then the values with the last index fastest, six per line.
Lengths are written in bohr (positive point counts), as every reader expects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mdargy.constants import BOHR_A
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_text

__all__ = ["BOHR_A", "write_cube", "read_cube"]


def write_cube(path, grid, cell_A, origin_A=(0.0, 0.0, 0.0), numbers=(), positions_A=(),
               comment: str = "mdargy density") -> Path:
    """Write ``grid`` (values at fractional points ``(i/nx, j/ny, k/nz)`` of ``cell_A``).

    Parameters
    ----------
    path : path-like (written atomically)
    grid : array (nx, ny, nz)
    cell_A : array (3, 3), rows
    origin_A : 3 floats
    numbers, positions_A : atomic numbers and Cartesian positions (Å) of atoms to include
    comment : str (first line; the second line records the units of the values)
    """
    g = np.asarray(grid, float)
    if g.ndim != 3:
        raise InputError(f"a CUBE grid must be 3-D, got shape {g.shape}", path)
    cell = np.asarray(cell_A, float) / BOHR_A
    n = g.shape
    Z = np.asarray(numbers, int).ravel()
    R = np.asarray(positions_A, float).reshape(-1, 3) / BOHR_A
    if Z.size != R.shape[0]:
        raise InputError(f"{Z.size} atomic numbers for {R.shape[0]} positions", path)
    o = np.asarray(origin_A, float) / BOHR_A
    lines = [comment.replace("\n", " ")[:200], "values: number density in 1/A^3; lengths in bohr",
             f"{Z.size:5d} {o[0]:12.6f} {o[1]:12.6f} {o[2]:12.6f}"]
    for k in range(3):
        vx = cell[k] / n[k]
        lines.append(f"{n[k]:5d} {vx[0]:12.6f} {vx[1]:12.6f} {vx[2]:12.6f}")
    for z, r in zip(Z, R):
        lines.append(f"{z:5d} {float(z):12.6f} {r[0]:12.6f} {r[1]:12.6f} {r[2]:12.6f}")
    body = []
    for row in g.reshape(-1, n[2]):
        for j in range(0, n[2], 6):
            body.append(" ".join(f"{v:13.5e}" for v in row[j:j + 6]))
    return atomic_write_text(path, "\n".join(lines + body) + "\n")


def read_cube(path):
    """Read a CUBE file: (grid, cell_A, origin_A, numbers, positions_A)."""
    path = Path(path)
    try:
        tok = path.read_text().splitlines()
        nat, *o = tok[2].split()
        nat = int(nat)
        ax = [tok[3 + k].split() for k in range(3)]
        n = [int(a[0]) for a in ax]
        unit = BOHR_A if n[0] > 0 else 1.0
        n = [abs(v) for v in n]
        cell = np.array([[float(x) for x in a[1:]] for a in ax]) * np.array(n)[:, None] * unit
        atoms = [tok[6 + i].split() for i in range(abs(nat))]
        Z = np.array([int(a[0]) for a in atoms], int)
        R = np.array([[float(x) for x in a[2:5]] for a in atoms]).reshape(-1, 3) * unit
        vals = np.array(" ".join(tok[6 + abs(nat):]).split(), float)
        return (vals.reshape(n), cell, np.array(o, float) * unit, Z, R)
    except (OSError, ValueError, IndexError) as exc:
        raise InputError(f"not a readable CUBE file ({exc})", path)
