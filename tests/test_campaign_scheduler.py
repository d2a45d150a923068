"""The campaign scheduler with trivial task functions: serial, and under mpirun -np 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from mdargy.campaign.progress import Progress, format_duration
from mdargy.campaign.scheduler import Events, _Dispatcher, lpt_assignment, run_queue

MPIRUN = Path(sys.executable).parent / "mpirun"


@dataclass(frozen=True)
class T:
    id: str
    cost: float


class Recorder(Events):
    def __init__(self):
        self.started, self.finished = [], []

    def on_start(self, task, group, n_ranks):
        self.started.append((task.id, group, n_ranks))

    def on_finish(self, task, outcome):
        self.finished.append(outcome)


def test_dispatcher_hands_out_longest_first_and_stops():
    tasks = [T("a", 1), T("b", 5), T("c", 3), T("d", 5)]
    rec = Recorder()
    d = _Dispatcher(tasks, rec, None, 1)
    got = [d.exchange(0, None) for _ in range(4)]
    assert [tasks[i].id for i in got] == ["b", "d", "c", "a"]  # cost desc, ties by id
    assert d.exchange(1, None) is None


def test_lpt_assignment_balances():
    costs = [7, 5, 4, 3, 3, 2]
    groups = lpt_assignment(costs, 2)
    loads = sorted(sum(costs[i] for i in g) for g in groups)
    assert loads == [12, 12]
    assert sorted(i for g in groups for i in g) == list(range(6))


def test_serial_queue_records_failures_and_continues():
    tasks = [T(f"t{i}", c) for i, c in enumerate([1, 4, 2, 3])]
    ran = []

    def execute(task, comm):
        ran.append(task.id)
        assert comm.Get_size() == 1
        if task.id == "t3":
            raise ValueError("boom")
        return {"square": task.cost ** 2}

    rec = Recorder()
    outs = run_queue(tasks, execute, events=rec, poll_s=0.001)
    assert ran == ["t1", "t3", "t2", "t0"]  # longest first
    by = {o.task_id: o for o in outs}
    assert not by["t3"].ok and "ValueError: boom" in by["t3"].error and "Traceback" in by["t3"].traceback
    assert by["t1"].ok and by["t1"].info == {"square": 16.0}
    assert len(rec.finished) == 4 and [s[0] for s in rec.started] == ran


def test_bad_ranks_per_task():
    from mdargy.errors import InputError

    with pytest.raises(InputError, match="ranks-per-task"):
        run_queue([T("a", 1)], lambda t, c: None, ranks_per_task=2)


def test_progress_eta():
    now = [0.0]
    p = Progress({"a": 10.0, "b": 10.0, "c": 20.0}, n_groups=2, clock=lambda: now[0])
    assert p.eta_s() is None and "ETA ?" in p.line()
    p.start("a"), p.start("b")
    now[0] = 5.0
    p.finish("a", True, 5.0)  # rate = 2 cost/s per group
    p.start("c")
    # b: 5 s expected, 5 s elapsed -> 0 left; c: 10 s -> over 2 groups 5 s, but >= 10 s (one group)
    assert p.eta_s() == pytest.approx(10.0)
    assert "1/3 done, 2 running, 0 failed, 0 pending" in p.line()
    assert format_duration(3725) == "1h02m" and format_duration(75) == "1m15s"


_MPI_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from dataclasses import dataclass
    from mpi4py import MPI
    from mdargy.campaign.scheduler import Events, run_queue

    @dataclass(frozen=True)
    class T:
        id: str
        cost: float

    k, mode = int(sys.argv[1]), sys.argv[2]
    world = MPI.COMM_WORLD
    starts = []

    class Rec(Events):
        def on_start(self, task, group, n):
            starts.append([task.id, group, n])

    tasks = [T(f"t{i}", c) for i, c in enumerate([0.05, 0.4, 0.1, 0.3, 0.2, 0.15])]

    def execute(task, sub):
        time.sleep(task.cost)
        if task.id == "t2":
            raise RuntimeError(f"task t2 fails on purpose on rank {world.Get_rank()}")
        ranks = sub.allgather(world.Get_rank())
        return {"ranks": ranks}

    outs = run_queue(tasks, execute, ranks_per_task=k, events=Rec(), poll_s=0.005, mode=mode)
    if world.Get_rank() == 0:
        print(json.dumps({"outcomes": [o.__dict__ for o in outs], "starts": starts}))
    else:
        assert len(outs) == len(tasks)
    """
)


def _mpirun(tmp_path, k, mode="auto"):
    script = tmp_path / "sched.py"
    script.write_text(_MPI_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([str(MPIRUN), "-np", "2", sys.executable, str(script), str(k), mode],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr + p.stdout
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_mpi_two_groups_of_one_rank(tmp_path, mode):
    res = _mpirun(tmp_path, 1, mode)
    outs = {o["task_id"]: o for o in res["outcomes"]}
    assert sorted(outs) == [f"t{i}" for i in range(6)]  # every task ran exactly once
    assert not outs["t2"]["ok"] and "fails on purpose" in outs["t2"]["error"]
    assert all(o["ok"] for tid, o in outs.items() if tid != "t2")
    groups = {o["group"] for o in res["outcomes"]}
    assert groups == {0, 1}  # both groups worked, rank 0 included
    for o in res["outcomes"]:
        if o["ok"]:
            assert o["info"]["ranks"] == [o["group"]] and o["n_ranks"] == 1
    if mode == "dynamic":
        # the first two tasks handed out are the two longest
        assert sorted(s[0] for s in res["starts"][:2]) == ["t1", "t3"]
        # busy time is balanced: neither group did everything
        load = {g: sum(o["wall_s"] for o in res["outcomes"] if o["group"] == g) for g in (0, 1)}
        assert min(load.values()) > 0.3 * max(load.values())


def test_mpi_one_group_of_two_ranks(tmp_path):
    res = _mpirun(tmp_path, 2)
    outs = {o["task_id"]: o for o in res["outcomes"]}
    assert len(outs) == 6 and {o["group"] for o in res["outcomes"]} == {0}
    assert outs["t1"]["info"]["ranks"] == [0, 1] and outs["t1"]["n_ranks"] == 2
    # the failure raised on both ranks is reported once, with its message
    assert not outs["t2"]["ok"] and "fails on purpose on rank 0" in outs["t2"]["error"]


def test_stop_after_hands_out_no_new_task():
    import time as _t

    tasks = [T("long", 3), T("b", 2), T("c", 1)]
    ran = []

    def execute(task, comm):
        ran.append(task.id)
        _t.sleep(0.3)

    outs = run_queue(tasks, execute, stop_after_s=0.1, poll_s=0.001)
    assert ran == ["long"] and [o.task_id for o in outs] == ["long"]
