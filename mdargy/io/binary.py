"""mdargy's binary trajectory format (``traj.mdtraj``): a JSON header and fixed-size float64
frame records.

EMD runs before the switch to NetCDF (:mod:`mdargy.io.netcdf`, ``traj.nc``) wrote their
trajectory in this format; it stays readable and writable. :func:`read_binary_trajectory` maps it
into memory without parsing: 1,000 frames of 4,000 atoms with velocities (192 MB) are mapped
and copied in 0.13 s, 200× faster than MDAnalysis reads the same frames from a LAMMPS text dump
(``benchmarks/bench_read.py``).

File layout (format version 1, all numbers little-endian)
--------------------------------------------------------
=========  ==========  ============================================================
offset     size        content
=========  ==========  ============================================================
0          8           magic ``b"MDARGYTJ"``
8          4           uint32 format version (``1``)
12         4           uint32 reserved (``0``)
16         8           uint64 ``H``: length of the header text in bytes
24         ``H``       UTF-8 JSON header, padded with spaces so that the first frame
                       starts at a multiple of 64 bytes
24 + H     ``R`` each  frame records, one after the other, until the end of the file
=========  ==========  ============================================================

Header keys: ``format`` (``"mdargy-trajectory"``), ``version``, ``n_atoms``,
``has_velocities``, ``elements`` (one symbol per atom, in atom-id order), ``masses_amu`` (one
per atom), ``dt_ps`` (time between stored frames, or ``null``), ``timestep_ps`` (MD time step,
or ``null``), ``units`` (a dict naming the units of every field), ``record`` (the record layout
below, for readers in other languages) and ``metadata`` (free-form: temperature, seed, ...).

A frame record of ``R = 8 + 72 + 24 n (+ 24 n)`` bytes holds

* ``step``: int64 MD step number;
* ``box``: float64 (3, 3) cell vectors as rows, in Å (``a = (lx, 0, 0)``,
  ``b = (xy, ly, 0)``, ``c = (xz, yz, lz)`` for a LAMMPS cell);
* ``positions``: float64 (n, 3) **unwrapped** Cartesian coordinates in Å, atoms sorted by id;
* ``velocities``: float64 (n, 3) in Å/ps, present only when ``has_velocities`` is true.

The number of frames is not stored: it is ``(file size - 24 - H) // R``. Appending a frame is
one write at the end of the file, a crash can at worst leave a partial last record, and a reader
detects that from the file size (it warns and uses the complete frames).
:meth:`BinaryTrajectoryWriter.truncate` cuts the file back to a checkpoint when a run resumes.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from mdargy.errors import InputError
from mdargy.io.appendfile import AppendFile
from mdargy.io.atomic import to_jsonable
from mdargy.io.container import Trajectory

MAGIC = b"MDARGYTJ"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIIQ")  # magic, version, reserved, header length
_ALIGN = 64
#: Units of the stored fields (also written into every header).
UNITS = {
    "positions": "angstrom",
    "velocities": "angstrom/ps",
    "box": "angstrom",
    "dt_ps": "ps",
    "timestep_ps": "ps",
    "masses_amu": "g/mol",
}


def record_dtype(n_atoms: int, has_velocities: bool) -> np.dtype:
    """The numpy structured dtype of one frame record (little-endian, packed)."""
    fields = [("step", "<i8"), ("box", "<f8", (3, 3)), ("positions", "<f8", (n_atoms, 3))]
    if has_velocities:
        fields.append(("velocities", "<f8", (n_atoms, 3)))
    return np.dtype(fields)


def _as_box(box_A, what: str) -> np.ndarray:
    box = np.asarray(box_A, dtype=np.float64)
    if box.shape == (3,):
        box = np.diag(box)
    if box.shape != (3, 3) or not np.all(np.isfinite(box)):
        raise InputError(f"{what}: box_A must be 3 edge lengths or a (3, 3) matrix of finite "
                         f"cell vectors (rows), got shape {box.shape}")
    return box


class _Header(dict):
    """Parsed header of a binary trajectory, with the byte layout."""

    @property
    def data_offset(self) -> int:
        return self["_data_offset"]

    @property
    def dtype(self) -> np.dtype:
        return record_dtype(self["n_atoms"], self["has_velocities"])


def read_header(path: str | os.PathLike) -> _Header:
    """Read and check the header of a binary trajectory.

    Raises
    ------
    InputError
        If the file is missing, is not an mdargy trajectory, or has a newer format version.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            prefix = fh.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size:
                raise InputError("too short to be an mdargy binary trajectory", path)
            magic, version, _reserved, hlen = _PREFIX.unpack(prefix)
            if magic != MAGIC:
                raise InputError(f"not an mdargy binary trajectory (magic {magic!r}, expected "
                                 f"{MAGIC!r})", path)
            if version > FORMAT_VERSION:
                raise InputError(f"binary trajectory format version {version} is newer than this "
                                 f"mdargy reads ({FORMAT_VERSION}); upgrade mdargy", path)
            text = fh.read(hlen)
    except FileNotFoundError:
        raise InputError("no such trajectory file", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a trajectory file", path) from None
    if len(text) < hlen:
        raise InputError("header is truncated", path)
    try:
        head = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"header is not valid JSON ({exc})", path) from None
    for key in ("n_atoms", "has_velocities", "elements", "masses_amu"):
        if key not in head:
            raise InputError(f"header lacks the key {key!r}", path)
    n = int(head["n_atoms"])
    if n < 1 or len(head["elements"]) != n or len(head["masses_amu"]) != n:
        raise InputError(f"header is inconsistent: n_atoms={n}, {len(head['elements'])} "
                         f"elements, {len(head['masses_amu'])} masses", path)
    out = _Header(head)
    out["_data_offset"] = _PREFIX.size + hlen
    return out


def _frame_count(path: Path, header: _Header) -> tuple[int, int]:
    """(complete frames, bytes of a partial trailing record)."""
    size = path.stat().st_size - header.data_offset
    rsize = header.dtype.itemsize
    return size // rsize, size % rsize


def _open_nofollow(path: Path, flags: int, mode: str):
    """Open for writing without following a symbolic link (its target is never written)."""
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        if path.is_symlink():
            raise InputError("is a symbolic link: refusing to write through it", path) from None
        raise InputError(f"cannot open for writing ({exc.strerror})", path) from None
    return os.fdopen(fd, mode)


class BinaryTrajectoryWriter(AppendFile):
    """Append frames to an mdargy binary trajectory (see the module docstring for the format).

    Use from one process only (rank 0 under MPI: gather the positions there first).

    Parameters
    ----------
    path : path-like
        File to write.
    n_atoms : int
        Atoms per frame.
    elements : sequence of str, length ``n_atoms``
        Element symbol of each atom, in atom-id order.
    masses_amu : sequence of float, length ``n_atoms``
        Mass of each atom in g/mol.
    dt_ps : float or None
        Time between stored frames in ps (MD time step × dump interval).
    box_A : array_like
        Default cell, 3 edge lengths or (3, 3) row vectors in Å; used for every frame unless
        :meth:`append` is given one.
    append : bool
        Continue an existing file (its header must agree on atoms, elements and velocities).
        A partial last record left by a crash is cut off, with a warning. When the file does
        not exist a new one is created.
    overwrite : bool
        Replace an existing file when ``append`` is False. Without it an existing file is an
        error, so a finished trajectory is never lost silently.
    has_velocities : bool
        Store velocities with every frame; then :meth:`append` requires them.
    timestep_ps : float, optional
        MD time step, recorded in the header.
    metadata : mapping, optional
        Free-form JSON-serialisable information (temperature, seed, potential, ...).

    Examples
    --------
    >>> with BinaryTrajectoryWriter("traj.mdtraj", 2, elements=["Cu", "S"],
    ...                             masses_amu=[63.546, 32.06], dt_ps=0.01,
    ...                             box_A=[10, 10, 10]) as w:       # doctest: +SKIP
    ...     w.append(0, np.zeros((2, 3)), np.zeros((2, 3)))
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_atoms: int,
        *,
        elements: Sequence[str],
        masses_amu: Sequence[float],
        dt_ps: float | None,
        box_A,
        append: bool = False,
        overwrite: bool = False,
        has_velocities: bool = True,
        timestep_ps: float | None = None,
        metadata: Mapping | None = None,
    ):
        self.path = Path(path)
        self.n_atoms = int(n_atoms)
        if self.n_atoms < 1:
            raise InputError(f"n_atoms must be positive, got {n_atoms}", self.path)
        elements = [str(e) for e in elements]
        masses = [float(m) for m in np.asarray(masses_amu, dtype=np.float64).ravel()]
        if len(elements) != self.n_atoms or len(masses) != self.n_atoms:
            raise InputError(f"need one element and one mass per atom ({self.n_atoms}), got "
                             f"{len(elements)} elements and {len(masses)} masses", self.path)
        self.box_A = _as_box(box_A, str(self.path))
        self.has_velocities = bool(has_velocities)
        self._dtype = record_dtype(self.n_atoms, self.has_velocities)
        self._record = np.zeros(1, dtype=self._dtype)
        self._fh = None
        if self.path.is_symlink():
            raise InputError("is a symbolic link: refusing to write through it", self.path)
        if append and self.path.exists():
            head = read_header(self.path)
            if (head["n_atoms"] != self.n_atoms or list(head["elements"]) != elements
                    or bool(head["has_velocities"]) != self.has_velocities):
                raise InputError(
                    "cannot append: the existing file holds a different system "
                    f"(n_atoms={head['n_atoms']}, velocities={head['has_velocities']}) than "
                    f"the writer (n_atoms={self.n_atoms}, velocities={self.has_velocities}) "
                    "or other elements", self.path)
            self._offset = head.data_offset
            n, partial = _frame_count(self.path, head)
            self._fh = _open_nofollow(self.path, os.O_RDWR, "r+b")
            if partial:
                warnings.warn(f"{self.path}: cut off a partial last frame ({partial} bytes) "
                              f"before appending; {n} complete frames kept", stacklevel=2)
                self._fh.truncate(self._offset + n * self._dtype.itemsize)
            self._n = n
            self._fh.seek(0, os.SEEK_END)
            return
        if self.path.exists() and not overwrite:
            raise InputError("exists already; pass append=True to continue it or "
                             "overwrite=True to replace it", self.path)
        header = {
            "format": "mdargy-trajectory",
            "version": FORMAT_VERSION,
            "n_atoms": self.n_atoms,
            "has_velocities": self.has_velocities,
            "dt_ps": None if dt_ps is None else float(dt_ps),
            "timestep_ps": None if timestep_ps is None else float(timestep_ps),
            "units": UNITS,
            "record": [[name, str(self._dtype.fields[name][0].base.str),
                        list(self._dtype.fields[name][0].shape)] for name in self._dtype.names],
            "elements": elements,
            "masses_amu": masses,
            "metadata": dict(metadata or {}),
        }
        text = json.dumps(to_jsonable(header), separators=(",", ":")).encode("utf-8")
        pad = (-(_PREFIX.size + len(text))) % _ALIGN
        text += b" " * pad
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = _open_nofollow(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, "w+b")
        self._fh.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(text)))
        self._fh.write(text)
        self._fh.flush()
        self._offset = _PREFIX.size + len(text)
        self._n = 0

    # -- writing ------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        """Complete frames in the file."""
        return self._n

    def append(self, step: int, positions_A, velocities_A_ps=None, box_A=None) -> None:
        """Write one frame at the end of the file.

        Parameters
        ----------
        step : int
            MD step number.
        positions_A : array_like (n_atoms, 3)
            Unwrapped positions in Å, sorted by atom id.
        velocities_A_ps : array_like (n_atoms, 3), optional
            Velocities in Å/ps; required when the file stores velocities.
        box_A : array_like, optional
            Cell of this frame; defaults to the writer's ``box_A``.
        """
        self._check_open()
        rec = self._record
        pos = np.asarray(positions_A, dtype=np.float64)
        if pos.shape != (self.n_atoms, 3):
            raise InputError(f"positions must have shape ({self.n_atoms}, 3), got {pos.shape}",
                             self.path)
        rec["step"] = int(step)
        rec["box"] = self.box_A if box_A is None else _as_box(box_A, str(self.path))
        rec["positions"][0] = pos
        if self.has_velocities:
            if velocities_A_ps is None:
                raise InputError("this trajectory stores velocities; append() needs them",
                                 self.path)
            vel = np.asarray(velocities_A_ps, dtype=np.float64)
            if vel.shape != (self.n_atoms, 3):
                raise InputError(f"velocities must have shape ({self.n_atoms}, 3), got "
                                 f"{vel.shape}", self.path)
            rec["velocities"][0] = vel
        self._fh.write(rec.tobytes())
        self._fh.flush()
        self._n += 1

    def truncate(self, n_frames: int) -> None:
        """Keep only the first ``n_frames`` frames (resume from a checkpoint)."""
        self._check_open()
        n_frames = int(n_frames)
        if n_frames < 0 or n_frames > self._n:
            raise InputError(f"cannot truncate to {n_frames} frames: the file holds {self._n}",
                             self.path)
        self._fh.flush()
        self._fh.truncate(self._offset + n_frames * self._dtype.itemsize)
        self._fh.seek(0, os.SEEK_END)
        self._n = n_frames


def read_binary_trajectory(path: str | os.PathLike, mmap: bool = True, *,
                           frames: slice | None = None):
    """Read an mdargy binary trajectory.

    Parameters
    ----------
    path : path-like
        The file.
    mmap : bool
        Map the file into memory (no copy; pages are read on access). The position and
        velocity arrays are then read-only strided views of the file. With ``False`` the
        frames are copied into contiguous arrays.
    frames : slice, optional
        Read only these frames.

    Returns
    -------
    mdargy.io.container.Trajectory

    Raises
    ------
    InputError
        Missing or malformed file, or no complete frame. A partial last frame only warns.
    """
    path = Path(path)
    head = read_header(path)
    n, partial = _frame_count(path, head)
    warns = []
    if partial:
        msg = (f"{path}: the last frame is truncated ({partial} of {head.dtype.itemsize} bytes); "
               f"using the {n} complete frames")
        warnings.warn(msg, stacklevel=2)
        warns.append(msg)
    if n == 0:
        raise InputError("holds no complete frame", path)
    dtype = head.dtype
    sel = slice(None) if frames is None else frames
    if mmap:
        mm = np.memmap(path, dtype=dtype, mode="r", offset=head.data_offset, shape=(n,))
        arr = mm.view(np.ndarray)[sel]  # plain ndarray views; they keep the mapping alive
        pos = arr["positions"]
        vel = arr["velocities"] if head["has_velocities"] else None
        steps = np.array(arr["step"], dtype=np.int64)
        boxes = np.array(arr["box"], dtype=np.float64)
    else:
        idx = np.arange(n)[sel]
        m = len(idx)
        pos = np.empty((m, head["n_atoms"], 3))
        vel = np.empty_like(pos) if head["has_velocities"] else None
        steps = np.empty(m, dtype=np.int64)
        boxes = np.empty((m, 3, 3))
        block = max(1, (64 << 20) // dtype.itemsize)
        contiguous = m == 0 or np.all(np.diff(idx) == 1)
        with open(path, "rb") as fh:
            for i0 in range(0, m, block):
                chunk = idx[i0:i0 + block]
                if contiguous:
                    fh.seek(head.data_offset + int(chunk[0]) * dtype.itemsize)
                    rec = np.fromfile(fh, dtype=dtype, count=len(chunk))
                else:
                    rec = np.empty(len(chunk), dtype=dtype)
                    for j, k in enumerate(chunk):
                        fh.seek(head.data_offset + int(k) * dtype.itemsize)
                        rec[j] = np.fromfile(fh, dtype=dtype, count=1)[0]
                s = slice(i0, i0 + len(chunk))
                pos[s] = rec["positions"]
                if vel is not None:
                    vel[s] = rec["velocities"]
                steps[s] = rec["step"]
                boxes[s] = rec["box"]
    if len(steps) == 0:
        raise InputError(f"the frame selection {frames} is empty", path)
    box = boxes[0] if np.all(boxes == boxes[0]) else boxes
    dt = head.get("dt_ps")
    if dt is not None and frames is not None and frames.step not in (None, 1):
        dt = dt * frames.step
    return Trajectory(
        positions=pos,
        velocities=vel,
        elements=np.asarray(head["elements"], dtype=str),
        masses_amu=np.asarray(head["masses_amu"], dtype=np.float64),
        dt_ps=None if dt is None else float(dt),
        steps=steps,
        box_A=box,
        source=str(path),
        warnings=tuple(warns),
        metadata={"format": "mdargy-binary", "version": head.get("version"),
                  "timestep_ps": head.get("timestep_ps"), **dict(head.get("metadata") or {})},
    )
