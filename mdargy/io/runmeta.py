"""What an mdargy run directory says about its trajectory files: ``metadata.json`` (time step,
frame interval, declared frame count, elements per type) and the integrity record of its last
checkpoint (:mod:`mdargy.io.integrity`), checked before a trajectory of a run is analysed.
"""

from __future__ import annotations

import json
from pathlib import Path

from mdargy.errors import InputError
from mdargy.io.integrity import record_problem, run_record

__all__ = ["run_metadata", "meta_dt_ps", "meta_lookup", "check_declared_frames",
           "check_run_record", "run_trajectory", "TRAJECTORY_NAMES"]

#: Trajectory files of an ``mdargy emd`` run folder, preferred first: the NetCDF trajectory,
#: then the binary one of runs made before it.
TRAJECTORY_NAMES = ("traj.nc", "traj.mdtraj")


def _read_metadata_json(path: Path) -> dict:
    meta_path = path.parent / "metadata.json"
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:  # ValueError: JSON or UTF-8 decoding
        raise InputError(f"cannot read it as JSON ({exc}): the run's metadata is damaged",
                         meta_path) from None
    if not isinstance(meta, dict):
        raise InputError("is not a JSON object: the run's metadata is damaged", meta_path)
    return meta


def run_metadata(path: Path) -> dict:
    """``metadata.json`` beside ``path`` when it describes this file (an mdargy run directory):
    it has no ``trajectory`` section, or that section names the file."""
    meta = _read_metadata_json(path)
    section = meta.get("trajectory")
    if isinstance(section, dict) and path.name not in [str(v) for v in section.values()]:
        return {}
    return meta


def meta_dt_ps(meta: dict) -> float | None:
    """Time between frames (ps) from run metadata: ``dt_ps``/``frame_dt_ps``, or
    ``timestep_fs`` × ``dump_every``."""
    dt = meta_lookup(meta, "frame_dt_ps", "dt_ps", "frame_interval_ps")
    if dt is not None:
        return float(dt)
    ts, every = meta_lookup(meta, "timestep_fs"), meta_lookup(meta, "dump_every")
    if ts is not None and every is not None:
        return float(ts) * 1e-3 * int(every)
    return None


def meta_lookup(meta: dict, *keys):
    """First of ``keys`` found in ``meta`` or in one level of nested dicts."""
    for k in keys:
        if k in meta and meta[k] is not None:
            return meta[k]
    for v in meta.values():
        if isinstance(v, dict):
            for k in keys:
                if k in v and v[k] is not None:
                    return v[k]
    return None


def check_declared_frames(path: Path, meta: dict, n_file: int, frames) -> None:
    """A finished mdargy run's ``metadata.json`` states how many frames its trajectories hold;
    a file with other frames (truncated, appended to) is refused rather than analysed."""
    section = meta.get("trajectory") if meta else None
    if not isinstance(section, dict):
        return
    declared = section.get("n_frames")
    if not isinstance(declared, int) or isinstance(declared, bool) or declared < 1:
        return  # a run still in progress declares 0
    if n_file != declared:
        raise InputError(f"holds {n_file} complete frames but {path.parent / 'metadata.json'} "
                         f"says the run wrote {declared}: the file was truncated or changed "
                         "after the run. Restore it, or select frames explicitly with "
                         "frames=/--frames to analyse what is left", path)


def check_run_record(path: Path) -> None:
    """A trajectory of an mdargy run must still hold what the run's last checkpoint recorded
    (length and checksums, :mod:`mdargy.io.integrity`): a truncated or altered file is refused
    before it is analysed."""
    found = run_record(path)
    if found is None:
        return
    problem = record_problem(path, *found, follow_symlinks=True)
    if problem:
        raise InputError(f"{problem}: the file changed after the run wrote it; restore it (or "
                         "re-run the simulation) before analysing it", path)


def run_trajectory(run_dir) -> Path:
    """The trajectory of an ``mdargy emd`` run folder: the file its ``metadata.json`` names,
    else ``traj.nc``, else ``traj.mdtraj`` (runs made before NetCDF).

    Raises
    ------
    InputError
        The folder holds none of them (not an EMD run folder, or a run not yet producing).
    """
    run = Path(run_dir)
    section = _read_metadata_json(run / "traj.nc").get("trajectory")
    names = []
    if isinstance(section, dict):
        names += [str(section[k]) for k in ("netcdf", "binary") if section.get(k)]
    for name in names + list(TRAJECTORY_NAMES):
        if (run / name).is_file():
            return run / name
    raise InputError("run folder has no traj.nc (nor the traj.mdtraj of older runs): not an "
                     "mdargy emd output, or its production has not started", run)
