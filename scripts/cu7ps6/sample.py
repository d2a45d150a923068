#!/usr/bin/env python
"""Sample reference configurations of Cu7PS6 with the labeler (step 2 of the pipeline).

Mirrors the paper's data set (230 single points from MD up to 400 K, 448-atom cell), widened to
the transport study: Langevin MD with the labeler at 100–600 K in both phases (ordered P2_13
below T_c ≈ 506 K and also above it, superionic F-43m from 400 K up), in 56- to 448-atom
cells, with small random cell strains so that stresses vary. Snapshots are taken every
``stride`` steps after ``equil`` steps. Finally 10 % are held out at random (seeded).

Outputs in ``OUT/``: ``runs/run_XX.xyz`` (labelled snapshots of each MD run),
``train.xyz``, ``holdout.xyz``, ``sample.json`` (plan, labeler, counts).

Resumable: a finished run is skipped; an interrupted one continues from its last snapshot
(positions and momenta are stored with every frame). Progress: tqdm.

The labels are from a universal ML potential (or the LJ stand-in), **not DFT**.

Examples::

    python scripts/cu7ps6/sample.py --labeler sevennet --out runs/cu7ps6/data
    python scripts/cu7ps6/sample.py --labeler lj-standin --plan dry --out /tmp/dry/data
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import labeler as lab  # noqa: E402

#: (phase, cells, T_K, n_snapshots). 56-atom cells carry most of the sampling; 448-atom
#: cells (as in the paper) a few snapshots each. Total 230 configurations.
PLANS = {
    "paper": [
        ("p213", (1, 1, 1), 100, 20), ("p213", (1, 1, 1), 200, 20), ("p213", (1, 1, 1), 300, 20),
        ("p213", (1, 1, 1), 400, 20), ("p213", (1, 1, 1), 500, 20), ("p213", (1, 1, 1), 600, 10),
        ("f43m", (1, 1, 1), 400, 20), ("f43m", (1, 1, 1), 500, 20), ("f43m", (1, 1, 1), 600, 20),
        ("p213", (2, 1, 1), 300, 10), ("f43m", (2, 1, 1), 550, 10),
        ("p213", (2, 2, 1), 400, 10), ("f43m", (2, 2, 1), 600, 10),
        ("p213", (2, 2, 2), 300, 10), ("f43m", (2, 2, 2), 550, 10),
    ],
    # two configurations in one 56-atom run: for dry runs and tests
    "dry": [("f43m", (1, 1, 1), 300, 2)],
}


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labeler", choices=lab.LABELERS, default="sevennet")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--plan", choices=sorted(PLANS), default="paper")
    p.add_argument("--equil", type=int, default=None, help="equilibration steps (default 200; dry 5)")
    p.add_argument("--stride", type=int, default=None, help="steps between snapshots (default 20; dry 2)")
    p.add_argument("--dt-fs", type=float, default=2.0)
    p.add_argument("--strain", type=float, default=0.02, help="max random strain of each run's cell")
    p.add_argument("--holdout", type=float, default=0.10, help="fraction held out")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args(argv)


def run_one(k, spec, args, calc, bar):
    from ase.io import read

    phase, cells, T, nsnap = spec
    path = args.out / "runs" / f"run_{k:02d}.xyz"
    done = common.read_frames(path)
    if len(done) >= nsnap:
        bar.update(nsnap)
        return done[:nsnap]
    seed = args.seed + 1000 * k
    if done:  # resume from the last snapshot (positions + momenta)
        start = read(path, index=-1, format="extxyz")
        start.calc = None
        at, dyn = common.langevin(start, calc, T, seed + len(done), args.dt_fs)
        bar.update(len(done))
    else:
        rng = np.random.default_rng(seed)
        cell = common.build_cell(phase, cells, seed, args.strain, rng)
        at, dyn = common.langevin(cell, calc, T, seed, args.dt_fs)
        dyn.run(args.equil)
    frames = list(done)
    while len(frames) < nsnap:
        dyn.run(args.stride)
        fr = common.label(at, calc, phase=phase, T_K=T, cells=str(cells), source=f"run_{k:02d}",
                          labeler=args.labeler)
        fr.set_momenta(at.get_momenta())
        common.append_frames(path, [fr])
        frames.append(fr)
        bar.update(1)
    return frames


def main(argv=None):
    args = parse(argv)
    from tqdm import tqdm

    if args.equil is None:
        args.equil = 5 if args.plan == "dry" else 200
    if args.stride is None:
        args.stride = 2 if args.plan == "dry" else 20
    (args.out / "runs").mkdir(parents=True, exist_ok=True)
    plan = PLANS[args.plan]
    calc = lab.get_calculator(args.labeler, args.threads)
    frames = []
    with tqdm(total=sum(s[3] for s in plan), desc="labeler MD snapshots", unit="cfg") as bar:
        for k, spec in enumerate(plan):
            frames += run_one(k, spec, args, calc, bar)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(frames))
    n_hold = max(1, int(round(args.holdout * len(frames))))
    hold = sorted(order[:n_hold])
    train = sorted(order[n_hold:])
    from ase.io import write

    for name, idx in (("train.xyz", train), ("holdout.xyz", hold)):
        tmp = args.out / f".{name}.tmp"
        write(tmp, [frames[i] for i in idx], format="extxyz")
        tmp.replace(args.out / name)
    common.write_json(args.out / "sample.json", {
        "labeler": lab.describe(args.labeler),
        "plan": [{"phase": p, "cells": list(c), "T_K": t, "n": n} for p, c, t, n in plan],
        "equil_steps": args.equil, "stride_steps": args.stride, "dt_fs": args.dt_fs,
        "strain_max": args.strain, "seed": args.seed,
        "n_configurations": len(frames), "n_train": len(train), "n_holdout": len(hold),
        "atoms_per_configuration": sorted({len(f) for f in frames}),
    })
    print(f"{len(frames)} configurations: {len(train)} train, {len(hold)} held out -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
