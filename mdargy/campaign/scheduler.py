"""MPI task scheduler: split COMM_WORLD into groups of ``k`` ranks and hand out tasks dynamically.

Design
------
``N`` ranks are split (``MPI_Comm_split``) into ``G = N / k`` sub-communicators ("groups") of ``k``
ranks; each task runs on one group (one LAMMPS instance on that sub-communicator). Tasks are
handed out from a single queue on world rank 0, **longest first** (classic LPT ordering: the long
runs start early, the short ones fill the gaps at the end), each time a group becomes free.

World rank 0 is both a worker (leader of group 0) and the dispatcher. The dispatcher is a
lightweight Python thread on rank 0 that waits for requests with ``MPI_Improbe`` and sleeps
between polls, so it costs nothing measurable while LAMMPS runs in the main thread (LAMMPS
releases the GIL inside its C++ calls). A *dedicated* dispatcher rank would waste one rank out
of ``N`` -- half the machine on a 2-core laptop, and it would make ``N/k`` groups impossible
whenever ``k`` divides ``N`` -- so it is not used. The thread needs ``MPI_THREAD_MULTIPLE``,
which mpi4py requests by default; dispatcher traffic goes over a duplicated communicator so it
never mixes with LAMMPS messages. If the MPI library does not provide that thread level (for
example Cray MPICH without ``MPICH_MAX_THREAD_SAFETY=multiple``) the scheduler falls back to a
static longest-processing-time assignment computed identically on every rank, and says so.

With ``G == 1`` (one rank, or ``k == N``) the queue runs in the calling thread with no messages.

Idle ranks wait with non-blocking barriers and short sleeps instead of MPI's busy-polling
blocking calls, so a finished group does not steal CPU time from the groups still running.

A task that raises is recorded (error text and traceback) and the campaign goes on. When ``k > 1``
an error raised on only *some* ranks of a group inside a collective LAMMPS operation cannot be
recovered by any scheduler (the other ranks wait forever, or LAMMPS calls ``MPI_Abort``); such
runs end the job and are resumed by re-running the campaign.
"""

from __future__ import annotations

import collections
import dataclasses
import sys
import threading
import time
import traceback
from typing import Any, Callable, Protocol, Sequence

from mdargy.errors import InputError
from mdargy.lammps.runtime import get_comm

_TAG_REQUEST = 11
_TAG_REPLY = 12


class TaskLike(Protocol):
    id: str
    cost: float


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one task."""

    task_id: str
    ok: bool
    wall_s: float
    group: int
    n_ranks: int
    error: str | None = None
    traceback: str | None = None
    info: Any = None


class Events:
    """Callbacks run on world rank 0, one at a time (under a lock), when tasks start and end.

    Subclass and override; exceptions raised by a callback are printed and otherwise ignored so
    that bookkeeping trouble never stops the computation.
    """

    def on_start(self, task, group: int, n_ranks: int) -> None:  # pragma: no cover - default
        pass

    def on_finish(self, task, outcome: Outcome) -> None:  # pragma: no cover - default
        pass

    def on_tick(self) -> None:  # pragma: no cover - default
        pass


class _Dispatcher:
    """The queue: thread-safe hand-out of task indices, longest first."""

    def __init__(self, tasks: Sequence[TaskLike], events: Events, stop_after_s: float | None,
                 n_ranks_per_group: int):
        order = sorted(range(len(tasks)), key=lambda i: (-float(tasks[i].cost), tasks[i].id))
        self.tasks = tasks
        self.pending = collections.deque(order)
        self.running: dict[int, int] = {}
        self.outcomes: list[Outcome] = []
        self.events = events
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.stop_after_s = stop_after_s
        self.k = n_ranks_per_group

    def _call(self, name, *args):
        try:
            getattr(self.events, name)(*args)
        except Exception as exc:  # bookkeeping must not stop the campaign
            print(f"mdargy campaign: warning: {name} callback failed: {exc!r}", file=sys.stderr,
                  flush=True)

    def exchange(self, group: int, finished: Outcome | None) -> int | None:
        """Record ``finished`` (if any) for ``group`` and return its next task (None: stop)."""
        with self.lock:
            if finished is not None:
                idx = self.running.pop(group)
                self.outcomes.append(finished)
                self._call("on_finish", self.tasks[idx], finished)
            if not self.pending:
                return None
            if self.stop_after_s is not None and time.monotonic() - self.t0 > self.stop_after_s:
                return None
            idx = self.pending.popleft()
            self.running[group] = idx
            self._call("on_start", self.tasks[idx], group, self.k)
            return idx

    def tick(self):
        with self.lock:
            self._call("on_tick")


def _idle_wait(req, poll_s: float) -> None:
    """Complete a non-blocking request, sleeping between tests instead of spinning."""
    while not req.Test():
        time.sleep(poll_s)


def _recv_sleeping(comm, source, tag, poll_s: float):
    """A blocking receive that sleeps while waiting (MPICH's blocking calls busy-poll)."""
    while True:
        msg = comm.improbe(source=source, tag=tag)
        if msg is not None:
            return msg.recv()
        time.sleep(poll_s)


def _serve(ctl, dispatcher: _Dispatcher, n_remote: int, poll_s: float, tick_s: float, errors: list):
    """Dispatcher thread on world rank 0: answer the leaders of groups 1..G-1."""
    from mpi4py import MPI

    try:
        active = n_remote
        last_tick = time.monotonic()
        status = MPI.Status()
        while active:
            msg = ctl.improbe(source=MPI.ANY_SOURCE, tag=_TAG_REQUEST, status=status)
            if msg is None:
                time.sleep(poll_s)
                if tick_s and time.monotonic() - last_tick > tick_s:
                    dispatcher.tick()
                    last_tick = time.monotonic()
                continue
            src = status.Get_source()
            group, finished = msg.recv()
            nxt = dispatcher.exchange(group, finished)
            ctl.send(nxt, dest=src, tag=_TAG_REPLY)
            if nxt is None:
                active -= 1
    except BaseException as exc:  # pragma: no cover - only on MPI failure
        errors.append(exc)
        traceback.print_exc()


def _execute(task, execute, sub, group: int) -> Outcome:
    """Run one task on the group's communicator; every rank returns the same Outcome."""
    t0 = time.monotonic()
    ok, err, tb, info = True, None, None, None
    try:
        info = execute(task, sub)
    except Exception as exc:
        ok, err, tb = False, f"{type(exc).__name__}: {exc}", traceback.format_exc()
    if sub.Get_size() > 1:
        results = sub.allgather((ok, err, tb))
        bad = [r for r in results if not r[0]]
        if bad:
            ok, err, tb = False, bad[0][1], bad[0][2]
        info = sub.bcast(info, root=0)
    return Outcome(task.id, ok, time.monotonic() - t0, group, sub.Get_size(), err, tb,
                   info if ok else None)


def _group_loop(tasks, execute, sub, group: int, next_task: Callable) -> None:
    finished = None
    while True:
        idx = next_task(finished) if sub.Get_rank() == 0 else None
        if sub.Get_size() > 1:
            idx = sub.bcast(idx, root=0)
        if idx is None:
            return
        finished = _execute(tasks[idx], execute, sub, group)


def lpt_assignment(costs: Sequence[float], n_groups: int) -> list[list[int]]:
    """Longest-processing-time-first static assignment of tasks to ``n_groups`` groups."""
    loads = [0.0] * n_groups
    out: list[list[int]] = [[] for _ in range(n_groups)]
    for i in sorted(range(len(costs)), key=lambda i: -float(costs[i])):
        g = min(range(n_groups), key=lambda g: (loads[g], g))
        out[g].append(i)
        loads[g] += float(costs[i])
    return out


def thread_multiple_available() -> bool:
    from mpi4py import MPI

    return MPI.Query_thread() >= MPI.THREAD_MULTIPLE


def run_queue(
    tasks: Sequence[TaskLike],
    execute: Callable[[Any, Any], Any],
    comm=None,
    ranks_per_task: int = 1,
    events: Events | None = None,
    poll_s: float = 0.02,
    tick_s: float = 60.0,
    stop_after_s: float | None = None,
    mode: str = "auto",
) -> list[Outcome]:
    """Run ``execute(task, subcomm)`` for every task, ``ranks_per_task`` ranks per task.

    Collective over ``comm`` (default COMM_WORLD).

    Parameters
    ----------
    tasks : sequence
        Objects with ``id`` and ``cost``; handed out in decreasing ``cost``.
    execute : callable
        ``execute(task, subcomm)`` runs one task collectively on ``subcomm`` and returns a
        picklable value (taken from the group's rank 0), or raises.
    ranks_per_task : int
        ``k``; must divide the size of ``comm``.
    events : Events, optional
        Progress/bookkeeping callbacks, called on rank 0 of ``comm``.
    poll_s : float
        Sleep between polls of idle ranks and of the dispatcher, seconds.
    tick_s : float
        Period of ``events.on_tick`` while tasks run (dynamic mode), seconds; 0 disables.
    stop_after_s : float, optional
        Hand out no new task after this many seconds (running tasks finish). For batch jobs
        with a wall-time limit.
    mode : {"auto", "dynamic", "static"}
        ``auto`` uses the dynamic queue when MPI provides ``THREAD_MULTIPLE``.

    Returns
    -------
    list of Outcome
        Every finished or failed task (in completion order), identical on all ranks. Tasks not
        handed out (``stop_after_s``) are absent.
    """
    comm = get_comm(comm)
    events = events or Events()
    size, rank = comm.Get_size(), comm.Get_rank()
    k = int(ranks_per_task)
    if k < 1 or size % k:
        raise InputError(f"--ranks-per-task {k} must be a positive divisor of the number of MPI "
                         f"ranks ({size}); e.g. run with mpirun -np {max(k, 1) * max(1, size // max(k, 1))}")
    n_groups = size // k
    group = rank // k
    if mode == "auto":
        mode = "dynamic" if (n_groups == 1 or thread_multiple_available()) else "static"
    if mode == "static" and rank == 0 and n_groups > 1:
        print("mdargy campaign: MPI lacks THREAD_MULTIPLE; using a static longest-first "
              "assignment of tasks to groups", file=sys.stderr, flush=True)

    sub = comm.Split(color=group, key=rank)
    ctl = comm.Dup()
    try:
        dispatcher = _Dispatcher(tasks, events, stop_after_s, k) if rank == 0 else None
        if mode == "dynamic":
            thread = None
            errors: list = []
            if rank == 0 and n_groups > 1:
                thread = threading.Thread(target=_serve, name="mdargy-dispatcher",
                                          args=(ctl, dispatcher, n_groups - 1, poll_s, tick_s, errors),
                                          daemon=True)
                thread.start()
            if rank == 0:
                def next_task(finished):
                    return dispatcher.exchange(0, finished)
            else:
                def next_task(finished):
                    ctl.send((group, finished), dest=0, tag=_TAG_REQUEST)
                    return _recv_sleeping(ctl, 0, _TAG_REPLY, poll_s)
            _group_loop(tasks, execute, sub, group, next_task)
            if thread is not None:
                while thread.is_alive():
                    thread.join(timeout=tick_s or None)
                    if thread.is_alive() and tick_s:
                        dispatcher.tick()
            _idle_wait(ctl.Ibarrier(), poll_s)
            outcomes = ctl.bcast(dispatcher.outcomes if rank == 0 else None, root=0)
        elif mode == "static":
            mine = lpt_assignment([t.cost for t in tasks], n_groups)[group]
            queue = collections.deque(mine)
            local: list[Outcome] = []
            t0 = time.monotonic()

            def next_task(finished):
                if finished is not None:
                    local.append(finished)
                    if rank == 0:
                        dispatcher._call("on_finish", tasks[mine[len(local) - 1]], finished)
                if not queue or (stop_after_s is not None and time.monotonic() - t0 > stop_after_s):
                    return None
                idx = queue.popleft()
                if rank == 0:
                    dispatcher._call("on_start", tasks[idx], group, k)
                return idx

            _group_loop(tasks, execute, sub, group, next_task)
            _idle_wait(ctl.Ibarrier(), poll_s)
            leaders = ctl.gather(local if sub.Get_rank() == 0 else [], root=0)
            outcomes = None
            if rank == 0:
                outcomes = list(local)
                by_id = {t.id: t for t in tasks}
                for g_out in leaders[1:]:
                    for o in g_out:
                        dispatcher._call("on_finish", by_id[o.task_id], o)
                        outcomes.append(o)
            outcomes = ctl.bcast(outcomes, root=0)
        else:
            raise ValueError(f"unknown scheduling mode {mode!r}")
    finally:
        sub.Free()
        ctl.Free()
    return outcomes
