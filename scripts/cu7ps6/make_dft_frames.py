#!/usr/bin/env python
"""Configurations for the DFT validation set: MTP molecular dynamics of 56-atom Cu7PS6 cells.

The shipped MTP (``inputs/potentials/Cu7PS6.mtp``) runs Langevin MD in LAMMPS (mdargy's
``pair_style mtp``, one MPI rank) at fixed cell:

* P2_13 (``inputs/structures/Cu7PS6_P213_derived.cif``, a = 9.666 Å) at 100, 200, 300, 400 K;
* F-43m (``inputs/structures/Cu7PS6_F-43m_seed1.cif``, a = 9.669 Å) at 550 K.

Each run equilibrates ``--equil-ps`` and then keeps one snapshot every ``--every-ps`` (long
enough for the snapshots to be nearly independent). The cell is the CIF cell at every
temperature: no thermal expansion, so stresses include the thermal pressure at fixed volume.

The frames are written **interleaved** (one of each condition in turn), so that labelling them
in file order gives a balanced subset whenever labelling stops. Each frame carries ``frame_id``,
``phase``, ``T_K``, ``t_ps``, ``seed`` and ``source`` in its ``info``. Velocities are dropped.

Examples::

    python scripts/cu7ps6/make_dft_frames.py --out results/cu7ps6/dft/frames_56.extxyz
    # the paper-scale set: 448-atom cells, 46 frames per condition = 230 frames
    python scripts/cu7ps6/make_dft_frames.py --cells 2 2 2 --frames-per-condition 46 \
        --out runs/dft/frames_448.extxyz
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ase.io import read, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

#: (phase, CIF, T_K, n_frames, seed)
CONDITIONS = [
    ("p213", "Cu7PS6_P213_derived.cif", 100, 4, 101),
    ("p213", "Cu7PS6_P213_derived.cif", 200, 4, 201),
    ("p213", "Cu7PS6_P213_derived.cif", 300, 4, 301),
    ("p213", "Cu7PS6_P213_derived.cif", 400, 4, 401),
    ("f43m", "Cu7PS6_F-43m_seed1.cif", 550, 8, 551),
]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="extxyz file to write")
    ap.add_argument("--mtp", type=Path, default=common.ROOT / "inputs/potentials/Cu7PS6.mtp")
    ap.add_argument("--equil-ps", type=float, default=5.0)
    ap.add_argument("--every-ps", type=float, default=2.0)
    ap.add_argument("--dt-fs", type=float, default=1.0)
    ap.add_argument("--cells", type=int, nargs=3, default=(1, 1, 1),
                    help="repeat the 56-atom cell (2 2 2: 448 atoms, as in the paper)")
    ap.add_argument("--frames-per-condition", type=int, default=None,
                    help="the same number of frames for every condition (default: 4 per P2_13 "
                         "temperature, 8 for F-43m)")
    ap.add_argument("--force", action="store_true", help="overwrite --out")
    a = ap.parse_args(argv)
    if a.out.exists() and not a.force:
        print(f"{a.out} exists; --force to overwrite", file=sys.stderr)
        return 1
    per_condition = []
    for phase, cif, T, n, seed in CONDITIONS:
        n = a.frames_per_condition or n
        atoms = read(common.ROOT / "inputs/structures" / cif).repeat(tuple(a.cells))
        every = int(round(a.every_ps * 1000 / a.dt_fs))
        ps = a.equil_ps + n * a.every_ps
        frames, ok = common.lammps_md(atoms, a.mtp, T, ps, dt_fs=a.dt_fs, seed=seed, every=every)
        if not ok:
            raise SystemExit(f"MTP MD of {phase} at {T} K failed after {len(frames)} snapshots")
        keep = [f for f in frames if f.info["t_ps"] > a.equil_ps + 1e-9][:n]
        if len(keep) < n:
            raise SystemExit(f"{phase} {T} K: {len(keep)} snapshots after equilibration, need {n}")
        out = []
        for k, f in enumerate(keep):
            f = f.copy()
            f.arrays.pop("momenta", None)
            T_inst = f.info.get("T_inst_K")
            f.info = {"frame_id": f"{phase}_{T}K_{k:02d}" + ("" if tuple(a.cells) == (1, 1, 1)
                                                               else f"_{len(f)}at"),
                      "phase": phase, "T_K": float(T), "cells": "x".join(map(str, a.cells)),
                      "t_ps": float(f.info["t_ps"]), "T_inst_K": float(T_inst), "seed": seed,
                      "source": f"MTP Langevin MD (LAMMPS pair_style mtp, {a.mtp.name}), "
                                f"fixed cell from {cif}, dt {a.dt_fs} fs, damping 0.1 ps"}
            out.append(f)
        per_condition.append(out)
        print(f"{phase} {T} K: {len(out)} frames, T_inst "
              + " ".join(f"{f.info['T_inst_K']:.0f}" for f in out), flush=True)
    interleaved = []
    for k in range(max(len(c) for c in per_condition)):
        interleaved += [c[k] for c in per_condition if k < len(c)]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = a.out.with_suffix(a.out.suffix + ".tmp")
    write(tmp, interleaved, format="extxyz")
    tmp.replace(a.out)
    mtp = a.mtp.resolve()
    meta = {"n_frames": len(interleaved),
            "mtp": common.repo_path(mtp),
            "cells": list(a.cells), "equil_ps": a.equil_ps, "every_ps": a.every_ps,
            "dt_fs": a.dt_fs,
            "conditions": [dict(zip(("phase", "cif", "T_K", "n_frames", "seed"),
                                    (*c[:3], a.frames_per_condition or c[3], c[4])))
                           for c in CONDITIONS],
            "thermostat": "LAMMPS fix langevin, damping 0.1 ps, fix nve; fixed cell"}
    common.write_json(a.out.with_suffix(".json"), meta)
    print(json.dumps({k: meta[k] for k in ("n_frames", "mtp")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
