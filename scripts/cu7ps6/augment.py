#!/usr/bin/env python
"""Augment the labelled MD snapshots with off-equilibrium configurations (step 2b).

Why: a fit on thermal MD snapshots alone never sees short contacts (in the 56-atom P2_13/F-43m
snapshots Cu–S ≥ 2.1 Å), so it is free to put spuriously low energies there, and its own MD
falls into them (the first level-08 fit collapsed to Cu–S 1.67 Å within 2 ps). Labelling
single points costs the labeler 0.5 s for 56 atoms (against 10 s per MD snapshot), so this
step adds, from the existing snapshots:

* ``rattle``: every atom displaced by a Gaussian of σ = 0.05–0.15 Å per component;
* ``contact``: one pair (Cu–S, Cu–Cu, P–S, S–S, Cu–P) pushed to a short distance, drawn
  uniformly between about 80 % of its usual shortest distance and that distance, plus a small
  rattle;
* ``strain``: isotropic ±6 % and random shear ±3 %, plus a small rattle;
* ``supercell``: 112-, 224- and 448-atom cells of both phases (new random Cu orderings for
  F-43m), rattled, so that the training set covers the cell sizes used in production.

Every frame is labelled with the labeler (a universal ML potential, NOT DFT) and written to
``OUT/augment.xyz``; 10 % (seeded) go to ``OUT/augment_holdout.xyz``. Resumable: frames are
appended one by one and the plan is deterministic, so a rerun labels only what is missing.

Finally ``OUT/train_augmented.xyz`` = ``DATA/train.xyz`` + the augmentation frames whose energy
is at most ``--max-energy`` eV/atom and whose largest force component is at most
``--max-force`` eV/Å: the most violent rattles (σ = 0.15 Å gives forces up to 37 eV/Å,
energies 0.4 eV/atom above the crystal) are far outside anything MD visits, and with them in
the loss the fit spends its capacity there.

Example::

    python scripts/cu7ps6/augment.py --data runs/cu7ps6/data --labeler sevennet
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import labeler as lab  # noqa: E402

#: (species a, species b, shortest distance drawn, Å, usual shortest distance, Å)
CONTACTS = (("Cu", "S", 1.75, 2.15), ("Cu", "Cu", 1.95, 2.4), ("P", "S", 1.80, 2.0),
            ("S", "S", 2.6, 3.2), ("Cu", "P", 2.3, 2.8))


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder with train.xyz (snapshots to start from)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: DATA)")
    p.add_argument("--labeler", choices=lab.LABELERS, default="sevennet")
    p.add_argument("--n-rattle", type=int, default=60)
    p.add_argument("--n-contact", type=int, default=30)
    p.add_argument("--n-strain", type=int, default=15)
    p.add_argument("--supercells", default="2x1x1:8,2x2x1:4,2x2x2:2",
                   help="cells:count per phase, comma separated")
    p.add_argument("--holdout", type=float, default=0.10)
    p.add_argument("--max-energy", type=float, default=-4.20,
                   help="train_augmented.xyz keeps frames with E <= this (eV/atom)")
    p.add_argument("--max-force", type=float, default=15.0,
                   help="train_augmented.xyz keeps frames with max |F| component <= this (eV/Å)")
    p.add_argument("--seed", type=int, default=4242)
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args(argv)


def _rattle(at, sigma, rng):
    at = at.copy()
    at.positions += rng.normal(0.0, sigma, at.positions.shape)
    return at


def _contact(at, rng):
    """Push one randomly chosen pair of a :data:`CONTACTS` kind to a short distance."""
    from ase.neighborlist import neighbor_list

    a, b, dmin, dusual = CONTACTS[rng.integers(len(CONTACTS))]
    at = _rattle(at, 0.03, rng)
    sym = np.array(at.get_chemical_symbols())
    i, j, d, D = neighbor_list("ijdD", at, 4.0)
    ok = (sym[i] == a) & (sym[j] == b) & (i != j)
    if not ok.any():
        return at, f"{a}-{b}"
    # the nearest b-neighbour of a random a atom
    centre = rng.choice(np.unique(i[ok]))
    sel = np.flatnonzero(ok & (i == centre))
    k = sel[np.argmin(d[sel])]
    target = rng.uniform(dmin, dusual)
    u = D[k] / d[k]
    shift = (d[k] - target) / 2.0
    at.positions[i[k]] += u * shift
    at.positions[j[k]] -= u * shift
    return at, f"{a}-{b}"


def _strain(at, rng):
    at = at.copy()
    eps = np.eye(3) * rng.uniform(-0.06, 0.06)
    shear = rng.uniform(-0.03, 0.03, (3, 3))
    eps += 0.5 * (shear + shear.T) - np.diag(np.diag(shear))
    at.set_cell(at.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return _rattle(at, 0.03, rng)


def plan(snapshots, args):
    """The deterministic list of (name, atoms, info) to label."""
    rng = np.random.default_rng(args.seed)
    items = []
    pick = lambda: snapshots[rng.integers(len(snapshots))]  # noqa: E731
    for n in range(args.n_rattle):
        src = pick()
        sigma = (0.05, 0.10, 0.15)[n % 3]
        items.append((f"rattle_{n:03d}", _rattle(src, sigma, rng),
                      {"kind": "rattle", "sigma_A": sigma, "phase": src.info.get("phase"),
                       "T_K": src.info.get("T_K")}))
    for n in range(args.n_contact):
        src = pick()
        at, pair = _contact(src, rng)
        items.append((f"contact_{n:03d}", at, {"kind": "contact", "pair": pair,
                                               "phase": src.info.get("phase"), "T_K": src.info.get("T_K")}))
    for n in range(args.n_strain):
        src = pick()
        items.append((f"strain_{n:03d}", _strain(src, rng),
                      {"kind": "strain", "phase": src.info.get("phase"), "T_K": src.info.get("T_K")}))
    for spec in filter(None, args.supercells.split(",")):
        cells_s, count = spec.split(":")
        cells = tuple(int(c) for c in cells_s.split("x"))
        for phase in ("p213", "f43m"):
            for n in range(int(count)):
                base = common.build_cell(phase, cells, seed=args.seed + 31 * n + 7, strain=0.02, rng=rng)
                sigma = (0.05, 0.10)[n % 2]
                items.append((f"supercell_{phase}_{cells_s}_{n:02d}", _rattle(base, sigma, rng),
                              {"kind": "supercell", "phase": phase, "cells": cells_s, "sigma_A": sigma}))
    return items


def main(argv=None):
    args = parse(argv)
    from tqdm import tqdm

    out = args.out or args.data
    out.mkdir(parents=True, exist_ok=True)
    snapshots = common.read_frames(args.data / "train.xyz")
    if not snapshots:
        raise SystemExit(f"no snapshots in {args.data / 'train.xyz'}")
    for at in snapshots:
        at.calc = None
        if at.has("momenta"):
            del at.arrays["momenta"]
    items = plan(snapshots, args)
    rng = np.random.default_rng(args.seed + 1)
    hold = set(rng.permutation(len(items))[: max(1, int(round(args.holdout * len(items))))].tolist())
    done = {a.info["augment_id"] for f in ("augment.xyz", "augment_holdout.xyz")
            for a in common.read_frames(out / f)}
    todo = [(k, it) for k, it in enumerate(items) if it[0] not in done]
    print(f"{len(items)} augmentation configurations planned, {len(done)} already labelled", flush=True)
    calc = lab.get_calculator(args.labeler, args.threads) if todo else None
    t0 = time.time()
    for k, (name, at, info) in tqdm(todo, desc="label augmentation", unit="cfg"):
        lab_at = common.label(at, calc, augment_id=name, source="augment", labeler=args.labeler,
                              is_dft=False, split="holdout" if k in hold else "train",
                              **{kk: v for kk, v in info.items() if v is not None})
        common.append_frames(out / ("augment_holdout.xyz" if k in hold else "augment.xyz"), [lab_at])
    aug = common.read_frames(out / "augment.xyz")
    keep = [a for a in aug if a.get_potential_energy() / len(a) <= args.max_energy
            and np.abs(a.get_forces()).max() <= args.max_force]
    merged = out / "train_augmented.xyz"
    merged.unlink(missing_ok=True)
    common.append_frames(merged, common.read_frames(args.data / "train.xyz") + keep)
    common.write_json(out / "augment.json", {
        "labeler": lab.describe(args.labeler), "settings": {k: str(v) for k, v in vars(args).items()},
        "n_planned": len(items), "n_holdout": len(hold), "n_kept_for_training": len(keep),
        "n_labelled_train_split": len(aug), "seconds_this_run": time.time() - t0})
    print(f"{merged}: {len(snapshots)} snapshots + {len(keep)} of {len(aug)} augmentation frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
