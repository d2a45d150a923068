"""Site assignment and jump statistics of mobile ions on the sites of a reference structure.

Each mobile ion is assigned, frame by frame, to the nearest site of a reference structure tiled
over the simulation cell (periodic nearest-neighbour query: scipy's periodic k-d tree for
orthorhombic cells, freud's AABB tree for triclinic ones). Closely spaced (split) sites make the nearest site flicker
with thermal vibration, so a *jump* is counted with the core-radius (transition-state) rule: an
ion belongs to the last site whose core (radius ``core_radius_A``) it entered, and a jump is
the entry into the core of a different site (e.g. Frenkel & Smit; the "site-to-site" jump
analysis of Wood & Marzari, Phys. Rev. B 76, 134301 (2007) and of the ionic-conduction
literature on argyrodites, e.g. de Klerk, van der Maas & Wagemaker, ACS Appl. Energy Mater. 1,
3230 (2018)).

Reported per site type: occupancy (mean ions per site, from the nearest-site assignment),
mean residence time (completed visits only), jump counts and rates between types, and the
share of jumps on the paths the user names (for Cu7PS6: jumps that involve a Cu3 site belong
only to the indirect, inter-tetrahedral Cu3–Cu1–Cu2–Cu2–Cu1–Cu3 path; Cu1–Cu2 and Cu2–Cu2
jumps also make the direct, intra-tetrahedral Cu1–Cu2–Cu2–Cu1 path).

Pure functions on arrays: the reference (site fractional coordinates, labels, cell) is built by
the caller, e.g. from :func:`mdargy.structures.cu7ps6.cu_candidate_sites`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mdargy.constants import A2_PS_TO_CM2_S
from mdargy.errors import InputError
from mdargy.results import Result, provenance

__all__ = [
    "SiteReference",
    "tile_reference",
    "nearest_sites",
    "core_radius_states",
    "framework_drift",
    "SiteJumpResult",
    "site_jump_statistics",
    "analyse_sites",
]


@dataclasses.dataclass(frozen=True)
class SiteReference:
    """Named sites of a reference cell.

    Attributes
    ----------
    name : str
    cell_A : ndarray (3, 3)
        Reference cell vectors as rows, Å.
    frac : ndarray (n_sites, 3)
        Fractional coordinates of the sites in that cell.
    labels : tuple of str, one per site
        Site type (e.g. "Cu1", "Cu2", "Cu3").
    framework : dict {element: ndarray (n, 3)}
        Fractional coordinates of immobile framework atoms, used to check that the trajectory
        is registered on the same origin (optional).
    """

    name: str
    cell_A: np.ndarray
    frac: np.ndarray
    labels: tuple
    framework: dict = dataclasses.field(default_factory=dict)

    @property
    def types(self) -> tuple:
        """Distinct site types in order of first appearance."""
        return tuple(dict.fromkeys(self.labels))


def _cell_text(cell):
    c = np.asarray(cell, float)
    lens = np.linalg.norm(c, axis=1)
    return "[" + " x ".join(f"{v:.4g}" for v in lens) + "] A"


def tile_reference(ref: SiteReference, box_A, rel_tol: float = 0.06):
    """Tile the reference over a simulation cell that is an integer multiple of it.

    Parameters
    ----------
    ref : SiteReference
    box_A : array (3, 3)
        Simulation cell vectors (rows), Å.
    rel_tol : float
        Accepted relative mismatch of each cell vector (thermal expansion, NPT).

    Returns
    -------
    frac : ndarray (n_sites × n_cells, 3)
        Site fractional coordinates in the simulation cell.
    site_type : ndarray of int
        Index into ``ref.types`` of every tiled site.
    reps : tuple of 3 int

    Raises
    ------
    InputError
        When the cell is not an integer multiple of the reference cell (both are named).
    """
    box = np.asarray(box_A, float)
    rc = np.asarray(ref.cell_A, float)
    # box = reps * ref_cell (row-wise) up to thermal expansion
    reps_f = np.linalg.norm(box, axis=1) / np.linalg.norm(rc, axis=1)
    reps = np.rint(reps_f).astype(int)
    cosb = np.sum(box * rc, axis=1) / (np.linalg.norm(box, axis=1) * np.linalg.norm(rc, axis=1))
    if (np.any(reps < 1) or np.any(np.abs(reps_f / np.maximum(reps, 1) - 1) > rel_tol)
            or np.any(cosb < math.cos(math.radians(3)))):
        raise InputError(
            f"the reference structure '{ref.name}' (cell {_cell_text(rc)}) does not match the "
            f"trajectory's cell {_cell_text(box)}: the trajectory cell must be an integer "
            f"multiple of the reference cell (within {100 * rel_tol:g} %, same orientation)"
        )
    grid = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3)
    frac = (np.asarray(ref.frac, float)[None, :, :] + grid[:, None, :]) / reps
    types = {t: k for k, t in enumerate(ref.types)}
    st = np.array([types[lab] for lab in ref.labels], int)
    return np.mod(frac.reshape(-1, 3), 1.0), np.tile(st, len(grid)), tuple(int(r) for r in reps)


def _matmul3(a, m):
    """``a @ m`` for (..., 3) x (3, 3) by einsum: BLAS with an inner dimension of 3 was
    measured many times slower on a loaded machine."""
    return np.einsum("...k,kj->...j", a, m)


def _wrap_frac(pos, box):
    return np.mod(_matmul3(pos, np.linalg.inv(box)), 1.0)


def nearest_sites(positions, box_A, site_frac, engine: str = "auto", chunk_frames: int = 500):
    """Nearest site of every atom in every frame, with periodic boundaries.

    Parameters
    ----------
    positions : array (n_frames, n_atoms, 3)
        Positions, Å (wrapped or not).
    box_A : array (3, 3) or (n_frames, 3, 3)
        Cell vectors (rows); one per frame for a changing cell (then each frame's fractional
        coordinates are mapped into the mean cell, where the sites are placed).
    site_frac : array (n_sites, 3)
        Site fractional coordinates.
    engine : {"auto", "freud", "scipy"}
        freud's periodic AABB tree (any cell) or scipy's periodic k-d tree (orthorhombic
        cells only); "auto" takes scipy for orthorhombic cells (faster here) and freud
        otherwise.

    Returns
    -------
    index : ndarray (n_frames, n_atoms) of int
    distance_A : ndarray (n_frames, n_atoms)
    """
    x = positions
    n_frames, n_atoms = x.shape[0], x.shape[1]
    boxes = np.asarray(box_A, float)
    mean_box = boxes.mean(axis=0) if boxes.ndim == 3 else boxes
    sites_cart = np.asarray(site_frac, float) @ mean_box
    ortho = np.allclose(mean_box, np.diag(np.diag(mean_box)), atol=1e-8)
    if engine == "auto":
        # measured on Cu7PS6 (224 Cu x 10,001 frames, 896 sites): scipy 9.6 s, freud 15.6 s
        # (benchmarks/bench_ionic.py); freud is needed for triclinic cells only
        engine = "scipy" if ortho else "freud"
    if engine == "scipy" and not ortho:
        raise InputError("scipy's periodic k-d tree needs an orthorhombic cell: use "
                         "engine='freud' for a triclinic one")
    idx = np.empty((n_frames, n_atoms), dtype=np.intp)
    dist = np.empty((n_frames, n_atoms))
    if engine == "freud":
        import freud

        fbox = freud.box.Box.from_matrix(mean_box.T)
        # freud boxes are centred on the origin: shift fractional [0,1) to [-1/2,1/2)
        aq = freud.locality.AABBQuery(fbox, fbox.wrap(sites_cart - 0.5 * mean_box.sum(axis=0)))
    else:
        from scipy.spatial import cKDTree

        L = np.diag(mean_box)
        tree = cKDTree(np.mod(sites_cart, L), boxsize=L)
    for f0 in range(0, n_frames, chunk_frames):
        f1 = min(f0 + chunk_frames, n_frames)
        blk = np.asarray(x[f0:f1], dtype=np.float64)
        if boxes.ndim == 3:
            fr = np.stack([_wrap_frac(blk[k], boxes[f0 + k]) for k in range(f1 - f0)])
        else:
            fr = _wrap_frac(blk.reshape(-1, 3), boxes).reshape(blk.shape)
        cart = _matmul3(fr.reshape(-1, 3), mean_box)
        if engine == "freud":
            q = aq.query(fbox.wrap(cart - 0.5 * mean_box.sum(axis=0)),
                         dict(num_neighbors=1, exclude_ii=False))
            nl = q.toNeighborList()
            order = np.argsort(nl.query_point_indices, kind="stable")
            i = np.asarray(nl.point_indices)[order]
            d = np.asarray(nl.distances)[order]
            if i.size != cart.shape[0]:
                raise InputError("freud returned no neighbour for some atoms")
        else:
            d, i = tree.query(np.mod(cart, L), k=1)
        idx[f0:f1] = i.reshape(f1 - f0, n_atoms)
        dist[f0:f1] = d.reshape(f1 - f0, n_atoms)
    return idx, dist


def core_radius_states(index, distance_A, core_radius_A: float):
    """Site of each atom by the core-radius rule: the last site whose core it entered.

    Returns an int array like ``index``; -1 before an atom first enters any core.
    """
    idx = np.asarray(index)
    inside = np.asarray(distance_A) <= core_radius_A
    n = idx.shape[0]
    frame = np.where(inside, np.arange(n)[:, None], -1)
    last = np.maximum.accumulate(frame, axis=0)
    state = np.take_along_axis(idx, np.maximum(last, 0), axis=0)
    return np.where(last >= 0, state, -1)


@dataclasses.dataclass(frozen=True)
class SiteJumpResult(Result):
    """Site occupancies, residence times and jump rates of one mobile species.

    Attributes
    ----------
    species : str
    reference : str
    n_ions, n_frames : int
    duration_ps, dt_ps : float
    T_K : float or None
    site_types : tuple of str
    n_sites : tuple of int
        Sites of each type in the simulation cell.
    site_occupancy : tuple of float
        Mean number of ions per site of each type (nearest-site assignment), 0…1 for
        single-occupancy sites.
    ion_fraction : tuple of float
        Fraction of ion-time spent on each type (sums to 1).
    core_fraction : float
        Fraction of ion-frames inside a site core (the rest are between sites).
    residence_time_ps : tuple of float
        Mean duration of completed visits per type (core-radius rule); NaN without any.
    n_visits : tuple of int
        Completed visits per type.
    jump_counts : tuple of tuple of int
        ``[from][to]`` jumps between site types (the diagonal: between two sites of one type).
    jump_rate_per_ion_ps : tuple of tuple of float
        ``jump_counts / (n_ions × duration_ps)``.
    escape_rate_per_ps : tuple of float
        Jumps leaving each type per ps spent on it.
    n_jumps : int
    jump_rate_total_per_ion_ps : float
    mean_jump_distance_A : float
    D_jump_uncorrelated_cm2_s : float
        :math:`\\Gamma \\langle l^2\\rangle / 6` from the jump rate and the mean squared jump
        length: the tracer D if successive jumps were uncorrelated (a cross-check of the MSD's D;
        back-and-forth jumps make the real D smaller).
    path_share : dict {path name: fraction of jumps}
    core_radius_A : float
    warnings : tuple of str
    """

    species: str
    reference: str
    n_ions: int
    n_frames: int
    duration_ps: float
    dt_ps: float
    site_types: tuple
    n_sites: tuple
    site_occupancy: tuple
    ion_fraction: tuple
    core_fraction: float
    residence_time_ps: tuple
    n_visits: tuple
    jump_counts: tuple
    jump_rate_per_ion_ps: tuple
    escape_rate_per_ps: tuple
    n_jumps: int
    jump_rate_total_per_ion_ps: float
    mean_jump_distance_A: float
    D_jump_uncorrelated_cm2_s: float
    path_share: dict
    core_radius_A: float
    T_K: float | None = None
    warnings: tuple = ()
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, d):
        r = super().from_dict(d)
        nan = float("nan")
        return dataclasses.replace(
            r,
            jump_counts=tuple(tuple(int(v) for v in row) for row in r.jump_counts),
            jump_rate_per_ion_ps=tuple(tuple(float(v) for v in row)
                                       for row in r.jump_rate_per_ion_ps),
            residence_time_ps=tuple(nan if v is None else float(v)
                                    for v in r.residence_time_ps),
            mean_jump_distance_A=nan if r.mean_jump_distance_A is None
            else float(r.mean_jump_distance_A),
        )

    def table(self) -> str:
        """A plain-text summary (per site type), for the CLI."""
        lines = [f"{'site':>6} {'n_sites':>7} {'occupancy':>9} {'ion frac':>8} "
                 f"{'residence (ps)':>14} {'escape (1/ps)':>13}"]
        for k, t in enumerate(self.site_types):
            rt = self.residence_time_ps[k]
            lines.append(f"{t:>6} {self.n_sites[k]:>7} {self.site_occupancy[k]:>9.3f} "
                         f"{self.ion_fraction[k]:>8.3f} "
                         f"{('%.3g' % rt) if rt == rt else '-':>14} "
                         f"{self.escape_rate_per_ps[k]:>13.3g}")
        return "\n".join(lines)


def site_jump_statistics(state, nearest, site_type, site_types, dt_ps: float, site_cart_A=None,
                         box_A=None, paths=None, species: str = "", reference: str = "",
                         core_radius_A: float = float("nan"), core_fraction: float = float("nan"),
                         T_K: float | None = None) -> SiteJumpResult:
    """Occupancies, residence times and jump rates from per-frame site indices.

    Parameters
    ----------
    state : int array (n_frames, n_ions)
        Core-radius site of each ion (-1 before its first core entry).
    nearest : int array (n_frames, n_ions)
        Nearest site (for occupancies).
    site_type : int array (n_sites,)
        Type index of every site.
    site_types : sequence of str
    dt_ps : float
    site_cart_A, box_A : optional
        Site Cartesian positions and cell, for the mean jump distance (minimum image).
    paths : dict {name: set of type names}, optional
        A jump belongs to path ``name`` when it touches one of its types; the remaining jumps
        form ``"other"``.
    """
    st = np.asarray(state)
    n_frames, n_ions = st.shape
    ntype = len(site_types)
    stype = np.asarray(site_type, int)
    duration = (n_frames - 1) * dt_ps
    warns = []
    # occupancies from the nearest-site assignment
    near_t = stype[np.asarray(nearest)]
    cnt_t = np.bincount(near_t.ravel(), minlength=ntype).astype(float)
    n_sites = np.bincount(stype, minlength=ntype)
    occ = cnt_t / n_frames / np.maximum(n_sites, 1)
    frac = cnt_t / cnt_t.sum()
    # jumps (state changes between two assigned sites)
    a, b = st[:-1], st[1:]
    jm = (a != b) & (a >= 0) & (b >= 0)
    fi, ii = np.nonzero(jm)
    src, dst = a[fi, ii], b[fi, ii]
    counts = np.zeros((ntype, ntype), int)
    np.add.at(counts, (stype[src], stype[dst]), 1)
    n_jumps = int(jm.sum())
    if site_cart_A is not None and box_A is not None and n_jumps:
        box = np.asarray(box_A, float)
        d = np.asarray(site_cart_A)[dst] - np.asarray(site_cart_A)[src]
        fr = d @ np.linalg.inv(box)
        d = (fr - np.rint(fr)) @ box
        jl = np.linalg.norm(d, axis=1)
        mean_jump, msq_jump = float(jl.mean()), float(np.mean(jl**2))
    else:
        mean_jump, msq_jump = float("nan"), float("nan")
    # visits: runs of constant state between two jumps of the same ion (complete visits)
    res_sum = np.zeros(ntype)
    res_n = np.zeros(ntype, int)
    time_on = np.zeros(ntype)
    assigned = st >= 0
    np.add.at(time_on, stype[st[assigned]], dt_ps)
    for i in range(n_ions):
        f = fi[ii == i]
        if f.size >= 2:
            lengths = np.diff(f) * dt_ps
            types = stype[st[f[:-1] + 1, i]]  # the site occupied from jump k to jump k+1
            np.add.at(res_sum, types, lengths)
            np.add.at(res_n, types, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        residence = np.where(res_n > 0, res_sum / np.maximum(res_n, 1), np.nan)
        escape = np.where(time_on > 0, counts.sum(axis=1) / np.maximum(time_on, 1e-300), 0.0)
    if n_jumps == 0:
        warns.append(
            f"no jumps in {duration:.4g} ps: no {species or 'ion'} left its site (core radius "
            f"{core_radius_A:.3g} A); residence times are longer than the run and rates are 0 "
            f"(below ~1/({n_ions} x {duration:.4g} ps) = {1 / (n_ions * duration):.2g} per ion "
            "per ps)"
        )
    else:
        for k, t in enumerate(site_types):
            if res_n[k] == 0 and time_on[k] > 0:
                warns.append(f"no completed visit of a {t} site in {duration:.4g} ps: its "
                             "residence time is longer than the run or unmeasured")
    share = {}
    if paths and n_jumps:
        names = list(site_types)
        used = np.zeros(n_jumps, bool)
        for pname, ptypes in paths.items():
            tk = [names.index(t) for t in ptypes if t in names]
            on = np.isin(stype[src], tk) | np.isin(stype[dst], tk)
            share[pname] = float(np.count_nonzero(on & ~used) / n_jumps)
            used |= on
        share["other"] = float(np.count_nonzero(~used) / n_jumps)
    return SiteJumpResult(
        species=str(species), reference=str(reference), n_ions=int(n_ions),
        n_frames=int(n_frames), duration_ps=float(duration), dt_ps=float(dt_ps),
        site_types=tuple(site_types), n_sites=tuple(int(v) for v in n_sites),
        site_occupancy=tuple(float(v) for v in occ), ion_fraction=tuple(float(v) for v in frac),
        core_fraction=float(core_fraction),
        residence_time_ps=tuple(float(v) for v in residence),
        n_visits=tuple(int(v) for v in res_n),
        jump_counts=tuple(tuple(int(v) for v in r) for r in counts),
        jump_rate_per_ion_ps=tuple(tuple(float(v) / (n_ions * duration) for v in r)
                                   for r in counts),
        escape_rate_per_ps=tuple(float(v) for v in escape), n_jumps=n_jumps,
        jump_rate_total_per_ion_ps=float(n_jumps / (n_ions * duration)),
        mean_jump_distance_A=mean_jump,
        D_jump_uncorrelated_cm2_s=float(n_jumps / (n_ions * duration) * msq_jump / 6
                                        * A2_PS_TO_CM2_S) if n_jumps else 0.0,
        path_share=share, core_radius_A=float(core_radius_A),
        T_K=None if T_K is None else float(T_K), warnings=tuple(warns),
    )


def framework_drift(positions, elements, mobile: str, chunk_frames: int = 1000):
    """Mean displacement of the framework (all atoms but ``mobile``) from frame 0, (n_frames, 3).

    In a periodic cell with conserved momentum the framework recoils against the collective
    motion of the mobile ions (by ~1 Å over 100 ps in Cu7PS6 at 550-650 K); site assignment
    and density maps are made in the framework's frame by subtracting this (as kinisi's
    drift correction does). Positions must be unwrapped.
    """
    el = np.asarray(elements).astype(str)
    fw = np.flatnonzero(el != mobile)
    n = np.shape(positions)[0]
    if fw.size == 0:
        return np.zeros((n, 3))
    out = np.empty((n, 3))
    ref = np.asarray(positions[0], float)[fw]
    for f0 in range(0, n, chunk_frames):
        blk = np.asarray(positions[f0:f0 + chunk_frames], float)[:, fw, :]
        out[f0:f0 + chunk_frames] = (blk - ref[None]).mean(axis=1)
    return out


def _registration_check(ref, positions0, elements, box, reps):
    """Mean distance of framework atoms to the reference framework sites (frame 0)."""
    if not ref.framework:
        return None
    el = np.asarray(elements).astype(str)
    ds = []
    for e, fr in ref.framework.items():
        sel = el == e
        if not np.any(sel):
            continue
        grid = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"),
                        -1).reshape(-1, 3)
        sf = ((np.asarray(fr)[None] + grid[:, None]) / reps).reshape(-1, 3)
        af = np.asarray(positions0)[sel] @ np.linalg.inv(box)
        d = af[:, None, :] - sf[None, :, :]
        d = (d - np.rint(d)) @ box
        ds.append(np.linalg.norm(d, axis=2).min(axis=1))
    if not ds:
        return None
    return float(np.mean(np.concatenate(ds)))


def analyse_sites(positions, elements, box_A, dt_ps: float, reference: SiteReference,
                  species: str, core_radius_A: float | None = None, paths=None,
                  engine: str = "auto", T_K: float | None = None,
                  registration_tol_A: float = 1.0,
                  drift_correct: bool = True) -> SiteJumpResult:
    """Assign the ions of ``species`` to the reference sites and compute jump statistics.

    Parameters
    ----------
    positions : array (n_frames, n_atoms, 3)
        Positions, Å (unwrapped is fine).
    elements : sequence of str, one per atom
    box_A : array (3, 3) or (n_frames, 3, 3)
    dt_ps : float
    reference : SiteReference
        Its cell times integers must match the trajectory's cell (else :class:`InputError`
        naming both).
    species : str
        The mobile species (e.g. "Cu").
    core_radius_A : float, optional
        Core radius of the jump rule; default: 0.45 × the smallest distance between two sites
        (so cores never overlap).
    paths : dict {name: sequence of site types}, optional
        Path classes for ``path_share`` (see :func:`site_jump_statistics`).
    drift_correct : bool
        Follow the sites with the framework (all other species): subtract
        :func:`framework_drift` from the mobile ions (positions must be unwrapped).
    registration_tol_A : float
        Framework atoms of frame 0 must lie on average within this distance of the
        reference's framework sites (when the reference has any), else the trajectory is not on
        the reference's origin and an error is raised.
    """
    el = np.asarray(elements).astype(str)
    sel = np.flatnonzero(el == species)
    if sel.size == 0:
        raise InputError(f"no {species} atoms in the trajectory (species: "
                         f"{', '.join(dict.fromkeys(el))})")
    boxes = np.asarray(box_A, float)
    mean_box = boxes.mean(axis=0) if boxes.ndim == 3 else boxes
    frac, stype, reps = tile_reference(reference, mean_box)
    box0 = boxes[0] if boxes.ndim == 3 else boxes
    reg = _registration_check(reference, np.asarray(positions[0]), el, box0, reps)
    if reg is not None and reg > registration_tol_A:
        raise InputError(
            f"the framework atoms of the first frame lie {reg:.2f} A on average from the "
            f"framework sites of the reference '{reference.name}' (tolerance "
            f"{registration_tol_A:g} A): the trajectory is not on the reference's origin or "
            "is another structure"
        )
    site_cart = frac @ mean_box
    if core_radius_A is None:
        d = site_cart[:, None, :] - site_cart[None, :, :]
        fr = d @ np.linalg.inv(mean_box)
        d = np.linalg.norm((fr - np.rint(fr)) @ mean_box, axis=2)
        np.fill_diagonal(d, np.inf)
        core_radius_A = 0.45 * float(d.min())
    x = np.asarray(positions[:, sel, :], dtype=np.float64)
    drift = framework_drift(positions, el, species) if drift_correct else None
    if drift is not None:
        x = x - drift[:, None, :]
    idx, dist = nearest_sites(x, boxes, frac, engine=engine)
    state = core_radius_states(idx, dist, core_radius_A)
    res = site_jump_statistics(
        state, idx, stype, reference.types, dt_ps, site_cart_A=site_cart, box_A=mean_box,
        paths=paths, species=species, reference=reference.name, core_radius_A=core_radius_A,
        core_fraction=float(np.mean(dist <= core_radius_A)), T_K=T_K,
    )
    return dataclasses.replace(res, provenance=provenance(
        analysis="sites", reference=reference.name, species=species, reps=reps,
        core_radius_A=core_radius_A, engine=engine, dt_ps=dt_ps, T_K=T_K,
        registration_offset_A=reg, paths=paths, drift_correct=drift_correct,
        framework_drift_end_A=None if drift is None else float(np.linalg.norm(drift[-1])),
    ))
