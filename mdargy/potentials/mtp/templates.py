r"""Untrained MTP templates for any level and any number of species, from the definition.

Definition (Shapeev, Multiscale Model. Simul. 14, 1153 (2016); Gubaev et al., Comput. Mater.
Sci. 156, 148 (2019); Novikov et al., Mach. Learn.: Sci. Technol. 2, 025002 (2021)):

* moment tensors :math:`M_{\mu,\nu}(\mathfrak n_i) = \sum_j f_\mu(r_{ij})\,
  \hat r_{ij}^{\otimes\nu}` (symmetric, rank :math:`\nu`), of level
  :math:`\mathrm{lev}\,M_{\mu,\nu} = 2 + 4\mu + \nu`;
* scalar basis functions :math:`B_\alpha`: contractions of products of moment tensors to a
  scalar, of level the sum of the levels of the factors; the basis of level ``L`` holds every
  distinct such contraction with level <= ``L``.

How the contractions are built (and stored in the file's ``alpha_index_times``): a new tensor is
made from two known ones, ``A`` (rank p) and ``B`` (rank q >= p), by contracting *all* of A's
indices with p of B's, :math:`C_{\beta} = \sum_{|\gamma|=p} \frac{p!}{\gamma!}
A_\gamma B_{\gamma+\beta}`, where tensors are stored by their distinct components
:math:`x^a y^b z^c` and ``p!/gamma!`` (an integer) counts the repeated index orders. Since B is
symmetric, so is C: every stored tensor is exactly symmetric and no symmetrisation weight is
needed. Products of two scalars (p = q = 0) are included; a scalar times a tensor is not (its
contractions are products of scalars already in the set). Generation proceeds in rounds
(pairs of basic tensors, then pairs involving a tensor of the previous round, ...), keeping a
tensor only if it can still end in a scalar of level <= L (a rank-r tensor needs at least
level 2 + r more). Duplicates (the same polynomial reached by another route, e.g.
``(M00 M00) M00 = M00 (M00 M00)``) are removed by evaluating every candidate on random
neighbourhoods; finally only the basic components and intermediates that some kept scalar uses
are written.

Counts against MLIP's distributed templates (moments / basic / times / scalar)::

    level  MLIP                 this module
    08     18 / 11 / 14 / 9     18 / 11 / 14 / 9     identical (same basis, same file layout)
    10     41 / 25 / 42 / 16    42 / 25 / 43 / 17    one more scalar
    12     84 / 46 / 117 / 29   80 / 46 / 96 / 31    two more scalars, fewer intermediates
    16     350 / 130 / 969 / 92 286 / 130 / 573 / 106  14 more scalars, far fewer steps

(computed by ``count_table()``, checked by ``tests/test_mtp_templates.py``). Why they differ:

* The **basic moments agree at every level** (same M_{mu,nu} and components, in MLIP's order):
  both include M_{mu,nu} iff ``2+4mu+nu <= L`` for nu = 0, or ``(2+4mu+nu) + (2+nu) <= L``
  otherwise (a tensor must be contracted with at least M_{0,nu}).
* **Scalars.** Ours is every distinct scalar reachable by complete pairwise absorption (see
  above) with level <= L, duplicates removed; the tests show they are linearly independent
  (full rank on random neighbourhoods) and rotation/permutation invariant, so the extra ones
  are genuine basis functions, not redundancies. At level 10 the extra function is a
  product of five moments (e.g. ``M00^5`` or ``M00^2 (M01.M01)``); MLIP's generator evidently
  prunes some long products of scalars, which our enumeration keeps. Without MLIP's generator
  (not redistributable, not consulted) we cannot say which rule it applies; the numbers above
  are what the definition in the issue produces.
* **Intermediates and times.** Ours builds each scalar from shared, exactly symmetric
  intermediates (a tensor is stored once and reused; products of scalars are single steps), so
  it needs fewer ``alpha_index_times`` entries than MLIP at levels >= 12, where MLIP stores more
  non-scalar intermediate tensors. Fewer steps also make evaluation cheaper.
* Contractions whose graph is not pairwise-absorbable, e.g.
  :math:`\mathrm{tr}(M_{0,2} M_{0,2} M_{0,2})` (level 12, three rank-2 tensors in a ring), are
  not in ours: they need a non-symmetric intermediate. MLIP's larger ``times`` counts at
  levels >= 12 may partly come from partial contractions of this kind (we could not check).

So a level-L template from this module is a valid MTP of level L in MLIP's sense (and motep
and MLIP read and train it), with the same radial part and basic moments as MLIP's and a
scalar basis that contains at least as many independent functions; potentials trained with
MLIP's templates run unchanged (the plugin evaluates any valid ``alpha_index_times``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from mdargy.errors import InputError
from mdargy.potentials.mtp.mtpfile import MTPPotential

#: Counts of MLIP's widely used templates (moments, basic, times, scalar), for comparison.
MLIP_COUNTS = {8: (18, 11, 14, 9), 10: (41, 25, 42, 16), 12: (84, 46, 117, 29),
               16: (350, 130, 969, 92)}


def components(rank: int) -> list[tuple[int, int, int]]:
    """Distinct components ``(a, b, c)``, ``a+b+c = rank``, in MLIP's order (xx.., xy.., ...)."""
    return [(a, b, rank - a - b) for a in range(rank, -1, -1) for b in range(rank - a, -1, -1)]


def _multinomial(g: tuple[int, int, int]) -> int:
    return math.factorial(sum(g)) // (math.factorial(g[0]) * math.factorial(g[1]) *
                                      math.factorial(g[2]))


@dataclass
class _Tensor:
    rank: int
    level: int
    comp: dict  # (a,b,c) -> slot id (index into the global value list)
    parents: tuple = ()  # (idA, idB) for contractions
    round: int = 0
    uses: list = field(default_factory=list)  # times rows (i1, i2, mult, i3-slot)


@dataclass(frozen=True)
class TemplateCounts:
    level: int
    moments: int
    basic: int
    times: int
    scalar: int


class _Builder:
    def __init__(self, level: int, n_env: int = 3, seed: int = 12345):
        self.level = level
        rng = np.random.default_rng(seed)
        self.max_mu = max(0, (level - 2) // 4)
        self.envs = []
        for _ in range(n_env):
            n = 7
            u = rng.normal(size=(n, 3))
            u /= np.linalg.norm(u, axis=1)[:, None]
            f = rng.uniform(0.3, 1.3, size=(self.max_mu + 1, n))
            self.envs.append((u, f))
        self.values: list[np.ndarray] = []  # per slot: values in each env
        self.tensors: list[_Tensor] = []
        self.seen: dict = {}

    def _new_slot(self, vals) -> int:
        self.values.append(np.asarray(vals, dtype=float))
        return len(self.values) - 1

    def _key(self, rank, vals_by_comp):
        flat = np.concatenate([vals_by_comp[c] for c in components(rank)])
        scale = np.max(np.abs(flat)) or 1.0
        return (rank, tuple(np.round(flat / scale, 9)), round(float(np.log10(scale)), 7))

    def add_basic(self):
        L = self.level
        for mu in range(self.max_mu + 1):
            for nu in range(0, L + 1):
                lev = 2 + 4 * mu + nu
                need = 0 if nu == 0 else 2 + nu
                if lev + need > L:
                    continue
                comp = {}
                vals = {}
                for c in components(nu):
                    v = [np.sum(f[mu] * u[:, 0] ** c[0] * u[:, 1] ** c[1] * u[:, 2] ** c[2])
                         for (u, f) in self.envs]
                    vals[c] = np.array(v)
                key = self._key(nu, vals)
                self.seen[key] = len(self.tensors)
                for c in components(nu):
                    comp[c] = self._new_slot(vals[c])
                t = _Tensor(rank=nu, level=lev, comp=comp, round=0)
                t.basic = (mu, nu)
                self.tensors.append(t)

    def contract(self, ia: int, ib: int, rnd: int):
        A, B = self.tensors[ia], self.tensors[ib]
        if A.rank > B.rank:
            A, B, ia, ib = B, A, ib, ia
        p, q = A.rank, B.rank
        if p == 0 and q > 0:
            return  # scalar times tensor: redundant (see module docstring)
        lev = A.level + B.level
        r = q - p
        need = 0 if r == 0 else 2 + r
        if lev + need > self.level:
            return
        rows = {}  # out component -> list of (slotA, slotB, mult)
        vals = {}
        for beta in components(r):
            acc = np.zeros(len(self.envs))
            terms = []
            for g in components(p):
                m = _multinomial(g)
                sa = A.comp[g]
                sb = B.comp[(g[0] + beta[0], g[1] + beta[1], g[2] + beta[2])]
                terms.append((sa, sb, m))
                acc = acc + m * self.values[sa] * self.values[sb]
            rows[beta] = terms
            vals[beta] = acc
        key = self._key(r, vals)
        if key in self.seen:
            return
        comp = {beta: self._new_slot(vals[beta]) for beta in components(r)}
        t = _Tensor(rank=r, level=lev, comp=comp, parents=(ia, ib), round=rnd)
        t.rows = rows
        t.basic = None
        self.seen[key] = len(self.tensors)
        self.tensors.append(t)

    def build(self):
        self.add_basic()
        rnd = 1
        while True:
            n_before = len(self.tensors)
            ids = list(range(n_before))
            new_prev = [i for i in ids if self.tensors[i].round == rnd - 1]
            if not new_prev:
                break
            for ia, ib in itertools.combinations_with_replacement(ids, 2):
                ta, tb = self.tensors[ia], self.tensors[ib]
                if ta.round != rnd - 1 and tb.round != rnd - 1:
                    continue
                self.contract(ia, ib, rnd)
            if len(self.tensors) == n_before:
                break
            rnd += 1
        return self


def _assemble(b: _Builder):
    """Prune to what the scalars need; renumber slots in MLIP's layout."""
    T = b.tensors
    scalars = [i for i, t in enumerate(T) if t.rank == 0]
    needed = set()
    stack = list(scalars)
    while stack:
        i = stack.pop()
        if i in needed:
            continue
        needed.add(i)
        stack.extend(T[i].parents)
    basic_ids = [i for i, t in enumerate(T) if t.basic is not None and i in needed]
    basic_ids.sort(key=lambda i: T[i].basic)  # by (mu, nu)
    contr_ids = sorted((i for i in needed if T[i].basic is None), key=lambda i: i)
    newslot = {}
    basic_rows = []
    for i in basic_ids:
        mu, nu = T[i].basic
        for c in components(nu):
            newslot[T[i].comp[c]] = len(basic_rows)
            basic_rows.append((mu, *c))
    n = len(basic_rows)
    times = []
    for i in contr_ids:
        t = T[i]
        for beta in components(t.rank):
            newslot[t.comp[beta]] = n
            for sa, sb, m in t.rows[beta]:
                times.append((newslot[sa], newslot[sb], m, n))
            n += 1
    mapping = [newslot[T[i].comp[(0, 0, 0)]] for i in sorted(
        scalars, key=lambda i: newslot[T[i].comp[(0, 0, 0)]])]
    levels = {newslot[T[i].comp[(0, 0, 0)]]: T[i].level for i in scalars}
    return basic_rows, times, n, mapping, levels


def make_template(level: int, species_count: int, min_dist: float = 1.5,
                  max_dist: float = 5.0, radial_basis_size: int = 8,
                  potential_name: str = "MTP1m") -> MTPPotential:
    """Build the untrained MTP of the given level for ``species_count`` species.

    Parameters
    ----------
    level : int
        Maximum level of the scalar basis functions, 2 ... 28 (MLIP distributes the even ones).
    species_count : int
        Number of species (the coefficients are per species and species pair; the basis does
        not depend on it).
    min_dist, max_dist : float
        Radial basis interval in Angstrom; ``max_dist`` is the cutoff.
    radial_basis_size : int
        Number of Chebyshev polynomials.

    Returns
    -------
    MTPPotential
        Without coefficients (``trained`` is False); write it with
        :func:`mdargy.potentials.mtp.mtpfile.write_mtp`.
    """
    if not isinstance(level, (int, np.integer)) or level < 2 or level > 28:
        raise InputError(f"MTP level must be an integer in [2, 28], got {level!r}")
    if species_count < 1:
        raise InputError(f"species_count must be >= 1, got {species_count}")
    basic, times, n, mapping, _ = _assemble(_Builder(int(level)).build())
    rfc = 1 + max(row[0] for row in basic)
    return MTPPotential(
        species_count=int(species_count), min_dist=float(min_dist), max_dist=float(max_dist),
        radial_basis_size=int(radial_basis_size), radial_funcs_count=rfc,
        alpha_moments_count=n, alpha_index_basic=np.array(basic).reshape(-1, 4),
        alpha_index_times=np.array(times).reshape(-1, 4), alpha_moment_mapping=mapping,
        potential_name=potential_name)


def template_counts(level: int) -> TemplateCounts:
    """Counts (moments, basic, times, scalar) of the template of ``level``."""
    t = make_template(level, 1)
    return TemplateCounts(level, t.alpha_moments_count, t.alpha_index_basic_count,
                          t.alpha_index_times_count, t.alpha_scalar_moments)


def scalar_levels(level: int) -> list[int]:
    """Levels of the scalar basis functions of the template, in ``alpha_moment_mapping`` order."""
    _, _, _, mapping, levels = _assemble(_Builder(int(level)).build())
    return [levels[m] for m in mapping]


def count_table(levels=(8, 10, 12, 16)) -> str:
    """A text table comparing this module's counts with MLIP's templates."""
    lines = ["level  moments  basic  times  scalar   MLIP (moments/basic/times/scalar)"]
    for lv in levels:
        c = template_counts(lv)
        ref = MLIP_COUNTS.get(lv)
        lines.append(f"{lv:5d}  {c.moments:7d}  {c.basic:5d}  {c.times:5d}  {c.scalar:6d}   "
                     + ("/".join(map(str, ref)) if ref else "-"))
    return "\n".join(lines)
