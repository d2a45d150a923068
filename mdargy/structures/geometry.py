"""Geometry of a structure: shortest distances between species.

Pure functions of an ASE ``Atoms`` (periodic images through :func:`ase.neighborlist.neighbor_list`,
any cell shape). Lengths in Å.
"""

from __future__ import annotations

import numpy as np


def min_pair_distances(atoms, cutoff: float = 6.0) -> dict[str, float]:
    """Shortest distance (Å) for every pair of species present, e.g. ``{"Cu-Cu": 2.41, ...}``.

    Keys are ``"A-B"`` with ``A <= B`` alphabetically; a pair with no two atoms within
    ``cutoff`` Å (periodic images included) is ``inf``.
    """
    from ase.neighborlist import neighbor_list

    sym = np.array(atoms.get_chemical_symbols())
    species = sorted(set(sym))
    i, j, d = neighbor_list("ijd", atoms, cutoff)
    out = {}
    for a_i, s1 in enumerate(species):
        for s2 in species[a_i:]:
            m = (sym[i] == s1) & (sym[j] == s2)
            out[f"{s1}-{s2}"] = float(d[m].min()) if m.any() else float("inf")
    return out
