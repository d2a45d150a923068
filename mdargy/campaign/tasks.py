"""The task model: a campaign expands into independent tasks, each one LAMMPS run.

* one NEMD task per (temperature, length);
* one EMD task per temperature that asks for MSD, DOS, Green–Kubo κ and/or lattice dynamics
  (a single run serves all; a Green–Kubo task also records the heat current, a lattice task
  fits force constants to snapshots of its trajectory).

Every task has a stable identifier (``nemd_T300K_L8``, ``emd_T550K``) that names its directory,
a seed derived from the campaign seed and the identifier only (so adding temperatures to a
campaign does not change the seeds of existing tasks), a fingerprint of every input that can
change its result (so a finished task is never silently reused for different parameters), and an
expected cost used to hand out the longest tasks first.

The cost is ``unit cells x MD steps``: for one structure and potential the wall time of a run
is proportional to it (short-ranged potentials scale linearly with the number of atoms). It only
ranks tasks; absolute times are learnt from finished tasks for the ETA.
"""

from __future__ import annotations

import dataclasses
import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mdargy.campaign.schema import (EMD_FIELDS, MD_FIELDS, NEMD_FIELDS, CampaignSpec,
                                    canonical_hash, is_file_key)
from mdargy.drivers.config import nemd_block_ps, steps_of
from mdargy.errors import InputError
from mdargy.io.integrity import file_sha256
from mdargy.results import to_jsonable


def format_T(T: float) -> str:
    """``300.0 -> '300'``, ``77.5 -> '77.5'`` (used in task identifiers)."""
    return f"{T:g}"


def task_seed(master_seed: int, task_id: str) -> int:
    """Seed of one task: a deterministic mix of the campaign seed and the task identifier.

    Returns an integer in ``[1, 899999999]`` (valid for every LAMMPS seed keyword; the drivers
    derive their per-segment seeds from it).
    """
    h = zlib.crc32(task_id.encode()) ^ (master_seed * 2654435761 % 2**32)
    h = zlib.crc32(h.to_bytes(4, "little") + master_seed.to_bytes(8, "little", signed=False))
    return h % 899_999_999 + 1


@dataclasses.dataclass(frozen=True)
class Task:
    """One unit of work of a campaign.

    Attributes
    ----------
    id : str
        Stable identifier, names the task directory.
    kind : str
        ``"nemd"`` or ``"emd"``.
    T_K : float
        Target temperature.
    params : dict
        Kind-specific parameters (``length_cells``; ``msd``/``dos`` flags).
    seed : int
        Seed of the run.
    cost : float
        Expected cost, unit cells x MD steps (relative wall time).
    fingerprint : str
        SHA-256 of every input that can change the result (file contents, not paths).
    legacy : tuple or None
        ``(campaign folder, inputs with file paths relative to it)``: what the first,
        path-based fingerprint hashed, to recognise records made with it (not serialised).
    """

    id: str
    kind: str
    T_K: float
    params: dict
    seed: int
    cost: float
    fingerprint: str
    legacy: tuple | None = dataclasses.field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        return {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name != "legacy"}

    def legacy_fingerprints(self, record: Mapping | None = None) -> set[str]:
        """The first format's path-based fingerprints of this task: with its files where they
        lie now and, for a record that names its campaign file, where they lay then."""
        if self.legacy is None:
            return set()
        base, inputs = self.legacy
        bases = {str(base)}
        prov = ((record or {}).get("provenance") or {}).get("inputs") or {}
        if isinstance(prov.get("campaign_file"), str):
            bases.add(str(Path(prov["campaign_file"]).parent))
        return {canonical_hash(_rerooted(inputs, b)) for b in bases}

    def matches(self, record: Mapping | None) -> bool:
        """Whether a task record (``task.json``) was made with this task's inputs."""
        if not record or not isinstance(record.get("fingerprint"), str):
            return False
        fp = record["fingerprint"]
        return fp == self.fingerprint or fp in self.legacy_fingerprints(record)


def _map_files(table: Mapping, fn) -> dict:
    """``table`` with ``fn`` applied to each file path (keys ``file``, ``files``, ``*_file``;
    a LAMMPS-shipped ``lammps:NAME`` is a name, left as it is)."""
    def one(v):
        return v if not isinstance(v, str) or v.startswith("lammps:") else fn(v)
    return {k: ([one(x) for x in v] if isinstance(v, list) else one(v)) if is_file_key(k) else v
            for k, v in table.items()}


def _rerooted(inputs: dict, base: str) -> dict:
    """The first format's inputs: file paths absolute again, below ``base``."""
    out = dict(inputs)
    for key in ("structure", "potential"):
        out[key] = _map_files(inputs[key], lambda v: os.path.normpath(os.path.join(base, v)))
    return out


#: Fingerprints hash a task's inputs under the key names of the first campaign format, so that
#: renaming a key never makes finished tasks stale: keys whose name changed are hashed under
#: their first name (times then counted in steps stay in steps), and keys added since enter a
#: fingerprint only when they differ from their default (a campaign that leaves them alone keeps
#: its fingerprints).
_FORMAT1_NAMES = {"replicate": "supercell", "bath_damp_fs": "damp_fs"}
_FORMAT1_STEPS = {"sample_every_fs": "sample_every", "swap_every_fs": "swap_every"}
_FORMAT1_KEYS = {
    "nemd": ("cross_section_cells", "method", "bins_per_cell", "bath_cells", "delta_T_K",
             "bath_damp_fs", "swap_every_fs", "swap_atoms", "equilibration_ps", "production_ps",
             "block_ps", "sample_every_fs", "n_error_blocks", "fit_exclude_bins", "npt_ps",
             "npt_cells", "pressure_bar"),
    "emd": ("replicate", "minimize", "equilibration_ensemble", "production_ensemble",
            "pressure_bar", "equilibration_ps", "production_ps", "dump_every_fs"),
    "md": ("timestep_fs",),
}
#: Keys that do not change a task's result: the sweep itself, checkpointing, thermo output,
#: and the EMD analysis settings (recorded in each task's outputs instead, so that a failed
#: analysis can be redone with new settings without repeating the MD).
_NOT_FINGERPRINTED = {
    "nemd": ("temperatures_K", "lengths_cells", "checkpoint_every_ps"),
    "emd": ("msd_temperatures_K", "dos_temperatures_K", "checkpoint_every_ps", "msd_fit_range_ps",
            "msd_blocks", "dos_resolution_THz", "dos_max_THz", "gk_temperatures_K",
            "heat_every_fs", "gk_fstar_THz"),
    "md": ("thermo_every_fs",),
}
_TABLE_FIELDS = {"nemd": NEMD_FIELDS, "emd": EMD_FIELDS, "md": MD_FIELDS}
#: A Langevin run does not swap: its swap interval is hashed at the first format's default (100
#: steps) whatever the time step, as it always was.
_FORMAT1_LANGEVIN = {"swap_every": 100}


def fingerprint_inputs(table: str, values, timestep_fs: float) -> dict[str, Any]:
    """The inputs of a ``[md]``/``[nemd]``/``[emd]`` table that a task's fingerprint hashes."""
    out: dict[str, Any] = {}
    for key, field in _TABLE_FIELDS[table].items():
        if key in _NOT_FINGERPRINTED[table]:
            continue
        v = getattr(values, key)
        if key == "block_ps":
            v = nemd_block_ps(values.production_ps, v)
        if key in _FORMAT1_KEYS[table]:
            if key in _FORMAT1_STEPS:
                out[_FORMAT1_STEPS[key]] = steps_of(key, v, timestep_fs)
            else:
                out[_FORMAT1_NAMES.get(key, key)] = v
        elif to_jsonable(v) != to_jsonable(field.default):
            out[key] = v
    if table == "nemd" and values.method == "langevin":
        out.update(_FORMAT1_LANGEVIN)
    return out


def _n_steps(spec: CampaignSpec, table) -> int:
    dt = spec.timestep_fs
    return (steps_of("equilibration_ps", table.equilibration_ps, dt, floor=0)
            + steps_of("production_ps", table.production_ps, dt))


def _common_inputs(spec: CampaignSpec) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The inputs every task shares: with file contents (the fingerprint), and, for records
    of the first format, the campaign folder and the inputs with paths relative to it."""
    rest = {**fingerprint_inputs("md", spec.md, spec.timestep_fs),
            "extra_commands": spec.extra_commands}
    digest = {}

    def sha(v):
        if v not in digest:
            digest[v] = "sha256:" + file_sha256(v)
        return digest[v]

    def tables(fn):
        return {"structure": _map_files(spec.structure, fn),
                "potential": _map_files(spec.potential, fn), **rest}

    base = str(Path(spec.path).resolve().parent)
    return tables(sha), base, tables(lambda v: os.path.relpath(v, base))


def build_tasks(spec: CampaignSpec) -> list[Task]:
    """Expand a campaign into its tasks, longest (highest cost) first.

    Ties are broken by identifier so the order is reproducible.
    """
    tasks: list[Task] = []
    common, base, common_v1 = _common_inputs(spec)

    def fingerprints(payload):
        return (canonical_hash({**payload, **common}),
                (base, {**payload, **common_v1}))
    if spec.nemd is not None:
        n = spec.nemd
        steps = _n_steps(spec, n)
        nemd_inputs = fingerprint_inputs("nemd", n, spec.timestep_fs)
        for T in n.temperatures_K:
            for L in n.lengths_cells:
                tid = f"nemd_T{format_T(T)}K_L{L}"
                seed = task_seed(spec.seed, tid)
                params = {"length_cells": L}
                cells = L * n.cross_section_cells[0] * n.cross_section_cells[1]
                fp, v1 = fingerprints({"kind": "nemd", "T_K": T, "seed": seed, "params": params,
                                       "nemd": nemd_inputs})
                tasks.append(Task(tid, "nemd", float(T), params, seed, float(cells * steps), fp,
                                  v1))
    if spec.emd is not None:
        e = spec.emd
        steps = _n_steps(spec, e)
        cells = e.replicate[0] * e.replicate[1] * e.replicate[2]
        emd_inputs = fingerprint_inputs("emd", e, spec.timestep_fs)
        lattice_T = spec.lattice.temperatures_K if spec.lattice is not None else ()
        ionic_T = spec.ionic.temperatures_K if spec.ionic is not None else ()
        for T in sorted(set(e.temperatures_K) | set(lattice_T) | set(ionic_T)):
            tid = f"emd_T{format_T(T)}K"
            seed = task_seed(spec.seed, tid)
            params = {"msd": T in e.msd_temperatures_K, "dos": T in e.dos_temperatures_K}
            if T in e.gk_temperatures_K:
                # only Green-Kubo tasks carry these keys, so the fingerprints of other tasks do
                # not change when a campaign gains Green-Kubo temperatures
                params.update(gk=True, heat_every_fs=e.heat_every_fs)
            if T in lattice_T:
                params["lattice"] = True
            if T in ionic_T:
                params["ionic"] = True
            fp, v1 = fingerprints({"kind": "emd", "T_K": T, "seed": seed, "params": params,
                                   "emd": emd_inputs})
            # sampling velocities every couple of steps makes an EMD run somewhat dearer
            cost = float(cells * steps) * (1.3 if params["dos"] else 1.1)
            tasks.append(Task(tid, "emd", float(T), params, seed, cost, fp, v1))
    ids = [t.id for t in tasks]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"temperatures too close to tell apart in task names: {dup}", spec.path)
    return sorted(tasks, key=lambda t: (-t.cost, t.id))
