"""Progress of a running campaign, printed by world rank 0: done, running, failed, ETA.

The ETA is an estimate: the throughput (task cost per second of one group) is learnt from the
tasks finished in this session and applied to the cost still to do, spread over the groups; a
running task is counted as done in proportion to its elapsed time. Before any task has finished
the ETA is unknown and printed as ``?``.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def format_duration(s: float | None) -> str:
    if s is None or s != s or s == float("inf"):
        return "?"
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


class Progress:
    """Counts and ETA of a campaign; ``line()`` renders them.

    Parameters
    ----------
    costs : dict
        ``{task_id: cost}`` of the tasks to run in this session.
    n_groups : int
        Number of groups working in parallel.
    already_done : int
        Tasks finished in earlier sessions (skipped now).
    fraction : callable, optional
        ``fraction(task_id)``: how much of a running task is done (0-1), e.g. from its last
        checkpoint; gives an ETA before the first task finishes.
    """

    def __init__(self, costs: dict[str, float], n_groups: int, already_done: int = 0,
                 stream: TextIO | None = None, name: str = "campaign", clock=time.monotonic,
                 fraction=None):
        self.costs = dict(costs)
        self.n_groups = max(1, n_groups)
        self.skipped = already_done
        self.done: dict[str, float] = {}
        self.failed: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.stream = stream if stream is not None else sys.stdout
        self.name = name
        self.clock = clock
        self.fraction = fraction  # task_id -> fraction done (from checkpoints) or None
        self.start_fraction: dict[str, float] = {}
        self.t0 = clock()
        self.lock = threading.RLock()

    # --------------------------------------------------------------- accounting
    def start(self, task_id: str) -> None:
        with self.lock:
            self.running[task_id] = self.clock()
            f0 = self.fraction(task_id) if self.fraction is not None else None
            self.start_fraction[task_id] = f0 or 0.0  # a resumed task starts part done

    def finish(self, task_id: str, ok: bool, wall_s: float) -> None:
        with self.lock:
            self.running.pop(task_id, None)
            (self.done if ok else self.failed)[task_id] = wall_s

    def rate(self) -> float | None:
        """Cost per second of one group, from this session's finished tasks.

        Before any task has finished, the running tasks' checkpointed progress is used (when
        ``fraction`` is given and a task is at least 5 % done).
        """
        cost = sum(self.costs[t] for t in self.done)
        wall = sum(self.done.values())
        if wall > 0 and cost > 0:
            return cost / wall
        if self.fraction is None:
            return None
        now = self.clock()
        rates = []
        for t, t0 in self.running.items():
            f = self.fraction(t)
            if f is None:
                continue
            df = min(f, 1.0) - self.start_fraction.get(t, 0.0)
            if df >= 0.05 and now > t0:
                rates.append(self.costs[t] * df / (now - t0))
        return sum(rates) / len(rates) if rates else None

    def eta_s(self) -> float | None:
        with self.lock:
            return self._eta_s()

    def _eta_s(self) -> float | None:
        rate = self.rate()
        if rate is None:
            return None
        now = self.clock()
        pending = [t for t in self.costs if t not in self.done and t not in self.failed
                   and t not in self.running]
        left_running = []
        for t, t0 in self.running.items():
            f = self.fraction(t) if self.fraction is not None else None
            if f is not None and 0 <= f <= 1:
                left_running.append(self.costs[t] * (1.0 - f) / rate)
            else:
                left_running.append(max(0.0, self.costs[t] / rate - (now - t0)))
        work = sum(self.costs[t] for t in pending) / rate + sum(left_running)
        eta = work / self.n_groups
        return max([eta] + left_running)

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
                f" | ETA {format_duration(self.eta_s())}")

    def say(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} {text}", file=self.stream, flush=True)
