"""Committed results: carry a campaign's finished tasks to another machine in the repository.

A campaign's output directory (``runs/<name>/``) holds every task's files, trajectories and
checkpoints included, and stays on the machine that ran it. To go on elsewhere (a fresh machine,
a new session), the *small* files of each finished task are committed:

``mdargy campaign export FILE [DEST]`` (:func:`export_committed`) copies, for every finished
task of the campaign, ``task.json`` and the task's JSON, CSV and text results into
``DEST/tasks/<task_id>/`` (same relative paths), and writes ``DEST/manifest.json``::

    {"format": "mdargy-campaign-committed/1", "campaign": ..., "campaign_sha256": ...,
     "mdargy_version": ..., "max_file_bytes": ...,
     "tasks": {"<task_id>": {"kind": ..., "T_K": ..., "fingerprint": ...,
                             "files": {"<relative path>": {"sha256": ..., "bytes": ...}},
                             "left_out": {"<relative path>": "<why>"}}}}

Left out, and listed (in the manifest and on the terminal): checkpoints, folders moved aside by
``--reanalyse`` (``*.superseded-*``), every file that is not JSON, CSV, text or a CUBE density map
(trajectories, LAMMPS data and restart files, logs, the binary force-constant stages of a lattice
task) and every file above ``max_bytes`` (2 MB by default). The files the report reads
(:data:`mdargy.campaign.report.REPORT_INPUT_KEYS`) must go: a task whose report input is above
the limit is not exported (say ``--max-mb``). Export is idempotent and never replaces a
different file that is already in DEST: it then stops, naming the file, before writing anything
(``--replace`` replaces such files, e.g. after ``--reanalyse``).
The manifest has no time stamps, so exporting again changes nothing that git would see unless a
result did.

``mdargy campaign run FILE`` with ``[campaign] committed = "DEST"`` (or ``--from DEST``) then
calls :func:`restore_committed` before it looks at the tasks: every task that is absent from the
output directory's ``tasks/`` and whose committed ``task.json`` carries the fingerprint of the
task as the campaign file now defines it is copied in, after each file's SHA-256 is checked
against the manifest, and counts as done: it is not run again, and ``campaign report`` reads it
like the original. A committed task with another fingerprint (other inputs), a file that does
not match the manifest, or a report input missing is reported and not used (the task runs).
A restored task carries ``restored.json``; it has no trajectory, so ``--reanalyse`` refuses it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import mdargy
from mdargy.campaign.report import REPORT_INPUT_KEYS
from mdargy.campaign.schema import CampaignSpec, load_campaign
from mdargy.campaign.store import RESTORED_NAME, CampaignStore, read_json_dict, utc_now
from mdargy.campaign.tasks import build_tasks
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from mdargy.io.integrity import file_sha256

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "mdargy-campaign-committed/1"
#: Largest file exported by default (bytes).
MAX_FILE_BYTES = 2_000_000
#: Kinds of file exported: results as JSON, CSV, text, and the CUBE density maps of ionic tasks.
SMALL_SUFFIXES = (".json", ".csv", ".txt", ".md", ".cube")


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What :func:`export_committed` did.

    ``written`` and ``replaced`` are paths relative to ``dest``; ``left_out`` maps each task to
    ``{relative path: why}``; ``refused`` maps the tasks not
    exported (a report input above the size limit) to the reason; ``not_finished`` lists the
    tasks with nothing to export (not finished, or finished with other inputs).
    """

    dest: str
    manifest_path: str
    exported: tuple[str, ...]
    written: tuple[str, ...]
    replaced: tuple[str, ...]
    unchanged: int
    bytes_exported: int
    left_out: dict
    refused: dict
    not_finished: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class RestoreResult:
    """What :func:`restore_committed` did: tasks copied in, and those not used (with why)."""

    source: str
    restored: tuple[str, ...] = ()
    rejected: dict = dataclasses.field(default_factory=dict)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def _why_left_out(rel: Path, size: int, max_bytes: int) -> str | None:
    """Why a file of a finished task is not exported (None: it is)."""
    if any(p == "checkpoints" for p in rel.parts[:-1]):
        return "checkpoint"
    if any(".superseded-" in p for p in rel.parts[:-1]):
        return "moved aside by --reanalyse"
    if rel.suffix.lower() not in SMALL_SUFFIXES:
        return "not a JSON/CSV/text result"
    if size > max_bytes:
        return f"{_size(size)}, above the {_size(max_bytes)} limit"
    return None


def report_inputs(outputs: dict) -> list[str]:
    """The files (relative to the task folder) the report reads, named by a task's outputs."""
    return [outputs[k] for k in REPORT_INPUT_KEYS if isinstance(outputs.get(k), str)]


def _load_manifest(dest: Path) -> dict | None:
    path = dest / MANIFEST_NAME
    if not path.exists():
        return None
    m = read_json_dict(path)
    if m is None or m.get("format") != MANIFEST_FORMAT or not isinstance(m.get("tasks"), dict):
        raise InputError(f"not a manifest of committed campaign results (format "
                         f"{MANIFEST_FORMAT})", path)
    return m


def export_committed(campaign, dest=None, output=None, max_bytes: int = MAX_FILE_BYTES,
                     replace: bool = False) -> ExportResult:
    """Copy the small files of every finished task into ``dest`` (see the module docstring).

    Parameters
    ----------
    campaign : path or CampaignSpec
    dest : path, optional
        Destination folder; default the file's ``[campaign] committed``.
    output : path, optional
        Override of the campaign's output directory.
    max_bytes : int
        Largest file exported.
    replace : bool
        Replace files in ``dest`` that differ from the finished tasks' (after ``--reanalyse``);
        they are listed in ``replaced``.

    Raises
    ------
    InputError
        No destination, a manifest of another campaign, or (without ``replace``) a file in
        ``dest`` that differs from the one to export (nothing is written then).
    """
    spec = campaign if isinstance(campaign, CampaignSpec) else load_campaign(campaign, output=output)
    if dest is None:
        if spec.committed is None:
            raise InputError("no destination: give DEST or set [campaign] committed", spec.path)
        dest = spec.committed
    dest = Path(dest).expanduser().resolve()
    store = CampaignStore(spec.output)
    manifest = _load_manifest(dest)
    if manifest is not None and manifest.get("campaign") != spec.name:
        raise InputError(f"holds the results of campaign {manifest.get('campaign')!r}, not "
                         f"{spec.name!r}: export to another folder", dest / MANIFEST_NAME)
    old_tasks = manifest["tasks"] if manifest else {}

    plan: dict[str, list[tuple[str, Path, int]]] = {}  # task -> [(relative path, source, bytes)]
    left_out: dict[str, dict[str, str]] = {}
    refused: dict[str, str] = {}
    not_finished: list[str] = []
    tasks = build_tasks(spec)
    for t in tasks:
        rec = store.task_record(t.id)
        if not t.matches(rec):
            not_finished.append(t.id)
            continue
        tdir = store.final_path(t.id)
        files, out = [], {}
        for src in sorted(p for p in tdir.rglob("*") if p.is_file() and not p.is_symlink()):
            rel = src.relative_to(tdir)
            if rel.as_posix() == RESTORED_NAME:
                continue
            size = src.stat().st_size
            why = _why_left_out(rel, size, max_bytes)
            if why is None:
                files.append((rel.as_posix(), src, size))
            else:
                out[rel.as_posix()] = why
        restored = read_json_dict(tdir / RESTORED_NAME)
        if restored is not None:
            # a task restored here: what its first export left out is not in this folder
            out = {**restored.get("left_out", {}), **out}
        missing = [f for f in report_inputs(rec.get("outputs") or {})
                   if f not in {r for r, _, _ in files}]
        if missing:
            refused[t.id] = "the report reads " + ", ".join(
                f"{f} ({out.get(f, 'absent')})" for f in missing)
            continue
        plan[t.id] = files
        left_out[t.id] = out

    # check before writing: a different file already in dest is never replaced
    conflicts, todo, unchanged = [], [], 0
    digests: dict[str, dict[str, dict]] = {}
    for tid, files in plan.items():
        digests[tid] = {}
        for rel, src, size in files:
            sha = file_sha256(src)
            digests[tid][rel] = {"sha256": sha, "bytes": size}
            dst = dest / "tasks" / tid / rel
            if dst.exists() or dst.is_symlink():
                if dst.is_file() and not dst.is_symlink() and file_sha256(dst) == sha:
                    unchanged += 1
                elif replace and dst.is_file() and not dst.is_symlink():
                    conflicts.append(dst)
                    todo.append((src, dst, sha))
                else:
                    conflicts.append(dst)
            else:
                todo.append((src, dst, sha))
    if conflicts and not replace:
        names = ", ".join(str(p.relative_to(dest)) for p in conflicts[:10]) + (
            f" and {len(conflicts) - 10} more" if len(conflicts) > 10 else "")
        raise InputError(f"{len(conflicts)} committed file(s) differ from the finished tasks' "
                         f"files and are not replaced: {names}. A committed task made with other "
                         "inputs, or changed since (--reanalyse): move it away, export "
                         "elsewhere, or replace it (--replace)", dest)
    written = []
    for src, dst, sha in todo:
        data = src.read_bytes()
        atomic_write_bytes(dst, data)
        written.append(str(dst.relative_to(dest)))
    new_tasks = dict(old_tasks)
    for t in tasks:
        if t.id in plan:
            new_tasks[t.id] = {"kind": t.kind, "T_K": t.T_K, "fingerprint": t.fingerprint,
                               "files": digests[t.id], "left_out": left_out[t.id]}
    new_manifest = {"format": MANIFEST_FORMAT, "campaign": spec.name,
                    "campaign_sha256": spec.raw_sha256, "mdargy_version": mdargy.__version__,
                    "max_file_bytes": int(max_bytes), "tasks": new_tasks}
    mpath = dest / MANIFEST_NAME
    text = json.dumps(new_manifest, indent=2, sort_keys=True) + "\n"
    if not mpath.exists() or mpath.read_text() != text:
        dest.mkdir(parents=True, exist_ok=True)
        atomic_write_text(mpath, text)
    return ExportResult(
        dest=str(dest), manifest_path=str(mpath), exported=tuple(plan), written=tuple(written),
        replaced=tuple(str(p.relative_to(dest)) for p in conflicts), unchanged=unchanged,
        bytes_exported=sum(d["bytes"] for f in digests.values() for d in f.values()),
        left_out=left_out, refused=refused, not_finished=tuple(not_finished))


def _check_committed(t, src: Path, entry: dict | None) -> str | None:
    """Why the committed copy of task ``t`` in ``src`` cannot be used (None: it can)."""
    if entry is None:
        return "not in the manifest"
    files = entry.get("files") or {}
    if "task.json" not in files:
        return "the manifest lists no task.json"
    rec = read_json_dict(src / "task.json")
    if rec is None or rec.get("status") != "done" or rec.get("id") != t.id:
        return "task.json is not the record of a finished task"
    if not t.matches(rec):
        return (f"made with other inputs (fingerprint {str(rec.get('fingerprint'))[:12]} != "
                f"{t.fingerprint[:12]} of the campaign file now)")
    for rel, d in files.items():
        p = src / rel
        if not p.is_file():
            return f"{rel} is missing"
        if file_sha256(p) != d.get("sha256"):
            return f"{rel} differs from the manifest (SHA-256)"
    missing = [f for f in report_inputs(rec.get("outputs") or {}) if f not in files]
    if missing:
        return f"the report inputs {', '.join(missing)} are not committed"
    return None


def restore_committed(store: CampaignStore, tasks, committed) -> RestoreResult:
    """Copy committed finished tasks into ``store`` (rank 0, under the run lock).

    A task is restored when ``tasks/<id>/`` is absent from the output directory and its
    committed copy passes :func:`_check_committed`; it arrives complete (copied into a hidden
    folder, then renamed). A work folder of that task (an unfinished attempt) is moved aside to
    ``work/<id>.superseded-<time>/``. A task already in ``tasks/`` is never touched.

    Raises
    ------
    InputError
        ``committed`` exists but holds no manifest of committed results.
    """
    src_root = Path(committed)
    if not src_root.is_dir():
        return RestoreResult(str(src_root))
    manifest = _load_manifest(src_root)
    if manifest is None:
        if (src_root / "tasks").is_dir():
            raise InputError(f"no {MANIFEST_NAME}: not a folder written by `mdargy campaign "
                             "export`", src_root)
        return RestoreResult(str(src_root))
    restored, rejected = [], {}
    for t in tasks:
        src = src_root / "tasks" / t.id
        final = store.final_path(t.id)
        if final.exists() or not src.is_dir():
            continue
        entry = manifest["tasks"].get(t.id)
        why = _check_committed(t, src, entry)
        if why is not None:
            rejected[t.id] = why
            continue
        store.tasks_dir.mkdir(parents=True, exist_ok=True)
        tmp = store.tasks_dir / f".{t.id}.restoring-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        for rel in entry["files"]:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, tmp / rel)
        atomic_write_json(tmp / RESTORED_NAME, {
            "from": str(src_root), "restored_utc": utc_now(),
            "campaign_sha256": manifest.get("campaign_sha256"),
            "mdargy_version": manifest.get("mdargy_version"),
            "left_out": entry.get("left_out", {})})
        work = store.work_path(t.id)
        if work.exists():
            os.replace(work, work.with_name(f"{t.id}.superseded-{int(time.time())}"))
        os.replace(tmp, final)
        restored.append(t.id)
    return RestoreResult(str(src_root), tuple(restored), rejected)
