"""A campaign that outlives its Slurm time limit, run as a chain of jobs on a real Slurm.

    scripts/slurm/start.sh                                  # single-node Slurm (root)
    nice -n 10 .venv/bin/python scripts/slurm/chain_demo.py /tmp/chain --json /tmp/chain.json

1. Calibrates the LJ step rate here (a 1-task campaign; its ``progress.json``).
2. Writes a 2-task LJ-argon EMD campaign (256 atoms, MSD) whose tasks each take about
   ``--task-s`` seconds (default 160) -- longer than the 2-minute job limit.
3. ``mdargy campaign slurm --resubmit --time 2`` writes the job script; ``sbatch`` submits it;
   the chain runs until the campaign is complete (each job submits its successor with an
   ``afterany`` dependency before it works; jobs are killed at their limit and the running task
   resumes from its checkpoint in the next job).
4. Runs the same campaign unbroken (``mdargy campaign run``, one rank) as the reference.
5. Checks: every task done exactly once (one ``tasks/<id>``, nothing left in ``work/``, no
   ``superseded-*``), thermo steps and trajectory frames continuous with no repeats, and the
   thermo table, final structure, driver result, trajectory and MSD/D identical to the
   reference (the drivers re-seed and re-set-up at every checkpoint, so a resumed run is
   deterministic on the same number of ranks).

Prints a summary and writes it as JSON (``--json``); exit 0 when every check passes, 1 when one
fails, 2 when Slurm is not up. Results of a run are in docs/campaigns.md ("Slurm").
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from mdargy.io.trajectory import load_trajectory

PY = sys.executable
JOB_NAME = "mdargy-chain"
DT_FS = 5.0
DUMP_FS = 1000.0

CAMPAIGN = """[campaign]
name = "{name}"
seed = 2024

[structure]
lattice = "fcc"
a_A = 5.30
element = "Ar"

[potential]
kind = "lj"
cutoff_A = 8.5
lj = {{ Ar = {{ epsilon_eV = 0.0104, sigma_A = 3.40 }} }}

[md]
timestep_fs = {dt}
thermo_every_fs = 1000.0

[emd]
msd_temperatures_K = {temps}
replicate = [4, 4, 4]
equilibration_ps = {eq_ps}
production_ps = {prod_ps}
dump_every_fs = {dump}
"""


def sh(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def slurm_up() -> str | None:
    """None when a Slurm node answers idle/mixed/allocated, else why not."""
    try:
        r = sh(["sinfo", "-h", "-o", "%t"], timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if r.returncode != 0:
        return f"sinfo failed: {r.stderr.strip()}"
    if not re.search(r"^(idle|mix|alloc)", r.stdout, re.M):
        return f"no node is up (sinfo: {r.stdout.strip() or 'nothing'})"
    return None


def calibrate(work: Path) -> float:
    """Steps per second of the 256-atom LJ EMD here, from a 1-task campaign's progress.json."""
    f = work / "calibrate.toml"
    f.write_text(CAMPAIGN.format(name="calibrate", dt=DT_FS, temps="[30.0]", eq_ps=5.0,
                                 prod_ps=60.0, dump=DUMP_FS))
    out = work / "calibrate"
    r = sh([PY, "-m", "mdargy", "campaign", "run", str(f), "--output", str(out), "--quiet"])
    if r.returncode != 0:
        raise SystemExit(f"calibration run failed:\n{r.stdout}\n{r.stderr}")
    d = json.loads((out / "tasks" / "emd_T30K" / "run" / "progress.json").read_text())
    return (d["step"] - d["first_step"]) / (d["time_unix"] - d["first_time_unix"])


def job_info(job_id: str) -> dict | None:
    r = sh(["scontrol", "show", "job", "-o", job_id])
    if r.returncode != 0 or "JobState=" not in r.stdout:
        return None
    kv = dict(re.findall(r"(\w+)=(\S*)", r.stdout))
    return {"id": job_id, "state": kv.get("JobState"), "reason": kv.get("Reason"),
            "run_time": kv.get("RunTime"), "exit_code": kv.get("ExitCode")}


def run_chain(work: Path, timeout_s: float) -> list[dict]:
    """Submit the job script and follow the chain until no job of it is left."""
    r = sh(["sbatch", "--parsable", "job.sh"], cwd=work)
    if r.returncode != 0:
        raise SystemExit(f"sbatch failed: {r.stderr}")
    jobs: dict[str, dict] = {r.stdout.strip().split(";")[0]: {}}
    t0 = time.time()
    idle_polls = 0
    while time.time() - t0 < timeout_s:
        q = sh(["squeue", "-h", "-n", JOB_NAME, "-o", "%i"])
        live = q.stdout.split()
        for j in live:
            jobs.setdefault(j, {})
        for j in jobs:
            info = job_info(j)
            if info:
                jobs[j] = info
        idle_polls = 0 if live else idle_polls + 1
        if idle_polls >= 3:
            break
        time.sleep(3)
    else:
        raise SystemExit(f"the chain did not end within {timeout_s:.0f} s: {jobs}")
    for j in jobs:
        log = work / f"{JOB_NAME}-{j}.out"
        jobs[j]["log"] = [ln for ln in (log.read_text().splitlines() if log.exists() else [])
                          if ln.startswith("mdargy:") or "CANCELLED" in ln or "TIME LIMIT" in ln
                          or " done " in ln or "resuming" in ln or "starting" in ln]
    return [jobs[j] for j in sorted(jobs, key=int)]


def _strip(obj):
    """JSON without what legitimately differs between two runs (times, paths, provenance)."""
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items()
                if not re.search(r"provenance|utc|path|output_dir|wall|host|pid|resumed", k)}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def check_store(out: Path, task_ids: list[str]) -> dict:
    """Every task done exactly once, nothing left half-done."""
    idx = json.loads((out / "campaign.json").read_text())
    res = {"work_left": sorted(p.name for p in (out / "work").iterdir())
           if (out / "work").is_dir() else [], "tasks": {}}
    for t in task_ids:
        rec = json.loads((out / "tasks" / t / "task.json").read_text())
        run = out / "tasks" / t / "run"
        steps = [int(float(line.split(",")[0]))
                 for line in (run / "thermo.csv").read_text().splitlines()[1:]]
        res["tasks"][t] = {
            "status": rec["status"], "attempts": len(rec.get("attempts", [])),
            "index_status": idx["tasks"][t]["status"],
            "resumed_from_step": rec["outputs"].get("resumed_from_step"),
            "superseded": sorted(p.name for p in run.glob("superseded-*")),
            "thermo_rows": len(steps),
            "thermo_steps_unique_increasing": all(b > a for a, b in zip(steps, steps[1:])),
        }
    return res


def compare(a: Path, b: Path) -> dict:
    """Task outputs of run ``a`` against the reference ``b``."""
    out = {}
    for name in ("thermo.csv", "final.data"):
        out[name] = (a / "run" / name).read_bytes() == (b / "run" / name).read_bytes()
    for name in ("run/result.json", "msd.json", "diffusion.json"):
        ja, jb = (json.loads((x / name).read_text()) for x in (a, b))
        out[name] = _strip(ja) == _strip(jb)
    ra = json.loads((a / "run" / "result.json").read_text())
    ta = load_trajectory(a / "run" / Path(ra["trajectory_path"]).name)
    tb = load_trajectory(b / "run" / Path(ra["trajectory_path"]).name)
    out["trajectory_frames"] = [int(ta.positions.shape[0]), int(tb.positions.shape[0])]
    out["trajectory_identical"] = bool(ta.positions.shape == tb.positions.shape and np.array_equal(
        ta.positions, tb.positions) and np.array_equal(ta.velocities, tb.velocities))
    out["trajectory_max_dx_A"] = (float(np.max(np.abs(ta.positions - tb.positions)))
                                  if ta.positions.shape == tb.positions.shape else None)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--task-s", type=float, default=160.0,
                    help="wall time of one task here, seconds (> 120 s so that jobs time out)")
    ap.add_argument("--time", default="2", help="Slurm time limit of each job (minutes)")
    ap.add_argument("--timeout-s", type=float, default=2400.0, help="give up after this long")
    ap.add_argument("--json", type=Path, default=None, help="write the summary here")
    args = ap.parse_args(argv)
    why = slurm_up()
    if why:
        print(f"Slurm is not up: {why}; start it with scripts/slurm/start.sh", file=sys.stderr)
        return 2
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=False)
    rate = calibrate(work)
    # production long enough for task_s seconds at the measured rate, in whole ps
    eq_ps = 10.0
    prod_ps = float(max(60, math.ceil((rate * args.task_s - eq_ps * 1e3 / DT_FS) * DT_FS / 1e3)))
    text = CAMPAIGN.format(name="chain", dt=DT_FS, temps="[30.0, 40.0]", eq_ps=eq_ps,
                           prod_ps=prod_ps, dump=DUMP_FS)
    (work / "chain.toml").write_text(text)
    r = sh([PY, "-m", "mdargy", "campaign", "slurm", "chain.toml", "--output", "chain",
            "--nodes", "1", "--tasks-per-node", "1", "--time", args.time, "--job-name", JOB_NAME,
            "--resubmit", "-o", "job.sh"], cwd=work)
    if r.returncode != 0:
        raise SystemExit(f"mdargy campaign slurm failed: {r.stderr}")
    print(f"calibrated {rate:.0f} steps/s; production {prod_ps:g} ps per task "
          f"(~{args.task_s:.0f} s); job limit {args.time} min", flush=True)
    t0 = time.time()
    jobs = run_chain(work, args.timeout_s)
    chain_s = time.time() - t0
    print(f"chain of {len(jobs)} jobs in {chain_s:.0f} s; reference run ...", flush=True)
    t0 = time.time()
    r = sh([PY, "-m", "mdargy", "campaign", "run", "chain.toml", "--output", "reference",
            "--quiet"], cwd=work)
    ref_s = time.time() - t0
    if r.returncode != 0:
        raise SystemExit(f"reference run failed:\n{r.stdout}\n{r.stderr}")
    ids = ["emd_T30K", "emd_T40K"]
    store = check_store(work / "chain", ids)
    same = {t: compare(work / "chain" / "tasks" / t, work / "reference" / "tasks" / t)
            for t in ids}
    status = sh([PY, "-m", "mdargy", "campaign", "status", "chain.toml", "--output", "chain",
                 "--check"], cwd=work)
    summary = {"rate_steps_s": rate, "production_ps": prod_ps, "time_limit_min": args.time,
               "jobs": jobs, "chain_wall_s": chain_s, "reference_wall_s": ref_s,
               "status_check_exit": status.returncode, "status": status.stdout.splitlines(),
               "store": store, "identical_to_reference": same}
    checks = {
        "some job hit its time limit": any(j.get("state") == "TIMEOUT" for j in jobs),
        "last job completed": jobs[-1].get("state") in ("COMPLETED", "CANCELLED"),
        "campaign complete (status --check 0)": status.returncode == 0,
        "each task done once, nothing left in work/": not store["work_left"] and all(
            t["status"] == "done" and t["index_status"] == "done" and not t["superseded"]
            and t["thermo_steps_unique_increasing"] for t in store["tasks"].values()),
        "a task resumed from a checkpoint": any(t["resumed_from_step"]
                                                for t in store["tasks"].values()),
        "identical to the unbroken run": all(all(v for k, v in s.items() if k not in (
            "trajectory_frames", "trajectory_max_dx_A")) for s in same.values()),
    }
    summary["checks"] = checks
    for j in jobs:
        print(f"job {j['id']}: {j.get('state')} after {j.get('run_time')} "
              f"(exit {j.get('exit_code')})")
        for ln in j.get("log", []):
            print(f"    {ln}")
    for t, s in store["tasks"].items():
        print(f"{t}: {s['status']}, started by {s['attempts']} job(s), resumed from step "
              f"{s['resumed_from_step']}, {s['thermo_rows']} thermo rows; vs reference: "
              + ", ".join(f"{k}={v}" for k, v in same[t].items()))
    for k, v in checks.items():
        print(f"[{'ok' if v else 'FAILED'}] {k}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
