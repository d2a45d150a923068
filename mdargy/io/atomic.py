"""Atomic file writers: write to a temporary file in the same folder, then rename.

A reader never sees a half-written file, and a run killed mid-write leaves the previous version
intact. :func:`refuse_overwrite` guards finished results against silent replacement.
:func:`to_jsonable` turns numpy values, paths and dataclasses into JSON values.

This module is part of mdargy's foundation, with :mod:`mdargy.errors`,
:mod:`mdargy.constants` and :mod:`mdargy.results` (whose ``Result.to_json(path)`` writes
through it): it imports nothing of mdargy but :mod:`mdargy.errors`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from mdargy.errors import AlreadyDoneError


def to_jsonable(obj: Any) -> Any:
    """Convert numpy arrays/scalars, paths and dataclasses into JSON-serialisable values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else (1e308 if obj > 0 else -1e308)
    return obj


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented JSON atomically; numpy values are converted."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2) + "\n")


def atomic_write_csv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    """Write a CSV table atomically. Put units in the header names (``time_ps``, ``T_K``)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow([f"{v:.10g}" if isinstance(v, float) else v for v in row])
    return atomic_write_text(path, buf.getvalue())


class OverwriteRefusedError(AlreadyDoneError):
    """An output exists and was not replaced: the command did not do what it was asked, so it
    exits non-zero (unlike a driver re-run of a finished run, which is done already)."""

    exit_code = 1


def refuse_overwrite(path: str | os.PathLike, force: bool = False) -> None:
    """Raise :class:`OverwriteRefusedError` (non-zero exit) if ``path`` exists (or is a
    symbolic link) and ``force`` is False."""
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not force:
        raise OverwriteRefusedError(
            f"{path} already exists: the run is finished. Use a new output directory, or "
            "--force to recompute it."
        )
