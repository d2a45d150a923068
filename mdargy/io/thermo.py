"""Reader of the drivers' ``thermo.csv`` (one row per thermo output; see
:data:`mdargy.drivers.common.THERMO_COLUMNS`, plus ``stage``)."""

from __future__ import annotations

import csv
import os

import numpy as np

from mdargy.errors import InputError


def read_thermo_csv(path: str | os.PathLike, stage: str | None = None) -> dict:
    """Columns of a ``thermo.csv`` as arrays (``stage`` as strings), optionally one stage's rows.

    Raises
    ------
    InputError
        The file is missing, has no header, or a number that does not parse (row named).
    """
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames:
                raise InputError("no header line: not a thermo.csv", path)
            rows = [r for r in reader if stage is None or r.get("stage") == stage]
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path) from None
    out = {}
    for name in reader.fieldnames:
        col = [r[name] for r in rows]
        if name == "stage":
            out[name] = np.array(col, dtype=str)
            continue
        try:
            out[name] = np.array(col, dtype=float)
        except ValueError:
            bad = next(i for i, v in enumerate(col) if not _is_float(v))
            raise InputError(f"column {name!r}: {col[bad]!r} is not a number (data row "
                             f"{bad + 1})", path) from None
    return out


def _is_float(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
