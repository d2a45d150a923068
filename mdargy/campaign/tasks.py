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
import zlib
from typing import Any

from mdargy.campaign.schema import CampaignSpec, canonical_hash
from mdargy.errors import InputError


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
        SHA-256 of every input that can change the result.
    """

    id: str
    kind: str
    T_K: float
    params: dict
    seed: int
    cost: float
    fingerprint: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _n_steps(ps: float, dt_fs: float) -> int:
    return max(1, int(round(ps * 1000.0 / dt_fs)))


def _common_inputs(spec: CampaignSpec) -> dict[str, Any]:
    return {
        "structure": dict(spec.structure),
        "potential": dict(spec.potential),
        "timestep_fs": spec.timestep_fs,
        "extra_commands": spec.extra_commands,
    }


def build_tasks(spec: CampaignSpec) -> list[Task]:
    """Expand a campaign into its tasks, longest (highest cost) first.

    Ties are broken by identifier so the order is reproducible.
    """
    tasks: list[Task] = []
    common = _common_inputs(spec)
    if spec.nemd is not None:
        n = spec.nemd
        steps = _n_steps(n.equilibration_ps, spec.timestep_fs) + _n_steps(n.production_ps, spec.timestep_fs)
        nemd_inputs = dataclasses.asdict(n)
        nemd_inputs.pop("temperatures_K")
        nemd_inputs.pop("lengths_cells")
        nemd_inputs.pop("checkpoint_every_ps")  # does not change the result
        for T in n.temperatures_K:
            for L in n.lengths_cells:
                tid = f"nemd_T{format_T(T)}K_L{L}"
                seed = task_seed(spec.seed, tid)
                params = {"length_cells": L}
                cells = L * n.cross_section_cells[0] * n.cross_section_cells[1]
                fp = canonical_hash({"kind": "nemd", "T_K": T, "seed": seed, "params": params,
                                     "nemd": nemd_inputs, **common})
                tasks.append(Task(tid, "nemd", float(T), params, seed, float(cells * steps), fp))
    if spec.emd is not None:
        e = spec.emd
        steps = _n_steps(e.equilibration_ps, spec.timestep_fs) + _n_steps(e.production_ps, spec.timestep_fs)
        cells = e.supercell[0] * e.supercell[1] * e.supercell[2]
        emd_inputs = dataclasses.asdict(e)
        # the fingerprint covers what the MD depends on; the analysis settings (MSD window and
        # blocks, DOS resolution) are recorded in each task's outputs instead, so a failed
        # analysis can be redone with new settings without repeating the MD
        for key in ("msd_temperatures_K", "dos_temperatures_K", "checkpoint_every_ps",
                    "msd_fit_range_ps", "msd_blocks", "dos_resolution_THz",
                    "gk_temperatures_K", "heat_every_fs", "gk_fstar_THz"):
            emd_inputs.pop(key)
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
            fp = canonical_hash({"kind": "emd", "T_K": T, "seed": seed, "params": params,
                                 "emd": emd_inputs, **common})
            # sampling velocities every couple of steps makes an EMD run somewhat dearer
            cost = float(cells * steps) * (1.3 if params["dos"] else 1.1)
            tasks.append(Task(tid, "emd", float(T), params, seed, cost, fp))
    ids = [t.id for t in tasks]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise InputError(f"temperatures too close to tell apart in task names: {dup}", spec.path)
    return sorted(tasks, key=lambda t: (-t.cost, t.id))
