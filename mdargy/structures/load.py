"""Read structures (LAMMPS data or anything ASE reads), replicate them, write LAMMPS data files.

The drivers always run LAMMPS on a data file written here, whose atom types follow a known list
of elements (``type_elements``) and whose ``Masses`` section names each element in a comment,
so that the element of every type is recorded with the run.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Sequence

from ase.data import atomic_numbers

from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_text
from mdargy.io.datafile import read_masses_section
from mdargy.io.masses import nearest_element

_DATA_SUFFIXES = (".data", ".lmp", ".lammps", ".lammps-data")
_ELEMENT_RE = re.compile(r"^[A-Z][a-z]?$")


def is_lammps_data(path: str | os.PathLike) -> bool:
    """True when ``path`` looks like a LAMMPS data file (by suffix or by its header lines)."""
    path = Path(path)
    if path.suffix.lower() in _DATA_SUFFIXES or path.name.startswith("data."):
        return True
    try:
        with open(path, errors="replace") as fh:
            head = [next(fh, "") for _ in range(12)]
    except OSError:
        return False
    return any(re.search(r"^\s*\d+\s+atoms\s*$", ln) for ln in head)


def data_file_type_elements(path: str | os.PathLike) -> list[str | None]:
    """Element of each atom type of a LAMMPS data file, from its ``Masses`` section.

    A comment (``1 63.546 # Cu``) wins; otherwise the element whose standard atomic mass is
    within 0.1 u is taken; ``None`` where neither tells.
    """
    path = Path(path)
    sec = read_masses_section(path)
    if sec.n_types is None:
        raise InputError("no 'atom types' line: not a LAMMPS data file", path)
    out: list[str | None] = [None] * sec.n_types
    for t, mass in sec.masses.items():
        el = sec.labels.get(t)
        if el is None or not _ELEMENT_RE.match(el):
            el = nearest_element(mass, 0.1)[0]
        out[t - 1] = el
    return out


def read_structure(path: str | os.PathLike, type_elements: Sequence[str] | None = None,
                   atom_style: str = "atomic"):
    """Read a structure into an :class:`ase.Atoms`.

    Parameters
    ----------
    path : path-like
        A LAMMPS data file (``.data``, ``.lmp``, ``data.*``), or any format ASE reads (CIF,
        POSCAR, extxyz, ...).
    type_elements : sequence of str, optional
        For LAMMPS data files: the element of each atom type (type 1 first). Needed when the
        ``Masses`` section neither names the elements in comments nor has standard masses.
    atom_style : str
        LAMMPS atom style of a data file.

    Raises
    ------
    InputError
        Missing or unreadable file, or a data file whose elements cannot be told.
    """
    import ase.io

    path = Path(path)
    if not path.is_file():
        raise InputError("structure file not found", path)
    try:
        if is_lammps_data(path):
            els = list(type_elements) if type_elements else data_file_type_elements(path)
            if any(e is None for e in els):
                raise InputError(
                    "cannot tell the element of atom type(s) "
                    f"{[i + 1 for i, e in enumerate(els) if e is None]}: name them in Masses "
                    "comments ('1 63.546 # Cu') or give type_elements", path)
            for e in els:
                if e not in atomic_numbers:
                    raise InputError(f"{e!r} is not an element symbol", path)
            z_of_type = {i + 1: atomic_numbers[e] for i, e in enumerate(els)}
            atoms = ase.io.read(path, format="lammps-data", Z_of_type=z_of_type,
                                atom_style=atom_style, units="metal", parallel=False)
        else:
            atoms = ase.io.read(path, parallel=False)  # no ASE MPI broadcast: we run on rank 0
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read the structure: {exc}", path) from exc
    if len(atoms) == 0:
        raise InputError("the structure has no atoms", path)
    if not all(atoms.pbc) or abs(atoms.cell.volume) < 1e-6:
        raise InputError("the structure must be a periodic 3D cell", path)
    return atoms


def replicate(atoms, reps: Sequence[int]):
    """Supercell ``reps = (nx, ny, nz)`` of ``atoms`` (each a positive integer)."""
    reps = tuple(int(r) for r in reps)
    if len(reps) != 3 or min(reps) < 1:
        raise InputError(f"replicate must be three positive integers, got {reps}")
    return atoms.repeat(reps)


def type_elements_for(atoms, potential_elements: Sequence[str] = ()) -> list[str]:
    """LAMMPS type order: the potential's element list when it has one, else the structure's
    elements in order of first appearance.

    Raises
    ------
    InputError
        An element of the structure is missing from ``potential_elements``.
    """
    present = list(dict.fromkeys(atoms.get_chemical_symbols()))
    if potential_elements:
        unknown = [e for e in present if e not in potential_elements]
        if unknown:
            raise InputError(f"element(s) {', '.join(unknown)} of the structure are not in the "
                             f"potential's elements ({', '.join(potential_elements)})")
        return list(potential_elements)
    return present


def lammps_data_text(atoms, type_elements: Sequence[str], masses_amu: Sequence[float]) -> str:
    """Text of a LAMMPS data file (``atomic`` style, metal units) for ``atoms``.

    Types follow ``type_elements``; the ``Masses`` section carries the element in a comment.
    Triclinic cells are rotated to LAMMPS's lower-triangular convention by ASE.
    """
    from ase.io.lammpsdata import write_lammps_data

    buf = io.StringIO()
    write_lammps_data(buf, atoms, specorder=list(type_elements), masses=False, units="metal",
                      atom_style="atomic")
    text = buf.getvalue()
    # ASE writes "N atom types" from specorder; add a Masses section naming each element
    masses = "\nMasses\n\n" + "".join(
        f"{i + 1} {m:.6f}  # {el}\n" for i, (el, m) in enumerate(zip(type_elements, masses_amu)))
    head, sep, tail = text.partition("\nAtoms")
    if not sep:  # pragma: no cover - ASE format change
        raise InputError("unexpected output of ASE's LAMMPS data writer")
    return head.rstrip("\n") + "\n" + masses + "\nAtoms" + tail


def write_lammps_data(path: str | os.PathLike, atoms, type_elements: Sequence[str],
                      masses_amu: Sequence[float]) -> Path:
    """Write ``atoms`` as a LAMMPS data file atomically; see :func:`lammps_data_text`."""
    return atomic_write_text(path, lammps_data_text(atoms, type_elements, masses_amu))
