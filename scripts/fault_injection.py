"""Fault injection on a small LJ-argon run folder: no fault may give a silent outcome.

For every file of a run folder -- of a run killed mid-production, and of a finished run -- and
for every fault (truncate, delete, garble, symlink), the folder is damaged, then the same
``mdargy emd`` command resumes it (killed run), or ``mdargy msd`` analyses its trajectories
and the ``mdargy emd`` command is run again (finished run). Kills are injected at every checkpoint too. Each case must end either

* **identical**: exit 0 and the same trajectory, thermo table and result (or MSD) as an
  uninterrupted run, or
* **refused**: a non-zero exit with one clear ``mdargy ...: error:`` line,

anything else is **SILENT** and fails. Run ``python scripts/fault_injection.py [--quick]``
(``--real-kill`` adds SIGKILLs of a real ``mdargy emd`` process); ``tests/test_safety_faults.py``
runs the ``--quick`` subset: every file of the folder and every kind of fault, once each.

The CLI is called in-process (``mdargy.cli.main``); a kill is simulated by the driver's test
hook (stop after N checkpoints) and, with ``--real-kill``, by SIGKILL of a subprocess.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CIF = ROOT / "inputs" / "examples" / "Ar_fcc.cif"
FAULTS = ("truncate", "delete", "garble", "symlink")

CONFIG = """structure = "{cif}"
replicate = [2, 2, 2]
output_dir = "{out}"
temperature_K = 50.0
timestep_fs = 5.0
seed = 99
equilibration_ps = 0.5
production_ensemble = "nve"
production_ps = 1.5
dump_every_fs = 50.0
thermo_every_fs = 50.0
checkpoint_every_ps = 0.25

[potential]
kind = "lj"
cutoff_A = 8.5
lj = {{ Ar = {{ epsilon_eV = 0.0104, sigma_A = 3.40 }} }}
"""


def cli(argv, env=None) -> tuple[int, str]:
    """Run ``mdargy ARGV`` in this process; (exit code, stderr)."""
    from mdargy.cli import main

    old = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(list(argv))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return rc, err.getvalue()


#: the longer run the SIGKILL cases interrupt (so that the kill lands mid-run)
LONG = {"production_ps = 1.5": "production_ps = 30.0",
        "checkpoint_every_ps = 0.25": "checkpoint_every_ps = 2.5"}


def write_config(folder: Path, out: Path, changes: dict | None = None) -> Path:
    toml = folder / f"{out.name}.toml"
    text = CONFIG.format(cif=CIF, out=out)
    for a, b in (changes or {}).items():
        text = text.replace(a, b)
    toml.write_text(text)
    return toml


def killed_run(folder: Path, name: str, n_checkpoints: int) -> tuple[Path, Path]:
    out = folder / name
    toml = write_config(folder, out)
    rc, err = cli(["emd", str(toml), "-q"],
                  env={"MDARGY_TEST_STOP_AFTER_CHECKPOINTS": str(n_checkpoints)})
    assert rc == 130, (rc, err)
    return toml, out


def finished_run(folder: Path, name: str) -> tuple[Path, Path]:
    out = folder / name
    toml = write_config(folder, out)
    rc, err = cli(["emd", str(toml), "-q"])
    assert rc == 0, err
    return toml, out


def run_files(out: Path) -> list[str]:
    """Every file of a run folder, relative to it (the log files too)."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def inject(out: Path, rel: str, fault: str, spare: Path) -> None:
    p = out / rel
    data = p.read_bytes()
    if fault == "truncate":
        p.write_bytes(data[: len(data) // 2])
    elif fault == "delete":
        p.unlink()
    elif fault == "garble":  # same size, a run of bytes in the middle replaced
        rng = np.random.default_rng(len(data))
        k = len(data) // 2
        n = max(1, min(256, len(data) - k))
        junk = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        if junk == data[k:k + n]:
            junk = bytes(b ^ 0xFF for b in junk)
        p.write_bytes(data[:k] + junk + data[k + n:])
    elif fault == "symlink":  # same content, but a link to a file outside the folder
        target = spare / (rel.replace("/", "_") + ".target")
        target.write_bytes(data)
        p.unlink()
        p.symlink_to(target)
    else:
        raise ValueError(fault)


def outputs_identical(out: Path, ref: Path) -> str | None:
    """None when the run in ``out`` equals the reference, else what differs."""
    from mdargy.io.netcdf import read_netcdf_trajectory

    if not (out / "result.json").exists():
        return "no result.json"
    try:
        a = read_netcdf_trajectory(ref / "traj.nc")
        b = read_netcdf_trajectory(out / "traj.nc")
    except Exception as exc:  # noqa: BLE001 - any failure is a difference
        return f"trajectory unreadable: {exc}"
    if a.steps.tolist() != b.steps.tolist():
        return f"trajectory steps differ ({len(b.steps)} frames vs {len(a.steps)})"
    if not np.allclose(a.positions, b.positions, rtol=0, atol=1e-9):
        return "trajectory positions differ"
    if (out / "traj.lammpstrj").read_bytes() != (ref / "traj.lammpstrj").read_bytes():
        ta, tb = ((d / "traj.lammpstrj").read_text().count("ITEM: TIMESTEP") for d in (ref, out))
        if ta != tb:
            return f"text dump has {tb} frames, expected {ta}"
        la = np.array((ref / "traj.lammpstrj").read_text().split(), dtype=object)
        lb = np.array((out / "traj.lammpstrj").read_text().split(), dtype=object)
        if len(la) != len(lb):
            return "text dump differs"
    ta = np.genfromtxt(ref / "thermo.csv", delimiter=",", skip_header=1, usecols=range(11))
    tb = np.genfromtxt(out / "thermo.csv", delimiter=",", skip_header=1, usecols=range(11))
    if ta.shape != tb.shape or not np.allclose(ta, tb, rtol=1e-9):
        return "thermo.csv differs"
    ra = json.loads((ref / "result.json").read_text())
    rb = json.loads((out / "result.json").read_text())
    for k in ("n_frames", "T_mean_K", "pe_mean_eV", "etotal_drift_eV_atom_ps"):
        if not np.isclose(ra[k], rb[k], rtol=1e-9):
            return f"result {k} differs: {rb[k]} vs {ra[k]}"
    return None


def classify(rc: int, err: str, identical: str | None, command: str) -> tuple[str, str]:
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("mdargy: note")]
    if rc != 0:
        msg = next((ln for ln in lines if ln.startswith(f"mdargy {command}: error:")), None)
        if msg is None:
            return "SILENT", f"exit {rc} without a clear error line: {err.strip()[-300:]!r}"
        return "refused", msg
    if identical is None:
        return "identical", ""
    return "SILENT", f"exit 0 but {identical}"


def resume_case(folder: Path, ref: Path, rel: str, fault: str, n_kill: int = 5) -> dict:
    """Kill a run after ``n_kill`` checkpoints, damage ``rel``, resume it with the same command."""
    name = f"k-{rel.replace('/', '_')}-{fault}"
    toml, out = killed_run(folder, name, n_kill)
    spare = folder / f"{name}-spare"
    spare.mkdir()
    before = {p: (spare / p).read_bytes() for p in os.listdir(spare)}
    if not (out / rel).exists():
        return {"file": rel, "fault": fault, "stage": "killed", "outcome": "n/a",
                "detail": "file not present after the kill"}
    inject(out, rel, fault, spare)
    rc, err = cli(["emd", str(toml), "-q"])
    ident = outputs_identical(out, ref) if rc == 0 else None
    outcome, detail = classify(rc, err, ident, "emd")
    for p in spare.iterdir():  # a symlink target outside the folder is never written
        if p.name in before and p.read_bytes() != before[p.name]:
            outcome, detail = "SILENT", f"wrote through the symlink into {p}"
    return {"file": rel, "fault": fault, "stage": "killed", "outcome": outcome, "detail": detail}


def msd_result(traj: Path, outdir: Path) -> tuple[int, str, dict | None]:
    rc, err = cli(["msd", str(traj), "-o", str(outdir)])
    data = json.loads((outdir / "msd.json").read_text()) if rc == 0 else None
    return rc, err, data


def analyse_case(folder: Path, fin_ref: Path, ref_msd: dict, rel: str, fault: str) -> dict:
    """Damage ``rel`` of a finished run; analyse both trajectories with ``mdargy msd``."""
    name = f"f-{rel.replace('/', '_')}-{fault}"
    dest = folder / name
    shutil.copytree(fin_ref, dest, symlinks=True)
    spare = folder / f"{name}-spare"
    spare.mkdir()
    inject(dest, rel, fault, spare)
    results = []
    for t in ("traj.nc", "traj.lammpstrj"):
        if not (dest / t).exists() and not (dest / t).is_symlink():
            rc, err = cli(["msd", str(dest / t), "-o", str(dest / f"msd-{t}")])
            results.append(classify(rc, err, None, "msd"))
            continue
        rc, err, data = msd_result(dest / t, dest / f"msd-{t}")
        diff = None
        if rc == 0:
            a, b = ref_msd[t]["msd"], data["msd"]
            same = (np.allclose(a["msd_A2"], b["msd_A2"], rtol=1e-7, atol=1e-12)
                    and np.allclose(a["time_ps"], b["time_ps"], rtol=1e-12))
            diff = None if same else "MSD differs from the undamaged run"
        results.append(classify(rc, err, diff, "msd"))
    # the finished command run again: "done" only when every result file is intact
    toml = write_config(folder, dest)
    rc, err = cli(["emd", str(toml), "-q"])
    diff = None
    if rc == 0:
        diff = outputs_identical(dest, fin_ref)
        for extra in ("final.data", "final.extxyz"):
            if diff is None and (not (dest / extra).is_file() or (dest / extra).read_bytes()
                                 != (fin_ref / extra).read_bytes()):
                diff = f"{extra} missing or changed"
    results.append(classify(rc, err, diff, "emd"))
    silent = [r for r in results if r[0] == "SILENT"]
    outcome = "SILENT" if silent else ("refused" if any(r[0] == "refused" for r in results)
                                       else "identical")
    detail = "; ".join(r[1] for r in (silent or results) if r[1])
    return {"file": rel, "fault": fault, "stage": "finished", "outcome": outcome,
            "detail": detail}


def kill_case(folder: Path, ref: Path, n: int) -> dict:
    toml, out = killed_run(folder, f"kill-{n}", n)
    rc, err = cli(["emd", str(toml), "-q"])
    outcome, detail = classify(rc, err, outputs_identical(out, ref) if rc == 0 else None, "emd")
    return {"file": "(process)", "fault": f"kill after checkpoint {n}", "stage": "running",
            "outcome": outcome, "detail": detail}


def real_kill_case(folder: Path, long_ref: Path, k: int) -> dict:
    """SIGKILL a real ``mdargy emd`` process (a longer run) once its ``k``-th checkpoint state is
    on disk, then resume it with the same command."""
    out = folder / f"sigkill-{k}"
    toml = write_config(folder, out, LONG)
    proc = subprocess.Popen([sys.executable, "-m", "mdargy", "emd", str(toml), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state, t0, seen = out / "checkpoints" / "state.json", time.time(), 0
    last = None
    while proc.poll() is None and time.time() - t0 < 120 and seen < k:
        try:
            cur = state.stat().st_mtime_ns
        except FileNotFoundError:
            cur = None
        if cur is not None and cur != last:
            seen, last = seen + 1, cur
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = (out / "result.json").exists()
    rc, err = cli(["emd", str(toml), "-q"])
    outcome, detail = classify(rc, err, outputs_identical(out, long_ref) if rc == 0 else None,
                               "emd")
    if finished:
        detail = ("(the kill came after the run finished) " + detail).strip()
    return {"file": "(process)", "fault": f"SIGKILL after checkpoint ~{k}", "stage": "running",
            "outcome": outcome, "detail": detail}


def reference(folder: Path) -> tuple[Path, dict]:
    _, ref = finished_run(folder, "reference")
    msd = {}
    for t in ("traj.nc", "traj.lammpstrj"):
        rc, err, data = msd_result(ref / t, folder / f"ref-msd-{t}")
        assert rc == 0, err
        msd[t] = data
    return ref, msd


def campaign(folder: Path, quick: bool = False, real_kill: bool = False) -> list[dict]:
    """All cases (``quick``: each file once, faults in rotation)."""
    ref, ref_msd = reference(folder)
    _, probe = killed_run(folder, "probe", 5)
    killed_files = run_files(probe)
    finished_files = run_files(ref)
    rows = []
    for i, rel in enumerate(killed_files):
        faults = [FAULTS[i % len(FAULTS)]] if quick else FAULTS
        for fault in faults:
            rows.append(resume_case(folder, ref, rel, fault))
    for i, rel in enumerate(finished_files):
        faults = [FAULTS[(i + 1) % len(FAULTS)]] if quick else FAULTS
        for fault in faults:
            rows.append(analyse_case(folder, ref, ref_msd, rel, fault))
    kills = (2, 5) if quick else range(1, 9)
    rows += [kill_case(folder, ref, n) for n in kills]
    if real_kill:
        long_ref = folder / "reference-long"
        rc, err = cli(["emd", str(write_config(folder, long_ref, LONG)), "-q"])
        assert rc == 0, err
        rows += [real_kill_case(folder, long_ref, k) for k in (1, 3, 6, 9)]
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="each file once, faults in rotation")
    ap.add_argument("--real-kill", action="store_true", help="also SIGKILL real processes")
    ap.add_argument("--keep", help="work in this folder and keep it")
    ap.add_argument("--json", help="write the table of outcomes here")
    args = ap.parse_args(argv)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mdargy-faults-"))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows = campaign(folder, quick=args.quick, real_kill=args.real_kill)
    for r in rows:
        print(f"{r['outcome']:<9} {r['stage']:<8} {r['file']:<34} {r['fault']:<22} "
              f"{r['detail'][:150]}")
    counts = {k: sum(r["outcome"] == k for r in rows) for k in ("identical", "refused", "SILENT",
                                                               "n/a")}
    print(f"{len(rows)} cases in {time.time() - t0:.0f} s: " +
          ", ".join(f"{v} {k}" for k, v in counts.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 1 if counts["SILENT"] else 0


if __name__ == "__main__":
    sys.exit(main())
