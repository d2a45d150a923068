"""The results store of a campaign: one directory per task, an index, a lock.

Layout of the output directory::

    OUTPUT/
      campaign.json              index: every task's status, attempts, wall time, error
      inputs/campaign-<sha8>.toml  each version of the campaign file that was run
      work/<task_id>/            a task in progress (or failed): its checkpoints live here
      tasks/<task_id>/           a finished task; complete, never modified again
        task.json                the task, its status "done", outputs, provenance, and each
                                 attempt's host, ranks and wall time
        restored.json            only in a task copied in from committed results
                                 (:mod:`mdargy.campaign.committed`): where it came from
      report/                    written by `mdargy campaign report`
      .campaign.lock             held while a `campaign run` is active (heart-beat)

A task runs in ``work/<id>/``. When it has finished, ``task.json`` is written there (atomically)
and the whole directory is *renamed* to ``tasks/<id>/`` -- an atomic operation on one file
system, so ``tasks/`` only ever holds complete results. The truth is on disk: at start-up the
index is rebuilt from the directories, so a campaign killed at any moment (wall-time limit,
``kill -9``) restarts correctly:

* ``tasks/<id>/task.json`` present  -> **done**: skipped, never recomputed or overwritten; if
  the campaign file now asks for different inputs for that task it is reported **stale** (still
  not overwritten: use a new output directory or move the task away);
* ``work/<id>/`` present -> **interrupted** (or failed before): run again; the driver resumes from
  its checkpoints in that directory. A work directory made for different inputs is moved aside
  to ``work/<id>.superseded-<time>/`` rather than resumed or deleted;
* otherwise -> **pending**.

Before the scan, ``campaign run`` may copy finished tasks in from a folder of committed results
(:func:`mdargy.campaign.committed.restore_committed`): a task absent from ``tasks/`` whose
committed copy has the same fingerprint arrives there complete, like any finished task.

Each attempt in ``task.json`` records its host, ranks and wall time (``wall_s``; for an attempt
that was killed, ``wall_s`` is estimated when the next attempt starts, from the last file it
wrote, and marked ``wall_estimated``): the report's cost table sums them.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from mdargy.errors import InputError, MdargyError
from mdargy.io.atomic import atomic_write_json, atomic_write_text

INDEX_FORMAT = "mdargy-campaign-index/1"
#: Marker file of a task copied in from committed results (it has no trajectory or checkpoint).
RESTORED_NAME = "restored.json"
STATUSES = ("pending", "running", "done", "failed", "stale")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_json_dict(path) -> dict | None:
    """The JSON object in ``path``, or None when it is missing, unreadable or not an object
    (a torn or foreign file counts as absent: the store never trusts it)."""
    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def _pid_alive(pid) -> bool:
    """Whether process ``pid`` of this host is running (a zombie counts as gone)."""
    try:
        pid = int(pid)
        os.kill(pid, 0)
    except (ProcessLookupError, ValueError, OverflowError, TypeError):
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _end_attempt(rec: dict, wall_s: float) -> None:
    """Note the wall time of the last attempt of a ``task.json`` record."""
    if rec.get("attempts"):
        rec["attempts"][-1].update(wall_s=float(wall_s), ended_utc=utc_now())


def _estimate_wall(attempt: dict, work: Path) -> None:
    """Estimate the wall time of an attempt that was killed: from its start to the last change
    of a file in the task's work directory (its checkpoints, progress notes, trajectories)."""
    try:
        start = datetime.fromisoformat(attempt["started_utc"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return
    last = start
    for dirpath, _, names in os.walk(work):
        for name in names:
            try:
                last = max(last, os.stat(os.path.join(dirpath, name)).st_mtime)
            except OSError:
                pass
    attempt.update(wall_s=round(last - start, 3), wall_estimated=True)


class CampaignStore:
    """Files of one campaign under ``root``. Only world rank 0 writes the index and the lock;
    the leader of a task's group writes that task's directory."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.tasks_dir = self.root / "tasks"
        self.work_dir = self.root / "work"
        self.index_path = self.root / "campaign.json"
        self.lock_path = self.root / ".campaign.lock"
        self.report_dir = self.root / "report"
        self._index_lock = threading.Lock()
        self.index: dict[str, Any] = {}

    # ---------------------------------------------------------------- paths
    def final_path(self, task_id: str) -> Path:
        return self.tasks_dir / task_id

    def work_path(self, task_id: str) -> Path:
        return self.work_dir / task_id

    def task_record(self, task_id: str) -> dict | None:
        """The ``task.json`` of a finished task, or None."""
        rec = read_json_dict(self.final_path(task_id) / "task.json")
        return rec if rec and rec.get("status") == "done" else None

    def reopen(self, task_id: str, stage_dirs: Iterable[str] = ("lattice",)) -> Path:
        """Move a finished task back to ``work/`` so that its analyses run again (rank 0).

        The task's MD is finished, so the executor finds it done and only redoes the analyses,
        with the campaign file's current analysis settings. Stage folders of analyses that reuse
        their files (``lattice/``) are moved aside to ``<name>.superseded-<time>/``, so that new
        settings refit from the start; nothing is deleted. Returns the work directory.
        """
        final, work = self.final_path(task_id), self.work_path(task_id)
        if self.task_record(task_id) is None:
            raise InputError(f"task {task_id} has not finished: there is nothing to re-analyse "
                             "(run the campaign to finish it)", final)
        if (final / RESTORED_NAME).exists():
            raise InputError(f"task {task_id} was restored from committed results, which hold "
                             "no trajectory: its analyses cannot be redone here (run it again "
                             "in another output directory to re-analyse it)", final)
        if work.exists():
            raise MdargyError(f"cannot re-analyse {task_id}: {work} exists as well as {final}; "
                              "move one of them away")
        stamp = int(time.time())
        for name in stage_dirs:
            if (final / name).exists():
                os.replace(final / name, final / f"{name}.superseded-{stamp}")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # rename first: killed before the record is rewritten, scan() finds a "done" record in
        # work/ and renames it back (the task stays done)
        os.replace(final, work)
        rec = read_json_dict(work / "task.json") or {}
        rec.update(status="reopened", reopened_utc=utc_now())
        atomic_write_json(work / "task.json", rec)
        return work

    # ---------------------------------------------------------------- set-up
    def prepare(self, spec_text: str, spec_sha256: str) -> None:
        """Create the directories and keep a copy of the campaign file (rank 0)."""
        for d in (self.root, self.tasks_dir, self.work_dir, self.root / "inputs"):
            d.mkdir(parents=True, exist_ok=True)
        copy = self.root / "inputs" / f"campaign-{spec_sha256[:8]}.toml"
        if not copy.exists():
            atomic_write_text(copy, spec_text)

    def scan(self, tasks: Iterable) -> dict[str, str]:
        """Rebuild every task's status from the directories (see the module docstring).

        Finishes the rename of a task that completed just before a crash, and moves aside work
        directories that belong to other inputs. Returns ``{task_id: status}``.
        """
        old = read_json_dict(self.index_path) or {}
        old_tasks = old.get("tasks", {}) if old.get("format") == INDEX_FORMAT else {}
        tasks_out: dict[str, dict] = {}
        for t in tasks:
            prev = old_tasks.get(t.id, {})
            entry = {
                "kind": t.kind, "T_K": t.T_K, "params": t.params, "seed": t.seed, "cost": t.cost,
                "fingerprint": t.fingerprint, "attempts": int(prev.get("attempts", 0)),
                "wall_s": prev.get("wall_s"), "error": prev.get("error"),
                "started_utc": prev.get("started_utc"), "finished_utc": prev.get("finished_utc"),
                "resumed": False,
            }
            final, work = self.final_path(t.id), self.work_path(t.id)
            rec = self.task_record(t.id)
            work_rec = read_json_dict(work / "task.json")
            if rec is None and work_rec and work_rec.get("status") == "done" and not final.exists():
                # killed between writing task.json and the rename: finish the rename
                os.replace(work, final)
                rec = self.task_record(t.id)
            if rec is not None:
                if t.matches(rec):
                    entry.update(status="done", wall_s=rec.get("wall_s"), error=None,
                                 finished_utc=rec.get("finished_utc"),
                                 restored=(final / RESTORED_NAME).exists())
                else:
                    entry.update(status="stale", error=(
                        f"finished with other inputs (fingerprint {str(rec.get('fingerprint'))[:12]}"
                        f" != {t.fingerprint[:12]}); kept, not recomputed: use a new output "
                        f"directory or move {final} away"))
            elif final.exists():
                raise MdargyError(f"{final} exists but has no valid task.json: it was not written "
                                  "by mdargy; move it away")
            else:
                status = "failed" if prev.get("status") == "failed" else "pending"
                if work.exists():
                    if work_rec and work_rec.get("fingerprint") is not None \
                            and not t.matches(work_rec):
                        aside = work.with_name(f"{t.id}.superseded-{int(time.time())}")
                        os.replace(work, aside)
                    else:
                        entry["resumed"] = True
                entry["status"] = status
            tasks_out[t.id] = entry
        self.index = {
            "format": INDEX_FORMAT,
            "campaign": None,
            "campaign_file": None,
            "campaign_sha256": None,
            "updated_utc": utc_now(),
            "counts": {},
            "tasks": tasks_out,
        }
        return {tid: e["status"] for tid, e in tasks_out.items()}

    # ---------------------------------------------------------------- index
    def set_meta(self, **meta) -> None:
        self.index.update(meta)

    def update(self, task_id: str, **fields) -> None:
        """Change one task's entry and rewrite the index atomically (rank 0)."""
        with self._index_lock:
            self.index["tasks"][task_id].update(fields)
            self.write_index()

    def write_index(self) -> None:
        counts = {s: 0 for s in STATUSES}
        for e in self.index.get("tasks", {}).values():
            counts[e["status"]] = counts.get(e["status"], 0) + 1
        self.index["counts"] = counts
        self.index["updated_utc"] = utc_now()
        atomic_write_json(self.index_path, self.index)

    def read_index(self) -> dict:
        idx = read_json_dict(self.index_path)
        if not idx or idx.get("format") != INDEX_FORMAT:
            raise InputError("no campaign index here: has the campaign been run?", self.index_path)
        return idx

    # ---------------------------------------------------------------- tasks
    def begin(self, task, provenance: dict) -> Path:
        """Create/enter the work directory of ``task`` and record that it is running."""
        work = self.work_path(task.id)
        work.mkdir(parents=True, exist_ok=True)
        rec = read_json_dict(work / "task.json") or {}
        history = rec.get("attempts", [])
        if history and history[-1].get("wall_s") is None:
            _estimate_wall(history[-1], work)
        ranks = (provenance.get("inputs") or {}).get("ranks")
        history.append({"attempt": len(history) + 1, "started_utc": utc_now(), "host": socket.gethostname(),
                        "pid": os.getpid(), "ranks": ranks})
        atomic_write_json(work / "task.json", {
            "task": task.to_dict(), "id": task.id, "status": "running", "fingerprint": task.fingerprint,
            "attempts": history, "provenance": provenance})
        return work

    def finish(self, task, outputs: dict, wall_s: float) -> Path:
        """Seal a finished task: write ``task.json`` (status done) and rename work -> tasks."""
        work, final = self.work_path(task.id), self.final_path(task.id)
        if final.exists():
            raise MdargyError(f"{final} already exists; refusing to overwrite a finished task")
        rec = read_json_dict(work / "task.json") or {}
        _end_attempt(rec, wall_s)
        rec.update(status="done", id=task.id, task=task.to_dict(), fingerprint=task.fingerprint,
                   outputs=outputs, wall_s=wall_s, finished_utc=utc_now())
        atomic_write_json(work / "task.json", rec)
        self.tasks_dir.mkdir(parents=True, exist_ok=True)
        os.replace(work, final)
        return final

    def record_failure(self, task_id: str, error: str, tb: str | None,
                       wall_s: float | None = None) -> None:
        """Keep the error of a failed task in its work directory (the checkpoints stay)."""
        work = self.work_path(task_id)
        if work.exists():
            atomic_write_text(work / "error.txt", f"{utc_now()}\n{error}\n\n{tb or ''}")
            rec = read_json_dict(work / "task.json") or {}
            if wall_s is not None:
                _end_attempt(rec, wall_s)
            rec.update(status="failed", error=error)
            atomic_write_json(work / "task.json", rec)

    # ---------------------------------------------------------------- lock
    def lock_holder(self, stale_s: float = 60.0) -> dict | None:
        """The record of a live lock holder, or None when the lock is free or stale."""
        rec = read_json_dict(self.lock_path)
        if rec is None:
            return None
        try:
            age = time.time() - self.lock_path.stat().st_mtime
        except FileNotFoundError:
            return None
        if age >= stale_s:
            return None
        if rec.get("host") == socket.gethostname() and not _pid_alive(rec.get("pid")):
            return None
        return rec

    def acquire_lock(self, stale_s: float = 60.0, wait_s: float | None = None,
                     poll_s: float = 1.0) -> None:
        """Take the run lock; refuse if another live `campaign run` holds it.

        The holder refreshes the lock every few seconds (:meth:`heartbeat`). A lock is stale
        (taken over) when it has not been refreshed for ``stale_s`` seconds, or when its owner
        ran on this host and is gone. A holder on another host (the previous job of a chain,
        killed at its wall-time limit) is waited for up to ``wait_s`` (default ``stale_s``)
        seconds before giving up; a live holder on this host is refused at once.
        """
        deadline = time.monotonic() + (stale_s if wait_s is None else wait_s)
        while True:
            rec = self.lock_holder(stale_s)
            if rec is None:
                break
            if rec.get("host") == socket.gethostname() or time.monotonic() >= deadline:
                raise MdargyError(
                    f"{self.root} is in use by another `mdargy campaign run` (host "
                    f"{rec.get('host')}, pid {rec.get('pid')}, since {rec.get('since')}); wait for "
                    f"it, or delete {self.lock_path} if you are sure it is gone")
            time.sleep(poll_s)
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.lock_path, {"host": socket.gethostname(), "pid": os.getpid(),
                                           "since": utc_now()})

    def heartbeat(self) -> None:
        try:
            os.utime(self.lock_path)
        except FileNotFoundError:
            pass

    def release_lock(self) -> None:
        try:
            rec = read_json_dict(self.lock_path)
            if rec and rec.get("pid") == os.getpid() and rec.get("host") == socket.gethostname():
                self.lock_path.unlink()
        except FileNotFoundError:
            pass
