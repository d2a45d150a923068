"""One loader for every trajectory file a user may bring: :func:`load_trajectory`.

It returns a :class:`~mdargy.io.container.Trajectory` (unwrapped float64 positions in Å,
optional velocities in Å/ps, one element and mass per atom, the time between frames in ps)
from

* a NetCDF trajectory in the AMBER convention (:mod:`mdargy.io.netcdf`, memory-mapped): what
  mdargy's EMD driver writes (``traj.nc``) and LAMMPS's ``dump netcdf``;
* mdargy's older binary trajectory (``traj.mdtraj``, :mod:`mdargy.io.binary`, memory-mapped);
* a LAMMPS text dump (``dump custom`` / ``dump atom``, plain or ``.gz``), through mdargy's fast
  native reader (:mod:`mdargy.io.lammpsdump`);
* anything MDAnalysis reads (DCD, XTC, TRR, H5MD, a LAMMPS dump with a data file as topology,
  ...) and extended XYZ through ASE (:mod:`mdargy.io.readers`).

The format is told from the file's first bytes (:func:`mdargy.io.detect.detect_format`).
Elements come from the file when it has them (NetCDF ``Z``, binary header, ``element`` column,
extxyz, a topology with names), else from a LAMMPS data file's ``Masses`` (nearest element by
mass, :mod:`mdargy.io.datafile`), else from ``types={1: "Cu", ...}`` (the CLI's
``--types 1=Cu,2=P,3=S``, :func:`mdargy.io.masses.parse_types`). The time between frames comes
from the file, the run's ``metadata.json`` (:mod:`mdargy.io.runmeta`), or ``timestep_fs`` × the
dump interval. A trajectory of an mdargy run is checked against the run's last checkpoint
before it is analysed. Every loaded trajectory is checked for damaged frames and for atoms that
jump implausibly between frames.

The names of the split modules stay importable from here (``Trajectory``, ``parse_types``,
``mass_of``, ``element_from_mass``, ``detect_format``, ``read_lammps_data_masses``,
``load_with_mdanalysis``, ``load_with_ase``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np

from mdargy.errors import InputError
from mdargy.io.binary import read_binary_trajectory
from mdargy.io.container import Trajectory
from mdargy.io.datafile import read_lammps_data_masses
from mdargy.io.detect import FORMATS, detect_format
from mdargy.io.lammpsdump import read_lammps_dump
from mdargy.io.masses import element_from_mass, elements_for_types, mass_of, parse_types
from mdargy.io.netcdf import read_netcdf_trajectory
from mdargy.io.readers import load_with_ase, load_with_mdanalysis, warn
from mdargy.io.runmeta import (
    check_declared_frames,
    check_run_record,
    meta_dt_ps,
    meta_lookup,
    run_metadata,
)

__all__ = [
    "Trajectory",
    "load_trajectory",
    "parse_types",
    "element_from_mass",
    "mass_of",
    "detect_format",
    "read_lammps_data_masses",
    "load_with_mdanalysis",
    "load_with_ase",
]


def load_trajectory(
    path: str | os.PathLike,
    topology: str | os.PathLike | None = None,
    types: str | Mapping | None = None,
    timestep_fs: float | None = None,
    dump_interval: int | None = None,
    format: str | None = None,
    *,
    mmap: bool = True,
    velocities: bool = True,
    frames: slice | None = None,
    continuity_unwrap: bool = True,
    threads: int | None = None,
    units: str | None = None,
) -> Trajectory:
    """Load a trajectory from any supported file.

    Parameters
    ----------
    path : path-like
        The trajectory file.
    topology : path-like, optional
        A LAMMPS data file (elements from its ``Masses``), or any topology MDAnalysis reads.
    types : str or mapping, optional
        LAMMPS type → element, ``{1: "Cu", 2: "P", 3: "S"}`` or ``"1=Cu,2=P,3=S"``. Takes
        precedence over the data file's masses.
    timestep_fs : float, optional
        MD time step in fs; with the dump interval it gives the time between frames when the
        file does not carry it.
    dump_interval : int, optional
        Steps between frames; by default read from the file's step numbers.
    format : {"netcdf", "mdargy", "lammpsdump", "extxyz", "mdanalysis"}, optional
        Skip format detection.
    mmap : bool
        Memory-map NetCDF and mdargy binary trajectories instead of reading them (positions
        and velocities are then read-only views of the file).
    velocities : bool
        Read velocities when the file has them.
    frames : slice, optional
        Keep only these frames (NetCDF, mdargy binary and MDAnalysis formats read only those).
    continuity_unwrap : bool
        Unwrap wrapped coordinates without image flags by continuity (with a warning). When
        False such coordinates are an error.
    threads : int or None
        Threads parsing a LAMMPS text dump; None uses the CPUs available (at most 8).
    units : {"metal", "real"}, optional
        LAMMPS units of a text dump without ``ITEM: UNITS`` (default metal); a dump that
        names its units must agree.

    Returns
    -------
    Trajectory

    Raises
    ------
    InputError
        The file is missing, of unknown format, lacks columns, has inconsistent atom counts,
        an atom type without an element, or no complete frame. The message names the file.
    """
    path = Path(path)
    fmt = format or detect_format(path)
    type_map = parse_types(types)
    if not path.exists():
        raise InputError("no such trajectory file", path)
    if units is not None and fmt != "lammpsdump":
        raise InputError(f"units= applies to LAMMPS text dumps; this file is {fmt} (its units "
                         "are part of the format)", path)
    if fmt == "netcdf":
        traj = _load_netcdf(path, topology, type_map, mmap=mmap, frames=frames,
                            velocities=velocities)
    elif fmt == "mdargy":
        traj = _load_binary(path, mmap=mmap, frames=frames, velocities=velocities)
    elif fmt == "lammpsdump":
        traj = _load_lammpsdump(path, topology, type_map, velocities, continuity_unwrap, threads,
                                units)
        if frames is not None:
            traj = _slice_frames(traj, frames)
    elif fmt == "extxyz":
        traj = load_with_ase(path, type_map=type_map, frames=frames)
    elif fmt == "mdanalysis":
        traj = load_with_mdanalysis(path, topology, type_map=type_map, velocities=velocities,
                                    frames=frames)
    else:
        raise InputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", path)
    return _check_frames(_fill_dt(traj, timestep_fs, dump_interval, frames))


def _slice_frames(traj: Trajectory, frames: slice) -> Trajectory:
    box = np.asarray(traj.box_A)
    dt = traj.dt_ps
    if dt is not None and frames.step not in (None, 1):
        dt = dt * frames.step
    if len(traj.steps[frames]) == 0:
        raise InputError(f"the frame selection {frames} is empty ({traj.n_frames} frames)",
                         traj.source)

    def sel(a):  # a copy, so that the unselected frames are freed
        return None if a is None else np.ascontiguousarray(a[frames])

    return traj.replace(
        positions=sel(traj.positions), velocities=sel(traj.velocities),
        steps=traj.steps[frames], box_A=box if box.ndim == 2 else box[frames], dt_ps=dt)


def _fill_dt(traj: Trajectory, timestep_fs, dump_interval, frames) -> Trajectory:
    """Set ``dt_ps`` from timestep_fs × dump interval when the file did not give it."""
    meta = dict(traj.metadata)
    steps = np.asarray(traj.steps)
    warns = list(traj.warnings)
    if dump_interval is None and len(steps) > 1 and meta.get("has_steps", True):
        d = np.diff(steps)
        if np.all(d == d[0]) and d[0] > 0:
            dump_interval = int(d[0])
        elif np.all(d > 0):
            vals, counts = np.unique(d, return_counts=True)
            common = int(vals[np.argmax(counts)])
            j = int(np.flatnonzero(d != common)[0]) + 1
            gaps = int(np.sum(d != common))
            raise InputError(
                f"frames are not evenly spaced in steps: {gaps} of {len(d)} intervals differ "
                f"from the usual {common} steps (intervals {int(d.min())} to {int(d.max())}; "
                f"the first at frame {j}, step {int(steps[j])} after step {int(steps[j - 1])}: "
                "frames missing or a dump of several runs). Time correlations (MSD, VACF) need "
                "evenly spaced frames: select an evenly spaced range with frames=/--frames",
                traj.source)
        else:
            j = int(np.flatnonzero(d <= 0)[0]) + 1
            raise InputError(f"step numbers do not increase from frame to frame (frame {j} is "
                             f"step {int(steps[j])}, after step {int(steps[j - 1])}): a dump "
                             "appended to by a restarted run? Select the frames to use with "
                             "frames=/--frames", traj.source)
    elif dump_interval is not None and frames is not None and frames.step not in (None, 1) \
            and not meta.get("has_steps", True):
        dump_interval = dump_interval * frames.step
    if dump_interval is not None:
        meta["dump_interval"] = int(dump_interval)
    dt = traj.dt_ps
    if timestep_fs is not None:
        meta["timestep_fs"] = float(timestep_fs)
        if dump_interval is None:
            if traj.n_frames > 1:
                raise InputError("the file has no step numbers: give dump_interval "
                                 "(--dump-interval) with timestep_fs", traj.source)
            dump_interval = 1
        new_dt = float(timestep_fs) * 1e-3 * dump_interval
        if dt is not None and not np.isclose(dt, new_dt, rtol=1e-9):
            warn(f"{traj.source}: timestep_fs × dump interval gives {new_dt:g} ps between "
                 f"frames but the file says {dt:g} ps; using {new_dt:g} ps", warns)
        dt = new_dt
    elif meta.get("timestep_ps") is not None and dump_interval is not None \
            and meta.get("has_steps", True):
        # the spacing follows from the file's own step numbers and MD time step
        new_dt = float(meta["timestep_ps"]) * dump_interval
        if dt is not None and not np.isclose(dt, new_dt, rtol=1e-9):
            warn(f"{traj.source}: the file's step numbers ({dump_interval} steps of "
                 f"{float(meta['timestep_ps']):g} ps) give {new_dt:g} ps between frames but its "
                 f"header says {dt:g} ps; using {new_dt:g} ps", warns)
        dt = new_dt
    return traj.replace(dt_ps=dt, metadata=meta, warnings=tuple(warns))


#: No position (Å), velocity (Å/ps) or cell vector of an MD frame reaches this: a damaged file.
_ABSURD = 1e8


def _check_frames(traj: Trajectory) -> Trajectory:
    """Look at the frames themselves: non-finite or absurd numbers (refused), a changing cell
    (warned with numbers) and atoms that jump implausibly far between two frames (atom ids
    reassigned or frames from different runs: refused).

    One pass over the frames in blocks of a few MB, each converted to native float64 once (the
    arrays may be big-endian memory maps), so the checks cost about one copy of the data.
    """
    warns = list(traj.warnings)
    boxes = traj.boxes_A
    nf = traj.n_frames
    pos, vel = traj.positions, traj.velocities
    bad = {"positions": np.zeros(nf, dtype=bool)}
    if vel is not None:
        bad["velocities"] = np.zeros(nf, dtype=bool)
    worst, worst_at, sq, count = 0.0, (0, 0), 0.0, 0
    prev = None
    block = max(2, (4 << 20) // max(1, 24 * traj.n_atoms))
    with np.errstate(invalid="ignore"):
        for j0 in range(0, nf, block):
            j1 = min(nf, j0 + block)
            x = np.asarray(pos[j0:j1], dtype=np.float64)
            for name, arr in (("positions", x), ("velocities", None if vel is None else
                                                 np.asarray(vel[j0:j1], dtype=np.float64))):
                if arr is not None:  # NaN fails both tests
                    flat = arr.reshape(j1 - j0, -1)
                    bad[name][j0:j1] = ~((flat.max(axis=1) < _ABSURD)
                                         & (flat.min(axis=1) > -_ABSURD))
            if nf > 1:
                xx = x if prev is None else np.concatenate([prev[None], x])
                base = j0 if prev is None else j0 - 1
                if len(xx) > 1:
                    d = np.diff(xx, axis=0)
                    d2 = np.einsum("fai,fai->fa", d, d)
                    sq += float(d2.sum())
                    count += d2.size
                    k = int(np.argmax(d2))
                    if d2.flat[k] > worst * worst:
                        f, a = divmod(k, d2.shape[1])
                        worst, worst_at = float(np.sqrt(d2.flat[k])), (base + f, a)
                prev = x[-1].copy()
    bad["cell"] = ~np.all((boxes < _ABSURD) & (boxes > -_ABSURD), axis=(1, 2))
    for name, b in bad.items():
        if b.any():
            j = int(np.flatnonzero(b)[0])
            raise InputError(f"frame {j} (step {int(traj.steps[j])}) holds non-finite or absurd "
                             f"{name} (|value| >= {_ABSURD:.0e}; {int(b.sum())} frame(s) in "
                             "all): the file is damaged", traj.source)
    if np.any(np.abs(np.linalg.det(boxes)) < 1e-6):
        raise InputError("a frame has a cell of zero volume: the file is damaged", traj.source)
    if nf > 1 and np.asarray(traj.box_A).ndim == 3:
        vol = np.abs(np.linalg.det(boxes))
        lengths = np.linalg.norm(boxes, axis=2)
        rel_v = (vol.max() - vol.min()) / vol.mean()
        rel_l = float(np.max((lengths.max(0) - lengths.min(0)) / lengths.mean(0)))
        if rel_v > 1e-9 or rel_l > 1e-9:
            shift = rel_l * float(lengths.mean(0).max()) / 2
            warn(f"{traj.source}: the cell changes during the trajectory (NPT?): volume "
                 f"{vol.min():.6g} to {vol.max():.6g} A^3 ({100 * rel_v:.3g} % of the mean), "
                 f"edge lengths by up to {100 * rel_l:.3g} %. Positions are unwrapped with each "
                 "frame's own cell (exact for the image count), so displacements include the "
                 f"affine motion of the cell: up to ~{shift:.3g} A for atoms at the cell "
                 "edge. Judge an MSD against this, or run NVT for transport", warns)
    if nf > 1:
        width = float(np.min(np.abs(np.linalg.det(boxes[0])) /
                             np.linalg.norm(np.cross(boxes[0][[1, 2, 0]], boxes[0][[2, 0, 1]]),
                                            axis=1)))
        rms = (sq / max(count, 1)) ** 0.5
        if worst > 0.5 * width and worst > 10 * rms:
            j, a = worst_at
            atom = f"atom id {int(traj.ids[a])}" if traj.ids is not None else f"atom {a}"
            raise InputError(
                f"{atom} moves {worst:.3g} A between frame {j} (step {int(traj.steps[j])}) and "
                f"frame {j + 1} (step {int(traj.steps[j + 1])}), more than half the cell width "
                f"({0.5 * width:.3g} A) while atoms move {rms:.3g} A (rms) between frames: the "
                "atom order or ids changed between frames, or frames of different runs were "
                "joined. Positions must follow the same atom in every frame", traj.source)
    return traj.replace(warnings=tuple(warns))


def _load_binary(path: Path, mmap: bool, frames, velocities: bool) -> Trajectory:
    check_run_record(path)
    return _with_run_metadata(path, read_binary_trajectory(path, mmap=mmap, frames=frames),
                              frames, velocities)


def _load_netcdf(path: Path, topology, type_map, mmap: bool, frames,
                 velocities: bool) -> Trajectory:
    check_run_record(path)
    masses = None if topology is None else read_lammps_data_masses(topology)
    traj = read_netcdf_trajectory(path, mmap=mmap, frames=frames, velocities=velocities,
                                  type_map=type_map, masses_by_type=masses)
    return _with_run_metadata(path, traj, frames, velocities)


def _with_run_metadata(path: Path, traj: Trajectory, frames, velocities: bool) -> Trajectory:
    """Complete a trajectory of an mdargy run from its ``metadata.json`` (frame interval, MD
    time step) and check the declared frame count."""
    meta = run_metadata(path)
    if frames is None:
        check_declared_frames(path, meta, traj.n_frames, frames)
    changes = {}
    warns = list(traj.warnings)
    if meta:
        dt_meta = meta_dt_ps(meta)
        if dt_meta is not None:
            if frames is not None and frames.step not in (None, 1):
                dt_meta *= frames.step
            if traj.dt_ps is None:
                changes["dt_ps"] = dt_meta
            elif not np.isclose(dt_meta, traj.dt_ps, rtol=1e-9):
                warn(f"{path}: metadata.json says {dt_meta:g} ps between frames, the file "
                     f"header {traj.dt_ps:g} ps; using the header", warns)
        if traj.metadata.get("timestep_ps") is None:
            ts = meta_lookup(meta, "timestep_ps")
            if ts is None and meta_lookup(meta, "timestep_fs") is not None:
                ts = float(meta_lookup(meta, "timestep_fs")) * 1e-3
            if ts is not None:
                changes["metadata"] = {**traj.metadata, "timestep_ps": float(ts)}
    if not velocities:
        changes["velocities"] = None
    changes["warnings"] = tuple(warns)
    return traj.replace(**changes)


def _load_lammpsdump(path: Path, topology, type_map, velocities: bool,
                     continuity_unwrap: bool, threads: int | None = None,
                     units: str | None = None) -> Trajectory:
    check_run_record(path)
    dump = read_lammps_dump(path, velocities=velocities, continuity_unwrap=continuity_unwrap,
                            threads=threads, units=units)
    warns = list(dump.warnings)
    run_meta = run_metadata(path)  # a dump written by mdargy's EMD driver
    check_declared_frames(path, run_meta, dump.n_frames, None)
    if type_map is None and topology is None and run_meta:
        per_type = meta_lookup(run_meta, "elements_per_type")
        if isinstance(per_type, dict):
            type_map = parse_types(per_type)
    masses_by_type = None
    if topology is not None:
        masses_by_type = read_lammps_data_masses(topology)
    if dump.elements is not None and type_map is None and masses_by_type is None:
        elements = dump.elements
        masses = np.array([mass_of(e) for e in elements]) if dump.masses is None else dump.masses
    elif dump.types is None:
        raise InputError("the dump has no 'type' or 'element' column: cannot tell the elements",
                         path)
    else:
        if type_map is None and masses_by_type is None:
            if dump.masses is not None:
                masses_by_type = {int(t): float(m) for t, m in zip(dump.types, dump.masses)}
            else:
                raise InputError(
                    "the atom types have no elements: give a LAMMPS data file with Masses "
                    "(topology=/--topology) or the map types={1: 'Cu', ...} / --types 1=Cu,2=P,3=S",
                    path)
        elements, masses = elements_for_types(dump.types, type_map, masses_by_type, path)
        if dump.masses is not None:
            masses = dump.masses
    dt = None
    if dump.times_ps is not None and dump.n_frames > 1:
        d = np.diff(dump.times_ps)
        if np.all(d > 0) and np.allclose(d, d[0], rtol=1e-6):
            dt = float(d[0])
    if dt is None and run_meta:
        dt = meta_dt_ps(run_meta)
    return Trajectory(
        positions=dump.positions,
        velocities=dump.velocities,
        elements=elements,
        masses_amu=np.asarray(masses, dtype=np.float64),
        dt_ps=dt,
        steps=dump.steps,
        box_A=dump.box_A,
        source=str(path),
        warnings=tuple(warns),
        metadata={"format": "lammps-dump", "columns": list(dump.columns),
                  "coordinates": dump.coordinate_kind, "units": dump.units,
                  "parser": dump.engine},
        ids=dump.ids,
        types=dump.types,
    )
