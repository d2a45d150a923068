"""Slurm batch scripts for a campaign.

The script requests ``nodes x tasks_per_node`` MPI ranks, starts ``mdargy campaign run`` under
``srun`` (or ``mpirun``) with ``--ranks-per-task k`` and a ``--stop-after`` that keeps a margin
before the wall-time limit (no new task starts when it could not finish; running tasks are killed
at the limit and resume from their checkpoints). With ``resubmit=True`` the campaign runs
through as a chain of jobs: each job, when tasks are left (``mdargy campaign status --check``
exit code), first submits its successor with ``--dependency=afterany:<this job>`` and then works.

Why at the start and not at the end: at the wall-time limit Slurm kills the batch script along
with its job steps, so a resubmission at the end of the script would never run in exactly the
case it is for. The successor is the file that was submitted, as Slurm recorded it at submission
(``scontrol show job``: ``Command=``); ``"$0"`` would be Slurm's spooled copy
(``.../slurmd/job<id>/slurm_script``), gone when the job ends. A successor that finds the
campaign complete exits at once (and is cancelled by its predecessor when that one completes
the campaign normally); the chain stops when only failed tasks are left or after ``max_jobs``
jobs. Tested against a real single-node Slurm (``scripts/slurm/``, ``tests/test_slurm_chain.py``).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from mdargy.errors import InputError

LAUNCHERS = ("srun", "mpirun")


def parse_walltime(text: str) -> int:
    """Seconds in a Slurm time limit.

    Slurm accepts ``minutes``, ``minutes:seconds``, ``hours:minutes:seconds``, ``days-hours``,
    ``days-hours:minutes`` and ``days-hours:minutes:seconds``.
    """
    t = text.strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", t)
    if not m:
        raise InputError(f"time limit {text!r} is not a Slurm time ([D-]HH:MM:SS, MM:SS or minutes)")
    d, a, b, c = m.groups()
    a = int(a)
    if d is not None:  # days-hours[:minutes[:seconds]]
        total = int(d) * 86400 + a * 3600 + int(b or 0) * 60 + int(c or 0)
    elif c is not None:  # H:M:S
        total = a * 3600 + int(b) * 60 + int(c)
    elif b is not None:  # M:S
        total = a * 60 + int(b)
    else:  # minutes
        total = a * 60
    if total <= 0:
        raise InputError(f"time limit {text!r} must be positive")
    return total


#: what a Slurm partition, account or QOS name may hold (no spaces, quotes, newlines or shell
#: metacharacters: they go into ``#SBATCH`` lines)
_SLURM_NAME = re.compile(r"[A-Za-z0-9_.,:+=@%-]{1,128}")


def _check_slurm_name(option: str, value: str) -> str:
    if not _SLURM_NAME.fullmatch(str(value)):
        raise InputError(f"--{option} {value!r}: a Slurm {option} name is letters, digits and "
                         "'_.,:+=@%-' only (no spaces, newlines or shell metacharacters)")
    return str(value)


def _check_path(what: str, path) -> str:
    """Refuse control characters (newlines) in a path written into the script."""
    s = str(path)
    bad = sorted({repr(c) for c in s if ord(c) < 32 or ord(c) == 127})
    if bad:
        raise InputError(f"{what} {s!r} contains {', '.join(bad)}: rename it before writing a "
                         "batch script")
    return s


def slurm_script(
    campaign_file: str | Path,
    nodes: int,
    tasks_per_node: int,
    time_limit: str,
    ranks_per_task: int = 1,
    job_name: str = "mdargy",
    partition: str | None = None,
    account: str | None = None,
    launcher: str = "srun",
    python: str | None = None,
    setup: str = "",
    margin_min: float | None = None,
    resubmit: bool = False,
    output: str | None = None,
    script_path: str | Path | None = None,
    max_jobs: int = 100,
) -> str:
    """Text of a Slurm batch script that runs (or resumes) ``campaign_file``.

    Parameters
    ----------
    nodes, tasks_per_node : int
        MPI ranks = ``nodes * tasks_per_node``; must be a multiple of ``ranks_per_task``.
    time_limit : str
        Slurm ``--time``.
    launcher : {"srun", "mpirun"}
        ``srun --mpi=pmi2`` (cluster MPI through Slurm's PMI) or the environment's ``mpirun``.
    python : str
        Python interpreter with mdargy installed; default the one running this function.
    setup : str
        Lines inserted before the launch (``module load ...``, ``source venv/bin/activate``).
    margin_min : float
        Minutes before the limit after which no new task starts; default 10% of the limit,
        at least 2 and at most 60 minutes.
    resubmit : bool
        Chain: while tasks are left, each job submits the next one (``afterany`` dependency)
        before it starts working.
    output : str
        Campaign output directory (``--output``), if not the file's.
    script_path : path
        Where the script will be saved: the successor's file when Slurm has no record of the
        submitted file (a script given on standard input).
    max_jobs : int
        Longest chain (a guard against a campaign that makes no progress).
    """
    for name, v in (("nodes", nodes), ("tasks_per_node", tasks_per_node),
                    ("ranks_per_task", ranks_per_task)):
        if int(v) < 1:
            raise InputError(f"{name} must be >= 1, got {v}")
    n = int(nodes) * int(tasks_per_node)
    if n % int(ranks_per_task):
        raise InputError(f"nodes x tasks-per-node = {n} ranks is not a multiple of "
                         f"--ranks-per-task {ranks_per_task}")
    if launcher not in LAUNCHERS:
        raise InputError(f"launcher must be one of {', '.join(LAUNCHERS)}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", job_name):
        raise InputError(f"job name {job_name!r} must be letters, digits, '_', '.', '-'")
    if partition:
        partition = _check_slurm_name("partition", partition)
    if account:
        account = _check_slurm_name("account", account)
    _check_path("campaign file", campaign_file)
    for what, p in (("output directory", output), ("script path", script_path),
                    ("python", python)):
        if p:
            _check_path(what, p)
    limit_s = parse_walltime(time_limit)
    if margin_min is None:
        margin_min = min(60.0, max(2.0, 0.1 * limit_s / 60))
    stop_after_s = max(60, int(limit_s - margin_min * 60))
    python = python or sys.executable
    cf = shlex.quote(str(Path(campaign_file).resolve()))
    out_arg = f" --output {shlex.quote(str(Path(output).resolve()))}" if output else ""
    run_args = (f"-m mdargy campaign run {cf} --ranks-per-task {int(ranks_per_task)} "
                f"--stop-after {stop_after_s}{out_arg}")
    if launcher == "srun":
        launch = f"srun --mpi=pmi2 --ntasks={n} {shlex.quote(python)} {run_args}"
    else:
        launch = f"mpirun -np {n} {shlex.quote(python)} {run_args}"
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name}",
        f"#SBATCH --nodes={int(nodes)}",
        f"#SBATCH --ntasks-per-node={int(tasks_per_node)}",
        "#SBATCH --cpus-per-task=1",
        f"#SBATCH --time={time_limit.strip()}",
        f"#SBATCH --output={job_name}-%j.out",
    ]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    lines += [
        "",
        f"# mdargy campaign: {shlex.quote(Path(campaign_file).name)}; {n} MPI ranks in {n // int(ranks_per_task)}"
        f" groups of {int(ranks_per_task)} (one LAMMPS run per group at a time).",
        "# Re-submitting this script resumes the campaign: finished tasks are skipped, interrupted",
        "# ones restart from their checkpoints. No new task starts in the last "
        f"{margin_min:g} min.",
        "set -u",
        "export OMP_NUM_THREADS=1",
        'cd "${SLURM_SUBMIT_DIR:-.}"',
    ]
    if setup.strip():
        lines += ["", "# environment", *setup.strip().splitlines()]
    check = f"{shlex.quote(python)} -m mdargy campaign status {cf}{out_arg} --check >/dev/null"
    if resubmit:
        if int(max_jobs) < 1:
            raise InputError(f"max_jobs must be >= 1, got {max_jobs}")
        fallback = shlex.quote(str(Path(script_path).resolve())) if script_path else "''"
        lines += [
            "",
            "# chain: while tasks are left, submit the successor first (afterany: it runs when",
            "# this job ends, also when it is killed at its time limit, which kills this script",
            "# too). It is the file that was submitted, as Slurm recorded it -- not \"$0\", which",
            "# is Slurm's spooled copy of this script.",
            "chain=${MDARGY_CHAIN_JOB:-1}",
            "next=",
            check,
            "left=$?   # 0: complete, 3: tasks left to run, 1: only failed tasks left",
            'if [ "$left" -eq 0 ]; then echo "mdargy: campaign complete, nothing to do"; exit 0; fi',
            'if [ "$left" -ne 3 ] && [ "$chain" -gt 1 ]; then',
            '    echo "mdargy: only failed tasks are left (see their error.txt): the chain stops"',
            "    exit 1",
            "fi",
            'me=$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null | sed -n "s/^ *Command=//p" | head -n 1)',
            f'[ -f "$me" ] || me={fallback}',
            'if [ "$left" -ne 3 ]; then',
            "    :  # only failed tasks: retried once by this job, no successor",
            f'elif [ "$chain" -ge {int(max_jobs)} ]; then',
            f'    echo "mdargy: {int(max_jobs)} jobs in this chain: not resubmitting (sbatch the script '
            'again to go on)"',
            'elif [ -f "$me" ]; then',
            '    next=$(sbatch --parsable --dependency=afterany:"$SLURM_JOB_ID" '
            '--export=ALL,MDARGY_CHAIN_JOB=$((chain + 1)) "$me")',
            '    echo "mdargy: job $chain of the chain; submitted its successor $next ($me)"',
            "else",
            '    echo "mdargy: cannot tell which file was submitted (none recorded by Slurm): no '
            'successor; sbatch the script again to go on"',
            "fi",
        ]
    lines += ["", launch, "status=$?", ""]
    lines += [check, "left=$?   # 0: complete, 3: tasks left to run, 1: only failed tasks left"]
    if resubmit:
        lines += [
            'if [ "$left" -eq 0 ]; then',
            '    [ -n "$next" ] && scancel "$next"  # the successor would have nothing to do',
            '    echo "mdargy: campaign complete"',
            "fi",
        ]
    else:
        lines += ['if [ "$left" -ne 0 ]; then echo "campaign incomplete: sbatch this script again '
                  'to resume"; fi']
    lines += ["exit $status", ""]
    return "\n".join(lines)
