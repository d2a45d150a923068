"""Energy, forces and virial of one configuration with ``pair_style mtp`` in LAMMPS.

A thin LAMMPS layer used by ``mdargy mtp check``, the tests and the benchmark. Units: LAMMPS
``metal`` (Angstrom, eV). The virial is ``W_ab = sum_i x_i,a F_i,b`` in eV (LAMMPS's
convention: positive under compression), in the order xx, yy, zz, xy, xz, yz; the ASE/motep
stress is ``-W / V``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np

from mdargy.errors import InputError
from mdargy.lammps.runtime import create_lammps, import_lammps, run_commands
from mdargy.structures.builders import check_elements


@dataclasses.dataclass(frozen=True)
class LammpsEFS:
    """What LAMMPS computed for one configuration (arrays ordered like the input atoms)."""

    energy_eV: float
    forces_eV_A: np.ndarray
    virial_eV: np.ndarray  # xx yy zz xy xz yz
    pe_atom_sum_eV: float
    stress_atom_sum_eV: np.ndarray  # -sum of compute stress/atom, converted to eV (= virial)
    centroid_stress_atom_sum_eV: np.ndarray  # the same for centroid/stress/atom, 9 components
    volume_A3: float


def lower_triangular_cell(cell) -> np.ndarray:
    """Check that ``cell`` (rows a, b, c) is LAMMPS-shaped (a along x, b in the xy plane)."""
    c = np.asarray(cell, dtype=float)
    if c.shape != (3, 3) or abs(c[0, 1]) > 1e-12 or abs(c[0, 2]) > 1e-12 or abs(c[1, 2]) > 1e-12:
        raise InputError("cell must be lower triangular: a = (ax,0,0), b = (bx,by,0), c = (cx,cy,cz)")
    if min(c[0, 0], c[1, 1], c[2, 2]) <= 0:
        raise InputError("cell diagonal must be positive")
    return c


def setup_commands(cell, ntypes: int, masses: Sequence[float] | None = None,
                   periodic: bool = True) -> str:
    """LAMMPS commands that create an empty (triclinic) box for the configuration."""
    c = lower_triangular_cell(cell)
    bnd = "p p p" if periodic else "f f f"
    masses = masses or [1.0] * ntypes
    lines = ["units metal", "atom_style atomic", "atom_modify map array sort 0 0.0",
             f"boundary {bnd}",
             "region box prism 0 {!r} 0 {!r} 0 {!r} {!r} {!r} {!r}".format(
                 *(float(v) for v in (c[0, 0], c[1, 1], c[2, 2], c[1, 0], c[2, 0], c[2, 1]))),
             f"create_box {ntypes} box"]
    lines += [f"mass {t + 1} {float(m)!r}" for t, m in enumerate(masses)]
    return "\n".join(lines)


def add_atoms(lmp, positions, types) -> None:
    """Create atoms (ids 1..n) from positions and 1-based types, identical on every rank."""
    pos = np.ascontiguousarray(positions, dtype=float)
    n = len(pos)
    lmp.create_atoms(n, list(range(1, n + 1)), [int(t) for t in types], pos.ravel().tolist(),
                     shrinkexceed=False)


def pair_commands(potential: str | Path, elements: Sequence[str], style: str = "mtp") -> str:
    """``pair_style``/``pair_coeff`` lines for mdargy's MTP plugin (or MLIP's ``mlip``).

    Parameters
    ----------
    potential : path
        The ``.mtp`` file.
    elements : sequence of str
        Element of each LAMMPS atom type, in type order.
    style : {"mtp", "mlip"}
        ``mtp``: mdargy's plugin. ``mlip``: the MLIP-3 LAMMPS interface of a cluster build
        (``pair_style mlip load_from=FILE``; its species follow the atom types in order).
    """
    if style == "mtp":
        return f"pair_style mtp {potential}\npair_coeff * * {' '.join(elements)}"
    if style == "mlip":
        return f"pair_style mlip load_from={potential}\npair_coeff * *"
    raise InputError(f"unknown MTP pair style {style!r}; use 'mtp' or 'mlip'")


def evaluate(potential, elements, cell, positions, types, periodic: bool = True, comm=None,
             style: str = "mtp") -> LammpsEFS:
    """Run ``run 0`` with the MTP on one configuration (collective over ``comm``).

    Parameters
    ----------
    potential : path
        ``.mtp`` file.
    elements : sequence of str
        Element of each atom type (``pair_coeff * * elements...``).
    cell : (3, 3) array
        Lower-triangular cell rows in Angstrom.
    positions : (n, 3) array
        Cartesian positions in Angstrom (inside or outside the cell: they are wrapped).
    types : (n,) int array
        1-based LAMMPS atom types.
    """
    L = import_lammps()
    lmp = create_lammps(comm)
    try:
        run_commands(lmp, setup_commands(cell, len(elements), periodic=periodic))
        add_atoms(lmp, positions, types)
        run_commands(lmp, pair_commands(potential, elements, style) + """
compute pea all pe/atom
compute sa all stress/atom NULL virial
compute ca all centroid/stress/atom NULL virial
compute pes all reduce sum c_pea
compute sas all reduce sum c_sa[1] c_sa[2] c_sa[3] c_sa[4] c_sa[5] c_sa[6]
compute cas all reduce sum c_ca[1] c_ca[2] c_ca[3] c_ca[4] c_ca[5] c_ca[6] c_ca[7] c_ca[8] c_ca[9]
compute vir all pressure NULL virial
thermo_style custom step pe c_pes c_vir[1] c_sas[1] c_cas[1]
run 0""")
        n = len(positions)
        vol = float(lmp.get_thermo("vol"))
        nk = float(lmp.extract_global("nktv2p"))
        g = L.LMP_STYLE_GLOBAL
        vec = L.LMP_TYPE_VECTOR
        vir = np.array(lmp.numpy.extract_compute("vir", g, vec)[:6]) * vol / nk
        sas = -np.array(lmp.numpy.extract_compute("sas", g, vec)[:6]) / nk
        cas = -np.array(lmp.numpy.extract_compute("cas", g, vec)[:9]) / nk
        pes = float(lmp.numpy.extract_compute("pes", g, L.LMP_TYPE_SCALAR))
        f = np.array(lmp.gather_atoms("f", 1, 3), dtype=float).reshape(n, 3)
        e = float(lmp.get_thermo("pe"))
        if not periodic:
            vir = vir if np.isfinite(vir).all() else np.full(6, np.nan)
        return LammpsEFS(e, f, vir, pes, sas, cas, vol)
    finally:
        lmp.close()


@dataclasses.dataclass(frozen=True)
class AtomsEFS:
    """Energy, forces and stress of an ASE ``Atoms`` in its own frame (ASE's conventions)."""

    energy_eV: float
    forces_eV_A: np.ndarray  # (n, 3)
    stress_eV_A3: np.ndarray  # (3, 3), ASE sign: positive under tension


def evaluate_atoms(potential, atoms, elements: Sequence[str], comm=None,
                   style: str = "mtp") -> AtomsEFS:
    """Evaluate an ASE ``Atoms`` of any cell shape with the MTP in LAMMPS.

    LAMMPS needs a lower-triangular cell, so the configuration is rotated into one (a along x,
    b in the xy plane), evaluated with :func:`evaluate`, and the forces and stress are rotated
    back. ``elements`` is the potential's species order (``pair_coeff * * elements``); every
    element of ``atoms`` must be in it.
    """
    from ase.geometry import cell_to_cellpar, cellpar_to_cell

    check_elements(atoms, elements, potential=potential)
    symbols = atoms.get_chemical_symbols()
    cell = np.asarray(atoms.cell.array, dtype=float)
    new = cellpar_to_cell(cell_to_cellpar(cell))
    R = np.linalg.solve(cell, new)  # rows: new = old @ R, a proper rotation
    types = np.array([list(elements).index(s) + 1 for s in symbols])
    r = evaluate(potential, elements, new, np.asarray(atoms.positions) @ R, types, comm=comm,
                 style=style)
    w = r.virial_eV
    W = np.array([[w[0], w[3], w[4]], [w[3], w[1], w[5]], [w[4], w[5], w[2]]])
    sigma = R @ (-W / r.volume_A3) @ R.T
    return AtomsEFS(r.energy_eV, r.forces_eV_A @ R.T, sigma)
