#!/usr/bin/env python
"""Active learning for the Cu7PS6 MTP (step 4 of the pipeline).

A fit on a fixed MD data set drifts in its own MD (feasibility run: 70–120 meV/atom below the
labeler after 4 ps). Each iteration here

1. runs MTP molecular dynamics in LAMMPS (mdargy's ``pair_style mtp``, Langevin) at every
   ``--temps`` in both phases and every ``--cells`` size (F-43m with a new random Cu ordering
   each iteration), stopping a run early if it becomes unphysical (atoms closer than 1.3 Å);
2. grades every frame with motep's MaxVol extrapolation grade (``motep.grade.Grader``, active
   set from the current training set) and selects the most extrapolative ones
   (grade > ``--gamma``, at most ``--select`` per iteration, at most one per 10 frames);
3. labels the selected frames, every ``--check-every``-th frame and the last frames before a
   run became unphysical, with the labeler; the checks measure the drift: |E_MTP − E_labeler|
   per atom and the force RMSE on MTP-generated snapshots; 10 % of them are held out
   (``OUT/holdout_al.xyz``), an honest test set of configurations the MTP itself visits;
4. refits (Levenberg–Marquardt, continuing from the current potential) on the enlarged set.

It stops when, for every temperature, the MTP MD ran the full ``--md-ps`` without becoming
unphysical, the energies of the checked snapshots stay within ``--tol-e`` meV/atom of the
labeler, their force RMSE is at most ``--tol-f`` eV/Å, and no frame was above ``--gamma``
(defaults: the issue's 20 ps, 10 meV/atom, 0.15 eV/Å). Or after ``--max-iter`` iterations —
then the potential is **not** converged and ``al.json`` says so.

Resumable: ``OUT/al.json`` records every finished iteration; the training set grows in
``OUT/train_all.xyz``; potentials are ``OUT/iter_XX/Cu7PS6.mtp``.

Example::

    python scripts/cu7ps6/active_learn.py --data runs/cu7ps6/data --init runs/cu7ps6/train/Cu7PS6.mtp \\
        --out runs/cu7ps6/al --labeler sevennet
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import labeler as lab  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder with train.xyz")
    p.add_argument("--train-file", type=Path, default=None,
                   help="starting training set (default DATA/train.xyz)")
    p.add_argument("--init", type=Path, required=True, help="the first fitted .mtp")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--labeler", choices=lab.LABELERS, default="sevennet")
    p.add_argument("--temps", type=float, nargs="+", default=(300.0, 550.0))
    p.add_argument("--phases", nargs="+", default=("p213", "f43m"))
    p.add_argument("--cells", nargs="+", default=("1x1x1", "2x1x1"),
                   help="cell sizes, e.g. 1x1x1 (56 atoms) 2x1x1 (112) 2x2x2 (448)")
    p.add_argument("--md-ps", type=float, default=20.0, help="MTP MD length per run, ps")
    p.add_argument("--dt-fs", type=float, default=1.0)
    p.add_argument("--frame-every", type=int, default=250, help="steps between graded frames")
    p.add_argument("--check-every", type=int, default=8, help="label every N-th frame to measure drift")
    p.add_argument("--gamma", type=float, default=2.0, help="MaxVol grade above which a frame is selected")
    p.add_argument("--select", type=int, default=20, help="max frames labelled per iteration")
    p.add_argument("--tol-e", type=float, default=10.0, help="energy tolerance, meV/atom")
    p.add_argument("--tol-f", type=float, default=0.15, help="force RMSE tolerance, eV/Å")
    p.add_argument("--max-iter", type=int, default=10)
    p.add_argument("--maxiter-fit", type=int, default=15, help="Levenberg–Marquardt iterations per refit")
    p.add_argument("--weights", type=float, nargs=3, default=(1.0, 0.01, 0.001), metavar=("E", "F", "S"))
    p.add_argument("--seed", type=int, default=77)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fit-ranks", type=int, default=1,
                   help="MPI ranks for each refit (runs train.py under mpirun)")
    return p.parse_args(argv)


def mtp_md(pot, phase, T, cells, args, seed):
    """MTP MD in LAMMPS; returns (frames, completed), snapshots every ``frame_every`` steps."""
    cell = common.build_cell(phase, tuple(int(c) for c in cells.split("x")), seed)
    frames, ok = common.lammps_md(cell, pot, T, args.md_ps, dt_fs=args.dt_fs, seed=seed,
                                  every=args.frame_every)
    for f in frames:
        f.info.update(phase=phase, T_K=T, cells=cells, source=f"al_md_{phase}_{cells}_{T:g}K")
    return frames, ok


def grade(pot, train_frames, frames, seed):
    from motep.grade.grader import Grader
    from motep.grade.setting import GradeMode
    from motep.io.mlip.mtp import read_mtp

    data = read_mtp(str(pot))
    data.species = list(common.SPECIES_Z)
    # grade on the linear part (the basis functions B_alpha, as in Podryabinkin & Shapeev 2017)
    data.optimized = ["moment_coeffs"]
    # neighbourhood mode: one row per atomic environment (as MLIP's active learning in MD),
    # so the active set is well defined even with fewer configurations than parameters
    g = Grader(data, seed=seed, engine="cext", mode=GradeMode.NEIGHBORHOOD)
    g.update(list(train_frames))
    graded = g.grade(list(frames))
    return np.array([float(a.calc.results["MV_grade"]) for a in graded])


def refit(train_all: Path, out_dir: Path, pot: Path, args, it: int) -> Path:
    """Levenberg–Marquardt refit from ``pot`` on ``train_all`` (train.py, under mpirun when
    ``--fit-ranks`` > 1); returns the new potential."""
    import os
    import subprocess

    cmd = common.mpirun_prefix(args.fit_ranks) + [
        sys.executable, str(Path(__file__).with_name("train.py")), "--data", str(args.data),
        "--train-file", str(train_all), "--out", str(out_dir), "--init", str(pot),
        "--maxiter", str(args.maxiter_fit), "--seed", str(args.seed + it), "--force",
        "--weights", *[str(w) for w in args.weights]]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(cmd, check=True, env=env, stdin=subprocess.DEVNULL)
    return out_dir / "Cu7PS6.mtp"


def main(argv=None):
    args = parse(argv)
    from tqdm import tqdm

    args.out.mkdir(parents=True, exist_ok=True)
    state = common.read_json(args.out / "al.json", {"iterations": [], "converged": False,
                                                   "labeler": lab.describe(args.labeler)})
    train_all = args.out / "train_all.xyz"
    if not train_all.exists():
        shutil.copy(args.train_file or args.data / "train.xyz", train_all)
    pot = Path(state["iterations"][-1]["potential"]) if state["iterations"] else args.init
    calc_lab = None
    for it in range(len(state["iterations"]), args.max_iter):
        if state["converged"]:
            break
        calc_lab = calc_lab or lab.get_calculator(args.labeler, args.threads)
        train_frames = common.read_frames(train_all)
        t0 = time.time()
        runs, all_frames = [], []
        tasks = [(ph, T, c) for c in args.cells for ph in args.phases for T in args.temps]
        fails = []
        for k, (ph, T, c) in enumerate(tqdm(tasks, desc=f"iter {it}: MTP MD", unit="run")):
            frames, ok = mtp_md(pot, ph, T, c, args, args.seed + 100 * it + k)
            runs.append({"phase": ph, "T_K": T, "cells": c, "frames": len(frames), "completed": ok,
                         "time_ps": len(frames) * args.frame_every * args.dt_fs / 1000})
            if not ok:  # the last frames before the run went unphysical are the most informative
                fails += [len(all_frames) + j for j in range(max(0, len(frames) - 3), len(frames))]
            all_frames += [(k, f) for f in frames]
        grades = grade(pot, train_frames, [f for _, f in all_frames], args.seed + it)
        # drift check: label every check_every-th frame of every run (MTP evaluated in LAMMPS)
        checks = sorted(set(i for i in range(len(all_frames)) if (i % args.check_every) == args.check_every - 1)
                        | set(fails))
        checked = []
        for i in tqdm(checks, desc=f"iter {it}: label drift checks", unit="cfg"):
            ref = common.label(all_frames[i][1], calc_lab, source="al_check", labeler=args.labeler)
            err = common.errors([ref], pot)
            checked.append((i, ref, err["energy_mae_meV_atom"], err["force_rmse_eV_A"]))
        # select extrapolative frames (spread: at most one per 10 frames)
        order = [i for i in np.argsort(-grades) if grades[i] > args.gamma]
        picked = []
        for i in order:
            if len(picked) >= args.select:
                break
            if all(abs(i - j) >= 10 for j in picked):
                picked.append(int(i))
        labelled = {i: ref for i, ref, _, _ in checked}  # a picked check is not labelled twice
        new = [labelled.get(i) or common.label(all_frames[i][1], calc_lab, source="al_select",
                                               labeler=args.labeler)
               for i in tqdm(picked, desc=f"iter {it}: label selected", unit="cfg")]
        rest = [ref for i, ref, _, _ in checked if i not in picked]
        rng = np.random.default_rng(args.seed + 1000 + it)
        held = set(rng.permutation(len(rest))[: len(rest) // 10].tolist())
        common.append_frames(args.out / "holdout_al.xyz", [r for j, r in enumerate(rest) if j in held])
        new += [r for j, r in enumerate(rest) if j not in held]
        e_dev = max((c[2] for c in checked), default=float("nan"))
        f_rmse = float(np.sqrt(np.mean([c[3] ** 2 for c in checked]))) if checked else float("nan")
        converged = (all(r["completed"] for r in runs) and checked and e_dev <= args.tol_e
                     and f_rmse <= args.tol_f and not picked)
        record = {"iteration": it, "runs": runs, "max_grade": float(grades.max()) if len(grades) else None,
                  "n_selected": len(picked), "n_checked": len(checked),
                  "max_energy_deviation_meV_atom": e_dev, "force_rmse_checks_eV_A": f_rmse,
                  "converged": bool(converged), "potential": str(pot), "seconds": None}
        if converged:  # keep the labelled checks of the converged potential: a test set
            common.append_frames(args.out / "final_checks.xyz", new)
        else:
            common.append_frames(train_all, new)
            out_dir = args.out / f"iter_{it:02d}"
            pot = refit(train_all, out_dir, pot, args, it)
            record["fit"] = (common.read_json(out_dir / "train.json", {}) or {}).get("fit")
            record["potential"] = str(pot)
            record["n_train_after"] = len(train_frames) + len(new)
        record["seconds"] = time.time() - t0
        state["iterations"].append(record)
        state["converged"] = bool(converged)
        common.write_json(args.out / "al.json", state)
        print(f"iter {it}: max grade {record['max_grade']:.2f}, selected {len(picked)}, "
              f"|dE| max {e_dev:.1f} meV/atom, F RMSE {f_rmse:.3f} eV/Å, "
              f"runs complete {all(r['completed'] for r in runs)} -> "
              f"{'CONVERGED' if converged else 'refit ' + str(pot)}", flush=True)
    if not state["converged"]:
        print(f"NOT converged after {len(state['iterations'])} iterations; see {args.out / 'al.json'}")
    final = Path(state["iterations"][-1]["potential"]) if state["iterations"] else args.init
    print(f"current potential: {final}")
    return 0 if state["converged"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
