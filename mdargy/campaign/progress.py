"""Progress of a running campaign, printed by world rank 0: done, running, failed, ETA.

How the ETA is estimated
------------------------
* A **running task** reports its MD step in ``progress.json`` of each of its LAMMPS runs
  (:mod:`mdargy.io.runprogress`, written by the drivers' segment loop every few seconds). Its
  measured rate (steps per second of the current stage, or of the whole session before the stage
  has two notes) and the steps left from its configuration give the MD time left; the time since
  the last note is subtracted, so the estimate falls by one second per second while the rate is
  steady. Stages are weighted by their number of unit cells (a NEMD task's NPT run and its bar).
* The **time after the MD** (analysis) is learnt from the tasks that finished in this session
  (seconds per unit of cost); before any has finished it is not counted, and the ETA says so.
* A **queued task** is priced at ``cost x seconds per cost``, measured on the finished tasks
  (their wall times) and the running ones (elapsed + predicted time left), cost-weighted.
* The tasks are then placed on the groups as the scheduler hands them out (the running ones
  first, the queued ones longest first, each on the group that frees first); the ETA is when the
  last group ends.

The estimate is marked rough (``ETA ~12m05s (rough: ...)``) with the first reason why, when a
running task has no measured rate yet, the queued tasks are priced from one task only, the
measured speeds of the tasks differ by more than 25 %, a task is still in an earlier MD stage
(its later stages are priced at the current stage's rate) or no task has finished yet (analysis
time unknown). With nothing measured it is ``?``.

Why not checkpoints: a task's checkpoint step moves only every ``checkpoint_every`` steps; a rate
computed from it decays as ``1/t`` between checkpoints, and an ETA built on it grows with time
while the run progresses steadily.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence, TextIO

from mdargy.io.runprogress import read_progress

#: a progress file whose session began this long before the task was handed out is a previous
#: session's (clock skew between nodes is allowed for)
SESSION_SLACK_S = 5.0
#: relative spread of the tasks' seconds per cost above which the ETA is marked rough
SPREAD_LIMIT = 0.25


def format_duration(s: float | None) -> str:
    if s is None or s != s or s == float("inf"):
        return "?"
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


@dataclasses.dataclass(frozen=True)
class MDStage:
    """One LAMMPS run of a task, in the order the task runs them.

    Attributes
    ----------
    progress_path : Path
        The run's ``progress.json``.
    steps : int
        Its last step (LAMMPS ``ntimestep`` at the end; the drivers start at 0).
    cells : float
        Unit cells simulated (a step costs in proportion).
    """

    progress_path: Path
    steps: int
    cells: float = 1.0

    @property
    def cost(self) -> float:
        return float(self.steps) * float(self.cells)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """Seconds until the campaign ends, and why the figure may be off (empty: measured)."""

    eta_s: float | None
    reasons: tuple[str, ...] = ()

    @property
    def rough(self) -> bool:
        return self.eta_s is None or bool(self.reasons)

    def text(self) -> str:
        if self.eta_s is None:
            return "?" + (f" ({self.reasons[0]})" if self.reasons else "")
        if not self.reasons:
            return format_duration(self.eta_s)
        more = f"; +{len(self.reasons) - 1} more" if len(self.reasons) > 1 else ""
        return f"~{format_duration(self.eta_s)} (rough: {self.reasons[0]}{more})"


@dataclasses.dataclass(frozen=True)
class _Observation:
    done: float          # cost done (cell-steps)
    total: float         # cost of all MD stages
    rate: float | None   # cost per second now
    note_time: float     # wall time of the note
    early_stage: bool    # later MD stages still to come


class Progress:
    """Counts and ETA of a campaign; ``line()`` renders them.

    Parameters
    ----------
    costs : dict
        ``{task_id: cost}`` of the tasks to run in this session (for tasks with ``stages``, in
        the same unit: cell-steps).
    n_groups : int
        Number of groups working in parallel.
    already_done : int
        Tasks finished in earlier sessions (skipped now).
    stages : dict, optional
        ``{task_id: [MDStage, ...]}``: where each task's runs report their steps.
    clock : callable
        Wall clock, Unix seconds (the progress files carry the same clock).
    read : callable
        Reader of a progress file (default :func:`mdargy.io.runprogress.read_progress`).
    """

    def __init__(self, costs: dict[str, float], n_groups: int, already_done: int = 0,
                 stream: TextIO | None = None, name: str = "campaign", clock=time.time,
                 stages: dict[str, Sequence[MDStage]] | None = None,
                 read: Callable[[Path], dict | None] = read_progress):
        self.costs = dict(costs)
        self.n_groups = max(1, n_groups)
        self.skipped = already_done
        self.done: dict[str, float] = {}
        self.failed: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.stream = stream if stream is not None else sys.stdout
        self.name = name
        self.clock = clock
        self.stages = {k: tuple(v) for k, v in (stages or {}).items()}
        self.read = read
        self.first_done: dict[str, float] = {}  # cost already done when first seen this session
        self.post_s: dict[str, float] = {}      # finished tasks: seconds after their last MD note
        self.t0 = clock()
        self.lock = threading.RLock()

    # --------------------------------------------------------------- accounting
    def start(self, task_id: str) -> None:
        with self.lock:
            self.running[task_id] = self.clock()

    def finish(self, task_id: str, ok: bool, wall_s: float,
               stages: Sequence[MDStage] | None = None) -> None:
        """``task_id`` ended; ``stages``: where its runs are now, if its folder was moved."""
        with self.lock:
            t_start = self.running.pop(task_id, None)
            (self.done if ok else self.failed)[task_id] = wall_s
            if stages is not None:
                self.stages[task_id] = tuple(stages)
            if ok and t_start is not None and task_id in self.stages:
                obs = self._observe(task_id, t_start)
                if obs is not None:  # the MD ended at the last note plus the steps after it
                    md_end = obs.note_time + (max(0.0, obs.total - obs.done) / obs.rate
                                              if obs.rate else 0.0)
                    self.post_s[task_id] = min(max(0.0, self.clock() - md_end), wall_s)

    # --------------------------------------------------------------- observation
    def _observe(self, task_id: str, t_start: float) -> _Observation | None:
        """The latest note of this session's run of ``task_id`` (None: none yet)."""
        stages = self.stages.get(task_id)
        if not stages:
            return None
        found = None
        for i in range(len(stages) - 1, -1, -1):
            rec = self.read(stages[i].progress_path)
            if rec is None or rec["first_time_unix"] < t_start - SESSION_SLACK_S:
                continue  # not started in this session
            cells = float(stages[i].cells)
            rate = None
            for s0, t0 in ((rec["stage_first_step"], rec["stage_first_time_unix"]),
                           (rec["first_step"], rec["first_time_unix"])):
                if rec["step"] > s0 and rec["time_unix"] > t0:
                    rate = cells * (rec["step"] - s0) / (rec["time_unix"] - t0)
                    break
            if found is None:
                before = sum(s.cost for s in stages[:i])
                done = before + cells * min(rec["step"], stages[i].steps)
                self.first_done.setdefault(task_id, before + cells * min(rec["first_step"],
                                                                         stages[i].steps))
                early = i < len(stages) - 1 or str(rec.get("stage", "")).startswith("equil")
                found = [done, rate, rec["time_unix"], early]
            elif found[1] is None:  # a stage just begun: an earlier stage's rate meanwhile
                found[1], found[3] = rate, True
            if found[1] is not None:
                break
        if found is None:
            return None
        done, rate, note_time, early = found
        return _Observation(done, sum(s.cost for s in stages), rate, note_time, early)

    # --------------------------------------------------------------- estimate
    def estimate(self) -> Estimate:
        with self.lock:
            return self._estimate()

    def eta_s(self) -> float | None:
        return self.estimate().eta_s

    def _estimate(self) -> Estimate:
        now = self.clock()
        pending = sorted((t for t in self.costs if t not in self.done and t not in self.failed
                          and t not in self.running), key=lambda t: (-self.costs[t], t))
        if not pending and not self.running:
            return Estimate(0.0)
        reasons: list[str] = []
        # time after the MD, per unit of cost, from this session's finished tasks
        post_cost = sum(self.costs[t] for t in self.post_s)
        post_per_cost = sum(self.post_s.values()) / post_cost if post_cost > 0 else None
        # calibration samples (seconds, cost) and the running tasks' own predictions
        samples = [(w, self.costs[t] - self.first_done.get(t, 0.0)) for t, w in self.done.items()]
        left: dict[str, float | None] = {}
        n_blind = 0
        early = False
        for t, t_start in self.running.items():
            obs = self._observe(t, t_start)
            if obs is None or obs.rate is None or obs.rate <= 0:
                left[t] = None
                n_blind += 1
                continue
            # from the last note: the MD steps left at the measured rate, then the analysis
            post = post_per_cost * self.costs[t] if post_per_cost is not None else 0.0
            left[t] = max(0.0, (obs.total - obs.done) / obs.rate + post - (now - obs.note_time))
            early = early or obs.early_stage
            samples.append(((now - t_start) + left[t], self.costs[t] - self.first_done.get(t, 0.0)))
        samples = [(w, c) for w, c in samples if c > 0 and w > 0]
        s_per_cost = (sum(w for w, _ in samples) / sum(c for _, c in samples)
                      if samples else None)
        if n_blind:
            reasons.append(f"{n_blind} running task{'s' if n_blind > 1 else ''} without a "
                           "measured step rate yet")
        if s_per_cost is None:
            return Estimate(None, tuple(reasons) or ("no step progress yet",))
        for t in left:
            if left[t] is None:  # priced like a queued task, less what it has run
                left[t] = max(0.0, self.costs[t] * s_per_cost - (now - self.running[t]))
        if pending and len(samples) == 1:
            reasons.append("queued tasks priced from one task")
        if len(samples) > 1:
            per = [w / c for w, c in samples]
            mean = sum(per) / len(per)
            spread = math.sqrt(sum((x - mean) ** 2 for x in per) / (len(per) - 1)) / mean
            if spread > SPREAD_LIMIT:
                reasons.append(f"task speeds differ by {spread:.0%}")
        if early:
            reasons.append("later MD stages priced at the current stage's rate")
        if not self.done and any(t in self.stages for t in self.running):
            reasons.append("time after the MD (analysis) not measured yet")
        # place the work on the groups as the scheduler hands it out
        free = sorted(list(left.values()) + [0.0] * max(0, self.n_groups - len(left)))
        for t in pending:
            g = min(range(len(free)), key=lambda i: free[i])
            free[g] += self.costs[t] * s_per_cost
        return Estimate(max(free), tuple(reasons))

    # --------------------------------------------------------------- output
    def line(self) -> str:
        with self.lock:
            return self._line()

    def _line(self) -> str:
        total = len(self.costs) + self.skipped
        done = len(self.done) + self.skipped
        pending = len(self.costs) - len(self.done) - len(self.failed) - len(self.running)
        elapsed = self.clock() - self.t0
        return (f"[{self.name}] {done}/{total} done, {len(self.running)} running, "
                f"{len(self.failed)} failed, {pending} pending | elapsed {format_duration(elapsed)}"
                f" | ETA {self._estimate().text()}")

    def say(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} {text}", file=self.stream, flush=True)
