"""Which reader a trajectory file needs: from its first bytes, then its name."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from mdargy.errors import InputError
from mdargy.io.binary import MAGIC
from mdargy.io.netcdf import is_netcdf_classic

__all__ = ["FORMATS", "detect_format", "open_maybe_gzip", "is_gzip"]

#: The formats :func:`mdargy.io.trajectory.load_trajectory` reads.
FORMATS = ("netcdf", "mdargy", "lammpsdump", "extxyz", "mdanalysis")

_EXT_FORMATS = {
    ".nc": "netcdf", ".ncdf": "netcdf", ".netcdf": "netcdf",
    ".mdtraj": "mdargy", ".bin": "mdargy",
    ".dump": "lammpsdump", ".lammpstrj": "lammpsdump", ".lammpsdump": "lammpsdump",
    ".extxyz": "extxyz", ".xyz": "extxyz",
    ".dcd": "mdanalysis", ".xtc": "mdanalysis", ".trr": "mdanalysis", ".h5md": "mdanalysis",
}

_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether the file starts with the gzip magic bytes."""
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == _GZIP_MAGIC
    except OSError:
        return False


def open_maybe_gzip(path: str | os.PathLike):
    """Open for binary reading, decompressing a gzip file on the fly."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format of a trajectory from its first bytes, then its extension.

    A gzip-compressed file is judged by its decompressed first bytes and by its name without
    ``.gz``. Returns one of :data:`FORMATS`.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError("is a directory, not a trajectory file", path)
    try:
        with open_maybe_gzip(path) as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise InputError("no such trajectory file", path) from None
    except OSError as exc:  # a damaged gzip stream
        raise InputError(f"cannot read it ({exc})", path) from None
    if not head:
        raise InputError("is empty", path)
    if head.startswith(MAGIC):
        return "mdargy"
    if is_netcdf_classic(head):
        return "netcdf"
    if head.lstrip().startswith(b"ITEM:"):
        return "lammpsdump"
    if head.startswith(b"\x89HDF"):
        return "mdanalysis"  # H5MD
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    ext = Path(name).suffix.lower()
    if ext in _EXT_FORMATS:
        return _EXT_FORMATS[ext]
    first = head.split(b"\n", 2)
    if len(first) >= 2 and first[0].strip().isdigit() and b"Lattice=" in first[1]:
        return "extxyz"
    raise InputError(
        "unknown trajectory format: expected a NetCDF (AMBER) trajectory, an mdargy binary "
        "trajectory, a LAMMPS text dump (plain or .gz), extxyz, or a file MDAnalysis reads (DCD, "
        "XTC, TRR, H5MD); name the format with format=/--format", path)
