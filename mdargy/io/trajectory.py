"""Trajectories as arrays, and one loader for every file a user may bring.

:class:`Trajectory` is what every analysis in :mod:`mdargy.analysis` consumes: unwrapped float64
positions in Å, optional velocities in Å/ps, one element and mass per atom, the time between
frames in ps. :func:`load_trajectory` builds one from

* mdargy's binary trajectory (:mod:`mdargy.io.binary`, memory-mapped), with ``metadata.json``
  next to it filling anything the header lacks;
* a LAMMPS text dump (``dump custom`` / ``dump atom``), through mdargy's fast native reader
  (:mod:`mdargy.io.lammpsdump`);
* anything MDAnalysis reads (DCD, XTC, TRR, H5MD, NetCDF, a LAMMPS dump with a data file as
  topology, ...), see :func:`load_with_mdanalysis`;
* extended XYZ, through ASE (:func:`load_with_ase`).

Elements come from the file when it has them (binary, extxyz, a topology with names), else from
a LAMMPS data file's ``Masses`` (nearest element by mass), else from ``types={1: "Cu", ...}``
(the CLI's ``--types 1=Cu,2=P,3=S``, see :func:`parse_types`). The time between frames comes from
the file's metadata, or from ``timestep_fs`` × the dump interval (read from the timestep column
of the dump, or given as ``dump_interval``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np

from mdargy.errors import InputError

__all__ = [
    "Trajectory",
    "load_trajectory",
    "parse_types",
    "element_from_mass",
    "mass_of",
    "detect_format",
    "read_lammps_data_masses",
]


@dataclasses.dataclass(frozen=True, eq=False)
class Trajectory:
    """A trajectory in memory (or memory-mapped): the input of every analysis.

    Attributes
    ----------
    positions : ndarray (n_frames, n_atoms, 3), float64
        **Unwrapped** Cartesian positions in Å, atoms in the same order in every frame (sorted by
        atom id for LAMMPS files). May be a read-only memory-mapped view.
    velocities : ndarray (n_frames, n_atoms, 3) or None
        Velocities in Å/ps (LAMMPS ``metal`` units), when the file has them.
    elements : ndarray (n_atoms,) of str
        Element symbol of each atom.
    masses_amu : ndarray (n_atoms,)
        Mass of each atom in g/mol.
    dt_ps : float or None
        Time between consecutive frames in ps; None when neither the file nor the user gave it.
    steps : ndarray (n_frames,) of int
        MD step of each frame (frame indices when the file has no steps).
    box_A : ndarray (3, 3) or (n_frames, 3, 3)
        Cell vectors as rows in Å; one cell, or one per frame when it changes.
    source : str
        Where the data came from (file path).
    warnings : tuple of str
        Everything that was approximated or repaired while loading (truncated last frame,
        unwrapping by continuity, ...). Each was also issued as a Python warning.
    metadata : dict
        Further information from the file (format, dump interval, time step, ...).
    ids : ndarray (n_atoms,) of int, optional
        Atom ids (LAMMPS ids), when known.
    types : ndarray (n_atoms,) of int, optional
        LAMMPS atom types, when known.
    """

    positions: np.ndarray
    velocities: np.ndarray | None
    elements: np.ndarray
    masses_amu: np.ndarray
    dt_ps: float | None
    steps: np.ndarray
    box_A: np.ndarray
    source: str = ""
    warnings: tuple = ()
    metadata: dict = dataclasses.field(default_factory=dict)
    ids: np.ndarray | None = None
    types: np.ndarray | None = None

    def __post_init__(self):
        pos = self.positions
        if pos.ndim != 3 or pos.shape[2] != 3:
            raise InputError(f"positions must have shape (n_frames, n_atoms, 3), got {pos.shape}",
                             self.source or None)
        if pos.dtype != np.float64:
            raise InputError(f"positions must be float64, got {pos.dtype}", self.source or None)
        nf, na = pos.shape[:2]
        if self.velocities is not None and self.velocities.shape != pos.shape:
            raise InputError(f"velocities have shape {self.velocities.shape}, positions "
                             f"{pos.shape}", self.source or None)
        if len(self.elements) != na or len(self.masses_amu) != na:
            raise InputError(f"{na} atoms but {len(self.elements)} elements and "
                             f"{len(self.masses_amu)} masses", self.source or None)
        if len(self.steps) != nf:
            raise InputError(f"{nf} frames but {len(self.steps)} steps", self.source or None)
        box = np.asarray(self.box_A)
        if box.shape not in ((3, 3), (nf, 3, 3)):
            raise InputError(f"box_A must be (3, 3) or ({nf}, 3, 3), got {box.shape}",
                             self.source or None)

    # -- convenience --------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_atoms(self) -> int:
        return self.positions.shape[1]

    @property
    def time_ps(self) -> np.ndarray:
        """Time of each frame from the first, in ps (requires ``dt_ps``)."""
        if self.dt_ps is None:
            raise InputError("the time between frames is unknown: give timestep_fs (and the "
                             "dump interval if the file has no step numbers)", self.source or None)
        return np.arange(self.n_frames) * self.dt_ps

    @property
    def species(self) -> tuple[str, ...]:
        """Distinct elements, in order of first appearance."""
        _, first = np.unique(self.elements, return_index=True)
        return tuple(str(self.elements[i]) for i in sorted(first))

    def indices(self, element: str) -> np.ndarray:
        """Indices of the atoms of ``element``."""
        return np.flatnonzero(self.elements == element)

    @property
    def boxes_A(self) -> np.ndarray:
        """The cell of every frame, (n_frames, 3, 3)."""
        box = np.asarray(self.box_A)
        if box.ndim == 2:
            return np.broadcast_to(box, (self.n_frames, 3, 3))
        return box

    @property
    def volume_A3(self) -> float:
        """Mean cell volume in Å³."""
        return float(np.mean(np.abs(np.linalg.det(self.boxes_A))))

    def replace(self, **changes) -> "Trajectory":
        """A copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        vel = "with" if self.velocities is not None else "without"
        dt = "unknown" if self.dt_ps is None else f"{self.dt_ps:g} ps"
        counts = ", ".join(f"{e}:{int(np.sum(self.elements == e))}" for e in self.species)
        return (f"<Trajectory {self.n_frames} frames × {self.n_atoms} atoms ({counts}), "
                f"{vel} velocities, dt={dt}, from {self.source or '?'}>")


# -- elements and masses ----------------------------------------------------------------------

def mass_of(symbol: str) -> float:
    """Standard atomic mass of an element in g/mol (ASE's table)."""
    from ase.data import atomic_masses, atomic_numbers

    try:
        return float(atomic_masses[atomic_numbers[symbol]])
    except KeyError:
        raise InputError(f"unknown element symbol {symbol!r}") from None


def element_from_mass(mass_amu: float, tolerance_amu: float = 0.6, path=None) -> str:
    """The element whose standard atomic mass is nearest to ``mass_amu``.

    Raises :class:`InputError` when no element lies within ``tolerance_amu`` (e.g. reduced LJ
    masses of 1.0 that are not hydrogen's 1.008 still map to H; a mass of 0.5 does not).
    """
    from ase.data import atomic_masses, chemical_symbols

    m = np.asarray(atomic_masses[1:119], dtype=float)
    i = int(np.nanargmin(np.abs(m - mass_amu)))
    if abs(m[i] - mass_amu) > tolerance_amu:
        raise InputError(f"mass {mass_amu} g/mol matches no element (nearest "
                         f"{chemical_symbols[i + 1]} {m[i]:.3f}); give the elements with "
                         "types=/--types", path)
    return chemical_symbols[i + 1]


_TYPES_ITEM = re.compile(r"^\s*(\d+)\s*[=:]\s*([A-Z][a-z]?)\s*$")


def parse_types(spec: str | Mapping | None) -> dict[int, str] | None:
    """Parse a type → element map: ``"1=Cu,2=P,3=S"`` (CLI ``--types``) or a mapping.

    Returns ``{1: "Cu", 2: "P", 3: "S"}``; None for None.
    """
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        out = {}
        for k, v in spec.items():
            try:
                t = int(k)
            except (TypeError, ValueError):
                raise InputError(f"atom type {k!r} in the type map is not an integer") from None
            mass_of(str(v))  # validates the symbol
            out[t] = str(v)
        return out
    out = {}
    for item in str(spec).replace(";", ",").split(","):
        if not item.strip():
            continue
        m = _TYPES_ITEM.match(item)
        if not m:
            raise InputError(f"cannot read {item.strip()!r} in the type map {spec!r}: write it "
                             "as TYPE=ELEMENT, e.g. 1=Cu,2=P,3=S")
        mass_of(m.group(2))
        out[int(m.group(1))] = m.group(2)
    if not out:
        raise InputError(f"the type map {spec!r} is empty")
    return out


def read_lammps_data_masses(path: str | os.PathLike) -> dict[int, float]:
    """Atom type → mass (g/mol) from the ``Masses`` section of a LAMMPS data file."""
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        raise InputError("no such LAMMPS data file", path) from None
    ntypes = None
    for line in lines[1:]:
        m = re.match(r"^\s*(\d+)\s+atom types", line)
        if m:
            ntypes = int(m.group(1))
            break
    for i, line in enumerate(lines):
        if line.split("#")[0].strip() == "Masses":
            out = {}
            for j, row in enumerate(lines[i + 1:], start=i + 2):
                text = row.split("#")[0].strip()
                if not text:
                    if out:
                        break
                    continue
                parts = text.split()
                try:
                    out[int(parts[0])] = float(parts[1])
                except (ValueError, IndexError):
                    if out:
                        break
                    raise InputError(f"cannot read the Masses line {row.strip()!r}", path,
                                     j) from None
                if ntypes is not None and len(out) == ntypes:
                    break
            if not out:
                raise InputError("the Masses section is empty", path)
            return out
    raise InputError("has no Masses section: give the elements with types=/--types", path)


def _elements_for_types(types: np.ndarray, type_map: dict[int, str] | None,
                        masses_by_type: dict[int, float] | None,
                        path) -> tuple[np.ndarray, np.ndarray]:
    """Elements and masses of atoms from their LAMMPS types."""
    uniq = np.unique(types)
    elem_of, mass_of_type = {}, {}
    for t in uniq:
        t = int(t)
        if type_map is not None and t in type_map:
            elem_of[t] = type_map[t]
            mass_of_type[t] = mass_of(type_map[t])
        elif masses_by_type is not None and t in masses_by_type:
            elem_of[t] = element_from_mass(masses_by_type[t], path=path)
            mass_of_type[t] = masses_by_type[t]
        else:
            known = sorted(type_map or masses_by_type or {})
            raise InputError(
                f"atom type {t} has no element: the type map covers types {known}; give every "
                "type, e.g. types={1: 'Cu', 2: 'P', 3: 'S'} or --types 1=Cu,2=P,3=S, or a data "
                "file with Masses", path)
    elements = np.array([elem_of[int(t)] for t in uniq], dtype=str)[np.searchsorted(uniq, types)]
    masses = np.array([mass_of_type[int(t)] for t in uniq])[np.searchsorted(uniq, types)]
    return elements, masses


# -- format detection -------------------------------------------------------------------------

_EXT_FORMATS = {
    ".mdtraj": "mdargy", ".bin": "mdargy",
    ".dump": "lammpsdump", ".lammpstrj": "lammpsdump",
    ".extxyz": "extxyz", ".xyz": "extxyz",
    ".dcd": "mdanalysis", ".xtc": "mdanalysis", ".trr": "mdanalysis", ".h5md": "mdanalysis",
    ".nc": "mdanalysis", ".ncdf": "mdanalysis", ".lammpsdump": "lammpsdump",
}


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format of a trajectory from its first bytes, then its extension.

    Returns one of ``"mdargy"``, ``"lammpsdump"``, ``"extxyz"``, ``"mdanalysis"``.
    """
    from mdargy.io.binary import MAGIC

    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory, not a trajectory file", path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise InputError("no such trajectory file", path) from None
    if not head:
        raise InputError("is empty", path)
    if head.startswith(MAGIC):
        return "mdargy"
    if head.lstrip().startswith(b"ITEM:"):
        return "lammpsdump"
    if head.startswith(b"\x89HDF"):
        return "mdanalysis"  # H5MD
    ext = path.suffix.lower()
    if ext in _EXT_FORMATS:
        return _EXT_FORMATS[ext]
    first = head.split(b"\n", 2)
    if len(first) >= 2 and first[0].strip().isdigit() and b"Lattice=" in first[1]:
        return "extxyz"
    raise InputError(
        "unknown trajectory format: expected an mdargy binary trajectory, a LAMMPS text dump, "
        "extxyz, or a file MDAnalysis reads (DCD, XTC, TRR, H5MD, NetCDF); name the format with "
        "format=/--format", path)


# -- loading ----------------------------------------------------------------------------------

def _warn(msg: str, store: list) -> None:
    warnings.warn(msg, stacklevel=3)
    store.append(msg)


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


def _run_metadata(path: Path) -> dict:
    """``metadata.json`` beside ``path`` when it describes this file (an mdargy run directory):
    it has no ``trajectory`` section, or that section names the file."""
    meta = _read_metadata_json(path)
    section = meta.get("trajectory")
    if isinstance(section, dict) and path.name not in [str(v) for v in section.values()]:
        return {}
    return meta


def _meta_dt_ps(meta: dict) -> float | None:
    """Time between frames (ps) from run metadata: ``dt_ps``/``frame_dt_ps``, or
    ``timestep_fs`` × ``dump_every``."""
    dt = _meta_lookup(meta, "frame_dt_ps", "dt_ps", "frame_interval_ps")
    if dt is not None:
        return float(dt)
    ts, every = _meta_lookup(meta, "timestep_fs"), _meta_lookup(meta, "dump_every")
    if ts is not None and every is not None:
        return float(ts) * 1e-3 * int(every)
    return None


def _meta_lookup(meta: dict, *keys):
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
    format : {"mdargy", "lammpsdump", "extxyz", "mdanalysis"}, optional
        Skip format detection.
    mmap : bool
        Memory-map mdargy binary trajectories instead of reading them.
    velocities : bool
        Read velocities when the file has them.
    frames : slice, optional
        Keep only these frames (mdargy binary and MDAnalysis formats read only those).
    continuity_unwrap : bool
        Unwrap wrapped coordinates without image flags by continuity (with a warning). When
        False such coordinates are an error.
    threads : int or None
        Threads parsing a LAMMPS text dump; None uses the CPUs available (at most 8).

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
    if fmt == "mdargy":
        traj = _load_binary(path, mmap=mmap, frames=frames, velocities=velocities)
    elif fmt == "lammpsdump":
        traj = _load_lammpsdump(path, topology, type_map, velocities, continuity_unwrap, threads)
        if frames is not None:
            traj = _slice_frames(traj, frames)
    elif fmt == "extxyz":
        traj = load_with_ase(path, type_map=type_map, frames=frames)
    elif fmt == "mdanalysis":
        traj = load_with_mdanalysis(path, topology, type_map=type_map, velocities=velocities,
                                    frames=frames)
    else:
        raise InputError(f"unknown format {fmt!r}; use one of mdargy, lammpsdump, extxyz, "
                         "mdanalysis", path)
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
            _warn(f"{traj.source}: timestep_fs × dump interval gives {new_dt:g} ps between "
                  f"frames but the file says {dt:g} ps; using {new_dt:g} ps", warns)
        dt = new_dt
    elif meta.get("timestep_ps") is not None and dump_interval is not None \
            and meta.get("has_steps", True):
        # the spacing follows from the file's own step numbers and MD time step
        new_dt = float(meta["timestep_ps"]) * dump_interval
        if dt is not None and not np.isclose(dt, new_dt, rtol=1e-9):
            _warn(f"{traj.source}: the file's step numbers ({dump_interval} steps of "
                  f"{float(meta['timestep_ps']):g} ps) give {new_dt:g} ps between frames but its "
                  f"header says {dt:g} ps; using {new_dt:g} ps", warns)
        dt = new_dt
    return traj.replace(dt_ps=dt, metadata=meta, warnings=tuple(warns))


#: No position (Å), velocity (Å/ps) or cell vector of an MD frame reaches this: a damaged file.
_ABSURD = 1e8


def _check_frames(traj: Trajectory) -> Trajectory:
    """Look at the frames themselves: a changing cell (warned with numbers) and atoms that jump
    implausibly far between two frames (atom ids reassigned or frames from different runs:
    refused)."""
    warns = list(traj.warnings)
    boxes = traj.boxes_A
    for name, arr in (("positions", traj.positions), ("velocities", traj.velocities),
                      ("cell", boxes)):
        if arr is None:
            continue
        a = np.asarray(arr).reshape(traj.n_frames, -1)
        block = max(1, int(1e7 // max(1, a.shape[1])))  # bounded temporaries (memory maps)
        bad = np.zeros(traj.n_frames, dtype=bool)
        with np.errstate(invalid="ignore"):
            for j0 in range(0, traj.n_frames, block):
                x = a[j0:j0 + block]  # NaN compares False in both tests
                bad[j0:j0 + block] = ~((x < _ABSURD) & (x > -_ABSURD)).all(axis=1)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise InputError(f"frame {j} (step {int(traj.steps[j])}) holds non-finite or absurd "
                             f"{name} (|value| >= {_ABSURD:.0e}; {int(bad.sum())} frame(s) in "
                             "all): the file is damaged", traj.source)
    if np.any(np.abs(np.linalg.det(boxes)) < 1e-6):
        raise InputError("a frame has a cell of zero volume: the file is damaged", traj.source)
    if traj.n_frames > 1 and np.asarray(traj.box_A).ndim == 3:
        vol = np.abs(np.linalg.det(boxes))
        lengths = np.linalg.norm(boxes, axis=2)
        rel_v = (vol.max() - vol.min()) / vol.mean()
        rel_l = float(np.max((lengths.max(0) - lengths.min(0)) / lengths.mean(0)))
        if rel_v > 1e-9 or rel_l > 1e-9:
            shift = rel_l * float(lengths.mean(0).max()) / 2
            _warn(f"{traj.source}: the cell changes during the trajectory (NPT?): volume "
                  f"{vol.min():.6g} to {vol.max():.6g} A^3 ({100 * rel_v:.3g} % of the mean), "
                  f"edge lengths by up to {100 * rel_l:.3g} %. Positions are unwrapped with each "
                  "frame's own cell (exact for the image count), so displacements include the "
                  f"affine motion of the cell: up to ~{shift:.3g} A for atoms at the cell "
                  "edge. Judge an MSD against this, or run NVT for transport", warns)
    nf = traj.n_frames
    if nf > 1:
        pos = traj.positions
        width = float(np.min(np.abs(np.linalg.det(boxes[0])) /
                             np.linalg.norm(np.cross(boxes[0][[1, 2, 0]], boxes[0][[2, 0, 1]]),
                                            axis=1)))
        worst, worst_at, sq, count = 0.0, (0, 0), 0.0, 0
        block = max(1, int(2e7 // max(1, 3 * traj.n_atoms)))
        for j0 in range(0, nf - 1, block):
            j1 = min(nf, j0 + block + 1)
            d = np.linalg.norm(np.diff(np.asarray(pos[j0:j1]), axis=0), axis=2)
            sq += float(np.sum(d * d))
            count += d.size
            k = int(np.argmax(d))
            if d.flat[k] > worst:
                f, a = divmod(k, d.shape[1])
                worst, worst_at = float(d.flat[k]), (j0 + f, a)
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


def _check_declared_frames(path: Path, meta: dict, n_file: int, frames) -> None:
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


def _check_run_record(path: Path) -> None:
    """A trajectory of an mdargy run must still hold what the run's last checkpoint recorded
    (length and checksums, :mod:`mdargy.io.integrity`): a truncated or altered file is refused
    before it is analysed."""
    from mdargy.io.integrity import record_problem, run_record

    found = run_record(path)
    if found is None:
        return
    problem = record_problem(path, *found, follow_symlinks=True)
    if problem:
        raise InputError(f"{problem}: the file changed after the run wrote it; restore it (or "
                         "re-run the simulation) before analysing it", path)


def _load_binary(path: Path, mmap: bool, frames, velocities: bool) -> Trajectory:
    from mdargy.io.binary import read_binary_trajectory

    _check_run_record(path)
    traj = read_binary_trajectory(path, mmap=mmap, frames=frames)
    meta = _run_metadata(path)
    if frames is None:
        _check_declared_frames(path, meta, traj.n_frames, frames)
    changes = {}
    warns = list(traj.warnings)
    if meta:
        dt_meta = _meta_dt_ps(meta)
        if dt_meta is not None:
            if frames is not None and frames.step not in (None, 1):
                dt_meta *= frames.step
            if traj.dt_ps is None:
                changes["dt_ps"] = dt_meta
            elif not np.isclose(dt_meta, traj.dt_ps, rtol=1e-9):
                _warn(f"{path}: metadata.json says {dt_meta:g} ps between frames, the file "
                      f"header {traj.dt_ps:g} ps; using the header", warns)
        if traj.metadata.get("timestep_ps") is None:
            ts = _meta_lookup(meta, "timestep_ps")
            if ts is None and _meta_lookup(meta, "timestep_fs") is not None:
                ts = float(_meta_lookup(meta, "timestep_fs")) * 1e-3
            if ts is not None:
                changes["metadata"] = {**traj.metadata, "timestep_ps": float(ts)}
    if not velocities:
        changes["velocities"] = None
    changes["warnings"] = tuple(warns)
    return traj.replace(**changes)


def _load_lammpsdump(path: Path, topology, type_map, velocities: bool,
                     continuity_unwrap: bool, threads: int | None = None) -> Trajectory:
    from mdargy.io.lammpsdump import read_lammps_dump

    _check_run_record(path)
    dump = read_lammps_dump(path, velocities=velocities, continuity_unwrap=continuity_unwrap,
                            threads=threads)
    warns = list(dump.warnings)
    run_meta = _run_metadata(path)  # a dump written by mdargy's EMD driver
    _check_declared_frames(path, run_meta, dump.n_frames, None)
    if type_map is None and topology is None and run_meta:
        per_type = _meta_lookup(run_meta, "elements_per_type")
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
        elements, masses = _elements_for_types(dump.types, type_map, masses_by_type, path)
        if dump.masses is not None:
            masses = dump.masses
    dt = None
    if dump.times_ps is not None and dump.n_frames > 1:
        d = np.diff(dump.times_ps)
        if np.all(d > 0) and np.allclose(d, d[0], rtol=1e-6):
            dt = float(d[0])
    if dt is None and run_meta:
        dt = _meta_dt_ps(run_meta)
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
        elements, masses = _elements_for_types(
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
                _warn(f"{path}: the last frame is truncated or damaged ({exc}); using the {i} "
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
    pos, msg = _continuity_unwrap_if_needed(pos, boxes, str(path))
    if msg:
        _warn(msg, warns)
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
        _warn(f"{path}: a DCD written by LAMMPS: {nsavc} steps of {delta:g} between frames, "
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
    try:
        with open(top, errors="replace") as fh:
            for line in fh:
                s = line.strip()
                if s.startswith("Atoms"):
                    style = s.split("#")[1].strip() if "#" in s else "full"
                    break
            else:
                return "id type x y z"
    except OSError:
        return "id type x y z"
    return {"atomic": "id type x y z", "charge": "id type q x y z",
            "full": "id resid type q x y z", "molecular": "id resid type x y z"}.get(
        style, "id type x y z")


def _box_from_dimensions(dim) -> np.ndarray:
    if dim is None:
        return np.zeros((3, 3))
    from MDAnalysis.lib.mdamath import triclinic_vectors

    return np.asarray(triclinic_vectors(dim), dtype=np.float64)


def _continuity_unwrap_if_needed(pos, boxes, source):
    """Unwrap by continuity when some displacement between frames exceeds half a box."""
    from mdargy.io.unwrap import largest_minimum_image_step, needs_unwrap, unwrap_by_continuity

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
        pos, msg = _continuity_unwrap_if_needed(pos, boxes, str(path))
        if msg:
            _warn(msg, warns)
    box = boxes[0] if np.all(boxes == boxes[0]) else boxes
    return Trajectory(positions=pos, velocities=vel, elements=elements, masses_amu=masses,
                      dt_ps=dt, steps=steps, box_A=box, source=str(path), warnings=tuple(warns),
                      metadata={"format": "extxyz", "has_steps": has_steps})
