"""Cu7PS6 argyrodite: the superionic F-43m phase and the ordered P2_13 phase.

Cu7PS6 (Z = 4, 56 atoms per cubic cell) has two phases relevant to transport [1]_:

* the superionic cubic **F-43m** phase above about 506 K: a rigid anion framework — P on 4b,
  S on 4a, 4c and 16e (the PS4 tetrahedra, P–S ≈ 2.05 Å) — and 28 Cu spread over partially
  occupied sites (two 48h orbits, Cu1 and Cu2, and one 16e orbit, Cu3: 112 sites, 25 %
  occupation);
* the ordered cubic **P2_13** phase (space group 198) below it: Cu on 12b + 12b + 4a,
  P on 4a, S on 4a + 4a + 4a + 12b. P2_13 is a subgroup of F-43m (index 8, via F23) with the
  same origin, so every F-43m orbit splits into P2_13 orbits: 4a/4b/4c/4d → 4a, 16e → 4a + 12b,
  48h → 4 × 12b.

No refined coordinates are available offline, so everything here is *derived*:

* the framework from the Wyckoff positions and the P–S bond length (16e: x = 1/2 + d_PS/(√3 a));
* the Cu candidate sites from the geometry of the sulphur framework: the tetrahedral holes and
  triangular faces of its Delaunay tetrahedra (:func:`anion_interstices`), selected by orbit
  (Cu1: the 48h tetrahedral hole that shares no face with a PS4 tetrahedron; Cu2: the 48h
  trigonal site, the face of the Cu3 tetrahedron; Cu3: the 16e tetrahedral hole far from P);
* the superionic phase by placing 28 Cu per cell at random over those sites with a seed,
  rejecting Cu–Cu distances below a minimum (the paper used an SQS instead);
* the ordered phase by enumerating P2_13-compatible Cu orderings (:func:`enumerate_p213_orderings`)
  and ranking them. The ranking that chose the shipped ``inputs/structures/Cu7PS6_P213_derived.cif``
  relaxed each with a universal ML potential, SevenNet-0, not DFT
  (``scripts/cu7ps6/derive_p213.py``; table in ``inputs/structures/README.md``). The ranking
  available in the library without a labeler is a **stand-in**: the bond-valence global
  instability index (:func:`global_instability_index`) of the unrelaxed ordering, a
  chemical-plausibility criterion, not an energy.

Units: Å, g/cm³. Functions return :class:`ase.Atoms` with ``info["provenance"]`` describing how
the structure was made.

References
----------
.. [1] Cu7PS6 study in ``shared/reference/cu7ps6-paper.txt`` (SYXRD, Table S1/S2; T_c ≈ 506 K).
.. [2] W. F. Kuhs, R. Nitsche, K. Scheunemann, "The argyrodites — a new family of tetrahedrally
   close-packed structures", Mater. Res. Bull. 14, 241 (1979).
.. [3] N. E. Brese, M. O'Keeffe, "Bond-valence parameters for solids", Acta Cryst. B47, 192
   (1991).
.. [4] I. D. Brown, "The Chemical Bond in Inorganic Chemistry" (2002): global instability index.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Iterable, Sequence

import numpy as np

from mdargy.constants import A3_TO_CM3, AVOGADRO_PER_MOL
from mdargy.errors import InputError
from mdargy.structures.geometry import min_pair_distances

# ----------------------------------------------------------------------------------------------
# Literature values
# ----------------------------------------------------------------------------------------------

#: Values quoted for comparison (paper [1] and its Methods). ``density_g_cm3`` is the
#: literature density for Z = 4 formula units per cell.
LITERATURE = {
    "formula": "Cu7PS6",
    "Z": 4,
    "atoms_per_cell": 56,
    "density_g_cm3": 4.91,
    "T_superionic_K": 506.0,
    "D_Cu_550K_cm2_s": 5.5e-5,
    "p213_cu_coordination": {"Cu1": 4, "Cu2": 4, "Cu3": 5},
    "p213_wyckoff": {"Cu": ["12b", "12b", "4a"], "P": ["4a"], "S": ["4a", "4a", "4a", "12b"]},
    "f43m_wyckoff": {"Cu": ["48h", "48h", "16e"], "P": ["4b"], "S": ["4a", "4c", "16e"]},
}

#: Composition of one cubic cell.
CELL_COMPOSITION = {"Cu": 28, "P": 4, "S": 24}

#: P–S bond length of the PS4 tetrahedra (Å).
P_S_BOND = 2.05

#: Default minimum Cu–Cu distance when placing Cu at random (Å). It rejects the unphysical
#: close pairs of the split sites (0.65–1.98 Å apart). Cu–Cu contacts in relaxed Cu(I)
#: sulphides start near 2.4 Å, but on the *unrelaxed* candidate sites random sequential
#: addition of 28 Cu per cell jams above about 2.15 Å; the first MD steps relax the 2.1–2.4 Å
#: pairs.
MIN_CU_CU = 2.1


def formula_mass(composition: dict[str, int] | None = None) -> float:
    """Mass of ``composition`` (default: one cubic cell, Cu28P4S24) in g/mol (ASE masses)."""
    from ase.data import atomic_masses, atomic_numbers

    comp = CELL_COMPOSITION if composition is None else composition
    return float(sum(n * atomic_masses[atomic_numbers[el]] for el, n in comp.items()))


def lattice_constant_from_density(rho_g_cm3: float = LITERATURE["density_g_cm3"]) -> float:
    """Cubic lattice constant (Å) of a Cu28P4S24 cell with mass density ``rho_g_cm3``."""
    if not rho_g_cm3 > 0:
        raise InputError(f"density must be positive, got {rho_g_cm3}")
    volume_cm3 = formula_mass() / AVOGADRO_PER_MOL / rho_g_cm3
    return float((volume_cm3 / A3_TO_CM3) ** (1.0 / 3.0))


def density_g_cm3(atoms) -> float:
    """Mass density of ``atoms`` in g/cm³."""
    return float(atoms.get_masses().sum() / AVOGADRO_PER_MOL / (atoms.get_volume() * A3_TO_CM3))


#: Default lattice constant (Å): the one that reproduces the literature density 4.91 g/cm³
#: (9.669 Å), inside the 9.6–9.7 Å range of the measured cubic phases.
A_DEFAULT = round(lattice_constant_from_density(), 3)


# ----------------------------------------------------------------------------------------------
# Symmetry operations (hand-written: no spglib needed to build)
# ----------------------------------------------------------------------------------------------

_F_CENTRING = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])


def f43m_operations() -> list[tuple[np.ndarray, np.ndarray]]:
    """The 96 operations of F-43m (No. 216) as (rotation, translation) in fractional units.

    The point group -43m is the set of permutation matrices times diagonal sign matrices with
    an even number of minus signs (24 elements), times the four F-centring translations.
    """
    rots = []
    for perm in itertools.permutations(range(3)):
        p = np.eye(3)[list(perm)]
        for signs in itertools.product((1, -1), repeat=3):
            if np.prod(signs) == 1:
                rots.append(np.diag(signs) @ p)
    return [(r, t.copy()) for r in rots for t in _F_CENTRING]


def p213_operations() -> list[tuple[np.ndarray, np.ndarray]]:
    """The 12 operations of P2_13 (No. 198, standard setting) as (rotation, translation).

    Generated from (-x+1/2, -y, z+1/2), (-x, y+1/2, -z+1/2) and (z, x, y). Each is an
    F-43m operation (a rotation of 23 combined with an F-centring translation), so P2_13 is a
    subgroup of F-43m with the same origin.
    """
    gens = [
        (np.diag([-1.0, -1.0, 1.0]), np.array([0.5, 0.0, 0.5])),
        (np.diag([-1.0, 1.0, -1.0]), np.array([0.0, 0.5, 0.5])),
        (np.array([[0.0, 0, 1], [1, 0, 0], [0, 1, 0]]), np.zeros(3)),
    ]
    ops = [(np.eye(3), np.zeros(3))]
    changed = True
    while changed:
        changed = False
        for r1, t1 in list(ops):
            for r2, t2 in gens:
                r, t = r1 @ r2, (r1 @ t2 + t1) % 1.0
                if not any(np.allclose(r, q) and _same_frac(t, u) for q, u in ops):
                    ops.append((r, t))
                    changed = True
    assert len(ops) == 12
    return ops


def _same_frac(a, b, tol=1e-6) -> bool:
    d = (np.asarray(a) - np.asarray(b) + 0.5) % 1.0 - 0.5
    return bool(np.all(np.abs(d) < tol))


def _stack_ops(ops) -> tuple[np.ndarray, np.ndarray]:
    return np.array([r for r, _ in ops]), np.array([t for _, t in ops])


def orbit(frac: Sequence[float], ops) -> np.ndarray:
    """Distinct images (fractional, in [0, 1)) of one point under a list of operations."""
    rots, trans = _stack_ops(ops)
    y = (np.einsum("kij,j->ki", rots, np.asarray(frac, dtype=float)) + trans) % 1.0
    y[np.isclose(y, 1.0, atol=1e-7)] = 0.0
    key = np.round(y * 1e5).astype(np.int64) % 100000
    _, first = np.unique(key, axis=0, return_index=True)
    return y[np.sort(first)]


def _orbit_key(frac, ops) -> tuple:
    """A hashable label of the orbit of ``frac`` (its lexicographically smallest image)."""
    pts = orbit(frac, ops)
    key = np.round(pts * 1e4).astype(np.int64) % 10000
    return tuple(min(map(tuple, key)))


def split_orbit(points: np.ndarray, ops) -> list[np.ndarray]:
    """Split a set of fractional points (closed under ``ops``) into the orbits of ``ops``."""
    left = [np.asarray(p) for p in points]
    out = []
    while left:
        orb = orbit(left[0], ops)
        out.append(orb)
        left = [p for p in left if not any(_same_frac(p, q) for q in orb)]
    return out


# ----------------------------------------------------------------------------------------------
# Framework and Cu candidate sites
# ----------------------------------------------------------------------------------------------


def x_16e(a: float = A_DEFAULT, p_s_bond: float = P_S_BOND) -> float:
    """Free parameter x of the S 16e (x, x, x) site giving the P–S bond ``p_s_bond``.

    The PS4 tetrahedron around P at 4b (1/2, 1/2, 1/2) points towards the empty 4d sites; the
    other sign would put S 2 Å from the S on 4c.
    """
    return 0.5 + p_s_bond / (np.sqrt(3.0) * a)


def framework_sites(a: float = A_DEFAULT, p_s_bond: float = P_S_BOND) -> dict[str, np.ndarray]:
    """The anion framework of F-43m Cu7PS6: fractional positions by site label.

    Returns ``{"P_4b": (4, 3), "S1_4a": (4, 3), "S2_4c": (4, 3), "S3_16e": (16, 3)}``.
    """
    ops = f43m_operations()
    x = x_16e(a, p_s_bond)
    return {
        "P_4b": orbit([0.5, 0.5, 0.5], ops),
        "S1_4a": orbit([0.0, 0.0, 0.0], ops),
        "S2_4c": orbit([0.25, 0.25, 0.25], ops),
        "S3_16e": orbit([x, x, x], ops),
    }


@dataclasses.dataclass(frozen=True)
class Interstice:
    """A hole of the anion framework: centre (fractional), kind, radius and orbit size."""

    frac: tuple[float, float, float]
    kind: str  # "tetrahedral" or "trigonal"
    radius_A: float  # distance to the 4 (or 3) anions that define it
    multiplicity: int  # size of its F-43m orbit per cubic cell
    d_P_A: float  # distance to the nearest P


def _minimum_image(d: np.ndarray) -> np.ndarray:
    return (d + 0.5) % 1.0 - 0.5


def anion_interstices(a: float = A_DEFAULT, p_s_bond: float = P_S_BOND) -> list[Interstice]:
    """All symmetry-distinct tetrahedral holes and triangular faces of the S framework.

    The 24 S of the cubic cell and their periodic images are tessellated (Delaunay); every
    tetrahedron's circumcentre and every face's circumcentre is reduced to its F-43m orbit.
    Returns one :class:`Interstice` per orbit, sorted by (kind, multiplicity, radius).
    """
    from scipy.spatial import Delaunay

    sites = framework_sites(a, p_s_bond)
    s_frac = np.vstack([sites["S1_4a"], sites["S2_4c"], sites["S3_16e"]])
    p_frac = sites["P_4b"]
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)
    rep = np.vstack([s_frac + s for s in shifts]) * a
    tri = Delaunay(rep)
    ops = f43m_operations()
    found: list[Interstice] = []
    keys: set = set()

    def add(centre_cart, verts, kind):
        frac = (centre_cart / a) % 1.0
        key = (kind, _orbit_key(frac, ops))
        if key in keys:
            return
        keys.add(key)
        radius = float(np.linalg.norm(verts - centre_cart, axis=1).mean())
        d_p = float(np.min(np.linalg.norm(_minimum_image(frac - p_frac) * a, axis=1)))
        mult = len(orbit(frac, ops))
        found.append(Interstice(tuple(float(v) for v in np.round(frac, 6)), kind, radius, mult, d_p))

    for simplex in tri.simplices:
        v = rep[simplex]
        if not np.all((v.mean(0) / a >= 0) & (v.mean(0) / a < 1)):
            continue
        lhs = 2.0 * (v[1:] - v[0])
        rhs = (v[1:] ** 2).sum(1) - (v[0] ** 2).sum()
        add(np.linalg.solve(lhs, rhs), v, "tetrahedral")
        for face in itertools.combinations(range(4), 3):
            f = v[list(face)]
            u, w = f[1] - f[0], f[2] - f[0]
            n = np.cross(u, w)
            m = np.array([u, w, n])
            b = np.array([u @ (f[0] + f[1]) / 2, w @ (f[0] + f[2]) / 2, n @ f[0]])
            add(np.linalg.solve(m, b), f, "trigonal")
    found.sort(key=lambda s: (s.kind, s.multiplicity, s.radius_A))
    return found


def cu_candidate_sites(a: float = A_DEFAULT, p_s_bond: float = P_S_BOND) -> dict[str, np.ndarray]:
    """The 112 partially occupied Cu sites of the superionic phase, by label.

    * ``"Cu1_48h"``: the 48h tetrahedral hole that shares no face with a PS4 tetrahedron
      (the farther of the two 48h tetrahedral holes from P);
    * ``"Cu2_48h"``: the 48h trigonal site (a face of the Cu3 tetrahedron; CuS3, Cu–S ≈ 2.2 Å);
    * ``"Cu3_16e"``: the 16e tetrahedral hole away from P (CuS4, Cu–S ≈ 2.3 Å).

    These are geometric centres of the framework's holes, derived here, not refined
    positions; the paper names the same Wyckoff orbits (Cu1–Cu2 on 48h, Cu3 on 16e).
    """
    return {k: v.copy() for k, v in _cu_candidate_sites(float(a), float(p_s_bond)).items()}


@functools.lru_cache(maxsize=16)
def _cu_candidate_sites(a: float, p_s_bond: float) -> dict[str, np.ndarray]:
    holes = anion_interstices(a, p_s_bond)
    ops = f43m_operations()

    def pick(kind, mult):
        c = [h for h in holes if h.kind == kind and h.multiplicity == mult]
        if not c:
            raise RuntimeError(f"no {mult}-fold {kind} hole found in the framework")
        return max(c, key=lambda h: h.d_P_A)

    return {
        "Cu1_48h": orbit(pick("tetrahedral", 48).frac, ops),
        "Cu2_48h": orbit(pick("trigonal", 48).frac, ops),
        "Cu3_16e": orbit(pick("tetrahedral", 16).frac, ops),
    }


# ----------------------------------------------------------------------------------------------
# Building Atoms
# ----------------------------------------------------------------------------------------------


def _atoms(symbols, frac, a, cells=(1, 1, 1)):
    from ase import Atoms

    cells = np.asarray(cells, dtype=int)
    base_frac = np.asarray(frac, dtype=float)
    shifts = np.array(list(itertools.product(*(range(n) for n in cells))), dtype=float)
    allfrac = (base_frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3) / cells
    syms = list(symbols) * len(shifts)
    return Atoms(syms, scaled_positions=allfrac, cell=np.diag(a * cells), pbc=True)


def framework(a: float = A_DEFAULT, p_s_bond: float = P_S_BOND, cells=(1, 1, 1)):
    """The P4S24 framework (no Cu) as :class:`ase.Atoms`, optionally repeated ``cells``."""
    sites = framework_sites(a, p_s_bond)
    frac = np.vstack([sites["P_4b"], sites["S1_4a"], sites["S2_4c"], sites["S3_16e"]])
    return _atoms(["P"] * 4 + ["S"] * 24, frac, a, cells)


def _periodic_pairs(cart: np.ndarray, box: np.ndarray, r: float) -> list[list[int]]:
    """Neighbour lists (within ``r``) of points in an orthorhombic periodic box."""
    from scipy.spatial import cKDTree

    wrapped = np.mod(cart, box)
    wrapped[wrapped >= box] = 0.0
    tree = cKDTree(wrapped, boxsize=box)
    nbrs: list[list[int]] = [[] for _ in range(len(cart))]
    for i, j in tree.query_pairs(r):
        nbrs[i].append(j)
        nbrs[j].append(i)
    return nbrs


def place_cu_random(
    site_frac: np.ndarray,
    n_cu: int,
    box: np.ndarray,
    min_cu_cu: float,
    rng: np.random.Generator,
    max_moves: int | None = None,
) -> np.ndarray:
    """Choose ``n_cu`` of the candidate sites at random, no two closer than ``min_cu_cu``.

    Random sequential addition (visit the sites in a random order, accept a site when no
    accepted site lies within ``min_cu_cu``), followed, when that jams below ``n_cu``, by random
    hops of placed Cu to neighbouring sites that only they block, adding Cu wherever a site
    becomes free, until ``n_cu`` are placed. Returns the chosen site indices (sorted).

    Parameters
    ----------
    site_frac : (M, 3) array
        Fractional positions of the candidate sites in the box.
    box : (3,) array
        Orthorhombic box lengths, Å.
    max_moves : int, optional
        Give up after this many hops (default ``200 * n_cu``).

    Raises
    ------
    InputError
        ``n_cu`` Cu do not fit with this minimum distance.
    """
    cart = np.asarray(site_frac) * box
    m = len(cart)
    if n_cu > m:
        raise InputError(f"cannot place {n_cu} Cu on {m} candidate sites")
    nbrs = [np.asarray(n, dtype=int) for n in _periodic_pairs(cart, np.asarray(box, float), min_cu_cu)]
    occupied = np.zeros(m, dtype=bool)
    conflicts = np.zeros(m, dtype=int)  # number of occupied sites within min_cu_cu
    count = 0

    def put(i):
        nonlocal count
        occupied[i] = True
        conflicts[nbrs[i]] += 1
        count += 1

    for i in rng.permutation(m):
        if count == n_cu:
            break
        if not occupied[i] and conflicts[i] == 0:
            put(i)
    max_moves = 200 * n_cu if max_moves is None else max_moves
    moves = 0
    while count < n_cu and moves < max_moves:
        moves += 1
        occ = np.flatnonzero(occupied)
        i = occ[rng.integers(len(occ))]
        hop = [j for j in nbrs[i] if not occupied[j] and conflicts[j] == 1]
        if not hop:
            continue
        j = hop[rng.integers(len(hop))]
        occupied[i] = False
        conflicts[nbrs[i]] -= 1
        count -= 1
        put(j)
        for k in rng.permutation(nbrs[i]):  # sites that i alone was blocking
            if count < n_cu and not occupied[k] and conflicts[k] == 0:
                put(k)
        if count < n_cu and not occupied[i] and conflicts[i] == 0 and rng.random() < 0.5:
            put(i)
    if count < n_cu:
        raise InputError(
            f"could not place {n_cu} Cu on {m} candidate sites with Cu–Cu >= {min_cu_cu} Å "
            f"(reached {count} after {moves} moves); lower min_cu_cu"
        )
    chosen = np.flatnonzero(occupied)
    assert len(chosen) == n_cu
    return chosen


def build_f43m(
    cells: Sequence[int] = (1, 1, 1),
    seed: int = 0,
    a: float = A_DEFAULT,
    min_cu_cu: float = MIN_CU_CU,
    p_s_bond: float = P_S_BOND,
    sites: Iterable[str] = ("Cu1_48h", "Cu2_48h", "Cu3_16e"),
):
    """Superionic F-43m Cu7PS6: framework + 28 Cu per cubic cell placed at random.

    Parameters
    ----------
    cells : (n1, n2, n3)
        Repetitions of the 56-atom cubic cell. Cu are placed over the candidate sites of the
        whole supercell at once (no periodic copy of one random cell).
    seed : int
        Seed of the random placement (numpy ``default_rng``); same seed, same structure.
    a : float
        Cubic lattice constant in Å (default: 9.669 Å, the literature density 4.91 g/cm³).
    min_cu_cu : float
        Minimum Cu–Cu distance in Å.
    sites : labels
        Which candidate orbits of :func:`cu_candidate_sites` to use (default: all 112/cell).

    Returns
    -------
    ase.Atoms
        Atoms ordered P, S, Cu; ``info["provenance"]`` records the parameters and the
        occupation of each site orbit.

    Notes
    -----
    The random placement stands in for the special quasirandom structure (SQS) of the paper's
    Methods; the site-averaged symmetry is F-43m, any one placement has none (P1).
    """
    cells = tuple(int(n) for n in cells)
    if len(cells) != 3 or min(cells) < 1:
        raise InputError(f"cells must be three positive integers, got {cells}")
    cand = cu_candidate_sites(a, p_s_bond)
    labels = list(sites)
    for lab in labels:
        if lab not in cand:
            raise InputError(f"unknown Cu site {lab!r}; known: {sorted(cand)}")
    frac_cell = np.vstack([cand[lab] for lab in labels])
    lab_cell = np.concatenate([[lab] * len(cand[lab]) for lab in labels])
    ncell = int(np.prod(cells))
    sc = _atoms(["X"] * len(frac_cell), frac_cell, a, cells)
    sc_labels = np.tile(lab_cell, ncell)
    box = np.diag(sc.cell.array)
    rng = np.random.default_rng(seed)
    chosen = place_cu_random(sc.get_scaled_positions(), 28 * ncell, box, min_cu_cu, rng)
    atoms = framework(a, p_s_bond, cells)
    from ase import Atoms

    atoms += Atoms(["Cu"] * len(chosen), positions=sc.positions[chosen], cell=atoms.cell, pbc=True)
    occupied = {lab: int(np.sum(sc_labels[chosen] == lab)) for lab in labels}
    atoms.info["provenance"] = {
        "phase": "F-43m (superionic), random Cu placement",
        "derived": "framework from Wyckoff positions and P-S bond; Cu sites from framework "
        "geometry; not refined from experiment",
        "a_A": a,
        "p_s_bond_A": p_s_bond,
        "cells": list(cells),
        "seed": int(seed),
        "min_cu_cu_A": float(min_cu_cu),
        "cu_sites_occupied": occupied,
        "cu_sites_available": {lab: int(len(cand[lab]) * ncell) for lab in labels},
    }
    return atoms


# ----------------------------------------------------------------------------------------------
# Bond valence (stand-in ranking) and coordination
# ----------------------------------------------------------------------------------------------

#: Bond-valence parameters R0 (Å) of Brese & O'Keeffe [3] with b = 0.37 Å, and formal valences.
BV_R0 = {("Cu", "S"): 1.86, ("P", "S"): 2.145}
BV_B = 0.37
FORMAL_VALENCE = {"Cu": 1, "P": 5, "S": 2}


def bond_valence_sums(atoms, cutoff: float = 3.5) -> np.ndarray:
    """Bond-valence sums V_i = Σ_j exp((R0 - r_ij)/b) over cation–anion pairs within ``cutoff``.

    Uses the parameters in :data:`BV_R0`; returns one value per atom (valence units).
    """
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, cutoff)
    sym = np.array(atoms.get_chemical_symbols())
    bvs = np.zeros(len(atoms))
    for (c, an), r0 in BV_R0.items():
        m = (sym[i] == c) & (sym[j] == an)
        s = np.exp((r0 - d[m]) / BV_B)
        np.add.at(bvs, i[m], s)
        np.add.at(bvs, j[m], s)
    return bvs


def global_instability_index(atoms, cutoff: float = 3.5) -> float:
    """Global instability index GII = sqrt(mean_i (V_i - |formal valence_i|)²) in v.u. [4]_.

    Values below about 0.1 v.u. are typical of unstrained ionic structures, above 0.2 of
    strained or wrong ones.
    """
    bvs = bond_valence_sums(atoms, cutoff)
    formal = np.array([FORMAL_VALENCE[s] for s in atoms.get_chemical_symbols()], dtype=float)
    return float(np.sqrt(np.mean((bvs - formal) ** 2)))


def coordination_numbers(atoms, center: str = "Cu", ligand: str = "S", cutoff: float = 2.75):
    """Number of ``ligand`` atoms within ``cutoff`` Å of each ``center`` atom (array)."""
    from ase.neighborlist import neighbor_list

    i, j = neighbor_list("ij", atoms, cutoff)
    sym = np.array(atoms.get_chemical_symbols())
    m = (sym[i] == center) & (sym[j] == ligand)
    idx = np.flatnonzero(sym == center)
    counts = np.bincount(i[m], minlength=len(atoms))
    return counts[idx]


#: Shortest distance per species pair: :func:`mdargy.structures.geometry.min_pair_distances`
#: (the name the structure-derivation script uses).
min_distances = min_pair_distances


# ----------------------------------------------------------------------------------------------
# P2_13 ordered phase: enumeration of Cu orderings
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class P213Ordering:
    """One P2_13-compatible Cu ordering: which P2_13 orbits of the candidate sites hold Cu.

    ``orbits`` are (label, index) pairs naming sub-orbits of :func:`p213_suborbits`: two 12b
    orbits (Cu1, Cu2) and one 4a orbit (Cu3).
    """

    orbits: tuple[tuple[str, int], ...]
    min_cu_cu_A: float
    gii_vu: float
    cu_coordination: tuple[int, ...]  # per Cu orbit, at the coordination cutoff

    @property
    def name(self) -> str:
        return "+".join(f"{lab}[{k}]" for lab, k in self.orbits)


def p213_suborbits(a: float = A_DEFAULT, p_s_bond: float = P_S_BOND) -> dict[str, list[np.ndarray]]:
    """Split every Cu candidate orbit of F-43m into its P2_13 orbits.

    48h → four 12b orbits; 16e → one 4a + one 12b orbit. Keys as in :func:`cu_candidate_sites`,
    plus two extra positions on the three-fold axes, used only as alternative Cu3 (4a) sites:
    ``"X_16e_trig"`` (the centre of the S triangle beyond the Cu3 tetrahedron, a candidate for
    a trigonal-bipyramidal, five-coordinated Cu3) and ``"X_4d"`` (the empty 4d tetrahedron).
    """
    return {k: [p.copy() for p in v] for k, v in _p213_suborbits(float(a), float(p_s_bond)).items()}


@functools.lru_cache(maxsize=16)
def _p213_suborbits(a: float, p_s_bond: float) -> dict[str, list[np.ndarray]]:
    ops = p213_operations()
    out = {lab: split_orbit(pts, ops) for lab, pts in cu_candidate_sites(a, p_s_bond).items()}
    f_ops = f43m_operations()
    holes = anion_interstices(a, p_s_bond)
    trig16 = max((h for h in holes if h.kind == "trigonal" and h.multiplicity == 16), key=lambda h: h.d_P_A)
    out["X_16e_trig"] = [o for o in split_orbit(orbit(trig16.frac, f_ops), ops) if len(o) == 4]
    out["X_4d"] = [orbit([0.75, 0.75, 0.75], ops)]
    return out


def p213_framework_labels(a: float = A_DEFAULT, p_s_bond: float = P_S_BOND):
    """Framework split into P2_13 orbits: list of (label, symbol, fractional positions)."""
    ops = p213_operations()
    fw = framework_sites(a, p_s_bond)
    out = [("P_4a", "P", fw["P_4b"]), ("S1_4a", "S", fw["S1_4a"]), ("S2_4a", "S", fw["S2_4c"])]
    parts = sorted(split_orbit(fw["S3_16e"], ops), key=len)
    out += [("S3_4a", "S", parts[0]), ("S4_12b", "S", parts[1])]
    return out


def p213_atoms(orbits: Sequence[tuple[str, int]], a: float = A_DEFAULT, p_s_bond: float = P_S_BOND):
    """Atoms of the P2_13 ordering occupying the given Cu sub-orbits (on the ideal framework)."""
    sub = p213_suborbits(a, p_s_bond)
    frames = p213_framework_labels(a, p_s_bond)
    symbols, frac, labels = [], [], []
    for lab, sym, pts in frames:
        symbols += [sym] * len(pts)
        frac.append(pts)
        labels += [lab] * len(pts)
    for n, (lab, k) in enumerate(orbits, start=1):
        pts = sub[lab][k]
        symbols += ["Cu"] * len(pts)
        frac.append(pts)
        labels += [f"Cu{n}_{'4a' if len(pts) == 4 else '12b'}"] * len(pts)
    atoms = _atoms(symbols, np.vstack(frac), a)
    atoms.arrays["site_label"] = np.array(labels)
    return atoms


def enumerate_p213_orderings(
    a: float = A_DEFAULT,
    p_s_bond: float = P_S_BOND,
    min_cu_cu: float = MIN_CU_CU,
    coordination_cutoff: float = 2.75,
    extra_4a: bool = False,
) -> list[P213Ordering]:
    """All P2_13-compatible Cu orderings over the candidate sites, ranked by the stand-in.

    An ordering puts Cu on two 12b orbits and one 4a orbit chosen among the P2_13 sub-orbits of
    the 112 F-43m candidate sites (:func:`p213_suborbits`), giving Cu28P4S24. Orderings with a
    Cu–Cu distance below ``min_cu_cu`` are dropped, and orderings equivalent under F-43m (which
    maps the framework onto itself) are kept once.

    The list is sorted by the **stand-in** criterion, the bond-valence global instability index
    on the unrelaxed framework (lowest first). It is not an energy: the proper ranking relaxes
    each candidate with a force field (``scripts/cu7ps6/derive_p213.py``).

    With ``extra_4a``, Cu3 may also sit on the other three-fold-axis positions of
    :func:`p213_suborbits` (``X_16e_trig``, ``X_4d``).
    """
    sub = p213_suborbits(a, p_s_bond)
    extra = ("X_16e_trig", "X_4d")
    twelve = [(lab, k) for lab, parts in sub.items() if lab not in extra
              for k, p in enumerate(parts) if len(p) == 12]
    four = [(lab, k) for lab, parts in sub.items() if extra_4a or lab not in extra
            for k, p in enumerate(parts) if len(p) == 4]
    f_rots, f_trans = _stack_ops(f43m_operations())
    out: list[P213Ordering] = []
    seen: set = set()
    for (o1, o2), o3 in itertools.product(itertools.combinations(twelve, 2), four):
        pts = np.vstack([sub[o1[0]][o1[1]], sub[o2[0]][o2[1]], sub[o3[0]][o3[1]]])
        d = np.linalg.norm(_minimum_image(pts[:, None] - pts[None]) * a, axis=2)
        np.fill_diagonal(d, np.inf)
        dmin = float(d.min())
        if dmin < min_cu_cu:
            continue
        # F-43m images of this Cu set are the same ordering in another orientation/origin
        key = _canonical_set_key(pts, f_rots, f_trans)
        if key in seen:
            continue
        seen.add(key)
        atoms = p213_atoms((o1, o2, o3), a, p_s_bond)
        labels = atoms.arrays["site_label"]
        cn = coordination_numbers(atoms, cutoff=coordination_cutoff)
        cu_labels = labels[np.array(atoms.get_chemical_symbols()) == "Cu"]
        cn_orbit = tuple(int(np.median(cn[cu_labels == lab])) for lab in dict.fromkeys(cu_labels))
        out.append(P213Ordering((o1, o2, o3), dmin, global_instability_index(atoms), cn_orbit))
    out.sort(key=lambda o: o.gii_vu)
    return out


def _canonical_set_key(pts: np.ndarray, rots: np.ndarray, trans: np.ndarray) -> bytes:
    """A label shared by all images of a point set under the given operations."""
    imgs = (np.einsum("kij,nj->kni", rots, pts) + trans[:, None, :]) % 1.0
    ints = np.round(imgs * 1e4).astype(np.int64) % 10000
    keys = []
    for img in ints:
        order = np.lexsort(img.T[::-1])
        keys.append(img[order].tobytes())
    return min(keys)


def _set_equal(p: np.ndarray, q: np.ndarray, tol: float = 1e-5) -> bool:
    if len(p) != len(q):
        return False
    d = np.abs(_minimum_image(p[:, None] - q[None]))
    return bool(np.all(np.any(np.all(d < tol, axis=2), axis=1)))


# ----------------------------------------------------------------------------------------------
# Site-averaged superionic structure as a CIF (partial occupancies)
# ----------------------------------------------------------------------------------------------


def _op_string(r: np.ndarray, t: np.ndarray) -> str:
    out = []
    for row, ti in zip(r, t):
        s = ""
        for coef, var in zip(row, "xyz"):
            if coef:
                s += ("+" if coef > 0 else "-") + var
        if ti:
            s += {0.25: "+1/4", 0.5: "+1/2", 0.75: "+3/4"}[round(float(ti % 1.0), 2)]
        out.append(s.lstrip("+"))
    return ",".join(out)


def f43m_average_cif(a: float = A_DEFAULT, p_s_bond: float = P_S_BOND, header: Sequence[str] = ()) -> str:
    """CIF text of the site-averaged F-43m structure: framework + Cu1/Cu2 (48h) and Cu3 (16e)
    each with occupancy 1/4 (28 Cu on 112 sites per cell)."""
    fw = framework_sites(a, p_s_bond)
    cu = cu_candidate_sites(a, p_s_bond)
    ops = f43m_operations()

    def rep(points, pattern):
        # the representative of the orbit written in the Wyckoff form of International Tables
        for p in points:
            if pattern(p):
                return p
        return points[0]

    rows = [
        ("P1", "P", "4b", fw["P_4b"][0], 1.0),
        ("S1", "S", "4a", fw["S1_4a"][0], 1.0),
        ("S2", "S", "4c", fw["S2_4c"][0], 1.0),
        ("S3", "S", "16e", rep(fw["S3_16e"], lambda p: np.allclose(p, p[0])), 1.0),
        ("Cu1", "Cu", "48h", rep(cu["Cu1_48h"], lambda p: np.isclose(p[0], p[1])), 0.25),
        ("Cu2", "Cu", "48h", rep(cu["Cu2_48h"], lambda p: np.isclose(p[0], p[1])), 0.25),
        ("Cu3", "Cu", "16e", rep(cu["Cu3_16e"], lambda p: np.allclose(p, p[0])), 0.25),
    ]
    lines = [f"# {h}" for h in header]
    lines += [
        "data_Cu7PS6_F-43m_average",
        "_chemical_formula_sum 'Cu7 P1 S6'",
        f"_cell_length_a {a:.5f}", f"_cell_length_b {a:.5f}", f"_cell_length_c {a:.5f}",
        "_cell_angle_alpha 90", "_cell_angle_beta 90", "_cell_angle_gamma 90",
        "_symmetry_space_group_name_H-M 'F -4 3 m'",
        "_symmetry_Int_Tables_number 216",
        "_cell_formula_units_Z 4",
        "loop_", "_symmetry_equiv_pos_as_xyz",
    ]
    lines += [f"  '{_op_string(r, t)}'" for r, t in ops]
    lines += ["loop_", "_atom_site_label", "_atom_site_type_symbol", "_atom_site_Wyckoff_symbol",
              "_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z", "_atom_site_occupancy"]
    for lab, el, wy, p, occ in rows:
        lines.append(f"{lab} {el} {wy} {p[0]:.6f} {p[1]:.6f} {p[2]:.6f} {occ:.4f}")
    return "\n".join(lines) + "\n"
