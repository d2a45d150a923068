"""Trajectories read through MDAnalysis or ASE: every format they know that mdargy does not read
itself (DCD, XTC, TRR, H5MD, a LAMMPS dump with a data file as topology, extended XYZ, ...).

Both adapters return a :class:`~mdargy.io.container.Trajectory` in mdargy's units (Å, Å/ps,
ps), atoms in id order, positions unwrapped (by continuity, with a warning, when the file holds
wrapped coordinates without image flags).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from mdargy.errors import InputError
from mdargy.io.container import Trajectory
from mdargy.io.datafile import atoms_style, read_lammps_data_masses
from mdargy.io.masses import elements_for_types, mass_of
from mdargy.io.unwrap import largest_minimum_image_step, needs_unwrap, unwrap_by_continuity

__all__ = ["load_with_mdanalysis", "load_with_ase", "continuity_unwrap_if_needed", "warn"]


def warn(msg: str, store: list) -> None:
    """Issue ``msg`` as a Python warning and keep it in ``store`` (the trajectory's list)."""
    warnings.warn(msg, stacklevel=3)
    store.append(msg)


def load_with_mdanalysis(path, topology=None, *, type_map=None, velocities=True,
                         frames=None) -> Trajectory:
    """Load any trajectory MDAnalysis reads (DCD, XTC, TRR, H5MD, NetCDF, LAMMPS dump + data).

    A LAMMPS data file as ``topology`` gives the atom types, and the elements through its
    ``Masses`` (or ``type_map``). LAMMPS dumps are read with MDAnalysis's image-flag unwrapping;
    any other wrapped coordinates (a jump of more than half a cell between frames) are unwrapped
    by continuity, with a warning. MDAnalysis works in Å and ps, as mdargy does.
    """
    import MDAnalysis as mda

    path = Path(path)
    warns: list[str] = []
    kwargs = {}
    top = None if topology is None else Path(topology)
    if top is not None and not top.exists():
        raise InputError("no such topology file", top)
    is_data = top is not None and (top.suffix.lower() in (".data", ".lmp", ".lammps")
                                   or top.name.lower().startswith("data."))
    if is_data:
        kwargs["topology_format"] = "DATA"
        kwargs["atom_style"] = _guess_atom_style(top)
    is_dump = path.suffix.lower() in (".dump", ".lammpstrj", ".lammpsdump")
    if is_dump:
        kwargs.update(format="LAMMPSDUMP", lammps_coordinate_convention="auto")
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        i = head.find(b"ITEM: ATOMS")
        cols = head[i:head.find(b"\n", i)].split()[2:] if i >= 0 else []
        if all(c in cols for c in (b"ix", b"iy", b"iz")):
            kwargs["unwrap_images"] = True
    dt_unknown = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            u = mda.Universe(str(top), str(path), **kwargs) if top is not None \
                else mda.Universe(str(path), **kwargs)
            _ = u.trajectory.dt
        dt_unknown = any("dt information" in str(w.message) for w in caught)
    except FileNotFoundError as exc:
        raise InputError(f"file not found ({exc})", path) from None
    except ImportError as exc:
        raise InputError(f"MDAnalysis needs an optional package to read this file ({exc}); "
                         "install it (h5py for H5MD, netCDF4 for NetCDF)", path) from None
    except Exception as exc:
        raise InputError(f"MDAnalysis cannot read it ({type(exc).__name__}: {exc}); give a "
                         "topology (e.g. the LAMMPS data file) when the format has none",
                         path) from None
    ag = u.atoms
    n = len(ag)
    elements = masses = None
    if (type_map is not None or is_data) and hasattr(ag, "types"):
        try:
            t = np.array([int(x) for x in ag.types])
        except ValueError:
            raise InputError("the atom types are names, not LAMMPS type numbers; types= "
                             "applies only to numbered types", path) from None
        elements, masses = elements_for_types(
            t, type_map, read_lammps_data_masses(top) if is_data else None, path)
    else:
        for attr in ("elements", "types", "names"):
            if not hasattr(ag, attr):
                continue
            cand = [str(x).strip().capitalize() for x in getattr(ag, attr)]
            try:
                masses = np.array([mass_of(c) for c in cand])
            except InputError:
                continue
            elements = np.array(cand, dtype=str)
            break
        if elements is None:
            raise InputError("cannot tell the elements of the atoms: give a topology with "
                             "element names or a LAMMPS data file with Masses, or types=/--types",
                             path)
    ids = np.asarray(ag.ids) if hasattr(ag, "ids") else np.arange(n)
    order = np.argsort(ids, kind="stable")
    indices = np.arange(len(u.trajectory))
    if frames is not None:
        indices = indices[frames]
    nf = len(indices)
    if nf == 0:
        raise InputError("holds no frame", path)
    pos = np.empty((nf, n, 3))
    has_v = velocities and u.trajectory.ts.has_velocities
    vel = np.empty((nf, n, 3)) if has_v else None
    steps = np.empty(nf, dtype=np.int64)
    boxes = np.empty((nf, 3, 3))
    times = np.empty(nf)
    has_steps = True
    for i, k in enumerate(indices):
        try:
            ts = u.trajectory[int(k)]
        except (OSError, ValueError, EOFError, IOError) as exc:
            if int(k) == len(u.trajectory) - 1 and i > 0:  # a run killed while writing
                warn(f"{path}: the last frame is truncated or damaged ({exc}); using the {i} "
                     "complete frames", warns)
                pos, steps, boxes, times = pos[:i], steps[:i], boxes[:i], times[:i]
                vel = None if vel is None else vel[:i]
                nf, indices = i, indices[:i]
                break
            raise InputError(f"frame {int(k)} cannot be read ({exc})", path) from None
        pos[i] = ts.positions[order]
        if has_v:
            vel[i] = ts.velocities[order]
        if "step" in ts.data:
            steps[i] = int(ts.data["step"])
        else:
            steps[i] = ts.frame
            has_steps = False
        times[i] = ts.time
        boxes[i] = _box_from_dimensions(ts.dimensions)
    if nf > 1 and not np.all(np.diff(steps) > 0):  # e.g. an XTC written without step numbers
        has_steps = False
        steps = indices.astype(np.int64)
    pos, msg = continuity_unwrap_if_needed(pos, boxes, str(path))
    if msg:
        warn(msg, warns)
    box = boxes[0] if np.all(boxes == boxes[0]) else boxes
    dt = None
    lammps_dcd = _lammps_dcd_header(u)
    if lammps_dcd is not None:
        # MDAnalysis reads the DCD time step in CHARMM (AKMA) units; LAMMPS writes it in its
        # own units. Take metal (ps), and the real steps from istart and nsavc.
        delta, nsavc, istart = lammps_dcd
        steps = (istart + nsavc * indices).astype(np.int64)
        has_steps = True
        dt = delta * nsavc * (frames.step if frames is not None and frames.step else 1)
        warn(f"{path}: a DCD written by LAMMPS: {nsavc} steps of {delta:g} between frames, "
             f"taken as ps (LAMMPS metal units): {dt:g} ps between frames. Give timestep_fs "
             "(--timestep-fs) if the run used other units", warns)
    elif nf > 1 and not dt_unknown and not is_dump:
        d = np.diff(times)  # many formats store times in float32: compare loosely
        if np.all(d > 0) and np.allclose(d, d.mean(), rtol=1e-4):
            dt = float((times[-1] - times[0]) / (nf - 1))
    meta = {"format": f"mdanalysis:{u.trajectory.format}", "has_steps": has_steps}
    return Trajectory(positions=pos, velocities=vel,
                      elements=np.asarray(elements, dtype=str)[order],
                      masses_amu=np.asarray(masses, dtype=float)[order], dt_ps=dt, steps=steps,
                      box_A=box, source=str(path), warnings=tuple(warns), metadata=meta,
                      ids=ids[order])


def _lammps_dcd_header(u):
    """(delta, nsavc, istart) of a DCD written by LAMMPS, else None."""
    if u.trajectory.format != "DCD":
        return None
    try:
        head = u.trajectory._file.header
    except AttributeError:
        return None
    if "LAMMPS" not in str(head.get("remarks", "")):
        return None
    delta = float(f"{float(np.float32(head['delta'])):.7g}")  # stored as float32
    return delta, int(head["nsavc"]), int(head["istart"])


def _guess_atom_style(top: Path) -> str:
    """MDAnalysis's DATA parser needs the atom style for non-'full' files."""
    style = atoms_style(top)
    if style is None:
        return "id type x y z"
    return {"atomic": "id type x y z", "charge": "id type q x y z",
            "full": "id resid type q x y z", "molecular": "id resid type x y z"}.get(
        style or "full", "id type x y z")


def _box_from_dimensions(dim) -> np.ndarray:
    if dim is None:
        return np.zeros((3, 3))
    from MDAnalysis.lib.mdamath import triclinic_vectors

    return np.asarray(triclinic_vectors(dim), dtype=np.float64)


def continuity_unwrap_if_needed(pos, boxes, source):
    """Unwrap by continuity when some displacement between frames exceeds half a box; returns
    the positions and the warning to give (None when nothing was done)."""
    if pos.shape[0] < 2 or not np.any(boxes):
        return pos, None
    if not needs_unwrap(pos, boxes):
        return pos, None
    step = largest_minimum_image_step(pos, boxes)
    pos = unwrap_by_continuity(pos, boxes)
    return pos, (f"{source}: coordinates are wrapped into the box and the file has no image "
                 "flags; unwrapped by continuity (assumes no atom moves more than half a box "
                 f"length between frames; the largest step here is {step:.3f} of a box)")


def load_with_ase(path, *, type_map=None, frames=None) -> Trajectory:
    """Load an extended XYZ (or any multi-frame file ASE reads) through :func:`ase.io.read`.

    Velocities come from ASE's momenta (converted to Å/ps) when the file has them. Positions
    are unwrapped by continuity when they are wrapped (with a warning).
    """
    import ase.io
    from ase import units

    path = Path(path)
    index = ":" if frames is None else \
        f"{frames.start or ''}:{frames.stop or ''}:{frames.step or ''}"
    try:
        images = ase.io.read(str(path), index=index)
    except FileNotFoundError:
        raise InputError("no such trajectory file", path) from None
    except Exception as exc:
        raise InputError(f"ASE cannot read it ({type(exc).__name__}: {exc})", path) from None
    if not images:
        raise InputError("holds no frame", path)
    n = len(images[0])
    for i, a in enumerate(images):
        if len(a) != n:
            raise InputError(f"frame {i} has {len(a)} atoms, frame 0 has {n}", path)
    warns: list[str] = []
    elements = np.array(images[0].get_chemical_symbols(), dtype=str)
    masses = images[0].get_masses().astype(np.float64)
    pos = np.stack([a.get_positions() for a in images]).astype(np.float64)
    boxes = np.stack([np.asarray(a.cell[:], dtype=float) for a in images])
    vel = None
    vel_key = next((k for k in ("vel", "velocities") if k in images[0].arrays), None)
    if vel_key is not None:  # LAMMPS's dump extxyz: velocities in the run's units (metal: Å/ps)
        vel = np.stack([np.asarray(a.arrays[vel_key], dtype=np.float64) for a in images])
    elif images[0].has("momenta"):
        # ASE velocities are in Å per ASE time unit; 1 ps = 1000 * units.fs ASE time units
        vel = np.stack([a.get_velocities() for a in images]) * (1000 * units.fs)

    def info(a, keys):
        return next((a.info[k] for k in keys if k in a.info), None)

    step_keys, time_keys = ("step", "timestep", "Timestep"), ("time_ps", "Time", "time")
    has_steps = all(info(a, step_keys) is not None for a in images)
    steps = np.array([info(a, step_keys) if has_steps else i for i, a in enumerate(images)],
                     dtype=np.int64)
    dt = None
    times = [info(a, time_keys) for a in images]
    if len(images) > 1 and all(t is not None for t in times):
        d = np.diff(np.asarray(times, dtype=float))
        if np.all(d > 0) and np.allclose(d, d[0], rtol=1e-6):
            dt = float(d[0])
    if np.any(boxes):
        pos, msg = continuity_unwrap_if_needed(pos, boxes, str(path))
        if msg:
            warn(msg, warns)
    box = boxes[0] if np.all(boxes == boxes[0]) else boxes
    return Trajectory(positions=pos, velocities=vel, elements=elements, masses_amu=masses,
                      dt_ps=dt, steps=steps, box_A=box, source=str(path), warnings=tuple(warns),
                      metadata={"format": "extxyz", "has_steps": has_steps})
