"""``mdargy campaign``: run, resume, inspect and report length x temperature sweeps.

    mdargy campaign check  FILE                      validate and list the tasks
    mpirun -np N mdargy campaign run FILE --ranks-per-task k
    mdargy campaign status FILE [--check]
    mdargy campaign report FILE
    mdargy campaign export FILE [DEST]           small results of finished tasks, to commit
    mdargy campaign restore FILE [--from DEST]   copy committed finished tasks in, run nothing
    mdargy campaign slurm  FILE --nodes 2 --tasks-per-node 64 --time 24:00:00 [-o job.sh]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from mdargy.campaign.adapters import driver_config, validate_tasks
from mdargy.campaign.committed import MAX_FILE_BYTES, export_committed
from mdargy.campaign.progress import format_duration
from mdargy.campaign.report import build_report
from mdargy.campaign.runner import restore_campaign, run_campaign
from mdargy.campaign.schema import load_campaign
from mdargy.campaign.slurm import slurm_script
from mdargy.campaign.store import CampaignStore
from mdargy.campaign.tasks import build_tasks
from mdargy.cli.common import is_root
from mdargy.drivers.common import driver_styles
from mdargy.errors import MissingCapabilityError
from mdargy.io.atomic import atomic_write_text, refuse_overwrite
from mdargy.lammps.runtime import create_lammps, require_styles


def add_parser(sub):
    p = sub.add_parser(
        "campaign",
        help="run a whole study (NEMD lengths x temperatures, MSD, DOS) from one TOML file",
        description="Campaigns: a TOML file describes NEMD length x temperature sweeps and EMD "
        "runs for MSD/DOS; `run` executes them under MPI on sub-communicators (restartable), "
        "`report` builds tables, figures and a summary page. See docs/campaigns.md.",
    )
    csub = p.add_subparsers(dest="campaign_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])

    def common(q):
        q.add_argument("file", help="campaign file (TOML)")
        q.add_argument("--output", default=None,
                       help="output directory (default: [campaign] output of the file, relative "
                       "to the current directory; runs/<name> when not given)")

    q = csub.add_parser("check", help="validate the file and list its tasks (runs nothing)")
    common(q)
    q.set_defaults(func=run_check)

    q = csub.add_parser("run", help="run or resume the campaign (collective under mpirun)")
    common(q)
    q.add_argument("--ranks-per-task", "-k", type=int, default=1, metavar="K",
                   help="MPI ranks per task (LAMMPS run); must divide the number of ranks N; the "
                   "ranks form N/K groups that take tasks from a queue, longest first (default 1)")
    q.add_argument("--no-retry-failed", action="store_true",
                   help="leave tasks that failed in an earlier run as failed")
    q.add_argument("--reanalyse", nargs="+", default=(), metavar="TASK",
                   help="finished EMD tasks whose analyses (MSD, DOS, Green-Kubo, lattice, ionic) "
                   "are redone with the file's current analysis settings on their finished MD "
                   "(the lattice stage files are moved aside, never deleted)")
    q.add_argument("--stop-after", type=float, default=None, metavar="SECONDS",
                   help="start no new task after this many seconds (batch wall-time limits)")
    q.add_argument("--only", nargs="+", default=(), metavar="TASK",
                   help="run only these tasks (ids or shell patterns, e.g. 'nemd_T100K_L1*'); "
                   "the rest stay pending for a later run")
    q.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    q.add_argument("--from", dest="committed", default=None, metavar="DIR",
                   help="folder of committed results (`campaign export`; default [campaign] "
                   "committed): finished tasks found there with the same inputs are restored, "
                   "not rerun")
    q.set_defaults(func=run_run)

    q = csub.add_parser("export", help="copy the small results of the finished tasks (task.json, "
                        "JSON/CSV) into a folder to commit, with a manifest")
    common(q)
    q.add_argument("dest", nargs="?", default=None,
                   help="destination folder (default: [campaign] committed of the file)")
    q.add_argument("--max-mb", type=float, default=MAX_FILE_BYTES / 1e6, metavar="MB",
                   help="largest file exported, MB (default %(default)g)")
    q.add_argument("--replace", action="store_true",
                   help="replace committed files that differ from the finished tasks' (after "
                   "--reanalyse); without it such a file stops the export")
    q.set_defaults(func=run_export)

    q = csub.add_parser("restore", help="copy committed finished tasks into the output folder "
                        "and write its index; runs nothing")
    common(q)
    q.add_argument("--from", dest="committed", default=None, metavar="DIR",
                   help="folder of committed results (default: [campaign] committed)")
    q.set_defaults(func=run_restore)

    q = csub.add_parser("status", help="print the status of every task")
    common(q)
    q.add_argument("--check", action="store_true",
                   help="exit 0 when complete, 3 when tasks are left to run, 1 when only failed "
                   "(or stale) tasks are left")
    q.add_argument("--json", action="store_true", help="print the index as JSON")
    q.set_defaults(func=run_status)

    q = csub.add_parser("report", help="tables (CSV, JSON), figures (PNG) and a summary page")
    common(q)
    q.set_defaults(func=run_report)

    q = csub.add_parser("slurm", help="write a Slurm batch script that runs/resumes the campaign")
    common(q)
    q.add_argument("--nodes", type=int, default=1)
    q.add_argument("--tasks-per-node", type=int, default=32, help="MPI ranks per node")
    q.add_argument("--time", default="24:00:00", help="wall-time limit (Slurm format)")
    q.add_argument("--ranks-per-task", "-k", type=int, default=1)
    q.add_argument("--partition", default=None)
    q.add_argument("--account", default=None)
    q.add_argument("--job-name", default="mdargy")
    q.add_argument("--launcher", choices=("srun", "mpirun"), default="srun")
    q.add_argument("--setup", default="", help="shell lines before the launch (module load ...)")
    q.add_argument("--resubmit", action="store_true",
                   help="the job resubmits itself while tasks are left (chained jobs)")
    q.add_argument("-o", "--script", default=None, help="write the script here (default: stdout)")
    q.add_argument("--force", action="store_true", help="overwrite an existing script")
    q.set_defaults(func=run_slurm)
    return p


def _root() -> bool:
    return is_root()


def run_check(args) -> int:
    spec = load_campaign(args.file, output=args.output)
    tasks = build_tasks(spec)
    validate_tasks(spec, tasks)
    _check_styles(spec, tasks)
    if _root():
        total = sum(t.cost for t in tasks)
        print(f"{args.file}: valid campaign {spec.name!r}, {len(tasks)} tasks, output {spec.output}")
        print(f"{'task':<28} {'kind':<5} {'T_K':>7} {'seed':>11} {'cost share':>10}")
        for t in tasks:
            print(f"{t.id:<28} {t.kind:<5} {t.T_K:>7g} {t.seed:>11d} {t.cost / total:>10.1%}")
    return 0


def _check_styles(spec, tasks) -> None:
    """Every pair, fix and compute style the tasks will use must exist in this LAMMPS."""
    lmp = create_lammps()
    try:
        for t in tasks:
            try:
                require_styles(lmp, driver_styles(driver_config(spec, t, spec.output / "work" / t.id)))
            except MissingCapabilityError as exc:
                raise MissingCapabilityError(f"{spec.path}: task {t.id}: {exc}") from None
    finally:
        lmp.close()


def run_run(args) -> int:
    summary = run_campaign(args.file, ranks_per_task=args.ranks_per_task, output=args.output,
                           retry_failed=not args.no_retry_failed, stop_after_s=args.stop_after,
                           reanalyse=tuple(args.reanalyse), committed=args.committed,
                           quiet=args.quiet, only=tuple(args.only))
    if summary.failed and _root():
        for tid, err in summary.failed.items():
            print(f"mdargy campaign run: task {tid} failed: {err}", file=sys.stderr)
    return 0 if summary.selection_complete else 1


def _status_table(idx: dict) -> str:
    lines = [f"campaign {idx.get('campaign')}  ({idx.get('campaign_file')})",
             "  ".join(f"{k}: {v}" for k, v in idx.get("counts", {}).items()),
             f"{'task':<28} {'status':<8} {'tries':>5} {'wall':>8}  error"]

    for tid, e in sorted(idx["tasks"].items()):
        wall = format_duration(e.get("wall_s")) if e.get("wall_s") is not None else "-"
        err = (e.get("error") or "").splitlines()[0][:70] if e.get("error") else ""
        lines.append(f"{tid:<28} {e['status']:<8} {e.get('attempts', 0):>5} {wall:>8}  {err}")
    return "\n".join(lines)


def run_status(args) -> int:
    spec = load_campaign(args.file, output=args.output)
    tasks = build_tasks(spec)
    store = CampaignStore(spec.output)
    if store.index_path.exists():
        idx = store.read_index()
    else:
        idx = {"campaign": spec.name, "campaign_file": str(spec.path), "tasks": {}}
    # reconcile with the disk without writing (another run may be active)
    active = store.lock_holder() is not None
    entries = {}
    for t in tasks:
        e = dict(idx.get("tasks", {}).get(t.id, {"attempts": 0}))
        rec = store.task_record(t.id)
        if rec is not None:
            e["status"] = "done" if t.matches(rec) else "stale"
        elif e.get("status") == "running" and not active:
            e["status"] = "pending"
            e["error"] = "interrupted: resumes from its checkpoint on the next run"
        elif e.get("status") not in ("failed", "running"):
            e["status"] = "pending"
        entries[t.id] = e
    idx["tasks"] = entries
    counts: dict[str, int] = {}
    for e in entries.values():
        counts[e["status"]] = counts.get(e["status"], 0) + 1
    idx["counts"] = counts
    if _root():
        print(json.dumps(idx, indent=2) if args.json else _status_table(idx))
    if not args.check:
        return 0
    if counts.get("pending", 0) or counts.get("running", 0):
        return 3
    return 1 if (counts.get("failed", 0) or counts.get("stale", 0)) else 0


def run_report(args) -> int:
    if not _root():
        return 0
    rep = build_report(args.file, output=args.output)
    print(rep.text_summary())
    return 0


def _git_ignored(dest: Path, paths) -> list[str]:
    """Those of ``paths`` (relative to ``dest``) that git would not commit; [] without git."""
    if not paths or shutil.which("git") is None:
        return []
    try:
        r = subprocess.run(["git", "-C", str(dest), "check-ignore", "--stdin"],
                           input="\n".join(paths) + "\n", capture_output=True, text=True,
                           timeout=60)
    except (OSError, subprocess.SubprocessError):
        return []
    return r.stdout.split() if r.returncode == 0 else []


def run_export(args) -> int:
    if not _root():
        return 0
    res = export_committed(args.file, args.dest, output=args.output,
                           max_bytes=int(args.max_mb * 1e6), replace=args.replace)
    dest = Path(res.dest)
    print(f"exported {len(res.exported)} finished task(s) to {dest}: "
          f"{sum(1 for _ in res.written)} file(s) written, {res.unchanged} unchanged, "
          f"{res.bytes_exported / 1e6:.2f} MB in all; manifest {res.manifest_path}")
    for f in res.replaced:
        print(f"  replaced {f}")
    for tid, out in res.left_out.items():
        if out:
            print(f"  {tid}: left out {len(out)} file(s): {_left_out_line(out)}")
    for tid, why in res.refused.items():
        print(f"  NOT exported {tid}: {why}; raise --max-mb", file=sys.stderr)
    if res.not_finished:
        print(f"  not finished (nothing to export): {', '.join(res.not_finished)}")
    rel = [str(Path("tasks") / tid / f) for tid in res.exported
           for f in json.loads(Path(res.manifest_path).read_text())["tasks"][tid]["files"]]
    ignored = _git_ignored(dest, [Path(res.manifest_path).name] + rel)
    if ignored:
        print(f"warning: git ignores {len(ignored)} of these files (.gitignore), so they would "
              f"not be committed: {', '.join(ignored[:5])}{' ...' if len(ignored) > 5 else ''}",
              file=sys.stderr)
    return 1 if res.refused else 0


def _left_out_line(left_out: dict) -> str:
    """The left-out files of one task on one line, by reason; a checkpoint folder once."""
    groups: dict[str, list[str]] = {}
    folders: dict[tuple[str, str], int] = {}
    for f, why in left_out.items():
        parts = Path(f).parts
        if why == "checkpoint" or "superseded" in why:
            i = next((i for i, p in enumerate(parts[:-1])
                      if p == "checkpoints" or ".superseded-" in p), len(parts) - 1)
            key = (why, "/".join(parts[:i + 1]) + "/")
            folders[key] = folders.get(key, 0) + 1
        elif "above" in why:
            groups.setdefault("too large", []).append(f"{f} ({why.split(',')[0]})")
        else:
            groups.setdefault(why, []).append(f)
    for (why, folder), n in folders.items():
        groups.setdefault(why, []).append(f"{folder} ({n} file{'s' if n > 1 else ''})")
    return "; ".join(f"{why}: {', '.join(names)}" for why, names in groups.items())


def run_restore(args) -> int:
    if not _root():
        return 0
    res = restore_campaign(args.file, output=args.output, committed=args.committed)
    print(f"restored {len(res.restored)} finished task(s) from {res.source}"
          + (f": {', '.join(res.restored)}" if res.restored else ""))
    for tid, why in res.rejected.items():
        print(f"  committed result of {tid} not used: {why}")
    return 0


def run_slurm(args) -> int:
    load_campaign(args.file, output=args.output)  # validate before writing a job
    text = slurm_script(args.file, nodes=args.nodes, tasks_per_node=args.tasks_per_node,
                        time_limit=args.time, ranks_per_task=args.ranks_per_task,
                        job_name=args.job_name, partition=args.partition, account=args.account,
                        launcher=args.launcher, setup=args.setup, resubmit=args.resubmit,
                        output=args.output, script_path=args.script)
    if args.script:
        refuse_overwrite(args.script, args.force)
        atomic_write_text(args.script, text)
        print(f"wrote {args.script}; submit with: sbatch {args.script}")
    else:
        print(text, end="")
    return 0
