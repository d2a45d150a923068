"""Integrity records of files that grow: length and SHA-256 of each appended byte range.

A run appends to its trajectories; at every checkpoint the driver records, for each such file,
``{"bytes": n, "segments": [[start, end, sha256], ...]}`` -- the segments of the previous record
plus the bytes appended since (only those are read). :func:`record_problem` checks a file
against a record: it must hold at least the recorded bytes, each recorded range with its
checksum. The records live in the run's ``checkpoints/state.json`` (written by
:mod:`mdargy.drivers.checkpoint`); :func:`run_record` finds the one of a file there, so a
loader can verify a trajectory of a finished or running mdargy run before analysing it.

One kind of file is not only appended to: a NetCDF trajectory rewrites its record count (bytes
4-7, :data:`mdargy.io.netcdf.NUMRECS_BYTES`) with every frame. Its records carry
``"volatile": [[4, 8]]``, and those bytes are hashed as zeros.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mdargy.io.netcdf import NUMRECS_BYTES, is_netcdf_classic


def file_sha256(path, start: int = 0, end: int | None = None, zeroed=()) -> str:
    """SHA-256 (hex) of the bytes ``[start, end)`` of a file (the whole file by default), with
    the byte ranges ``zeroed`` (``[[s, e], ...]``) read as zeros."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        fh.seek(start)
        pos = int(start)
        left = None if end is None else max(0, int(end) - int(start))
        while left is None or left > 0:
            chunk = fh.read(1 << 22 if left is None else min(1 << 22, left))
            if not chunk:
                break
            for z0, z1 in zeroed:
                a, b = max(int(z0), pos), min(int(z1), pos + len(chunk))
                if a < b:
                    chunk = chunk[:a - pos] + b"\0" * (b - a) + chunk[b - pos:]
            h.update(chunk)
            pos += len(chunk)
            if left is not None:
                left -= len(chunk)
    return h.hexdigest()


def volatile_ranges(path) -> list[list[int]]:
    """Byte ranges of a file that its writer rewrites in place: the record count of a
    NetCDF-3 trajectory; none for other files."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return []
    return [list(NUMRECS_BYTES)] if is_netcdf_classic(head) else []


def extend_record(path, previous: dict | None) -> dict:
    """The record of ``path`` now, reading only the bytes appended since ``previous``."""
    p = Path(path)
    size = p.stat().st_size if p.exists() else 0
    prev = previous or {"bytes": 0, "segments": []}
    segs = [list(s) for s in prev.get("segments", [])]
    end = int(prev.get("bytes", 0))
    if size < end:  # the file shrank: record it afresh
        segs, end = [], 0
    volatile = [list(r) for r in prev.get("volatile", [])] if end else volatile_ranges(p)
    if size > end:
        segs.append([end, size, file_sha256(p, end, size, volatile)])
    out = {"bytes": size, "segments": segs}
    if volatile:
        out["volatile"] = volatile
    return out


def record_problem(path, record: dict, when: str = "", follow_symlinks: bool = False) -> str | None:
    """What is wrong with ``path`` against ``record`` (None when it holds the recorded bytes).
    ``when`` names the record in the message (``"the checkpoint at step 400"``). A symbolic
    link is a problem for a writer (``follow_symlinks=False``); a reader checks its target."""
    p = Path(path)
    name = p.name
    need = int(record.get("bytes", 0))
    when = when or "its integrity record"
    if p.is_symlink() and not follow_symlinks:
        return f"{name} is a symbolic link"
    if need == 0:
        return None
    if not p.exists():
        return f"{name} is missing ({when} recorded {need} bytes)"
    size = p.stat().st_size
    if size < need:
        return f"{name} was truncated: {size} bytes, {when} recorded {need}"
    volatile = record.get("volatile", [])
    for s0, s1, sha in record.get("segments", []):
        if file_sha256(p, s0, s1, volatile) != sha:
            return f"{name} was altered: bytes {s0}-{s1} differ from {when}"
    return None


def run_record(path) -> tuple[dict, str] | None:
    """The integrity record of ``path`` in the ``checkpoints/state.json`` of its run folder,
    with a description of the checkpoint; None when there is none."""
    p = Path(path)
    state_path = p.parent / "checkpoints" / "state.json"
    try:
        state = json.loads(state_path.read_text())
        rec = state["outputs"][p.name]
        step = state.get("step")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(rec, dict):
        return None
    return rec, f"the run's checkpoint at step {step} ({os.fspath(state_path)})"
