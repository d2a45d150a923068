"""A running MD run's step progress, in a small JSON file other processes can read.

The driver's segment loop notes the LAMMPS step after every segment; at most every
:data:`MIN_INTERVAL_S` seconds (and at every change of stage) the writer replaces
``progress.json`` in the run directory with::

    {"format": "mdargy-run-progress/1", "step": 12000, "stage": "production",
     "time_unix": ..., "first_step": 2000, "first_time_unix": ...,
     "stage_first_step": 10000, "stage_first_time_unix": ..., "pid": ...}

``first_*`` is this process's first note (after its first segment, so LAMMPS's setup is not
counted) and ``stage_first_*`` the first note of the current stage: a reader gets the measured
step rate of the whole session and of the current stage without keeping a history. The steps are
LAMMPS's ``ntimestep``, which the drivers keep continuous across stages and resumes. A campaign
reads these files to estimate when its running tasks will end
(:mod:`mdargy.campaign.progress`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from mdargy.io.atomic import atomic_write_json

PROGRESS_NAME = "progress.json"
PROGRESS_FORMAT = "mdargy-run-progress/1"
#: seconds between two writes of the file (a change of stage is written at once)
MIN_INTERVAL_S = 2.0


class ProgressFile:
    """Writer of ``progress.json`` (one per run, on the rank that writes the outputs).

    Parameters
    ----------
    path : path
        The file (``<run directory>/progress.json``).
    min_interval_s : float
        Seconds between writes; notes in between only update the memory.
    clock : callable
        Wall clock in Unix seconds (``time.time``; tests pass their own).
    """

    def __init__(self, path, min_interval_s: float = MIN_INTERVAL_S, clock=time.time):
        self.path = Path(path)
        self.min_interval_s = float(min_interval_s)
        self.clock = clock
        self.first: tuple[int, float] | None = None
        self.stage: str | None = None
        self.stage_first: tuple[int, float] | None = None
        self.last_write = -float("inf")

    def note(self, step: int, stage: str) -> bool:
        """Record that ``step`` was reached in ``stage``; returns whether the file was written."""
        now = float(self.clock())
        step = int(step)
        if self.first is None:
            self.first = (step, now)
        force = stage != self.stage
        if force:
            self.stage, self.stage_first = stage, (step, now)
        if not force and now - self.last_write < self.min_interval_s:
            return False
        atomic_write_json(self.path, {
            "format": PROGRESS_FORMAT, "step": step, "stage": stage, "time_unix": now,
            "first_step": self.first[0], "first_time_unix": self.first[1],
            "stage_first_step": self.stage_first[0], "stage_first_time_unix": self.stage_first[1],
            "pid": os.getpid()})
        self.last_write = now
        return True


def read_progress(path) -> dict | None:
    """The content of a ``progress.json``; None when absent, being replaced or not ours."""
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(d, dict) or d.get("format") != PROGRESS_FORMAT:
        return None
    try:
        for key in ("step", "first_step", "stage_first_step"):
            d[key] = int(d[key])
        for key in ("time_unix", "first_time_unix", "stage_first_time_unix"):
            d[key] = float(d[key])
    except (KeyError, TypeError, ValueError):
        return None
    return d
