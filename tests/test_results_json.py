"""Result dataclasses survive a JSON round trip, NaN included (JSON has no NaN: it is written
as null and must come back as NaN in a float field, not as None)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mdargy.results import Result


@dataclasses.dataclass(frozen=True)
class _Demo(Result):
    kappa_W_mK: float
    change: float
    note: str | None
    values: np.ndarray


def test_nan_float_fields_come_back_as_nan(tmp_path):
    r = _Demo(kappa_W_mK=0.3, change=float("nan"), note=None,
              values=np.array([1.0, float("nan")]))
    path = tmp_path / "r.json"
    r.to_json(path)
    back = _Demo.from_json(path)
    assert back.kappa_W_mK == 0.3 and math.isnan(back.change)
    assert back.note is None  # an optional field keeps its None
    assert np.isnan(back.values[1]) and back.values[0] == 1.0
