"""Pieces shared by the EMD and NEMD drivers: structure preparation and LAMMPS setup text."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from mdargy.errors import InputError
from mdargy.potentials.spec import lammps_path
from mdargy.structures.load import (
    read_structure,
    replicate,
    type_elements_for,
    write_lammps_data,
)

DATA_NAME = "structure.data"

#: thermo keywords read after every segment, their column names in ``thermo.csv``, and the
#: names LAMMPS gives them in ``last_thermo()``.
THERMO_KEYS = ("step", "time", "temp", "pe", "ke", "etotal", "press", "vol", "lx", "ly", "lz")
THERMO_COLUMNS = ("step", "time_ps", "T_K", "pe_eV", "ke_eV", "etotal_eV", "press_bar",
                  "vol_A3", "lx_A", "ly_A", "lz_A")
THERMO_LAST_NAMES = ("Step", "Time", "Temp", "PotEng", "KinEng", "TotEng", "Press", "Volume",
                     "Lx", "Ly", "Lz")


def prepare_structure(config, run_path: Path, write: bool = True) -> dict:
    """Read, replicate and check the structure; write ``structure.data`` into the run folder.

    Runs on one process. Checks (before any LAMMPS command): the structure file, the elements
    against the potential, the potential's files.

    Returns
    -------
    dict
        ``type_elements``, ``masses_amu`` (per type), ``types`` (per atom, atom-id order),
        ``data_file``, ``n_atoms``, ``cell_A`` (3x3).
    """
    atoms = read_structure(config.structure, type_elements=config.type_elements or None)
    atoms = replicate(atoms, config.replicate)
    pot = config.potential
    try:
        tel = type_elements_for(atoms, pot.elements)
    except InputError as exc:
        raise InputError(str(exc), config.structure) from None
    pot.validate(type_elements=tel)
    check_cutoff(pot.interaction_cutoff_A(), config.neighbor_skin_A, atoms.cell[:], len(atoms),
                 pot.files[0] if pot.files else None)
    masses = [pot.mass(e) for e in tel]
    data = Path(run_path) / DATA_NAME
    if write:
        write_lammps_data(data, atoms, tel, masses)
    syms = atoms.get_chemical_symbols()
    types = np.array([tel.index(s) + 1 for s in syms], dtype=np.int64)
    return {
        "type_elements": list(tel),
        "masses_amu": masses,
        "types": types,
        "data_file": str(data),
        "n_atoms": len(atoms),
        "cell_A": np.asarray(atoms.cell[:], dtype=float),
    }


#: Most ghost atoms / neighbour pairs a run may need before it is refused (several GB).
MAX_GHOST_ATOMS = 5e7
MAX_NEIGHBOUR_PAIRS = 2e9


def check_cutoff(cutoff_A, skin_A, cell, n_atoms: int, where=None) -> None:
    """Refuse a cutoff that would make LAMMPS allocate ghost atoms and neighbour lists beyond
    memory (a ``max_dist = 1e6`` typo took 2.1 GB before LAMMPS failed), before LAMMPS starts.

    Estimates: ghost atoms ``n prod(1 + 2 r/w_i) - n`` for the perpendicular widths ``w_i`` of
    the cell, neighbour pairs ``n rho 4/3 pi r^3`` with ``r`` = cutoff + skin.
    """
    if cutoff_A is None:
        return
    cell = np.asarray(cell, dtype=float)
    vol = abs(float(np.linalg.det(cell)))
    if not (vol > 0 and math.isfinite(float(cutoff_A))):
        raise InputError(f"cutoff {cutoff_A} A or cell volume {vol} A^3 is not usable", where)
    r = float(cutoff_A) + float(skin_A)
    widths = vol / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    ghosts = n_atoms * float(np.prod(1.0 + 2.0 * r / widths)) - n_atoms
    pairs = n_atoms * (n_atoms / vol) * 4.0 / 3.0 * math.pi * r ** 3
    if ghosts > MAX_GHOST_ATOMS or pairs > MAX_NEIGHBOUR_PAIRS:
        raise InputError(
            f"a cutoff of {cutoff_A:g} A (+ {skin_A:g} A skin) in this cell (widths "
            f"{', '.join(f'{w:.3g}' for w in widths)} A, {n_atoms} atoms) needs ~{ghosts:.2g} "
            f"ghost atoms and ~{pairs:.2g} neighbour pairs, beyond memory (limits "
            f"{MAX_GHOST_ATOMS:.0g} and {MAX_NEIGHBOUR_PAIRS:.0g}); check the cutoff "
            "(cutoff_A / max_dist)", where)


def driver_styles(config) -> dict[str, list[str]]:
    """Every LAMMPS pair, fix and compute style a run of ``config`` uses.

    Checked against the installed LAMMPS before any MD step by the drivers, and for every task
    by ``mdargy campaign check``.
    """
    styles = {k: list(v) for k, v in config.potential.required_styles().items()}
    fixes = ["halt", "nvt", "nve"]
    computes: list[str] = []
    if hasattr(config, "method"):  # NEMD
        fixes += ["ave/chunk", "langevin" if config.method == "langevin"
                  else "thermal/conductivity"]
        computes.append("chunk/atom")
    else:  # EMD
        if getattr(config, "equilibration_ensemble", "nvt") == "npt":
            fixes.append("npt")
        if getattr(config, "heat_every_fs", 0):  # the heat current (mdargy.drivers.heatflux)
            fixes.append("vector")
            computes += ["ke/atom", "pe/atom", "centroid/stress/atom", "heat/flux", "reduce"]
    styles.setdefault("fix", []).extend(fixes)
    if computes:
        styles.setdefault("compute", []).extend(computes)
    return styles


def thermo_style(extra: Sequence[str] = ()) -> str:
    return "thermo_style custom " + " ".join(THERMO_KEYS + tuple(extra))


def base_commands(config, data_file: str | None, type_elements: Sequence[str],
                  restart_file: str | None = None, thermo_extra: Sequence[str] = ()) -> list[str]:
    """System, potential, neighbour and output settings (fresh start or from a restart file)."""
    if restart_file is None:
        lines = ["units metal", "atom_style atomic", "boundary p p p",
                 f"read_data {lammps_path(data_file)}"]
    else:
        lines = [f"read_restart {lammps_path(restart_file)}"]
    lines += config.potential.lammps_lines(type_elements)
    lines += [
        f"neighbor {config.neighbor_skin_A:g} bin",
        "neigh_modify delay 0 every 1 check yes",
        f"timestep {config.timestep_ps:.10g}",
        thermo_style(thermo_extra),
        "thermo_modify lost error norm no flush no",
        "thermo 0",
    ]
    return lines + guard_commands(config.runaway_T_K, guard_every(config.potential.kind))


#: The box may shrink or grow by at most these factors in volume before the run is stopped.
GUARD_VOLUME_RATIO = (0.5, 2.0)
#: A force component above this (eV/Å) means the run has blown up (thermal MD: a few eV/Å).
GUARD_FMAX_EV_A = 100.0


def guard_every(potential_kind: str) -> int:
    """Steps between in-run blow-up checks. Each check makes LAMMPS tally energy and virial on
    that step. Measured on 2 cores: every step costs +3 to +8 %
    with the Cu7PS6 MTP (448 atoms) but +43 % with LJ argon (864 atoms); every 10 steps +12 to
    +28 % with LJ. Machine-learned potentials (mtp, mlip) can have unphysical holes; atoms
    falling into one exhausted 4 GB of memory within 10 steps in Cu7PS6, so they are checked
    every step; analytic potentials every 10 steps."""
    return 1 if potential_kind in ("mtp", "mlip") else 10


def guard_commands(runaway_T_K: float, every: int) -> list[str]:
    """A ``fix halt`` that stops a run as soon as it blows up: temperature above
    ``runaway_T_K``, a force component above :data:`GUARD_FMAX_EV_A`, or a box that collapses
    or explodes (:data:`GUARD_VOLUME_RATIO`). Checked every ``every`` steps inside a segment:
    atoms falling into a hole of a bad potential reach enormous forces within a few steps, and
    LAMMPS would otherwise run out of memory on ghost atoms long before the segment ends.
    :meth:`Engine.run` turns the halt into a clear error."""
    lo, hi = GUARD_VOLUME_RATIO
    return ["variable mdargy_v0 equal $(vol)",
            f'variable mdargy_guard equal "(vol < {lo:g}*v_mdargy_v0) || (vol > {hi:g}*v_mdargy_v0)'
            f' || (c_thermo_temp > {runaway_T_K:.6g}) || (fmax > {GUARD_FMAX_EV_A:g})"',
            f"fix mdargy_guard all halt {int(every)} v_mdargy_guard > 0.5 error soft message no"]


def lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def round_up(n: int, k: int) -> int:
    return ((int(n) + k - 1) // k) * k
