"""Probability density of a species on a grid, symmetry averaging, and planar (hkl) slices.

The density is accumulated by nearest-grid-point assignment of every (selected) frame's wrapped
positions, folded into one reference cell when the simulation cell is a supercell of it
(``reps``), and normalised to a number density (atoms per Å³, time-averaged; its integral over
the reference cell is the number of atoms per reference cell). Optional Gaussian smoothing
(``sigma_A``, periodic) is the same as a Gaussian kernel density estimate on the grid.

Symmetry averaging: :math:`\\bar\\rho(x) = \\frac{1}{|G|}\\sum_{g\\in G}\\rho(g x)` over the
space-group operations given (fractional rotation + translation of the reference cell, e.g.
:func:`mdargy.structures.cu7ps6.f43m_operations`). The grid points are mapped exactly onto grid
points, so the grid must be commensurate with the translations (e.g. a multiple of 4 for F
centring) and, for axis permutations, cubic.

Slices (like the (111)-plane Cu density maps of argyrodite studies): the density is
interpolated (trilinear, periodic) on a square of the plane :math:`hx + ky + lz = d`
(fractional coordinates of the reference cell), spanned by two orthonormal in-plane vectors.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mdargy.errors import InputError
from mdargy.results import Result, provenance

__all__ = ["DensityResult", "density_grid", "symmetrize_grid", "PlaneSlice", "plane_slice"]


@dataclasses.dataclass(frozen=True)
class DensityResult(Result):
    """Time-averaged number density of one species on a grid over one (reference) cell.

    Attributes
    ----------
    species : str
    cell_A : ndarray (3, 3)
        The cell the grid spans (rows), Å.
    density_per_A3 : ndarray (nx, ny, nz)
        Number density at the grid points ``(i/nx, j/ny, k/nz)`` (fractional), atoms/Å³.
    n_frames_used : int
    reps : tuple of 3 int
        Supercell repetitions folded into the grid.
    n_symmetry_ops : int
        Operations averaged over (1: none).
    sigma_A : float
        Gaussian smoothing width (0: none).
    atoms_per_cell : float
        Integral of the density over the cell (a check: ions per reference cell).
    """

    species: str
    cell_A: np.ndarray
    density_per_A3: np.ndarray
    n_frames_used: int
    reps: tuple
    n_symmetry_ops: int
    sigma_A: float
    atoms_per_cell: float
    T_K: float | None = None
    provenance: dict = dataclasses.field(default_factory=dict, compare=False)

    def summary(self) -> dict:
        """Everything but the grid (for a small JSON next to the CUBE file)."""
        d = self.to_dict()
        d.pop("density_per_A3")
        d["shape"] = list(self.density_per_A3.shape)
        d["max_density_per_A3"] = float(self.density_per_A3.max())
        return d


def symmetrize_grid(grid, ops):
    """Average a periodic grid over space-group operations (fractional (R, t) pairs)."""
    g = np.asarray(grid, float)
    n = np.array(g.shape)
    idx = np.stack(np.meshgrid(*[np.arange(k) for k in n], indexing="ij"), -1).reshape(-1, 3)
    frac = idx / n
    acc = np.zeros(g.size)
    for R, t in ops:
        R = np.asarray(R, float)
        t = np.asarray(t, float)
        # einsum, not a BLAS product: with an inner dimension of 3 BLAS was measured ~20x
        # slower here (threads on a loaded machine)
        img = (np.einsum("pk,jk->pj", frac, R) + t) * n
        ri = np.rint(img)
        if np.max(np.abs(img - ri)) > 1e-6:
            raise InputError(
                f"grid {tuple(int(k) for k in n)} is not commensurate with the symmetry "
                f"operation (R={R.astype(int).tolist()}, t={t.tolist()}): use a grid that is a "
                "multiple of the translations' denominators (e.g. of 4 for F centring) and "
                "cubic for axis permutations"
            )
        ri = np.mod(ri.astype(int), n)
        acc += g[ri[:, 0], ri[:, 1], ri[:, 2]]
    return (acc / len(ops)).reshape(g.shape)


def density_grid(positions, box_A, shape=(48, 48, 48), reps=(1, 1, 1), ops=None,
                 sigma_A: float = 0.0, frame_stride: int = 1, species: str = "",
                 T_K: float | None = None, shift_A=None) -> DensityResult:
    """Number density of the given atoms on a grid over one reference cell.

    Parameters
    ----------
    positions : array (n_frames, n_atoms, 3)
        Positions of the species' atoms, Å (unwrapped is fine).
    box_A : array (3, 3) or (n_frames, 3, 3)
        Simulation cell(s), rows.
    shape : 3 ints
        Grid points along the reference cell vectors.
    reps : 3 ints
        The simulation cell is ``reps`` reference cells: positions are folded into one
        (:func:`mdargy.analysis.sites.tile_reference` returns them).
    ops : list of (R, t), optional
        Space-group operations of the reference cell for symmetry averaging.
    sigma_A : float
        Gaussian smoothing width, Å (periodic); 0 for none.
    frame_stride : int
        Use every ``frame_stride``-th frame.
    shift_A : array (n_frames, 3), optional
        Subtracted from every atom of each frame: the framework drift
        (:func:`mdargy.analysis.sites.framework_drift`), so that the map is in the framework's
        frame.
    """
    boxes = np.asarray(box_A, float)
    mean_box = boxes.mean(axis=0) if boxes.ndim == 3 else boxes
    reps = np.asarray(reps, int)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 2:
        raise InputError(f"grid shape must be 3 integers >= 2, got {shape}")
    n = np.array(shape)
    counts = np.zeros(int(np.prod(n)))
    frames = range(0, np.shape(positions)[0], max(1, int(frame_stride)))
    nat = np.shape(positions)[1]
    for f in frames:
        box = boxes[f] if boxes.ndim == 3 else boxes
        xf = np.asarray(positions[f], float)
        if shift_A is not None:
            xf = xf - np.asarray(shift_A[f], float)
        fr = np.einsum("ak,kj->aj", xf, np.linalg.inv(box))  # not BLAS (inner dimension 3)
        u = np.mod(fr * reps, 1.0)
        ijk = np.mod(np.rint(u * n).astype(int), n)
        counts += np.bincount(np.ravel_multi_index(ijk.T, shape), minlength=counts.size)
    cell = mean_box / reps[:, None]
    vol = abs(float(np.linalg.det(cell)))
    voxel = vol / counts.size
    rho = counts.reshape(shape) / (len(frames) * int(np.prod(reps)) * voxel)
    if sigma_A > 0:
        from scipy.ndimage import gaussian_filter

        spacing = np.linalg.norm(cell, axis=1) / n
        rho = gaussian_filter(rho, sigma=sigma_A / spacing, mode="wrap")
    nops = 1
    if ops:
        rho = symmetrize_grid(rho, ops)
        nops = len(ops)
    return DensityResult(
        species=str(species), cell_A=cell, density_per_A3=rho, n_frames_used=len(frames),
        reps=tuple(int(r) for r in reps), n_symmetry_ops=nops, sigma_A=float(sigma_A),
        atoms_per_cell=float(rho.sum() * voxel), T_K=None if T_K is None else float(T_K),
        provenance=provenance(analysis="density", shape=shape, reps=reps, sigma_A=sigma_A,
                              frame_stride=frame_stride, n_atoms=nat, n_symmetry_ops=nops,
                              T_K=T_K, drift_corrected=shift_A is not None),
    )


@dataclasses.dataclass(frozen=True)
class PlaneSlice:
    """Density on a square of an (hkl) plane.

    ``values_per_A3[i, j]`` is at ``origin_A + s[i] * u + t[j] * v`` (Å); ``u``, ``v`` are
    orthonormal in-plane directions, ``normal`` the unit plane normal.
    """

    hkl: tuple
    offset: float
    s_A: np.ndarray
    t_A: np.ndarray
    values_per_A3: np.ndarray
    origin_A: np.ndarray
    u: np.ndarray
    v: np.ndarray
    normal: np.ndarray


def plane_slice(density: DensityResult, hkl=(1, 1, 1), offset: float = 0.0,
                extent_A: float | None = None, n_pixels: int = 200) -> PlaneSlice:
    """Interpolate the density on the plane :math:`hx+ky+lz = \\mathrm{offset}` (fractional).

    Parameters
    ----------
    hkl : 3 ints (not all 0)
    offset : float
        Plane position in units of the (hkl) spacing: ``offset = 0.25`` is a quarter of the way
        to the next plane of the family through the origin.
    extent_A : float, optional
        Side of the square, Å (default: the longest cell vector).
    """
    from scipy.ndimage import map_coordinates

    h = np.asarray(hkl, float)
    if h.shape != (3,) or not np.any(h):
        raise InputError(f"hkl must be 3 integers, not all zero, got {hkl}")
    cell = np.asarray(density.cell_A, float)
    recip = np.linalg.inv(cell).T  # rows: reciprocal vectors (no 2π)
    g = h @ recip
    normal = g / np.linalg.norm(g)
    # the point of the plane closest to the origin: x with h.frac(x) = offset
    p0 = normal * offset / np.linalg.norm(g)
    trial = np.array([1.0, 0, 0]) if abs(normal[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(normal, trial)
    u /= np.linalg.norm(u)
    v = np.cross(normal, u)
    L = float(extent_A or np.linalg.norm(cell, axis=1).max())
    s = np.linspace(-L / 2, L / 2, int(n_pixels))
    S, T = np.meshgrid(s, s, indexing="ij")
    pts = p0 + S[..., None] * u + T[..., None] * v
    fr = pts.reshape(-1, 3) @ np.linalg.inv(cell)
    n = np.array(density.density_per_A3.shape)
    coords = (np.mod(fr, 1.0) * n).T
    vals = map_coordinates(density.density_per_A3, coords, order=1, mode="grid-wrap")
    return PlaneSlice(hkl=tuple(int(x) for x in hkl), offset=float(offset), s_A=s, t_A=s,
                      values_per_A3=vals.reshape(S.shape), origin_A=p0, u=u, v=v,
                      normal=normal)
