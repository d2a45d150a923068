"""Pieces shared by the subcommands: output checks, trajectory options and loading, rank 0."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mdargy.errors import InputError
from mdargy.io.atomic import refuse_overwrite
from mdargy.io.runmeta import run_trajectory
from mdargy.io.trajectory import load_trajectory
from mdargy.lammps.runtime import get_comm


def is_root() -> bool:
    """True on rank 0 of COMM_WORLD, or when MPI is not initialised by a launcher."""
    return get_comm().Get_rank() == 0


def add_trajectory_arguments(p):
    """Arguments shared by the commands that read a trajectory."""
    p.add_argument("--topology", "--data", dest="topology", metavar="FILE",
                   help="LAMMPS data file (elements from its Masses) or MDAnalysis topology")
    p.add_argument("--types", metavar="MAP",
                   help="LAMMPS type to element, e.g. 1=Cu,2=P,3=S")
    p.add_argument("--timestep-fs", type=float, metavar="FS",
                   help="MD time step in fs (when the file does not carry the frame time)")
    p.add_argument("--dump-interval", type=int, metavar="STEPS",
                   help="steps between frames (default: from the file's step numbers)")
    p.add_argument("--format", choices=("netcdf", "mdargy", "lammpsdump", "extxyz", "mdanalysis"),
                   help="trajectory format (default: detected)")
    p.add_argument("--units", choices=("metal", "real"),
                   help="LAMMPS units of a text dump without ITEM: UNITS (default metal)")
    p.add_argument("--frames", metavar="START:STOP[:STEP]",
                   help="use only these frames (Python slice syntax)")
    p.add_argument("--workers", type=int, default=1,
                   help="threads for the FFTs (default 1)")
    p.add_argument("-o", "--output", metavar="DIR", help="output directory")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")


def parse_frames(spec):
    if spec is None:
        return None
    try:
        parts = [int(s) if s.strip() else None for s in spec.split(":")]
        if not 1 <= len(parts) <= 3:
            raise ValueError
    except ValueError:
        raise InputError(f"--frames {spec!r}: expected START:STOP[:STEP]")
    if len(parts) == 1:
        parts = [parts[0], None]
    return slice(*parts)


def load(path, args, need_velocities=False):
    """Load a trajectory with the CLI's options (see :func:`mdargy.io.trajectory.load_trajectory`)."""
    traj = load_trajectory(
        path, topology=args.topology, types=args.types, timestep_fs=args.timestep_fs,
        dump_interval=args.dump_interval, format=args.format, velocities=need_velocities,
        frames=parse_frames(args.frames), units=args.units,
    )
    if traj.dt_ps is None:
        raise InputError(
            "the time between frames is unknown: give --timestep-fs (and --dump-interval if "
            "the file has no step numbers)", path,
        )
    for w in traj.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return traj


def resolve_run(path) -> tuple[Path, float | None]:
    """The trajectory of ``path`` (a trajectory file or an mdargy run folder) and the run's
    mean temperature in K from the ``result.json`` beside it, or None when there is none."""
    p = Path(path)
    run = p if p.is_dir() else p.parent
    if p.is_dir():
        p = run_trajectory(p)
    res = run / "result.json"
    if res.exists():
        try:
            return p, float(json.loads(res.read_text())["T_mean_K"])
        except (ValueError, KeyError, TypeError):
            pass
    return p, None


def load_run(path, args, temperature_K=None, need_velocities=False):
    """Load the trajectory of a file or run folder; returns ``(traj, T_K, trajectory path)``.

    ``T_K`` is ``temperature_K`` when given, else the run's mean temperature (its
    ``result.json``), else the ``temperature_K`` the trajectory file records, else None.
    """
    tp, T_run = resolve_run(path)
    traj = load(tp, args, need_velocities=need_velocities)
    T = temperature_K if temperature_K is not None else T_run
    if T is None:
        T = traj.metadata.get("temperature_K")
    return traj, (None if T is None else float(T)), tp


def prepare_output(outdir, names, force: bool) -> Path:
    """Check that none of ``names`` exists in ``outdir`` (unless ``force``), before any work."""
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise InputError("output exists and is not a directory", out)
    for n in names:
        refuse_overwrite(out / n, force)
    return out
