"""Elements and masses: standard atomic masses, the element nearest a mass, type → element maps.

One table serves mdargy: ASE's standard atomic masses (:data:`ase.data.atomic_masses`, IUPAC
values). A LAMMPS atom type gets its element from a map the user gives (``--types 1=Cu,2=P``,
:func:`parse_types`), or from its mass (:func:`element_from_mass`, nearest standard mass within
a tolerance); :func:`elements_for_types` applies either to every atom.
"""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np
from ase.data import atomic_masses, atomic_numbers, chemical_symbols

from mdargy.errors import InputError

__all__ = ["mass_of", "atomic_number", "nearest_element", "element_from_mass", "parse_types",
           "elements_for_types"]

#: Standard atomic masses of H..Og (g/mol), index 0 = hydrogen.
_MASSES = np.asarray(atomic_masses[1:119], dtype=float)


def mass_of(symbol: str) -> float:
    """Standard atomic mass of an element in g/mol (ASE's table)."""
    try:
        return float(atomic_masses[atomic_numbers[symbol]])
    except KeyError:
        raise InputError(f"unknown element symbol {symbol!r}") from None


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol."""
    try:
        return int(atomic_numbers[symbol])
    except KeyError:
        raise InputError(f"unknown element symbol {symbol!r}") from None


def nearest_element(mass_amu: float, tolerance_amu: float) -> tuple[str | None, str, float]:
    """``(element or None, nearest element, its mass)`` for a mass in g/mol: the element whose
    standard atomic mass is nearest, None when it is farther than ``tolerance_amu``."""
    i = int(np.nanargmin(np.abs(_MASSES - mass_amu)))
    sym, m = chemical_symbols[i + 1], float(_MASSES[i])
    return (sym if abs(m - mass_amu) <= tolerance_amu else None), sym, m


def element_from_mass(mass_amu: float, tolerance_amu: float = 0.6, path=None) -> str:
    """The element whose standard atomic mass is nearest to ``mass_amu``.

    Raises :class:`InputError` when no element lies within ``tolerance_amu`` (e.g. reduced LJ
    masses of 1.0 that are not hydrogen's 1.008 still map to H; a mass of 0.5 does not).
    """
    el, near, m = nearest_element(mass_amu, tolerance_amu)
    if el is None:
        raise InputError(f"mass {mass_amu} g/mol matches no element (nearest {near} {m:.3f}); "
                         "give the elements with types=/--types", path)
    return el


_TYPES_ITEM = re.compile(r"^\s*(\d+)\s*[=:]\s*([A-Z][a-z]?)\s*$")


def parse_types(spec: str | Mapping | None) -> dict[int, str] | None:
    """Parse a type → element map: ``"1=Cu,2=P,3=S"`` (CLI ``--types``) or a mapping.

    Returns ``{1: "Cu", 2: "P", 3: "S"}``; None for None.
    """
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        out = {}
        for k, v in spec.items():
            try:
                t = int(k)
            except (TypeError, ValueError):
                raise InputError(f"atom type {k!r} in the type map is not an integer") from None
            mass_of(str(v))  # validates the symbol
            out[t] = str(v)
        return out
    out = {}
    for item in str(spec).replace(";", ",").split(","):
        if not item.strip():
            continue
        m = _TYPES_ITEM.match(item)
        if not m:
            raise InputError(f"cannot read {item.strip()!r} in the type map {spec!r}: write it "
                             "as TYPE=ELEMENT, e.g. 1=Cu,2=P,3=S")
        mass_of(m.group(2))
        out[int(m.group(1))] = m.group(2)
    if not out:
        raise InputError(f"the type map {spec!r} is empty")
    return out


def elements_for_types(types: np.ndarray, type_map: dict[int, str] | None,
                       masses_by_type: dict[int, float] | None,
                       path=None) -> tuple[np.ndarray, np.ndarray]:
    """Element and mass (g/mol) of every atom from its LAMMPS type: the type map first, else
    the element nearest the type's mass (which is then kept as the atom's mass)."""
    types = np.asarray(types)
    uniq = np.unique(types)
    elem_of, mass_of_type = {}, {}
    for t in uniq:
        t = int(t)
        if type_map is not None and t in type_map:
            elem_of[t] = type_map[t]
            mass_of_type[t] = mass_of(type_map[t])
        elif masses_by_type is not None and t in masses_by_type:
            elem_of[t] = element_from_mass(masses_by_type[t], path=path)
            mass_of_type[t] = masses_by_type[t]
        else:
            known = sorted(type_map or masses_by_type or {})
            raise InputError(
                f"atom type {t} has no element: the type map covers types {known}; give every "
                "type, e.g. types={1: 'Cu', 2: 'P', 3: 'S'} or --types 1=Cu,2=P,3=S, or a data "
                "file with Masses", path)
    where = np.searchsorted(uniq, types)
    elements = np.array([elem_of[int(t)] for t in uniq], dtype=str)[where]
    masses = np.array([mass_of_type[int(t)] for t in uniq])[where]
    return elements, masses
