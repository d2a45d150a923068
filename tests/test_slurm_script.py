"""The chain logic of the Slurm job script, run by bash with stand-ins for Slurm's commands.

The job script is executed from a spooled copy (as slurmd does) with ``sbatch``, ``scontrol``,
``scancel`` and ``srun`` replaced by small scripts that record their arguments, and a stand-in
Python whose ``campaign status --check`` answers a scripted exit code. The real thing, against a
real Slurm, is ``tests/test_slurm_chain.py`` (opt-in).
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from mdargy.campaign.slurm import slurm_script

DEMO = Path(__file__).resolve().parents[1] / "inputs" / "campaigns" / "demo_lj_argon.toml"

FAKES = {
    # records its arguments; answers a job id like `sbatch --parsable`
    "sbatch": 'echo "sbatch $*" >> "$FAKE/calls"; echo 4242',
    "scancel": 'echo "scancel $*" >> "$FAKE/calls"',
    # what Slurm recorded at submission: Command= the submitted file (or (null) for stdin)
    "scontrol": 'echo "   JobId=$3 JobName=x"; echo "   Command=$(cat "$FAKE/command")"',
    # drop srun's options, run the command
    "srun": 'while [ "${1#--}" != "$1" ]; do shift; done; exec "$@"',
}
# the stand-in Python: "campaign status --check" exits with the next scripted code,
# "campaign run" is recorded
PYTHON = """#!/bin/bash
case "$*" in
  *"campaign status"*)
      code=$(head -n 1 "$FAKE/left"); sed -i 1d "$FAKE/left"; exit "$code" ;;
  *"campaign run"*) echo "run $*" >> "$FAKE/calls" ;;
esac
"""


def _exe(path: Path, body: str) -> Path:
    path.write_text(body if body.startswith("#!") else "#!/bin/bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake(tmp_path):
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name, body in FAKES.items():
        _exe(bin_ / name, body)
    python = _exe(tmp_path / "python", PYTHON)
    return tmp_path, bin_, python


def run_job(tmp_path, bin_, python, left, chain=None, command="submitted", script_path=True,
            resubmit=True, max_jobs=100):
    """Write the job script as ``submitted/job.sh``, run a spooled copy of it; returns
    (exit code, stdout, calls)."""
    sub = tmp_path / "submitted"
    sub.mkdir(exist_ok=True)
    job = sub / "job.sh"
    text = slurm_script(DEMO, 1, 1, "10", python=str(python), resubmit=resubmit,
                        script_path=job if script_path else None, max_jobs=max_jobs)
    job.write_text(text)
    spool = tmp_path / "spool" / "job00077"
    spool.mkdir(parents=True, exist_ok=True)
    (spool / "slurm_script").write_text(text)
    (tmp_path / "command").write_text(str(job) if command == "submitted" else command)
    (tmp_path / "left").write_text("".join(f"{c}\n" for c in left))
    calls = tmp_path / "calls"
    calls.write_text("")
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "FAKE": str(tmp_path),
           "SLURM_JOB_ID": "77", "SLURM_SUBMIT_DIR": str(sub)}
    env.pop("MDARGY_CHAIN_JOB", None)
    if chain is not None:
        env["MDARGY_CHAIN_JOB"] = str(chain)
    r = subprocess.run(["bash", str(spool / "slurm_script")], env=env, capture_output=True,
                       text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr, calls.read_text().splitlines(), job, spool


def test_first_job_submits_the_recorded_file_before_working_and_cancels_it_when_done(fake):
    code, out, calls, job, spool = run_job(*fake, left=[3, 0])
    assert code == 0, out
    sb = [c for c in calls if c.startswith("sbatch")]
    assert sb == [f"sbatch --parsable --dependency=afterany:77 --export=ALL,MDARGY_CHAIN_JOB=2 "
                  f"{job}"], calls
    assert str(spool) not in " ".join(calls)  # never the spooled copy ("$0")
    assert calls.index(sb[0]) < next(i for i, c in enumerate(calls) if c.startswith("run "))
    assert calls[-1] == "scancel 4242" and "campaign complete" in out


def test_a_job_that_leaves_tasks_keeps_its_successor(fake):
    code, out, calls, job, _ = run_job(*fake, left=[3, 3], chain=4)
    assert code == 0, out
    assert any("MDARGY_CHAIN_JOB=5" in c and c.endswith(str(job)) for c in calls)
    assert not any(c.startswith("scancel") for c in calls)
    assert "job 4 of the chain; submitted its successor 4242" in out


def test_successor_of_a_complete_campaign_does_nothing(fake):
    code, out, calls, *_ = run_job(*fake, left=[0], chain=2)
    assert code == 0 and calls == [] and "nothing to do" in out


def test_successor_with_only_failed_tasks_stops_the_chain(fake):
    code, out, calls, *_ = run_job(*fake, left=[1], chain=3)
    assert code == 1 and calls == [] and "only failed tasks" in out


def test_first_job_retries_failed_tasks_without_a_successor(fake):
    code, out, calls, *_ = run_job(*fake, left=[1, 1])
    assert [c.split()[0] for c in calls] == ["run"]


def test_no_recorded_file_falls_back_to_the_saved_script_or_says_so(fake):
    _, out, calls, job, _ = run_job(*fake, left=[3, 3], command="(null)")
    assert any(c.startswith("sbatch") and c.endswith(str(job)) for c in calls)
    _, out, calls, job, _ = run_job(*fake, left=[3, 3], command="(null)", script_path=False)
    assert not any(c.startswith("sbatch") for c in calls)
    assert "cannot tell which file was submitted" in out


def test_the_chain_has_a_length_limit(fake):
    _, out, calls, *_ = run_job(*fake, left=[3, 3], chain=5, max_jobs=5)
    assert not any(c.startswith("sbatch") for c in calls) and "5 jobs in this chain" in out


def test_without_resubmit_nothing_is_submitted(fake):
    code, out, calls, *_ = run_job(*fake, left=[3], resubmit=False)
    assert [c.split()[0] for c in calls] == ["run"] and "sbatch this script again" in out
