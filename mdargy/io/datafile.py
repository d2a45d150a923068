"""What mdargy reads from a LAMMPS data file itself: the header counts, the ``Masses`` section
(with the element named in a comment, ``1 63.546  # Cu``) and the atom style named after
``Atoms`` (``Atoms # atomic``).

The atoms themselves are read by ASE (:func:`mdargy.structures.load.read_structure`) or
MDAnalysis (as a topology); this module is the one parser of the ``Masses`` section, used by both
the structure loader and the trajectory loader.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from mdargy.errors import InputError

__all__ = ["MassesSection", "read_masses_section", "read_lammps_data_masses", "atoms_style"]

_ATOM_TYPES = re.compile(r"^\s*(\d+)\s+atom\s+types\b")


@dataclasses.dataclass(frozen=True)
class MassesSection:
    """The ``Masses`` of a LAMMPS data file.

    Attributes
    ----------
    n_types : int or None
        From the header line ``N atom types`` (None when the file has none).
    masses : dict
        Atom type → mass in g/mol; empty when the file has no ``Masses`` section.
    labels : dict
        Atom type → the first word of the comment on its line (``1 63.546  # Cu`` → ``"Cu"``),
        for the types whose line has one.
    found : bool
        Whether the file has a ``Masses`` section.
    """

    n_types: int | None
    masses: dict
    labels: dict
    found: bool


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        raise InputError("no such LAMMPS data file", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a LAMMPS data file", path) from None


def read_masses_section(path: str | os.PathLike) -> MassesSection:
    """Parse the header's atom-type count and the ``Masses`` section of a LAMMPS data file.

    Rules: the first line is the title; ``N atom types`` is read from the header (before the
    first section); comments start at ``#``; the section starts at a line reading ``Masses``
    and ends at the first blank line after its rows, at a line that is not ``TYPE MASS``, or
    after ``N`` rows.

    Raises
    ------
    InputError
        The file is missing; a row of the section cannot be read; a type repeats or exceeds
        the number of atom types. The message names the file and the line.
    """
    path = Path(path)
    lines = _lines(path)
    n_types = None
    start = None
    for i, line in enumerate(lines[1:], start=1):
        text = line.split("#")[0].strip()
        if text == "Masses":
            start = i
            break
        m = _ATOM_TYPES.match(text)
        if m and n_types is None:
            n_types = int(m.group(1))
    masses: dict[int, float] = {}
    labels: dict[int, str] = {}
    if start is None:
        return MassesSection(n_types, masses, labels, False)
    for j, row in enumerate(lines[start + 1:], start=start + 2):
        body, _, comment = row.partition("#")
        text = body.strip()
        if not text:
            if masses:
                break
            continue
        parts = text.split()
        try:
            t, m = int(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            if masses:  # the next section
                break
            raise InputError(f"cannot read the Masses line {row.strip()!r}: expected "
                             "'TYPE MASS'", path, j) from None
        if t in masses:
            raise InputError(f"atom type {t} appears twice in Masses", path, j)
        if t < 1 or (n_types is not None and t > n_types):
            raise InputError(f"atom type {t} in Masses is outside 1..{n_types or '?'} (the "
                             "header's atom types)", path, j)
        masses[t] = m
        word = comment.strip().split()
        if word:
            labels[t] = word[0]
        if n_types is not None and len(masses) == n_types:
            break
    if not masses:
        raise InputError("the Masses section is empty", path)
    return MassesSection(n_types, masses, labels, True)


def read_lammps_data_masses(path: str | os.PathLike) -> dict[int, float]:
    """Atom type → mass (g/mol) from the ``Masses`` section of a LAMMPS data file.

    Raises :class:`InputError` when the file has no ``Masses`` section.
    """
    sec = read_masses_section(path)
    if not sec.found:
        raise InputError("has no Masses section: give the elements with types=/--types", path)
    return dict(sec.masses)


def atoms_style(path: str | os.PathLike) -> str | None:
    """The atom style named in the comment of the ``Atoms`` line (``Atoms # full``), ``""``
    when that line has no comment, None when the file has no ``Atoms`` section."""
    try:
        with open(path, errors="replace") as fh:
            for line in fh:
                body, _, comment = line.partition("#")
                if body.strip() == "Atoms":
                    return comment.strip().split()[0] if comment.strip() else ""
    except OSError:
        return None
    return None
