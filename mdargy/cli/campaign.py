"""``mdargy campaign``: run, resume, inspect and report length x temperature sweeps.

    mdargy campaign check  FILE                      validate and list the tasks
    mpirun -np N mdargy campaign run FILE --ranks-per-task k
    mdargy campaign status FILE [--check]
    mdargy campaign report FILE
    mdargy campaign slurm  FILE --nodes 2 --tasks-per-node 64 --time 24:00:00 [-o job.sh]
"""

from __future__ import annotations

import json
import sys

from mdargy.campaign.adapters import driver_config, validate_tasks
from mdargy.campaign.progress import format_duration
from mdargy.campaign.report import build_report
from mdargy.campaign.runner import run_campaign
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
    q.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    q.set_defaults(func=run_run)

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
                           reanalyse=tuple(args.reanalyse),
                           quiet=args.quiet)
    if summary.failed and _root():
        for tid, err in summary.failed.items():
            print(f"mdargy campaign run: task {tid} failed: {err}", file=sys.stderr)
    return 0 if summary.complete else 1


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
            e["status"] = "done" if rec.get("fingerprint") == t.fingerprint else "stale"
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
