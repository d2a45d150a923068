"""Forces on many configurations of one set of atoms, from any mdargy potential in LAMMPS.

:class:`LammpsForces` keeps one LAMMPS instance open for a fixed cell and atom list and
evaluates forces (and the potential energy) for a sequence of position arrays: the snapshots of
a TDEP fit or the displaced supercells of a finite-displacement phonon calculation. The
potential is any :class:`~mdargy.potentials.spec.PotentialSpec` (mdargy's ``pair_style mtp``,
``lj/cut``, ``sw``, ...); its LAMMPS lines come from :meth:`PotentialSpec.lammps_lines`, the box
and atom creation from :mod:`mdargy.potentials.mtp.evaluate`, the instance from
:func:`mdargy.lammps.runtime.create_lammps`. Units: LAMMPS ``metal`` (Å, eV, eV/Å).

Cells of any shape are rotated into LAMMPS's lower-triangular form and the forces rotated back,
so forces come out in the frame of the input cell.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mdargy.errors import InputError
from mdargy.lammps.runtime import create_lammps, run_commands
from mdargy.potentials.mtp.evaluate import add_atoms, setup_commands
from mdargy.potentials.spec import PotentialSpec
from mdargy.structures.load import type_elements_for


def lammps_frame(cell) -> tuple[np.ndarray, np.ndarray]:
    """The LAMMPS-shaped cell of ``cell`` (rows a, b, c in Å) and the rotation ``R``.

    ``new_cell = cell @ R``; positions transform the same way (``x_lammps = x @ R``) and forces
    back with ``R.T``.
    """
    from ase.geometry import cell_to_cellpar, cellpar_to_cell

    cell = np.asarray(cell, dtype=float)
    if cell.shape != (3, 3) or abs(np.linalg.det(cell)) < 1e-9:
        raise InputError(f"a periodic cell of three independent vectors is needed, got {cell}")
    new = cellpar_to_cell(cell_to_cellpar(cell))
    R = np.linalg.solve(cell, new)
    return new, R


class LammpsForces:
    """Evaluate forces of configurations of ``atoms`` (fixed cell and species) in LAMMPS.

    Parameters
    ----------
    potential : PotentialSpec
        The potential (any kind mdargy supports).
    atoms : ase.Atoms
        Periodic cell and species; the positions given to :meth:`forces` replace its positions.
    comm : mpi4py communicator, optional
        Collective over this communicator (``COMM_WORLD`` by default).
    log : path, optional
        LAMMPS log file.

    Examples
    --------
    >>> with LammpsForces(spec, supercell) as ff:          # doctest: +SKIP
    ...     F = ff.forces(positions)                        # (n, 3) eV/Å
    """

    def __init__(self, potential: PotentialSpec, atoms, comm=None, log=None):
        if not isinstance(potential, PotentialSpec):
            raise InputError("potential must be a PotentialSpec")
        if not all(atoms.pbc):
            raise InputError("LammpsForces needs a periodic cell in all three directions")
        self.n_atoms = len(atoms)
        self.cell, self._R = lammps_frame(atoms.cell.array)
        symbols = atoms.get_chemical_symbols()
        self.type_elements = type_elements_for(atoms, potential.elements)
        potential.validate(type_elements=self.type_elements)
        self.types = np.array([self.type_elements.index(s) + 1 for s in symbols])
        masses = [potential.mass(e) for e in self.type_elements]
        self._lmp = create_lammps(comm, log=log)
        self._run = run_commands
        try:
            potential.validate(lmp=self._lmp)
            run_commands(self._lmp, setup_commands(self.cell, len(self.type_elements), masses))
            add_atoms(self._lmp, np.asarray(atoms.positions) @ self._R, self.types)
            run_commands(self._lmp, potential.lammps_lines(self.type_elements))
            run_commands(self._lmp, "thermo_style custom step pe\nthermo_modify lost error")
        except Exception:
            self.close()
            raise

    def energy_forces(self, positions) -> tuple[float, np.ndarray]:
        """Potential energy (eV) and forces (n, 3) in eV/Å of one configuration.

        ``positions`` (n, 3) in Å, in the frame of the input cell, wrapped or not.
        """
        x = np.asarray(positions, dtype=float)
        if x.shape != (self.n_atoms, 3):
            raise InputError(f"positions must have shape ({self.n_atoms}, 3), got {x.shape}")
        if not np.isfinite(x).all():
            raise InputError("positions contain NaN or infinite values")
        xl = x @ self._R
        frac = np.linalg.solve(self.cell.T, xl.T).T
        xl = (frac - np.floor(frac)) @ self.cell
        self._run(self._lmp, "delete_atoms group all compress no")
        add_atoms(self._lmp, xl, self.types)
        self._run(self._lmp, "run 0 post no")
        f = np.array(self._lmp.gather_atoms("f", 1, 3), dtype=float).reshape(self.n_atoms, 3)
        e = float(self._lmp.get_thermo("pe"))
        return e, f @ self._R.T

    def forces(self, positions) -> np.ndarray:
        """Forces (n, 3) in eV/Å of one configuration (see :meth:`energy_forces`)."""
        return self.energy_forces(positions)[1]

    def forces_many(self, positions: Sequence, progress=None) -> np.ndarray:
        """Forces of each configuration in ``positions`` (m, n, 3) -> (m, n, 3) eV/Å.

        ``progress`` is an optional callable ``progress(i_done, m)``.
        """
        out = np.empty((len(positions), self.n_atoms, 3))
        for i, x in enumerate(positions):
            out[i] = self.forces(x)
            if progress is not None:
                progress(i + 1, len(positions))
        return out

    def close(self) -> None:
        if getattr(self, "_lmp", None) is not None:
            self._lmp.close()
            self._lmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
