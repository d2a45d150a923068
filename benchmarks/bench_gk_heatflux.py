"""Cost of the heat-current output of the EMD driver: Cu7PS6 (448 atoms, shipped MTP) NVE.

The peer is the same driver run without heat current (``heat_every_fs = 0``), on the same
structure, seed and steps, in the same process. Each figure is the best of ``--reps`` runs of
``--steps`` NVE steps at 1 fs (no equilibration; thermo every 100 steps, no trajectory frames
in between), wall clock and process CPU time. Prints the ratio for every interval.

Usage::

    nice -n 10 python benchmarks/bench_gk_heatflux.py [--steps 4000] [--reps 3] [--every 1 5 10 20]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one(out, heat_every, steps):
    from mdargy.drivers import run_emd
    from mdargy.drivers.config import EMDConfig

    cfg = EMDConfig.from_toml(ROOT / "inputs" / "examples" / "cu7ps6_emd_300K.toml", [
        f'output_dir="{out}"', "equilibration_ps=0", "production_ensemble=\"nve\"",
        f"production_ps={steps / 1000}", f"dump_every_fs={steps}", "thermo_every_fs=100",
        f"checkpoint_every_ps={steps / 1000}", "text_dump=false", f"heat_every_fs={heat_every}"])
    w, c = time.perf_counter(), time.process_time()
    run_emd(cfg, progress=False)
    return time.perf_counter() - w, time.process_time() - c


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--every", type=int, nargs="+", default=[1, 5, 10, 20])
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_gk_"))
    best = {}
    try:
        for rep in range(a.reps):
            for he in [0] + a.every:
                out = tmp / f"r{rep}_{he}"
                w, c = one(out, he, a.steps)
                b = best.get(he, (1e9, 1e9))
                best[he] = (min(b[0], w), min(b[1], c))
                shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    w0, c0 = best[0]
    rate = 448 * a.steps / w0 / 1e6
    print(f"Cu7PS6 448 atoms, {a.steps} NVE steps of 1 fs, best of {a.reps}, 1 rank")
    print(f"{'heat_every':>10} {'interval_fs':>11} {'wall_s':>8} {'cpu_s':>8} {'wall/peer':>9} "
          f"{'cpu/peer':>9}")
    print(f"{'0 (peer)':>10} {'-':>11} {w0:8.2f} {c0:8.2f} {1:9.3f} {1:9.3f}   "
          f"({rate:.2f} M atom-steps/s)")
    for he in a.every:
        w, c = best[he]
        print(f"{he:>10} {he:>11} {w:8.2f} {c:8.2f} {w / w0:9.3f} {c / c0:9.3f}")


if __name__ == "__main__":
    main()
