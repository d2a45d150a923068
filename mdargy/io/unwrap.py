"""Unwrapping periodic coordinates: by image flags, or by continuity between frames.

Pure functions on arrays. Positions are Cartesian in Å, cells are row vectors
(``box[i]`` is the i-th cell vector), so a fractional coordinate ``s`` maps to ``s @ box``.

* :func:`unwrap_with_images`: ``r + n_a a + n_b b + n_c c`` with LAMMPS image flags
  ``(ix, iy, iz)``; exact.
* :func:`unwrap_by_continuity`: when a file holds wrapped coordinates and no image flags, the
  displacement between consecutive frames is taken as the minimum image (fractional jump
  rounded away). This is exact as long as no atom moves more than half a cell length between
  frames; for a changing cell it uses the cell of the later frame, the "jump" scheme of
  Bullerjahn, von Bülow & Hummer, J. Chem. Phys. 153, 024116 (2020) / von Bülow et al.,
  J. Chem. Phys. 158, 124503 (2023).
"""

from __future__ import annotations

import numpy as np

__all__ = ["unwrap_with_images", "unwrap_by_continuity", "needs_unwrap", "largest_jump_fraction",
           "largest_minimum_image_step"]


def _boxes(box, n_frames: int) -> np.ndarray:
    box = np.asarray(box, dtype=np.float64)
    if box.ndim == 2:
        return np.broadcast_to(box, (n_frames, 3, 3))
    if box.shape != (n_frames, 3, 3):
        raise ValueError(f"box must be (3, 3) or ({n_frames}, 3, 3), got {box.shape}")
    return box


def unwrap_with_images(positions: np.ndarray, images: np.ndarray, box) -> np.ndarray:
    """Unwrapped positions ``r + images @ box``.

    Parameters
    ----------
    positions : ndarray (n_frames, n_atoms, 3)
        Wrapped Cartesian positions in Å.
    images : ndarray (n_frames, n_atoms, 3) of int
        Image flags (LAMMPS ``ix iy iz``).
    box : ndarray (3, 3) or (n_frames, 3, 3)
        Cell vectors as rows in Å.
    """
    positions = np.asarray(positions, dtype=np.float64)
    boxes = _boxes(box, positions.shape[0])
    return positions + np.einsum("fai,fij->faj", np.asarray(images, dtype=np.float64), boxes)


def unwrap_by_continuity(positions: np.ndarray, box, out: np.ndarray | None = None) -> np.ndarray:
    """Unwrap wrapped coordinates by assuming minimum-image displacements between frames.

    Parameters
    ----------
    positions : ndarray (n_frames, n_atoms, 3)
        Wrapped Cartesian positions in Å.
    box : ndarray (3, 3) or (n_frames, 3, 3)
        Cell vectors as rows in Å.
    out : ndarray, optional
        Where to write the result (may be ``positions`` itself, for in-place unwrapping).

    Returns
    -------
    ndarray (n_frames, n_atoms, 3)
        Continuous trajectory starting from the first frame's coordinates.

    Notes
    -----
    Exact when every atom moves less than half a cell length between consecutive frames
    (check with :func:`largest_jump_fraction` on the result); otherwise a jump is missed and the
    atom is displaced by a lattice vector.
    """
    positions = np.asarray(positions, dtype=np.float64)
    nf = positions.shape[0]
    boxes = _boxes(box, nf)
    if out is None:
        out = np.empty_like(positions)
    prev_wrapped = positions[0].copy()
    out[0] = positions[0]
    for f in range(1, nf):
        cur = positions[f].copy()  # ``out`` may alias ``positions``
        d = cur - prev_wrapped
        inv = np.linalg.inv(boxes[f])
        frac = d @ inv
        d -= np.round(frac) @ boxes[f]
        out[f] = out[f - 1] + d
        prev_wrapped = cur
    return out


def _fractional_steps(positions, box):
    """Displacements between consecutive frames in fractional coordinates of the later box."""
    positions = np.asarray(positions, dtype=np.float64)
    nf = positions.shape[0]
    if nf < 2:
        return
    boxes = _boxes(box, nf)
    for f in range(1, nf):
        yield (positions[f] - positions[f - 1]) @ np.linalg.inv(boxes[f])


def largest_jump_fraction(positions: np.ndarray, box) -> float:
    """Largest displacement between consecutive frames, as a fraction of the cell (fractional
    coordinates). Above 0.5 continuity unwrapping is ambiguous."""
    return max((float(np.max(np.abs(d))) for d in _fractional_steps(positions, box)),
               default=0.0)


def needs_unwrap(positions: np.ndarray, box) -> bool:
    """True when some atom jumps by more than half a cell between consecutive frames, the
    signature of coordinates wrapped into the cell."""
    return largest_jump_fraction(positions, box) > 0.5


def largest_minimum_image_step(positions: np.ndarray, box) -> float:
    """Largest minimum-image displacement between consecutive frames of a wrapped trajectory,
    as a fraction of the cell. Continuity unwrapping is safe well below 0.5; near 0.5 an atom
    may have moved by more than half a cell and been unwrapped into the wrong image."""
    return max((float(np.max(np.abs(d - np.round(d)))) for d in _fractional_steps(positions, box)),
               default=0.0)
