"""The trajectory container every analysis consumes (:class:`Trajectory`).

Loaders (:func:`mdargy.io.trajectory.load_trajectory` and the readers it calls) build one from a
file; analyses in :mod:`mdargy.analysis` take its arrays.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mdargy.errors import InputError

__all__ = ["Trajectory"]


@dataclasses.dataclass(frozen=True, eq=False)
class Trajectory:
    """A trajectory in memory (or memory-mapped): the input of every analysis.

    Attributes
    ----------
    positions : ndarray (n_frames, n_atoms, 3), float64
        **Unwrapped** Cartesian positions in Å, atoms in the same order in every frame (sorted by
        atom id for LAMMPS files). May be a read-only memory-mapped view, big-endian for a
        memory-mapped NetCDF file (numpy converts on use; ``np.asarray(x, float)`` gives a
        native copy).
    velocities : ndarray (n_frames, n_atoms, 3) or None
        Velocities in Å/ps (LAMMPS ``metal`` units), when the file has them.
    elements : ndarray (n_atoms,) of str
        Element symbol of each atom.
    masses_amu : ndarray (n_atoms,)
        Mass of each atom in g/mol.
    dt_ps : float or None
        Time between consecutive frames in ps; None when neither the file nor the user gave it.
    steps : ndarray (n_frames,) of int
        MD step of each frame (frame indices when the file has no steps).
    box_A : ndarray (3, 3) or (n_frames, 3, 3)
        Cell vectors as rows in Å; one cell, or one per frame when it changes.
    source : str
        Where the data came from (file path).
    warnings : tuple of str
        Everything that was approximated or repaired while loading (truncated last frame,
        unwrapping by continuity, ...). Each was also issued as a Python warning.
    metadata : dict
        Further information from the file (format, dump interval, time step, ...).
    ids : ndarray (n_atoms,) of int, optional
        Atom ids (LAMMPS ids), when known.
    types : ndarray (n_atoms,) of int, optional
        LAMMPS atom types, when known.
    """

    positions: np.ndarray
    velocities: np.ndarray | None
    elements: np.ndarray
    masses_amu: np.ndarray
    dt_ps: float | None
    steps: np.ndarray
    box_A: np.ndarray
    source: str = ""
    warnings: tuple = ()
    metadata: dict = dataclasses.field(default_factory=dict)
    ids: np.ndarray | None = None
    types: np.ndarray | None = None

    def __post_init__(self):
        pos = self.positions
        if pos.ndim != 3 or pos.shape[2] != 3:
            raise InputError(f"positions must have shape (n_frames, n_atoms, 3), got {pos.shape}",
                             self.source or None)
        if pos.dtype.kind != "f" or pos.dtype.itemsize != 8:
            raise InputError(f"positions must be float64, got {pos.dtype}", self.source or None)
        nf, na = pos.shape[:2]
        if self.velocities is not None and self.velocities.shape != pos.shape:
            raise InputError(f"velocities have shape {self.velocities.shape}, positions "
                             f"{pos.shape}", self.source or None)
        if len(self.elements) != na or len(self.masses_amu) != na:
            raise InputError(f"{na} atoms but {len(self.elements)} elements and "
                             f"{len(self.masses_amu)} masses", self.source or None)
        if len(self.steps) != nf:
            raise InputError(f"{nf} frames but {len(self.steps)} steps", self.source or None)
        box = np.asarray(self.box_A)
        if box.shape not in ((3, 3), (nf, 3, 3)):
            raise InputError(f"box_A must be (3, 3) or ({nf}, 3, 3), got {box.shape}",
                             self.source or None)

    # -- convenience --------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[1]

    @property
    def time_ps(self) -> np.ndarray:
        """Time of each frame from the first, in ps (requires ``dt_ps``)."""
        if self.dt_ps is None:
            raise InputError("the time between frames is unknown: give timestep_fs (and the "
                             "dump interval if the file has no step numbers)", self.source or None)
        return np.arange(self.n_frames) * self.dt_ps

    @property
    def species(self) -> tuple[str, ...]:
        """Distinct elements, in order of first appearance."""
        _, first = np.unique(self.elements, return_index=True)
        return tuple(str(self.elements[i]) for i in sorted(first))

    def indices(self, element: str) -> np.ndarray:
        """Indices of the atoms of ``element``."""
        return np.flatnonzero(self.elements == element)

    @property
    def boxes_A(self) -> np.ndarray:
        """The cell of every frame, (n_frames, 3, 3)."""
        box = np.asarray(self.box_A)
        if box.ndim == 2:
            return np.broadcast_to(box, (self.n_frames, 3, 3))
        return box

    @property
    def volume_A3(self) -> float:
        """Mean cell volume in Å³."""
        return float(np.mean(np.abs(np.linalg.det(self.boxes_A))))

    def replace(self, **changes) -> "Trajectory":
        """A copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        vel = "with" if self.velocities is not None else "without"
        dt = "unknown" if self.dt_ps is None else f"{self.dt_ps:g} ps"
        counts = ", ".join(f"{e}:{int(np.sum(self.elements == e))}" for e in self.species)
        return (f"<Trajectory {self.n_frames} frames × {self.n_atoms} atoms ({counts}), "
                f"{vel} velocities, dt={dt}, from {self.source or '?'}>")
