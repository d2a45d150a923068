"""NetCDF trajectories in the AMBER convention: the trajectory format of mdargy's EMD runs.

The file is NetCDF-3 with 64-bit offsets (``CDF-2``) and follows the AMBER trajectory
convention 1.0 (ambermd.org/netcdf/nctraj.xhtml), as LAMMPS's ``dump netcdf`` does. The tests
open it with MDAnalysis (``NCDFReader``), ASE (``ase.io.read(..., format="netcdftrajectory")``,
which needs the ``netCDF4`` package), scipy and the NetCDF C library; VMD, OVITO and cpptraj
read the same convention (not tested here).

Contents written by :class:`NetCDFTrajectoryWriter`
----------------------------------------------------
Dimensions ``frame`` (the record dimension), ``spatial`` = 3, ``atom``, ``cell_spatial`` = 3,
``cell_angular`` = 3, ``label`` = 5. Global attributes ``Conventions = "AMBER"``,
``ConventionVersion = "1.0"``, ``program``, ``programVersion``, ``title``, and mdargy's
``mdargy_timestep_ps`` (MD time step), ``mdargy_frame_dt_ps`` (time between frames) and
``mdargy_metadata`` (JSON: temperature, seed, ...). Variables:

=================  =======================  ======  ======================================
name               dimensions               type    content
=================  =======================  ======  ======================================
``spatial``        spatial                  char    ``"xyz"``
``cell_spatial``   cell_spatial             char    ``"abc"``
``cell_angular``   cell_angular, label      char    ``"alpha"``, ``"beta"``, ``"gamma"``
``Z``              atom                     int     atomic number of each atom (ASE's name)
``mass``           atom                     double  mass of each atom, g/mol
``time``           frame                    double  simulation time, ``picosecond``
``step``           frame                    double  MD step (an integer; exact below 2^53)
``cell_lengths``   frame, cell_spatial      double  a, b, c in ``angstrom``
``cell_angles``    frame, cell_angular      double  alpha, beta, gamma in ``degree``
``coordinates``    frame, atom, spatial     double  **unwrapped** positions, ``angstrom``
``velocities``     frame, atom, spatial     double  ``angstrom/picosecond`` (optional)
=================  =======================  ======  ======================================

Atoms are in atom-id order. The cell is LAMMPS's: ``a`` along x, ``b`` in the xy plane, so the
cell vectors follow from the lengths and angles (:func:`cell_from_lengths_angles`). The
convention asks for single precision; double precision is allowed and every reader above
converts, so mdargy keeps float64 (positions exact to the bit, as in the run).

Elements: ASE reads ``Z``. MDAnalysis takes atom names and elements from a topology, not from
the trajectory: the EMD driver writes ``traj.pdb`` beside ``traj.nc``
(:func:`mdargy.io.pdb.write_pdb_topology`), opened as ``mda.Universe("traj.pdb", "traj.nc")``.
(ASE's ``atoms.get_velocities()`` returns the stored Å/ps numbers unconverted, although ASE's
own velocity unit is Å per ASE time unit: divide by ``1000 * ase.units.fs`` before using them
with ASE, e.g. for ``get_kinetic_energy()``.)

Appending and crashes
---------------------
Records are appended at the end of the file, then the record count in the header (``numrecs``,
bytes 4-7) is updated; that count is the only byte range of the file ever rewritten (the
integrity records of :mod:`mdargy.io.integrity` leave it out). A run killed while writing leaves
at most one partial or uncounted record after the counted ones: readers use the counted
complete frames (with a warning), and :class:`NetCDFTrajectoryWriter` opened with
``append=True`` cuts the rest off. :meth:`NetCDFTrajectoryWriter.truncate` cuts the file back
to a checkpoint when a run resumes.

Reading (:func:`read_netcdf_trajectory`) memory-maps the records: the positions and velocities
of a ``mmap=True`` read are big-endian float64 views of the file (no copy; numpy converts on
use). It reads NetCDF-3 files of other programs too (classic or 64-bit offset, float or double,
with ``scale_factor``), e.g. ``dump netcdf`` of LAMMPS with a per-frame ``id``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import mmap as _mmap
import os
import struct
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from ase.data import chemical_symbols

import mdargy
from mdargy.errors import InputError
from mdargy.io.appendfile import AppendFile
from mdargy.io.atomic import to_jsonable
from mdargy.io.container import Trajectory
from mdargy.io.masses import atomic_number, elements_for_types, mass_of

__all__ = ["NetCDFTrajectoryWriter", "read_netcdf_trajectory", "read_netcdf_header",
           "NetCDFHeader", "is_netcdf_classic", "cell_from_lengths_angles",
           "lengths_angles_from_cell", "NUMRECS_BYTES"]

NC_BYTE, NC_CHAR, NC_SHORT, NC_INT, NC_FLOAT, NC_DOUBLE = 1, 2, 3, 4, 5, 6
_NC_DIMENSION, _NC_VARIABLE, _NC_ATTRIBUTE = 10, 11, 12
_DTYPES = {NC_BYTE: "i1", NC_CHAR: "S1", NC_SHORT: ">i2", NC_INT: ">i4", NC_FLOAT: ">f4",
           NC_DOUBLE: ">f8"}
_SIZES = {NC_BYTE: 1, NC_CHAR: 1, NC_SHORT: 2, NC_INT: 4, NC_FLOAT: 4, NC_DOUBLE: 8}
_STREAMING = 0xFFFFFFFF
#: The byte range ``[start, end)`` of the record count, the one range an append rewrites.
NUMRECS_BYTES = (4, 8)
_ALIGN = 8


def is_netcdf_classic(head: bytes) -> bool:
    """Whether bytes start a NetCDF-3 file (classic ``CDF\\x01`` or 64-bit offset
    ``CDF\\x02``)."""
    return len(head) >= 4 and head[:3] == b"CDF" and head[3] in (1, 2)


# -- cells --------------------------------------------------------------------------------------

def lengths_angles_from_cell(box_A) -> tuple[np.ndarray, np.ndarray]:
    """Edge lengths (Å) and angles alpha, beta, gamma (degrees) of cell vectors (rows)."""
    box = np.asarray(box_A, dtype=np.float64)
    lengths = np.linalg.norm(box, axis=1)

    def angle(u, v):
        c = float(np.dot(box[u], box[v]) / (lengths[u] * lengths[v]))
        return 90.0 if c == 0.0 else math.degrees(math.acos(max(-1.0, min(1.0, c))))

    return lengths, np.array([angle(1, 2), angle(0, 2), angle(0, 1)])


def _cos(deg: float) -> float:
    return 0.0 if deg == 90.0 else math.cos(math.radians(deg))


def cell_from_lengths_angles(lengths_A, angles_deg) -> np.ndarray:
    """Cell vectors (rows, Å) in LAMMPS's orientation: ``a`` along x, ``b`` in the xy plane.

    A right angle gives an exact zero (so an orthogonal cell comes back diagonal).
    """
    a, b, c = (float(x) for x in lengths_A)
    alpha, beta, gamma = (float(x) for x in angles_deg)
    ca, cb, cg = _cos(alpha), _cos(beta), _cos(gamma)
    sg = 1.0 if gamma == 90.0 else math.sin(math.radians(gamma))
    cx = cb
    cy = (ca - cb * cg) / sg
    cz = math.sqrt(max(0.0, 1.0 - cx * cx - cy * cy))
    return np.array([[a, 0.0, 0.0], [b * cg, b * sg, 0.0], [c * cx, c * cy, c * cz]])


# -- header encoding ----------------------------------------------------------------------------

def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _name(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack(">i", len(b)) + _pad4(b)


def _attr(name: str, value) -> bytes:
    if isinstance(value, str):
        data, t, n = value.encode("utf-8"), NC_CHAR, len(value.encode("utf-8"))
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        data, t, n = np.asarray([value], ">i4").tobytes(), NC_INT, 1
    else:
        arr = np.atleast_1d(np.asarray(value, dtype=">f8"))
        data, t, n = arr.tobytes(), NC_DOUBLE, arr.size
    return _name(name) + struct.pack(">ii", t, n) + _pad4(data)


def _att_list(attrs: Mapping) -> bytes:
    if not attrs:
        return b"\0" * 8
    return struct.pack(">ii", _NC_ATTRIBUTE, len(attrs)) + b"".join(
        _attr(k, v) for k, v in attrs.items())


@dataclasses.dataclass
class _VarSpec:
    name: str
    dims: tuple
    nc_type: int
    attrs: dict
    data: np.ndarray | None = None  # non-record variables only
    begin: int = 0


def _var_len(spec: _VarSpec, dim_len: dict) -> int:
    n = _SIZES[spec.nc_type]
    for d in spec.dims:
        if dim_len[d] is not None:
            n *= dim_len[d]
    return n


def _encode(dims: list, gatts: dict, variables: list, numrecs: int) -> bytes:
    """The header and the non-record data of a CDF-2 file (records follow at the returned
    length, which is a multiple of 8); fills each ``begin``."""
    dim_len = dict(dims)
    dim_id = {d: i for i, (d, _) in enumerate(dims)}

    def var_bytes(v: _VarSpec, vsize: int) -> bytes:
        return (_name(v.name) + struct.pack(">i", len(v.dims))
                + b"".join(struct.pack(">i", dim_id[d]) for d in v.dims)
                + _att_list(v.attrs) + struct.pack(">ii", v.nc_type, vsize)
                + struct.pack(">q", v.begin))

    nrec = sum(1 for v in variables if dim_len[v.dims[0]] is None)

    def vsize(v):
        n = _var_len(v, dim_len)
        is_rec = dim_len[v.dims[0]] is None
        if not is_rec or nrec > 1:
            n += -n % 4
        return min(n, 0xFFFFFFFF)

    def head():
        out = [b"CDF\x02", struct.pack(">i", numrecs)]
        out.append(struct.pack(">ii", _NC_DIMENSION, len(dims)) + b"".join(
            _name(d) + struct.pack(">i", 0 if n is None else n) for d, n in dims))
        out.append(_att_list(gatts))
        out.append(struct.pack(">ii", _NC_VARIABLE, len(variables))
                   + b"".join(var_bytes(v, vsize(v)) for v in variables))
        return b"".join(out)

    pos = len(head())  # begins are 8-byte fields: the length does not depend on them
    body = []
    pos += -pos % _ALIGN
    for v in variables:
        if dim_len[v.dims[0]] is None:
            continue
        v.begin = pos
        raw = np.ascontiguousarray(v.data, dtype=_DTYPES[v.nc_type]).tobytes()
        raw += b"\0" * (vsize(v) - len(raw))
        body.append(raw)
        pos += len(raw)
    pad = -pos % _ALIGN
    pos += pad
    for v in variables:
        if dim_len[v.dims[0]] is not None:
            continue
        v.begin = pos
        pos += vsize(v)
    text = head()
    start = len(text) + (-len(text) % _ALIGN)
    return text + b"\0" * (start - len(text)) + b"".join(body) + b"\0" * pad


# -- header decoding ----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class NetCDFVariable:
    """One variable of a NetCDF-3 file: dimensions, shape (``None`` for the record
    dimension), type, attributes and where its data starts."""

    name: str
    dims: tuple
    shape: tuple
    nc_type: int
    attrs: dict
    begin: int

    @property
    def is_record(self) -> bool:
        return bool(self.shape) and self.shape[0] is None

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_DTYPES[self.nc_type])

    @property
    def nbytes(self) -> int:
        """Bytes of data (one record of a record variable), without padding."""
        n = self.dtype.itemsize
        for s in self.shape:
            if s is not None:
                n *= s
        return n


@dataclasses.dataclass(frozen=True)
class NetCDFHeader:
    """The header of a NetCDF-3 file and its record layout."""

    version: int
    numrecs: int | None  # None: "streaming" (count from the file size)
    dims: dict
    attrs: dict
    variables: dict
    header_bytes: int

    @property
    def record_variables(self) -> list:
        return sorted((v for v in self.variables.values() if v.is_record),
                      key=lambda v: v.begin)

    @property
    def begin_rec(self) -> int:
        rec = self.record_variables
        return rec[0].begin if rec else 0

    @property
    def recsize(self) -> int:
        rec = self.record_variables
        if len(rec) == 1:
            return rec[0].nbytes
        return sum(v.nbytes + (-v.nbytes % 4) for v in rec)

    def record_dtype(self) -> np.dtype:
        """Structured dtype of one record (all record variables, at their offsets)."""
        rec = self.record_variables
        b0 = self.begin_rec
        return np.dtype({"names": [v.name for v in rec],
                         "formats": [(v.dtype, tuple(s for s in v.shape[1:])) for v in rec],
                         "offsets": [v.begin - b0 for v in rec],
                         "itemsize": self.recsize})

    def attr_text(self, name: str, default: str | None = None) -> str | None:
        v = self.attrs.get(name)
        return v if isinstance(v, str) else default


class _Cursor:
    def __init__(self, buf, path):
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise InputError("the NetCDF header is truncated", self.path)
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def int(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def uint(self) -> int:
        return struct.unpack(">I", self.take(4))[0]

    def name(self) -> str:
        n = self.int()
        if n < 0 or n > 1 << 16:
            raise InputError("the NetCDF header is damaged (a name of absurd length)", self.path)
        s = self.take(n)
        self.take(-n % 4)
        return s.decode("utf-8", "replace")

    def values(self, nc_type: int, n: int):
        if nc_type not in _DTYPES or n < 0:
            raise InputError(f"the NetCDF header is damaged (type {nc_type})", self.path)
        size = _SIZES[nc_type] * n
        raw = self.take(size)
        self.take(-size % 4)
        if nc_type == NC_CHAR:
            return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        arr = np.frombuffer(raw, dtype=_DTYPES[nc_type])
        return arr[0].item() if n == 1 else arr.tolist()

    def atts(self) -> dict:
        tag, n = self.int(), self.int()
        if tag == 0 and n == 0:
            return {}
        if tag != _NC_ATTRIBUTE:
            raise InputError("the NetCDF header is damaged (attribute list)", self.path)
        out = {}
        for _ in range(n):
            name = self.name()
            t, k = self.int(), self.int()
            out[name] = self.values(t, k)
        return out


def read_netcdf_header(path: str | os.PathLike) -> NetCDFHeader:
    """Parse the header of a NetCDF-3 file (classic or 64-bit offset).

    Raises
    ------
    InputError
        Missing file, not NetCDF-3 (NetCDF-4/HDF5 and CDF-5 files are named as such), or a
        damaged header.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 4:
                raise InputError("too short to be a NetCDF file", path)
            buf = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_READ)
    except FileNotFoundError:
        raise InputError("no such NetCDF file", path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a NetCDF file", path) from None
    try:
        head = bytes(buf[:4])
        if head.startswith(b"\x89HDF"):
            raise InputError("is NetCDF-4 (HDF5): mdargy reads NetCDF-3 (classic or 64-bit "
                             "offset) itself; read this one with format='mdanalysis' (needs "
                             "netCDF4) or convert it with 'nccopy -k 64-bit offset'", path)
        if head[:3] != b"CDF" or head[3] not in (1, 2):
            raise InputError(f"not a NetCDF-3 file (starts with {head!r}); CDF-5 files need "
                             "'nccopy -k 64-bit offset' first", path)
        cur = _Cursor(buf, path)
        cur.take(4)
        version = head[3]
        nrec = cur.uint()
        tag, ndims = cur.int(), cur.int()
        dims: dict = {}
        if not (tag == 0 and ndims == 0):
            if tag != _NC_DIMENSION:
                raise InputError("the NetCDF header is damaged (dimension list)", path)
            for _ in range(ndims):
                name = cur.name()
                n = cur.int()
                dims[name] = None if n == 0 else n
        dim_names = list(dims)
        gatts = cur.atts()
        tag, nvars = cur.int(), cur.int()
        variables = {}
        if not (tag == 0 and nvars == 0):
            if tag != _NC_VARIABLE:
                raise InputError("the NetCDF header is damaged (variable list)", path)
            for _ in range(nvars):
                name = cur.name()
                nd = cur.int()
                ids = [cur.int() for _ in range(nd)]
                if any(i < 0 or i >= len(dim_names) for i in ids):
                    raise InputError(f"the NetCDF header is damaged (variable {name!r})", path)
                vd = tuple(dim_names[i] for i in ids)
                atts = cur.atts()
                nc_type = cur.int()
                if nc_type not in _DTYPES:
                    raise InputError(f"variable {name!r} has an unknown NetCDF type {nc_type}",
                                     path)
                cur.uint()  # vsize: recomputed from the shape, as the NetCDF library does
                begin = struct.unpack(">q" if version == 2 else ">i",
                                      cur.take(8 if version == 2 else 4))[0]
                shape = tuple(dims[d] for d in vd)
                if any(s is None for s in shape[1:]):
                    raise InputError(f"variable {name!r}: only the first dimension may be the "
                                     "record dimension", path)
                variables[name] = NetCDFVariable(name, vd, shape, nc_type, atts, begin)
        return NetCDFHeader(version=version, numrecs=None if nrec == _STREAMING else nrec,
                            dims=dims, attrs=gatts, variables=variables, header_bytes=cur.pos)
    finally:
        buf.close()


# -- writer -------------------------------------------------------------------------------------

def _as_box(box_A, what) -> np.ndarray:
    box = np.asarray(box_A, dtype=np.float64)
    if box.shape == (3,):
        box = np.diag(box)
    if box.shape != (3, 3) or not np.all(np.isfinite(box)):
        raise InputError(f"box_A must be 3 edge lengths or a (3, 3) matrix of finite cell "
                         f"vectors (rows), got shape {box.shape}", what)
    return box


def _open_nofollow(path: Path, flags: int):
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        if path.is_symlink():
            raise InputError("is a symbolic link: refusing to write through it", path) from None
        raise InputError(f"cannot open for writing ({exc.strerror})", path) from None
    return os.fdopen(fd, "r+b")


class NetCDFTrajectoryWriter(AppendFile):
    """Append frames to a NetCDF (AMBER convention) trajectory; see the module docstring.

    Use from one process only (rank 0 under MPI: gather the positions there first). The
    parameters are those of :class:`mdargy.io.binary.BinaryTrajectoryWriter`.

    Parameters
    ----------
    path : path-like
        File to write (``.nc`` by convention).
    n_atoms : int
        Atoms per frame.
    elements : sequence of str
        Element symbol of each atom, in atom-id order.
    masses_amu : sequence of float
        Mass of each atom in g/mol.
    dt_ps : float or None
        Time between stored frames in ps.
    box_A : array_like
        Default cell, 3 edge lengths or (3, 3) row vectors in Å (LAMMPS orientation: ``a``
        along x, ``b`` in the xy plane).
    append : bool
        Continue an existing file (it must hold the same atoms, elements and layout). Bytes
        after the counted complete frames (a run killed while writing) are cut off, with a
        warning. When the file does not exist a new one is created.
    overwrite : bool
        Replace an existing file when ``append`` is False; without it an existing file is an
        error.
    has_velocities : bool
        Store velocities with every frame; then :meth:`append` requires them.
    timestep_ps : float, optional
        MD time step: recorded, and gives each frame's time from its step when
        :meth:`append` is not given one.
    metadata : mapping, optional
        JSON-serialisable information, stored in the global attribute ``mdargy_metadata``.
    title : str, optional
        The file's ``title`` attribute.
    """

    def __init__(self, path: str | os.PathLike, n_atoms: int, *, elements: Sequence[str],
                 masses_amu: Sequence[float], dt_ps: float | None, box_A,
                 append: bool = False, overwrite: bool = False, has_velocities: bool = True,
                 timestep_ps: float | None = None, metadata: Mapping | None = None,
                 title: str | None = None):
        self.path = Path(path)
        self.n_atoms = int(n_atoms)
        if self.n_atoms < 1:
            raise InputError(f"n_atoms must be positive, got {n_atoms}", self.path)
        elements = [str(e) for e in elements]
        masses = np.asarray(masses_amu, dtype=np.float64).ravel()
        if len(elements) != self.n_atoms or len(masses) != self.n_atoms:
            raise InputError(f"need one element and one mass per atom ({self.n_atoms}), got "
                             f"{len(elements)} elements and {len(masses)} masses", self.path)
        z = np.array([atomic_number(e) for e in elements], dtype=np.int32)
        self.box_A = _as_box(box_A, self.path)
        self.has_velocities = bool(has_velocities)
        self.timestep_ps = None if timestep_ps is None else float(timestep_ps)
        self.dt_ps = None if dt_ps is None else float(dt_ps)
        self._fh = None
        if self.path.is_symlink():
            raise InputError("is a symbolic link: refusing to write through it", self.path)
        dims, gatts, variables = self._layout(z, masses, metadata, title)
        if append and self.path.exists():
            self._open_existing(z)
            return
        if self.path.exists() and not overwrite:
            raise InputError("exists already; pass append=True to continue it or "
                             "overwrite=True to replace it", self.path)
        data = _encode(dims, gatts, variables, 0)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = _open_nofollow(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        self._fh.write(data)
        self._fh.flush()
        self._begin_rec = len(data)
        self._dtype = self._record_dtype()
        self._n = 0

    def _layout(self, z, masses, metadata, title):
        dims = [("frame", None), ("spatial", 3), ("atom", self.n_atoms), ("cell_spatial", 3),
                ("cell_angular", 3), ("label", 5)]
        gatts = {"Conventions": "AMBER", "ConventionVersion": "1.0", "program": "mdargy",
                 "programVersion": str(mdargy.__version__),
                 "title": title or "mdargy trajectory"}
        if self.timestep_ps is not None:
            gatts["mdargy_timestep_ps"] = self.timestep_ps
        if self.dt_ps is not None:
            gatts["mdargy_frame_dt_ps"] = self.dt_ps
        if metadata:
            gatts["mdargy_metadata"] = json.dumps(to_jsonable(dict(metadata)),
                                                  separators=(",", ":"))
        chars = lambda s: np.frombuffer(s.encode(), dtype="S1")  # noqa: E731
        variables = [
            _VarSpec("spatial", ("spatial",), NC_CHAR, {}, chars("xyz")),
            _VarSpec("cell_spatial", ("cell_spatial",), NC_CHAR, {}, chars("abc")),
            _VarSpec("cell_angular", ("cell_angular", "label"), NC_CHAR, {},
                     chars("alphabeta gamma")),
            _VarSpec("Z", ("atom",), NC_INT, {"long_name": "atomic number"}, z),
            _VarSpec("mass", ("atom",), NC_DOUBLE, {"units": "g/mol"}, masses),
            _VarSpec("time", ("frame",), NC_DOUBLE, {"units": "picosecond"}),
            _VarSpec("step", ("frame",), NC_DOUBLE, {"long_name": "MD step"}),
            _VarSpec("cell_lengths", ("frame", "cell_spatial"), NC_DOUBLE, {"units": "angstrom"}),
            _VarSpec("cell_angles", ("frame", "cell_angular"), NC_DOUBLE, {"units": "degree"}),
            _VarSpec("coordinates", ("frame", "atom", "spatial"), NC_DOUBLE,
                     {"units": "angstrom"}),
        ]
        if self.has_velocities:
            variables.append(_VarSpec("velocities", ("frame", "atom", "spatial"), NC_DOUBLE,
                                      {"units": "angstrom/picosecond"}))
        return dims, gatts, variables

    def _record_dtype(self) -> np.dtype:
        fields = [("time", ">f8"), ("step", ">f8"), ("cell_lengths", ">f8", (3,)),
                  ("cell_angles", ">f8", (3,)), ("coordinates", ">f8", (self.n_atoms, 3))]
        if self.has_velocities:
            fields.append(("velocities", ">f8", (self.n_atoms, 3)))
        return np.dtype(fields)

    def _open_existing(self, z) -> None:
        head = read_netcdf_header(self.path)
        self._dtype = self._record_dtype()
        zvar = head.variables.get("Z")
        same = (head.dims.get("atom") == self.n_atoms and zvar is not None
                and head.record_dtype() == self._dtype)
        if same:
            with open(self.path, "rb") as fh:
                fh.seek(zvar.begin)
                same = np.array_equal(np.frombuffer(fh.read(4 * self.n_atoms), ">i4"), z)
        if not same:
            raise InputError(
                "cannot append: the existing file holds a different system or layout (atoms "
                f"{head.dims.get('atom')}, velocities {'velocities' in head.variables}) than the "
                f"writer (atoms {self.n_atoms}, velocities {self.has_velocities}) or other "
                "elements", self.path)
        self._begin_rec = head.begin_rec
        size = self.path.stat().st_size
        rsize = self._dtype.itemsize
        complete = max(0, (size - self._begin_rec) // rsize)
        n = complete if head.numrecs is None else min(head.numrecs, complete)
        self._fh = _open_nofollow(self.path, os.O_RDWR)
        extra = size - (self._begin_rec + n * rsize)
        if extra:
            warnings.warn(f"{self.path}: cut off {extra} bytes after the {n} counted complete "
                          "frames (a run killed while writing) before appending", stacklevel=3)
            self._fh.truncate(self._begin_rec + n * rsize)
        self._n = n
        if head.numrecs != n:
            self._write_numrecs()
        self._fh.seek(0, os.SEEK_END)

    # -- writing ------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        """Complete frames in the file."""
        return self._n

    def _write_numrecs(self) -> None:
        self._fh.flush()
        self._fh.seek(NUMRECS_BYTES[0])
        self._fh.write(struct.pack(">i", self._n))
        self._fh.seek(0, os.SEEK_END)

    def append(self, step: int, positions_A, velocities_A_ps=None, box_A=None,
               time_ps: float | None = None) -> None:
        """Write one frame at the end of the file, then count it in the header.

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
        time_ps : float, optional
            Simulation time of the frame; default ``step × timestep_ps`` (or the frame index ×
            ``dt_ps`` without a time step).
        """
        self._check_open()
        pos = np.asarray(positions_A, dtype=np.float64)
        if pos.shape != (self.n_atoms, 3):
            raise InputError(f"positions must have shape ({self.n_atoms}, 3), got {pos.shape}",
                             self.path)
        rec = np.zeros(1, dtype=self._dtype)
        if time_ps is None:
            if self.timestep_ps is not None:
                time_ps = int(step) * self.timestep_ps
            else:
                time_ps = self._n * (self.dt_ps if self.dt_ps is not None else 1.0)
        rec["time"] = float(time_ps)
        rec["step"] = float(int(step))
        lengths, angles = lengths_angles_from_cell(
            self.box_A if box_A is None else _as_box(box_A, self.path))
        rec["cell_lengths"] = lengths
        rec["cell_angles"] = angles
        rec["coordinates"][0] = pos
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
        self._n += 1
        self._write_numrecs()

    def truncate(self, n_frames: int) -> None:
        """Keep only the first ``n_frames`` frames (resume from a checkpoint)."""
        self._check_open()
        n_frames = int(n_frames)
        if n_frames < 0 or n_frames > self._n:
            raise InputError(f"cannot truncate to {n_frames} frames: the file holds {self._n}",
                             self.path)
        self._fh.flush()
        self._fh.truncate(self._begin_rec + n_frames * self._dtype.itemsize)
        self._n = n_frames
        self._write_numrecs()


# -- reader -------------------------------------------------------------------------------------

_UNIT_NAMES = {"angstrom", "angstroms", "a", "å"}


def _check_units(var: NetCDFVariable, want: set, what: str, path) -> None:
    units = str(var.attrs.get("units", "")).strip().lower()
    if units and units not in want:
        raise InputError(f"{what} are in {units!r}; mdargy reads {sorted(want)[0]!r}", path)


def _scale(var: NetCDFVariable) -> float | None:
    s = var.attrs.get("scale_factor")
    if s is None:
        return None
    s = float(s if not isinstance(s, list) else s[0])
    return None if s == 1.0 else s


def read_netcdf_trajectory(path: str | os.PathLike, mmap: bool = True, *,
                           frames: slice | None = None, velocities: bool = True,
                           type_map: Mapping[int, str] | None = None,
                           masses_by_type: Mapping[int, float] | None = None) -> Trajectory:
    """Read a NetCDF-3 trajectory in the AMBER convention (mdargy's, LAMMPS's, AMBER's, ...).

    Parameters
    ----------
    path : path-like
        The file.
    mmap : bool
        Keep the file mapped: positions and velocities are then read-only big-endian float64
        views of it (strided, no copy). With ``False`` they are copied into native contiguous
        float64 arrays. Float32 data or a ``scale_factor`` always copy.
    frames : slice, optional
        Read only these frames.
    velocities : bool
        Read velocities when the file has them.
    type_map, masses_by_type : mapping, optional
        For files without atomic numbers (``Z``) but with LAMMPS types (``type`` or
        ``atom_types``, as ``dump netcdf`` writes): type → element, or type → mass (g/mol,
        e.g. a data file's ``Masses``; the nearest element is taken).

    Returns
    -------
    Trajectory

    Raises
    ------
    InputError
        Missing or malformed file, no ``coordinates`` or cell, unsupported units, no complete
        frame, or no way to tell the elements. Frames beyond the complete counted ones only
        warn.
    """
    path = Path(path)
    head = read_netcdf_header(path)
    var = head.variables
    if "coordinates" not in var or var["coordinates"].dims[1:] != ("atom", "spatial") \
            or not var["coordinates"].is_record:
        raise InputError("has no variable coordinates(frame, atom, spatial): not an AMBER "
                         "convention trajectory", path)
    conv = head.attr_text("Conventions", "")
    warns: list[str] = []
    if "AMBER" not in conv.split(","):
        warns.append(f"{path}: the Conventions attribute is {conv!r}, not AMBER; read as the "
                     "AMBER convention")
    _check_units(var["coordinates"], _UNIT_NAMES, "coordinates", path)
    if "cell_lengths" not in var or "cell_angles" not in var:
        raise InputError("has no cell_lengths/cell_angles: mdargy analyses periodic systems",
                         path)
    n_atoms = head.dims["atom"]
    size = path.stat().st_size
    rdt = head.record_dtype()
    complete = max(0, (size - head.begin_rec) // rdt.itemsize)
    n = complete if head.numrecs is None else min(head.numrecs, complete)
    if head.numrecs is not None and head.numrecs > complete:
        warns.append(f"{path}: the header counts {head.numrecs} frames but the file holds "
                     f"{complete} complete ones (cut short); using those")
    elif size > head.begin_rec + n * rdt.itemsize:
        extra = size - head.begin_rec - n * rdt.itemsize
        warns.append(f"{path}: {extra} bytes after the last counted frame (a frame being "
                     f"written, or a run killed while writing); using the {n} complete frames")
    for w in warns:
        warnings.warn(w, stacklevel=2)
    if n == 0:
        raise InputError("holds no complete frame", path)
    sel = slice(None) if frames is None else frames
    # the records are always mapped; without mmap the fields are copied out (native float64)
    # and the mapping is dropped with the last reference to it
    rec = np.memmap(path, dtype=rdt, mode="r", offset=head.begin_rec, shape=(n,))
    rec = rec.view(np.ndarray)[sel]
    m = len(rec)
    if m == 0:
        raise InputError(f"the frame selection {frames} is empty ({n} frames)", path)

    def per_atom(name, dtype):
        """A per-file (atom,) variable, or the first frame of a (frame, atom) one."""
        v = var.get(name)
        if v is None:
            return None
        if v.is_record and v.dims[1:] == ("atom",):
            return np.asarray(rec[name][0], dtype=dtype)
        if v.dims != ("atom",):
            return None
        with open(path, "rb") as fh:
            fh.seek(v.begin)
            return np.frombuffer(fh.read(v.nbytes), dtype=v.dtype).astype(dtype)

    def field(name):
        a = rec[name]
        s = _scale(var[name])
        if mmap and var[name].nc_type == NC_DOUBLE and s is None:
            return a
        out = np.empty(a.shape, dtype=np.float64)  # one pass: byte swap (and widen) into it
        block = max(1, (32 << 20) // max(1, out[0].nbytes))
        for i in range(0, len(out), block):
            out[i:i + block] = a[i:i + block]
        if s is not None:
            out *= s
        return out

    # atom order: by id when the file has ids (LAMMPS dump netcdf)
    order = None
    ids = None
    if "id" in var:
        if var["id"].is_record:
            all_ids = np.asarray(rec["id"], dtype=np.int64)
            if not np.all(all_ids == all_ids[0]):
                order = np.argsort(all_ids, axis=1, kind="stable")
            ids = np.sort(all_ids[0])
            if order is None and not np.all(np.diff(all_ids[0]) > 0):
                order = np.argsort(all_ids[0], kind="stable")
        else:
            ids0 = per_atom("id", np.int64)
            ids = np.sort(ids0)
            if not np.all(np.diff(ids0) > 0):
                order = np.argsort(ids0, kind="stable")

    def ordered(a):
        if order is None:
            return a
        if order.ndim == 1:
            return np.ascontiguousarray(np.asarray(a, dtype=np.float64)[:, order])
        return np.take_along_axis(np.asarray(a, dtype=np.float64), order[:, :, None], axis=1)

    pos = ordered(field("coordinates"))
    vel = None
    if velocities and "velocities" in var:
        _check_units(var["velocities"], {"angstrom/picosecond", "angstroms/picosecond",
                                         "a/ps", "angstrom/ps"}, "velocities", path)
        vel = ordered(field("velocities"))
    z = per_atom("Z", np.int64)
    if z is None:
        z = per_atom("atomic_number", np.int64)
    first_order = order if order is None or order.ndim == 1 else order[0]
    tvar = next((t for t in ("type", "atom_types") if t in var), None)
    types = None
    if tvar is not None:
        types = per_atom(tvar, np.int64)
        types = types if types is None or first_order is None else types[first_order]
    masses = None
    if z is not None and type_map is None and masses_by_type is None:
        if np.any(z < 1) or np.any(z >= len(chemical_symbols)):
            raise InputError("its Z variable holds numbers that are not atomic numbers", path)
        zz = z if first_order is None else z[first_order]
        els = np.array([chemical_symbols[int(k)] for k in zz], dtype=str)
    elif types is not None and (type_map is not None or masses_by_type is not None):
        els, masses = elements_for_types(types, type_map, masses_by_type, path)
    else:
        raise InputError("has no atomic numbers (variable Z): cannot tell the elements; give "
                         "the map types={1: 'Cu', ...} / --types 1=Cu,2=P,3=S or a LAMMPS data "
                         "file with Masses (topology=/--topology)" if types is not None else
                         "has neither atomic numbers (Z) nor atom types: cannot tell the "
                         "elements; read it with format='mdanalysis' and a topology", path)
    file_masses = per_atom("mass", np.float64)
    if file_masses is not None:
        masses = file_masses if first_order is None else file_masses[first_order]
    elif masses is None:
        masses = np.array([mass_of(e) for e in els])
    lengths = np.asarray(rec["cell_lengths"], dtype=np.float64)
    angles = np.asarray(rec["cell_angles"], dtype=np.float64)
    s = _scale(var["cell_lengths"])
    if s is not None:
        lengths = lengths * s
    if np.all(lengths == lengths[0]) and np.all(angles == angles[0]):
        box = cell_from_lengths_angles(lengths[0], angles[0])
    else:
        box = np.stack([cell_from_lengths_angles(a, b) for a, b in zip(lengths, angles)])
    has_steps = "step" in var
    if has_steps:
        st = np.asarray(rec["step"], dtype=np.float64)
        if not np.all(st == np.round(st)):
            raise InputError("its step variable holds non-integer values", path)
        steps = st.astype(np.int64)
    else:
        steps = np.arange(n, dtype=np.int64)[sel]
    dt = head.attrs.get("mdargy_frame_dt_ps")
    dt = None if dt is None else float(dt)
    if dt is not None and frames is not None and frames.step not in (None, 1):
        dt *= frames.step
    if dt is None and "time" in var and m > 1:
        t = np.asarray(rec["time"], dtype=np.float64) * (_scale(var["time"]) or 1.0)
        d = np.diff(t)
        tol = 1e-9 if var["time"].nc_type == NC_DOUBLE else 1e-4
        if np.all(d > 0) and np.allclose(d, d.mean(), rtol=tol):
            dt = float((t[-1] - t[0]) / (m - 1))
    meta_text = head.attr_text("mdargy_metadata")
    extra = {}
    if meta_text:
        try:
            extra = json.loads(meta_text)
        except ValueError:
            warns.append(f"{path}: its mdargy_metadata attribute is not valid JSON; ignored")
    ts = head.attrs.get("mdargy_timestep_ps")
    return Trajectory(
        positions=pos, velocities=vel, elements=els,
        masses_amu=np.asarray(masses, dtype=np.float64), dt_ps=dt, steps=steps, box_A=box,
        source=str(path), warnings=tuple(warns),
        metadata={**(extra if isinstance(extra, dict) else {}), "format": "netcdf-amber",
                  "program": head.attr_text("program"), "has_steps": has_steps,
                  "timestep_ps": None if ts is None else float(ts)},
        ids=ids)
