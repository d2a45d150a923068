#!/usr/bin/env python
"""`make demo`: run the embedded demo campaign, build its report, print the headline numbers.

Runs ``inputs/campaigns/demo.toml`` (Cu7PS6 with the shipped MTP: NEMD at 300 K and three
lengths, EMD at 300 and 550 K for the Cu diffusion coefficient, the DOS and the Green–Kubo κ)
under the virtual environment's ``mpirun`` with 2 ranks split into 2 groups of 1 rank (or
serially when mpirun is unavailable), then ``mdargy campaign report``, and prints κ∞ ± σ, D and
the path of the summary page. Output: ``demo-output/`` at the top of the repository.

Re-running is cheap: finished tasks are skipped (an interrupted demo resumes from its
checkpoints), and the report is rebuilt from the stored results.

Usage: python scripts/demo.py [--ranks N] [--serial]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "inputs" / "campaigns" / "demo.toml"
OUTPUT = ROOT / "demo-output"


def mpirun_path() -> Path | None:
    p = Path(sys.executable).parent / "mpirun"
    if p.exists():
        return p
    found = shutil.which("mpirun")
    return Path(found) if found else None


def run_parallel(mpirun: Path, ranks: int) -> int:
    cmd = [str(mpirun), "-np", str(ranks), sys.executable, "-m", "mdargy", "campaign", "run",
           str(CAMPAIGN), "--ranks-per-task", "1", "--output", str(OUTPUT)]
    print("$ " + " ".join(cmd[:3]) + " python -m mdargy campaign run "
          f"{CAMPAIGN.relative_to(ROOT)} --ranks-per-task 1 --output {OUTPUT.relative_to(ROOT)}",
          flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.call(cmd, env=env, cwd=str(ROOT))


def run_serial() -> int:
    from mdargy.campaign.runner import run_campaign

    print("mpirun not available: running the tasks one after the other in this process",
          flush=True)
    summary = run_campaign(CAMPAIGN, output=OUTPUT, tick_s=30)
    return 0 if summary.complete else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ranks", type=int, default=2, help="MPI ranks (each runs one task)")
    ap.add_argument("--serial", action="store_true", help="do not use mpirun")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    print(f"== mdargy demo: {CAMPAIGN.relative_to(ROOT)} -> {OUTPUT.relative_to(ROOT)}/ ==",
          flush=True)
    mpirun = None if args.serial else mpirun_path()
    rc = run_parallel(mpirun, args.ranks) if mpirun else run_serial()
    if mpirun and rc not in (0, 2, 3) and not (OUTPUT / "campaign.json").exists():
        # mpirun itself could not start the ranks (no MPI launcher support here)
        print(f"demo: mpirun failed (exit code {rc}) before the campaign started", flush=True)
        rc = run_serial()
    if rc != 0:
        print(f"demo: the campaign did not complete (exit code {rc}); see "
              f"{OUTPUT.relative_to(ROOT)}/campaign.json. Re-run `make demo` to resume.",
              file=sys.stderr)

    import json

    from mdargy.campaign.report import build_report
    from mdargy.errors import MdargyError

    try:
        counts = json.loads((OUTPUT / "campaign.json").read_text()).get("counts", {})
    except (OSError, ValueError):
        counts = {}
    if counts.get("stale"):
        print(f"demo: {OUTPUT.relative_to(ROOT)}/ holds {counts['stale']} task(s) run with an older "
              f"{CAMPAIGN.name}; they are kept, not overwritten. Move the folder away (or delete "
              "it) and run `make demo` again for a fresh demo.", file=sys.stderr)

    try:
        rep = build_report(CAMPAIGN, output=OUTPUT)
    except MdargyError as exc:
        print(f"demo: no report: {exc}", file=sys.stderr)
        return rc or 1
    wall = time.monotonic() - t0
    print(f"\n== demo results ({CAMPAIGN.name}) ==")
    for r in rep.kappa_inf:
        print(f"kappa_inf({r['T_K']:g} K) = {r['kappa_inf_W_mK']:.3f} ± "
              f"{r['kappa_inf_err_W_mK']:.3f} W/(m K)   from L = "
              + ", ".join(f"{x:.1f}" for x in r["lengths_A"]) + " Å")
    for r in rep.kappa_L:
        print(f"  kappa({r['T_K']:g} K, L = {r['length_A']:.1f} Å) = {r['kappa_W_mK']:.3f} ± "
              f"{r['kappa_err_W_mK']:.3f} W/(m K)")
    if not rep.kappa_inf:
        print("kappa_inf: no extrapolation (see the warnings in the report)")
    for r in rep.kappa_gk:
        print(f"kappa_GK({r['T_K']:g} K) = {r['kappa_W_mK']:.3f} ± {r['kappa_err_W_mK']:.3f} "
              f"W/(m K)   Green-Kubo, {r['method']}, {r['duration_ps']:g} ps")
    for r in rep.diffusion:
        if r["significant"]:
            print(f"D_{r['species']}({r['T_K']:g} K) = {r['D_cm2_s']:.2e} ± "
                  f"{r['D_err_cm2_s']:.1e} cm^2/s")
        else:
            print(f"D_{r['species']}({r['T_K']:g} K): bounded (no diffusive regime), no D")
    for r in rep.dos:
        print(f"DOS({r['T_K']:g} K): {r['n_atoms_total']} atoms, integral {r['integral']:.1f} "
              f"(3N = {3 * r['n_atoms_total']}), mean frequency {r['mean_freq_THz']:.2f} THz")
    if rep.missing:
        print(f"unfinished tasks: {', '.join(rep.missing)}")
    for w in rep.warnings:
        print("warning: " + (w if len(w) <= 160 else w[:157] + "..."))
    print(f"report: {rep.summary_path}")
    print(f"wall time: {wall:.0f} s")
    print("\nThe demo's runs are minutes long. The Cu7PS6 study with long runs, every method and "
          "the paper's numbers side by side: results/cu7ps6/README.md")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
