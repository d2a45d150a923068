"""A PDB file as a topology: atom names and elements for programs that take them from a
topology rather than from the trajectory (MDAnalysis and VMD with a NetCDF trajectory).

``mda.Universe("traj.pdb", "traj.nc")`` then has ``atoms.elements``; the coordinates of the PDB
(one frame, wrapped into the cell, 3 decimals) only stand in until the trajectory is read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_text
from mdargy.io.netcdf import lengths_angles_from_cell

__all__ = ["pdb_topology_text", "write_pdb_topology"]


def pdb_topology_text(elements: Sequence[str], positions_A, box_A, title: str = "") -> str:
    """PDB text: ``CRYST1`` from the cell, one ``ATOM`` record per atom (name and element =
    the element symbol, residue ``MOL`` 1), positions wrapped into the cell.

    Atom serial numbers above 99,999 wrap around (the PDB field has five digits); readers
    take the atoms in file order.
    """
    els = [str(e) for e in elements]
    pos = np.asarray(positions_A, dtype=np.float64)
    box = np.asarray(box_A, dtype=np.float64)
    if pos.shape != (len(els), 3) or box.shape != (3, 3):
        raise InputError(f"need positions ({len(els)}, 3) and a (3, 3) cell, got {pos.shape} "
                         f"and {box.shape}")
    frac = pos @ np.linalg.inv(box)
    pos = (frac - np.floor(frac)) @ box
    lengths, angles = lengths_angles_from_cell(box)
    lines = []
    if title:
        lines.append(f"TITLE     {title[:70]}")
    lines.append("CRYST1{:9.3f}{:9.3f}{:9.3f}{:7.2f}{:7.2f}{:7.2f} P 1           1".format(
        *lengths, *angles))
    for i, (el, (x, y, z)) in enumerate(zip(els, pos)):
        name = f" {el:<3s}" if len(el) == 1 else f"{el:<4s}"
        lines.append(f"ATOM  {(i + 1) % 100000:5d} {name} MOL A   1    "
                     f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {el.upper():>2s}")
    lines.append("END")
    return "\n".join(lines) + "\n"


def write_pdb_topology(path: str | os.PathLike, elements: Sequence[str], positions_A, box_A,
                       title: str = "") -> Path:
    """Write :func:`pdb_topology_text` atomically."""
    return atomic_write_text(path, pdb_topology_text(elements, positions_A, box_A, title))
