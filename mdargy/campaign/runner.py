"""``campaign run``: validate, reconcile the store, schedule the tasks, keep the index current.

Collective over the communicator (COMM_WORLD by default). World rank 0 validates the file,
rebuilds the index from disk, prints progress and writes the index and the lock; each group's
rank 0 writes its task's directory; every rank runs LAMMPS.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

from mdargy.campaign import adapters
from mdargy.campaign.committed import RestoreResult, restore_committed
from mdargy.campaign.execute import run_task
from mdargy.campaign.progress import MDStage, Progress, format_duration
from mdargy.campaign.scheduler import Events, Outcome, run_queue
from mdargy.campaign.schema import CampaignSpec, load_campaign
from mdargy.campaign.store import CampaignStore, utc_now
from mdargy.campaign.tasks import Task, build_tasks
from mdargy.errors import InputError, MdargyError
from mdargy.io.runprogress import PROGRESS_NAME
from mdargy.lammps.runtime import get_comm, serial_ase_io
from mdargy.results import provenance

#: ``executor(spec, task, workdir, comm) -> dict`` runs one task (collectively on ``comm``) in
#: ``workdir`` and returns a JSON-able summary of its outputs (on the group's rank 0).
Executor = Callable[[CampaignSpec, Task, Path, object], dict]


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """What one ``campaign run`` did."""

    output: str
    n_tasks: int
    ran: tuple[str, ...]
    done_now: tuple[str, ...]
    failed: dict
    skipped_done: tuple[str, ...]
    stale: tuple[str, ...]
    not_started: tuple[str, ...]
    wall_s: float
    restored: tuple[str, ...] = ()
    committed_rejected: dict = dataclasses.field(default_factory=dict)
    left_out: tuple[str, ...] = ()  # pending tasks not chosen by ``only``

    @property
    def complete(self) -> bool:
        """Every task of the campaign is done."""
        return self.selection_complete and not self.left_out

    @property
    def selection_complete(self) -> bool:
        """Every task this run was asked to run is done (all of them without ``only``)."""
        return not self.failed and not self.stale and not self.not_started

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _bcast_or_raise(comm, fn):
    """Run ``fn`` on rank 0 and broadcast its value; an MdargyError is re-raised on every rank."""
    payload = None
    if comm.Get_rank() == 0:
        try:
            payload = (fn(), None)
        except MdargyError as exc:
            payload = (None, exc)
        except Exception as exc:  # keep the ranks together, then fail everywhere
            payload = (None, MdargyError(f"{type(exc).__name__}: {exc}"))
    value, exc = comm.bcast(payload, root=0)
    if exc is not None:
        raise exc
    return value


def _md_steps(cfg) -> int:
    """Steps of a driver run: its last LAMMPS step (equilibration + production or NEMD)."""
    return cfg.equilibration_steps + cfg.production_steps


def md_stages(spec: CampaignSpec, task: Task, workdir: Path) -> list[MDStage]:
    """The LAMMPS runs of ``task`` in order, with their step counts and sizes (for the ETA)."""
    cfg = adapters.driver_config(spec, task, workdir)
    stages = []
    if task.kind == "nemd" and spec.nemd.npt_ps > 0:
        npt = adapters.npt_config(spec, task, workdir, cfg.structure, cfg.type_elements, seed=1)
        stages.append(MDStage(Path(npt.output_dir) / PROGRESS_NAME, _md_steps(npt),
                              math.prod(npt.replicate)))
    stages.append(MDStage(Path(cfg.output_dir) / PROGRESS_NAME, _md_steps(cfg),
                          math.prod(cfg.replicate)))
    return stages


def _load(campaign, output):
    """The spec, its tasks (validated) and the campaign file's text (rank 0)."""
    if isinstance(campaign, CampaignSpec):
        spec = campaign if output is None else dataclasses.replace(
            campaign, output=Path(output).expanduser().resolve())
        text = Path(spec.path).read_text() if Path(spec.path).exists() else ""
    else:
        spec = load_campaign(campaign, output=output)
        text = Path(campaign).read_text()
    tasks = build_tasks(spec)
    adapters.validate_tasks(spec, tasks)
    return spec, tasks, text


def _committed_dir(spec: CampaignSpec, committed) -> Path | None:
    """The folder of committed results: ``committed`` (must exist) or the file's key."""
    if committed is None:
        return spec.committed
    path = Path(committed).expanduser().resolve()
    if not path.is_dir():
        raise InputError("no such folder of committed results", path)
    return path


def _reconcile(store: CampaignStore, spec: CampaignSpec, tasks, text: str, committed,
               reanalyse=()) -> tuple[dict, RestoreResult | None]:
    """Prepare the store, restore committed tasks, reopen ``reanalyse``, rebuild the index
    from disk (rank 0, under the lock). Returns the statuses and what was restored."""
    by_id = {t.id: t for t in tasks}
    store.prepare(text, spec.raw_sha256)
    restored = None
    if reanalyse or committed is not None:
        store.scan(tasks)  # finishes interrupted renames before anything moves
    if committed is not None:
        restored = restore_committed(store, tasks, committed)
    for tid in reanalyse:
        if tid not in by_id:
            raise InputError(f"--reanalyse {tid}: no such task in this campaign "
                             f"(tasks: {', '.join(sorted(by_id))})", spec.path)
        if by_id[tid].kind != "emd":
            raise InputError(f"--reanalyse {tid}: only EMD tasks have analyses to redo",
                             spec.path)
        store.reopen(tid)
    return store.scan(tasks), restored


def restore_campaign(campaign, output: str | Path | None = None,
                     committed: str | Path | None = None) -> RestoreResult:
    """Restore committed finished tasks into the output directory and write its index; run
    nothing (``mdargy campaign restore``). ``committed`` defaults to ``[campaign] committed``."""
    spec, tasks, text = _load(campaign, output)
    src = _committed_dir(spec, committed)
    if src is None:
        raise InputError("no committed results: give --from DIR or set [campaign] committed",
                         spec.path)
    store = CampaignStore(spec.output)
    store.acquire_lock(stale_s=4 * HEARTBEAT_S)
    try:
        _, restored = _reconcile(store, spec, tasks, text, src)
        store.set_meta(campaign=spec.name, campaign_file=str(spec.path),
                       campaign_sha256=spec.raw_sha256, output=str(spec.output))
        store.write_index()
    finally:
        store.release_lock()
    return restored


class _CampaignEvents(Events):
    def __init__(self, store: CampaignStore, progress: Progress, tasks: dict[str, Task], quiet: bool,
                 spec: CampaignSpec):
        self.store, self.progress, self.tasks, self.quiet = store, progress, tasks, quiet
        self.spec = spec

    def on_start(self, task, group, n_ranks):
        e = self.store.index["tasks"][task.id]
        self.store.update(task.id, status="running", attempts=e["attempts"] + 1,
                          started_utc=utc_now(), group=group, n_ranks=n_ranks, error=None)
        self.progress.start(task.id)
        if not self.quiet:
            how = "resuming" if e.get("resumed") else "starting"
            self.progress.say(f"{how} {task.id} on group {group} ({n_ranks} rank"
                              f"{'s' if n_ranks > 1 else ''})")
            self.progress.say(self.progress.line())

    def on_finish(self, task, outcome: Outcome):
        # a finished task's folder has moved from work/ to tasks/ (its last progress notes
        # give the time spent after the MD)
        final = self.store.final_path(task.id)
        self.progress.finish(task.id, outcome.ok, outcome.wall_s,
                             md_stages(self.spec, task, final) if final.is_dir() else None)
        if outcome.ok:
            self.store.update(task.id, status="done", wall_s=outcome.wall_s, error=None,
                              finished_utc=utc_now())
        else:
            self.store.record_failure(task.id, outcome.error or "", outcome.traceback,
                                      wall_s=outcome.wall_s)
            self.store.update(task.id, status="failed", wall_s=outcome.wall_s, error=outcome.error,
                              finished_utc=utc_now())
        if not self.quiet:
            if outcome.ok:
                self.progress.say(f"done {task.id} in {format_duration(outcome.wall_s)}")
            else:
                self.progress.say(f"FAILED {task.id} after {format_duration(outcome.wall_s)}: "
                                  f"{outcome.error} (traceback in "
                                  f"{self.store.work_path(task.id) / 'error.txt'})")
            self.progress.say(self.progress.line())

    def on_tick(self):
        if not self.quiet:
            self.progress.say(self.progress.line())


#: Seconds between refreshes of the run lock (a lock older than 4 periods is stale).
HEARTBEAT_S = 15.0


def _heartbeat_loop(stop: threading.Event, events: _CampaignEvents, tick_s: float):
    """Rank 0 helper thread: refresh the lock, print a progress line every ``tick_s``."""
    last = time.monotonic()
    while not stop.wait(HEARTBEAT_S if not tick_s else min(HEARTBEAT_S, tick_s)):
        events.store.heartbeat()
        if tick_s and time.monotonic() - last >= tick_s:
            last = time.monotonic()
            events.on_tick()


def run_campaign(
    campaign,
    comm=None,
    ranks_per_task: int = 1,
    output: str | Path | None = None,
    retry_failed: bool = True,
    executor: Executor | None = None,
    stop_after_s: float | None = None,
    quiet: bool = False,
    tick_s: float = 60.0,
    poll_s: float = 0.02,
    reanalyse: Sequence[str] = (),
    committed: str | Path | None = None,
    only: Sequence[str] = (),
) -> RunSummary:
    """Run (or resume) a campaign. Collective over ``comm``.

    Parameters
    ----------
    campaign : path or CampaignSpec
        The campaign file (validated on rank 0 before anything runs) or a parsed spec.
    ranks_per_task : int
        MPI ranks per task; must divide the number of ranks.
    output : path, optional
        Override of the file's output directory.
    retry_failed : bool
        Run tasks that failed in an earlier session again (default) or leave them failed.
    executor : callable, optional
        Runs one task; default :func:`mdargy.campaign.execute.run_task` (LAMMPS + analysis).
    stop_after_s : float, optional
        Hand out no new task after this many seconds (for batch jobs).
    quiet : bool
        Print nothing but errors.
    reanalyse : sequence of str
        Finished EMD tasks whose analyses (MSD, DOS, Green–Kubo, lattice, ionic) are redone with
        the file's current analysis settings, on their finished MD (:meth:`CampaignStore.reopen`).
    committed : path, optional
        Folder of committed results (``mdargy campaign export``); default ``[campaign]
        committed``. Finished tasks found there with the same fingerprint are restored into the
        output directory and count as done (:func:`mdargy.campaign.committed.restore_committed`).
    only : sequence of str
        Run only the tasks whose ids match one of these shell patterns (``nemd_T100K_L12``,
        ``nemd_T100K_*``); the others are left as they are (``not_started``). Splits a campaign
        over sessions or allocations by hand; a pattern that matches no task is an error.

    Returns
    -------
    RunSummary
        The same on every rank.
    """
    comm = get_comm(comm)
    serial_ase_io()
    rank = comm.Get_rank()
    t_start = time.monotonic()
    if executor is None:
        executor = run_task

    def load():
        spec, tasks, text = _load(campaign, output)
        unmatched = [p for p in only if not any(fnmatch.fnmatchcase(t.id, p) for t in tasks)]
        if unmatched:
            raise InputError(f"--only {' '.join(unmatched)}: no task of the campaign matches "
                             f"(its tasks: {', '.join(t.id for t in tasks)})", spec.path)
        return spec, tasks, text, _committed_dir(spec, committed)

    spec, tasks, text, committed_dir = _bcast_or_raise(comm, load)
    by_id = {t.id: t for t in tasks}
    store = CampaignStore(spec.output)
    k = int(ranks_per_task)
    n_groups = comm.Get_size() // k if k >= 1 and comm.Get_size() % k == 0 else 0
    if n_groups == 0:
        raise InputError(f"--ranks-per-task {k} must be a positive divisor of the number of MPI "
                         f"ranks ({comm.Get_size()})")

    def prepare():
        store.acquire_lock(stale_s=4 * HEARTBEAT_S)
        try:
            statuses, restored = _reconcile(store, spec, tasks, text, committed_dir, reanalyse)
        except BaseException:
            store.release_lock()
            raise
        store.set_meta(campaign=spec.name, campaign_file=str(spec.path),
                       campaign_sha256=spec.raw_sha256, output=str(spec.output),
                       ranks=comm.Get_size(), ranks_per_task=k, last_run_utc=utc_now())
        store.write_index()
        return statuses, restored or RestoreResult(str(committed_dir))

    statuses, restored = _bcast_or_raise(comm, prepare)
    todo = [t for t in tasks if statuses[t.id] == "pending"
            or (retry_failed and statuses[t.id] == "failed")]
    left_out = ()
    if only:
        chosen = [t for t in todo if any(fnmatch.fnmatchcase(t.id, p) for p in only)]
        left_out = tuple(t.id for t in todo if t not in chosen)
        todo = chosen
    skipped = tuple(t.id for t in tasks if statuses[t.id] == "done")
    stale = tuple(t.id for t in tasks if statuses[t.id] == "stale")
    left_failed = {t.id: store.index["tasks"][t.id].get("error") if rank == 0 else None
                   for t in tasks if statuses[t.id] == "failed" and not retry_failed}

    events = None
    hb_stop = threading.Event()
    hb_thread = None
    if rank == 0:
        stages = {t.id: md_stages(spec, t, store.work_path(t.id)) for t in todo}
        progress = Progress({t: sum(s.cost for s in st) for t, st in stages.items()}, n_groups,
                            already_done=len(skipped), name=spec.name, stages=stages)
        events = _CampaignEvents(store, progress, by_id, quiet, spec)
        if not quiet:
            back = (f" ({len(restored.restored)} restored from committed results in "
                    f"{restored.source})" if restored.restored else "")
            chosen = f" (--only; {len(left_out)} left for later)" if only else ""
            progress.say(f"campaign {spec.name}: {len(tasks)} tasks, {len(skipped)} already done"
                         f"{back}, {len(stale)} stale, {len(todo)} to run{chosen} on {n_groups} group"
                         f"{'s' if n_groups > 1 else ''} of {k} rank{'s' if k > 1 else ''}; "
                         f"output {spec.output}")
            for tid, why in restored.rejected.items():
                progress.say(f"committed result of {tid} not used: {why}")
            for tid in stale:
                progress.say(f"STALE {tid}: {store.index['tasks'][tid]['error']}")
        hb_thread = threading.Thread(target=_heartbeat_loop, name="mdargy-heartbeat",
                                     args=(hb_stop, events, tick_s), daemon=True)
        hb_thread.start()

    def execute(task: Task, sub):
        work = None
        if sub.Get_rank() == 0:
            prov = provenance(campaign=spec.name, campaign_file=spec.path, task=task.to_dict(),
                              ranks=sub.Get_size())
            work = store.begin(task, provenance=prov)
        if sub.Get_size() > 1:
            work = sub.bcast(work, root=0)
        t0 = time.monotonic()
        outputs = executor(spec, task, work, sub)
        wall = time.monotonic() - t0
        if sub.Get_rank() == 0:
            store.finish(task, outputs or {}, wall)
        return outputs

    try:
        outcomes = run_queue(todo, execute, comm=comm, ranks_per_task=k, events=events,
                             poll_s=poll_s, tick_s=0, stop_after_s=stop_after_s)
    finally:
        if rank == 0:
            hb_stop.set()
            if hb_thread is not None:
                hb_thread.join()
            store.write_index()
            store.release_lock()

    ran = tuple(o.task_id for o in outcomes)
    summary = RunSummary(
        output=str(spec.output),
        n_tasks=len(tasks),
        ran=ran,
        done_now=tuple(o.task_id for o in outcomes if o.ok),
        failed={**left_failed, **{o.task_id: o.error for o in outcomes if not o.ok}},
        skipped_done=skipped,
        stale=stale,
        not_started=tuple(t.id for t in todo if t.id not in ran),
        left_out=left_out,
        wall_s=time.monotonic() - t_start,
        restored=restored.restored,
        committed_rejected=dict(restored.rejected),
    )
    if rank == 0 and not quiet:
        progress.say(
            f"campaign {spec.name}: {len(summary.done_now)} finished now, {len(skipped)} were "
            f"already done, {len(summary.failed)} failed, {len(stale)} stale, "
            f"{len(summary.not_started)} not started"
            + (f", {len(left_out)} left for later (--only)" if left_out else "")
            + f"; index {store.index_path}")
    return summary
