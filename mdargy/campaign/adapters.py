"""Translate campaign tables into the objects of the other mdargy layers.

Which driver keys each campaign table carries (:func:`driver_fields`): ``[md]``, ``[nemd]`` and
``[emd]`` hold the keys of :class:`~mdargy.drivers.config.NEMDConfig` and ``EMDConfig`` under
the same names, units, defaults and checks, so the campaign schema is derived from the drivers'
definitions; :func:`driver_config` turns a task back into a driver configuration.

The only place where the campaign package touches :mod:`mdargy.potentials` and
:mod:`mdargy.structures`: a ``[potential]`` table becomes a
:class:`mdargy.potentials.spec.PotentialSpec`; a ``[structure]`` table becomes the conventional
unit cell (an :class:`ase.Atoms`) that the tasks replicate into NEMD bars and EMD boxes.

``[structure]`` keys
--------------------
``file``
    A structure file (LAMMPS data, CIF, POSCAR, extxyz: anything :func:`read_structure` reads),
    relative to the campaign file. With ``type_elements`` for data files without element names.
``lattice``, ``a_A``, ``element``
    Instead of a file: a cubic conventional cell built by ASE (``fcc``, ``bcc``, ``sc``,
    ``diamond``), e.g. LJ argon: ``lattice = "fcc"``, ``a_A = 5.26``, ``element = "Ar"``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from ase.build import bulk
from ase.data import atomic_numbers

from mdargy.analysis.npt import lattice_length_err_A, npt_average
from mdargy.drivers.config import EMDConfig, NEMDConfig, steps_of
from mdargy.errors import InputError
from mdargy.io.config import Field
from mdargy.io.thermo import read_thermo_csv
from mdargy.potentials.spec import PotentialSpec, resolve_file  # noqa: F401 (schema uses it)
from mdargy.structures.load import (read_structure, type_elements_for,
                                    write_lammps_data)

STRUCTURE_KEYS = ("file", "type_elements", "atom_style", "lattice", "a_A", "element")
LATTICES = ("fcc", "bcc", "sc", "diamond")


def potential_from_table(table: Mapping[str, Any], extra_commands: str = ""):
    """``[potential]`` table (+ ``[lammps] extra_commands``) -> PotentialSpec."""
    d = dict(table)
    lines = tuple(ln for ln in (extra_commands or "").splitlines() if ln.strip())
    if lines:
        d["extra_commands"] = lines
    return PotentialSpec.from_dict(d)


def validate_structure_table(table: Mapping[str, Any]) -> None:
    """Check the keys and values of a ``[structure]`` table (files are checked by the schema)."""
    unknown = [k for k in table if k not in STRUCTURE_KEYS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], STRUCTURE_KEYS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown key {unknown[0]!r}{hint} (allowed: {', '.join(STRUCTURE_KEYS)})")
    if "file" in table:
        bad = [k for k in ("lattice", "a_A", "element") if k in table]
        if bad:
            raise InputError(f"give either 'file' or a lattice (lattice, a_A, element), not both "
                             f"(found {', '.join(bad)} with file)")
        te = table.get("type_elements")
        if te is not None and not (isinstance(te, list) and all(isinstance(e, str) for e in te)):
            raise InputError("type_elements must be a list of element symbols")
        return
    missing = [k for k in ("lattice", "a_A", "element") if k not in table]
    if missing:
        raise InputError(f"give 'file', or all of lattice, a_A and element (missing "
                         f"{', '.join(missing)})")
    if table["lattice"] not in LATTICES:
        raise InputError(f"lattice must be one of {', '.join(LATTICES)}, got {table['lattice']!r}")
    a = table["a_A"]
    if isinstance(a, bool) or not isinstance(a, (int, float)) or not a > 0:
        raise InputError(f"a_A must be a positive number (Å), got {a!r}")
    if not isinstance(table["element"], str) or table["element"] not in atomic_numbers:
        raise InputError(f"element must be a chemical symbol, got {table['element']!r}")


def unit_cell(table: Mapping[str, Any]):
    """The conventional cell (:class:`ase.Atoms`) described by a ``[structure]`` table."""
    validate_structure_table(table)
    if "file" in table:
        return read_structure(table["file"], type_elements=table.get("type_elements"),
                              atom_style=table.get("atom_style", "atomic"))
    return bulk(table["element"], table["lattice"], a=float(table["a_A"]), cubic=True)


def structure_source(spec, workdir) -> tuple[str, tuple[str, ...]]:
    """Path of the structure file a driver reads, and its ``type_elements``.

    A ``file`` is used as it is. A lattice is written once into ``workdir`` as
    ``unit_cell.data`` (a LAMMPS data file whose Masses name the element).
    """
    table = spec.structure
    if "file" in table:
        return str(table["file"]), tuple(table.get("type_elements", ()))
    atoms = unit_cell(table)
    el = str(table["element"])
    pot = potential_from_table(spec.potential, spec.extra_commands)
    path = Path(workdir) / "unit_cell.data"
    if not path.exists():
        write_lammps_data(path, atoms, [el], [pot.mass(el)])
    return str(path), (el,)


#: Driver keys a campaign sets for each task itself: they appear in no campaign table.
PER_TASK_KEYS = ("structure", "potential", "output_dir", "type_elements", "temperature_K",
                 "seed", "max_temperature_K")
#: Driver keys of the ``[md]`` table: one value for every run of a campaign.
MD_KEYS = ("timestep_fs", "thermo_every_fs", "neighbor_skin_A")
#: Driver keys a campaign table leaves to the campaign: the NEMD bar's repetitions come from
#: ``lengths_cells`` and ``cross_section_cells``; campaign runs write no text dump.
TABLE_EXCLUDED = {"nemd": ("replicate",), "emd": ("text_dump",)}
_DRIVERS = {"nemd": NEMDConfig, "emd": EMDConfig}


def driver_fields(table: str) -> dict[str, Field]:
    """The driver keys (name -> :class:`~mdargy.io.config.Field`) a campaign table carries.

    ``"md"``: the run-wide keys of both drivers; ``"nemd"``/``"emd"``: every key of
    :class:`~mdargy.drivers.config.NEMDConfig`/``EMDConfig`` that is neither set per task nor
    run-wide. Same names, units, defaults and checks as in a single-run file.
    """
    if table == "md":
        fields = EMDConfig.fields()
        return {k: fields[k] for k in MD_KEYS}
    skip = set(PER_TASK_KEYS) | set(MD_KEYS) | set(TABLE_EXCLUDED[table])
    return {k: f for k, f in _DRIVERS[table].fields().items() if k not in skip}


def driver_config(spec, task, workdir, structure_file: str | None = None,
                  type_elements: tuple[str, ...] = ()):
    """The :class:`~mdargy.drivers.config.NEMDConfig` / ``EMDConfig`` of one task.

    The driver's run directory is ``workdir/run``. Raises :class:`InputError` for parameters
    the driver rejects (called for every task before a campaign starts).
    """
    pot = potential_from_table(spec.potential, spec.extra_commands)
    if structure_file is None:
        structure_file = str(spec.structure.get("file", "unit_cell.data"))
        type_elements = tuple(spec.structure.get("type_elements", ()))
    common = dict(structure=structure_file, potential=pot, output_dir=str(Path(workdir) / "run"),
                  type_elements=tuple(type_elements), temperature_K=task.T_K, seed=task.seed,
                  **{k: getattr(spec.md, k) for k in MD_KEYS})
    table = spec.nemd if task.kind == "nemd" else spec.emd
    run = {k: getattr(table, k) for k in driver_fields(task.kind)}
    if task.kind == "nemd":
        L = int(task.params["length_cells"])
        return NEMDConfig(**common, **run, replicate=(L, *table.cross_section_cells))
    # only the Green-Kubo tasks record the heat current
    run["heat_every_fs"] = task.params["heat_every_fs"] if task.params.get("gk") else 0.0
    return EMDConfig(**common, **run, text_dump=False)


def validate_tasks(spec, tasks) -> None:
    """Check what the file's syntax cannot show, before anything runs.

    Reads the structure (a corrupt file, or an element the potential does not describe, is
    reported now rather than by every task), and builds every task's driver configuration once
    so that the driver's own checks run up front.
    """
    pot = potential_from_table(spec.potential, spec.extra_commands)
    try:
        atoms = unit_cell(spec.structure)
        tel = type_elements_for(atoms, pot.elements)
        pot.validate(type_elements=tel)
    except InputError as exc:
        raise InputError(f"[structure]/[potential]: {exc}", spec.path) from None
    for t in tasks:
        try:
            driver_config(spec, t, spec.output / "work" / t.id)
        except InputError as exc:
            raise InputError(f"task {t.id}: {exc}", spec.path) from None


def npt_config(spec, task, workdir, structure_file: str, type_elements: tuple[str, ...],
               seed: int):
    """The EMD configuration of the NPT run that sets the lattice of a NEMD task's bar.

    ``seed`` should derive from the temperature only, so that every length at that temperature
    gets the same lattice. Thermo rows every 1 % of the run; a short NVT production closes it
    (the driver needs one).
    """
    n = spec.nemd
    dt = spec.timestep_fs
    steps = steps_of("npt_ps", n.npt_ps, dt)
    every = max(1, steps // 100)
    steps = every * max(1, steps // every)
    every_fs = every * dt
    return EMDConfig(
        structure=structure_file, potential=potential_from_table(spec.potential,
                                                                 spec.extra_commands),
        output_dir=str(Path(workdir) / "npt"), type_elements=tuple(type_elements),
        temperature_K=task.T_K, seed=seed, timestep_fs=dt, thermo_every_fs=every_fs,
        neighbor_skin_A=spec.md.neighbor_skin_A,
        replicate=tuple(n.npt_cells), equilibration_ensemble="npt",
        equilibration_ps=steps * dt / 1000.0, pressure_bar=n.pressure_bar,
        production_ensemble="nvt", production_ps=every_fs / 1000.0, dump_every_fs=every_fs,
        text_dump=False, checkpoint_every_ps=max(every, steps // 4) * dt / 1000.0)


def scaled_unit_cell(spec, thermo_csv, n_cells: int, out_path, type_elements) -> dict:
    """Write the unit cell scaled to the mean volume of the NPT run's second half.

    The scaling is isotropic (exact in expectation for cubic cells; for others the cell's
    shape is kept and only its volume set). Returns what was used: the scale factor, the mean
    volume per unit cell, the scaled cell lengths and the mean pressure, with standard errors
    from blocks (:func:`mdargy.analysis.npt.npt_average`).
    """
    th = read_thermo_csv(thermo_csv, stage="equilibration")
    try:
        avg = npt_average(th["vol_A3"], th["press_bar"])
    except InputError as exc:
        raise InputError(f"{exc}; increase [nemd] npt_ps", thermo_csv) from None
    atoms = unit_cell(spec.structure)
    pot = potential_from_table(spec.potential, spec.extra_commands)
    type_elements = list(type_elements) or list(type_elements_for(atoms, pot.elements))
    v0 = abs(float(np.linalg.det(atoms.cell.array)))
    v_cell = avg.volume_A3 / n_cells
    scale = (v_cell / v0) ** (1.0 / 3.0)
    atoms.set_cell(atoms.cell.array * scale, scale_atoms=True)
    write_lammps_data(out_path, atoms, type_elements, [pot.mass(e) for e in type_elements])
    lengths = [float(x) for x in atoms.cell.lengths()]
    return {"type_elements": type_elements, "lattice_scale": scale, "volume_per_cell_A3": v_cell,
            "volume_per_cell_err_A3": avg.volume_err_A3 / n_cells,
            "npt_pressure_bar": avg.pressure_bar, "npt_pressure_err_bar": avg.pressure_err_bar,
            "cell_lengths_A": lengths,
            "cell_lengths_err_A": [lattice_length_err_A(x, avg) for x in lengths],
            "n_rows_averaged": avg.n_rows, "n_error_blocks": avg.n_blocks}
