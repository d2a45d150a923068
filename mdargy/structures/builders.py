"""Supercells, NEMD bars and structure checks.

* :func:`supercell` — ``n1 × n2 × n3`` repetitions of a cell (for the F-43m phase, Cu can be
  re-drawn at random over the whole supercell instead, see :func:`build`);
* :func:`nemd_bar` — a bar of ``n_x`` cells along the transport direction times an
  ``n_y × n_z`` cross-section, with the transport axis put along x;
* checks that raise :class:`mdargy.errors.InputError` naming the file: composition
  (:func:`check_composition`), elements known to a potential (:func:`check_elements`), minimum
  interatomic distances (:func:`check_min_distances`);
* :func:`structure_report` — composition, density, lattice constants, space group (spglib),
  minimum distances and Cu coordination of a structure;
* writers: :func:`write_structure` (LAMMPS data or any ASE format, atomic, never silently
  overwriting) and :func:`write_cif` (CIF with a provenance header).

Lengths in Å, density in g/cm³.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

import mdargy
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_bytes, atomic_write_text
from mdargy.structures import cu7ps6
from mdargy.structures.cu7ps6 import coordination_numbers, density_g_cm3
from mdargy.structures.geometry import min_pair_distances
from mdargy.structures.load import read_structure, write_lammps_data

#: Physical lower bounds on interatomic distances (Å) used by :func:`check_min_distances`:
#: about 20 % below the shortest bonds of Cu7PS6 (P–S 2.05, Cu–S 2.2, Cu–Cu 2.4).
MIN_DISTANCES_A = {"P-S": 1.7, "Cu-S": 1.8, "Cu-Cu": 1.8, "Cu-P": 2.2, "S-S": 2.8, "P-P": 3.0}

_AXES = {"x": 0, "y": 1, "z": 2}


def composition(atoms) -> dict[str, int]:
    """Element counts of ``atoms``, e.g. ``{"Cu": 28, "P": 4, "S": 24}``."""
    return dict(sorted(Counter(atoms.get_chemical_symbols()).items()))


def reduced_formula_ratio(comp: Mapping[str, int]) -> dict[str, int]:
    """Counts divided by their greatest common divisor."""
    g = int(np.gcd.reduce([int(v) for v in comp.values()])) if comp else 1
    return {k: int(v) // g for k, v in sorted(comp.items())}


def check_composition(atoms, expected: Mapping[str, int] | None = None, path=None) -> int:
    """Check that ``atoms`` is a whole number of formula units of ``expected``.

    Parameters
    ----------
    expected : mapping, optional
        Counts of one formula unit (default Cu7PS6: ``{"Cu": 7, "P": 1, "S": 6}``).
    path : optional
        The file the structure came from, named in the error.

    Returns
    -------
    int
        The number of formula units.

    Raises
    ------
    InputError
        The elements differ, or the counts are not a whole multiple of the formula.
    """
    expected = dict(expected or {"Cu": 7, "P": 1, "S": 6})
    comp = composition(atoms)
    if set(comp) != set(expected):
        raise InputError(
            f"wrong composition {_fmt(comp)}: expected elements {', '.join(sorted(expected))} "
            f"(formula {_fmt(expected)})", path)
    ratios = {el: comp[el] / expected[el] for el in expected}
    n = ratios[next(iter(expected))]
    if not all(abs(r - n) < 1e-9 for r in ratios.values()) or abs(n - round(n)) > 1e-9:
        raise InputError(
            f"wrong composition {_fmt(comp)}: not a whole number of {_fmt(expected)} formula "
            "units", path)
    return int(round(n))


def check_elements(atoms, potential_elements: Sequence[str], path=None, potential=None) -> None:
    """Raise :class:`InputError` if ``atoms`` holds elements that the potential lacks."""
    present = sorted(set(atoms.get_chemical_symbols()))
    missing = [e for e in present if e not in potential_elements]
    if missing:
        what = f"potential {potential}" if potential else "the potential"
        raise InputError(
            f"element(s) {', '.join(missing)} are not covered by {what} (it has "
            f"{', '.join(potential_elements)})", path)


def _fmt(comp: Mapping[str, int]) -> str:
    return "".join(f"{k}{v}" for k, v in comp.items())


def check_min_distances(atoms, limits: Mapping[str, float] | None = None, path=None) -> dict[str, float]:
    """Raise :class:`InputError` when two atoms are closer than the pair's physical minimum.

    ``limits`` maps ``"A-B"`` (either order) to the minimum distance in Å; default
    :data:`MIN_DISTANCES_A`. Returns the minimum distances found.
    """
    limits = dict(MIN_DISTANCES_A if limits is None else limits)
    found = min_pair_distances(atoms)
    bad = []
    for pair, dmin in found.items():
        s1, s2 = pair.split("-")
        lim = limits.get(pair, limits.get(f"{s2}-{s1}"))
        if lim is not None and dmin < lim:
            bad.append(f"{pair} {dmin:.3f} Å < {lim:g} Å")
    if bad:
        raise InputError("atoms too close: " + "; ".join(bad), path)
    return found


def supercell(atoms, reps: Sequence[int]):
    """``reps = (n1, n2, n3)`` repetitions of ``atoms`` (positive integers)."""
    reps = tuple(int(r) for r in reps)
    if len(reps) != 3 or min(reps) < 1:
        raise InputError(f"supercell repetitions must be three positive integers, got {reps}")
    out = atoms.repeat(reps)
    out.info = dict(atoms.info)
    out.info["supercell"] = list(reps)
    return out


def nemd_bar(atoms, n_x: int, n_y: int, n_z: int, axis: str = "x"):
    """A bar for NEMD: ``n_x`` cells along the transport direction, ``n_y × n_z`` across.

    Parameters
    ----------
    atoms : ase.Atoms
        The unit cell (orthorhombic, e.g. the cubic Cu7PS6 cell).
    n_x : int
        Cells along the transport direction (the bar's length L = n_x a).
    n_y, n_z : int
        Cells of the cross-section.
    axis : {"x", "y", "z"}
        Transport direction *of the input cell*. The bar is returned with the transport direction
        along x (the cell axes are permuted cyclically), which the NEMD driver assumes.

    Returns
    -------
    ase.Atoms
        ``info["nemd_bar"] = {"n_x", "n_y", "n_z", "length_A", "area_A2"}``.
    """
    if axis not in _AXES:
        raise InputError(f"axis must be x, y or z, got {axis!r}")
    for n in (n_x, n_y, n_z):
        if int(n) != n or n < 1:
            raise InputError(f"bar dimensions must be positive integers, got {(n_x, n_y, n_z)}")
    cell = atoms.cell.array
    if np.abs(cell - np.diag(np.diag(cell))).max() > 1e-8:
        raise InputError("nemd_bar needs an orthorhombic cell")
    k = _AXES[axis]
    perm = [k, (k + 1) % 3, (k + 2) % 3]  # cyclic, keeps the handedness
    base = atoms.copy()
    base.set_cell(np.diag(np.diag(cell)[perm]))
    base.set_positions(atoms.get_positions()[:, perm])
    bar = base.repeat((int(n_x), int(n_y), int(n_z)))
    lengths = bar.cell.lengths()
    bar.info = dict(atoms.info)
    bar.info["nemd_bar"] = {"n_x": int(n_x), "n_y": int(n_y), "n_z": int(n_z), "axis_in": axis,
                            "length_A": float(lengths[0]), "area_A2": float(lengths[1] * lengths[2])}
    return bar


def build(phase: str, cells: Sequence[int] = (1, 1, 1), seed: int = 0, a: float | None = None,
          min_cu_cu: float | None = None, p213_file: str | os.PathLike | None = None):
    """Build Cu7PS6 in ``phase`` ``"f43m"`` (random Cu, drawn over the whole supercell) or
    ``"p213"`` (the shipped derived CIF, or ``p213_file``, repeated ``cells``)."""
    if phase == "f43m":
        kw = {}
        if a is not None:
            kw["a"] = a
        if min_cu_cu is not None:
            kw["min_cu_cu"] = min_cu_cu
        return cu7ps6.build_f43m(cells=cells, seed=seed, **kw)
    if phase == "p213":
        path = Path(p213_file) if p213_file else shipped_structure("p213")

        atoms = read_structure(path)
        check_composition(atoms, path=path)
        if a is not None:
            atoms.set_cell(atoms.cell.array * (a / atoms.cell.lengths()[0]), scale_atoms=True)
        out = supercell(atoms, cells)
        out.info["provenance"] = {"phase": "P2_13 (ordered)", "source": str(path),
                                  "cells": [int(n) for n in cells]}
        return out
    raise InputError(f"unknown phase {phase!r}: choose f43m or p213")


def inputs_dir() -> Path:
    """The repository's ``inputs/`` folder."""
    return Path(__file__).resolve().parents[2] / "inputs"


def shipped_structure(phase: str) -> Path:
    """Path of a shipped structure file: ``"p213"`` or ``"f43m"`` (seed-1 example)."""
    names = {"p213": "Cu7PS6_P213_derived.cif", "f43m": "Cu7PS6_F-43m_seed1.cif"}
    if phase not in names:
        raise InputError(f"unknown phase {phase!r}: choose one of {sorted(names)}")
    path = inputs_dir() / "structures" / names[phase]
    if not path.is_file():
        raise InputError("shipped structure missing (reinstall from the repository)", path)
    return path


def spacegroup(atoms, symprec: float = 1e-3) -> str:
    """International symbol and number from spglib, e.g. ``"P2_13 (198)"``."""
    import spglib  # a runtime dependency (also of phonopy)

    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    sg = spglib.get_spacegroup(cell, symprec=symprec)
    return sg or "unknown"


def structure_report(atoms, coordination_cutoff: float = 2.75, symprec: float = 1e-3) -> dict:
    """Composition, density, lattice lengths, space group, minimum distances, Cu coordination.

    The Cu coordination counts S within ``coordination_cutoff`` Å (histogram ``{CN: count}``).
    """
    comp = composition(atoms)
    rep = {
        "n_atoms": len(atoms),
        "composition": comp,
        "formula_units_Cu7PS6": (comp.get("Cu", 0) / 7 if set(comp) == {"Cu", "P", "S"} else None),
        "cell_lengths_A": [float(x) for x in atoms.cell.lengths()],
        "cell_angles_deg": [float(x) for x in atoms.cell.angles()],
        "density_g_cm3": density_g_cm3(atoms),
        "spacegroup": spacegroup(atoms, symprec),
        "min_distances_A": min_pair_distances(atoms),
    }
    if "Cu" in comp and "S" in comp:
        cn = coordination_numbers(atoms, "Cu", "S", coordination_cutoff)
        rep["cu_coordination"] = {int(k): int(v) for k, v in zip(*np.unique(cn, return_counts=True))}
        rep["coordination_cutoff_A"] = coordination_cutoff
    return rep


def write_cif(path, atoms, header_lines: Sequence[str] = (), force: bool = False) -> Path:
    """Write a CIF atomically, with ``header_lines`` as ``#`` comments at the top.

    Refuses to replace an existing file unless ``force``.
    """
    from ase.io import write

    _refuse(Path(path), force)
    buf = io.BytesIO()
    write(buf, atoms, format="cif")
    head = "".join(f"# {ln}\n" for ln in header_lines)
    return atomic_write_text(path, head + buf.getvalue().decode())


def write_structure(path, atoms, fmt: str | None = None, type_elements: Sequence[str] | None = None,
                    force: bool = False) -> Path:
    """Write ``atoms`` as a LAMMPS data file (``.data``/``.lmp`` or ``fmt="lammps-data"``) or any
    ASE format; atomically, refusing to overwrite unless ``force``.

    LAMMPS data files name each type's element in the ``Masses`` comments; the type order is
    ``type_elements`` (default Cu, P, S for Cu7PS6, else order of appearance).
    """
    from ase.data import atomic_masses, atomic_numbers

    path = Path(path)
    _refuse(path, force)
    if fmt == "lammps-data" or (fmt is None and path.suffix.lower() in (".data", ".lmp", ".lammps")):
        present = list(dict.fromkeys(atoms.get_chemical_symbols()))
        if type_elements is None:
            type_elements = ["Cu", "P", "S"] if set(present) <= {"Cu", "P", "S"} else present
        check_elements(atoms, type_elements, path)
        masses = [float(atomic_masses[atomic_numbers[e]]) for e in type_elements]
        return write_lammps_data(path, atoms, type_elements, masses)
    from ase.io import write

    fmt = fmt or _ase_format(path)
    if fmt == "cif":
        prov = atoms.info.get("provenance") or {}
        header = ["Cu7PS6 structure written by mdargy " + _version()]
        header += [f"{k}: {v}" for k, v in prov.items()]
        return write_cif(path, atoms, header, force=True)
    try:
        buf = io.StringIO()
        write(buf, atoms, format=fmt)
        data = buf.getvalue().encode()
    except TypeError:  # a binary format
        bbuf = io.BytesIO()
        try:
            write(bbuf, atoms, format=fmt)
        except Exception as exc:
            raise InputError(f"cannot write format {fmt!r}: {exc}", path) from exc
        data = bbuf.getvalue()
    except Exception as exc:
        raise InputError(f"cannot write format {fmt!r}: {exc}", path) from exc
    return atomic_write_bytes(path, data)


def _refuse(path: Path, force: bool) -> None:
    if path.exists() and not force:
        raise InputError("exists already; not overwritten (use --force / force=True)", path)


def _ase_format(path: Path) -> str:
    from ase.io.formats import filetype

    try:
        return filetype(path, read=False)
    except Exception as exc:
        raise InputError("cannot tell the file format from the name; give fmt", path) from exc


def _version() -> str:
    return mdargy.__version__
