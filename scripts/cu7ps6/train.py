#!/usr/bin/env python
"""Fit a Cu–P–S moment tensor potential with motep (step 3 of the pipeline).

Starts from mdargy's untrained template of the chosen level
(:func:`mdargy.potentials.mtp.templates.make_template`; the motep wheel ships none), fits
energies, forces and stresses of ``train.xyz`` with motep (linear least squares, then L-BFGS-B,
then least squares again), and rewrites motep's output in MLIP's layout with
:func:`mdargy.potentials.mtp.mtpfile.read_mtp`/``write_mtp`` (motep 0.2.0 writes
``radial_funcs_count`` after ``radial_coeffs`` and cannot read its own file back). Species
order: Cu, P, S (recorded in ``potential_tag``).

``MOTEP_LOGLEVEL=20`` in the environment shows motep's own log (loss per step).

Outputs: ``OUT/Cu7PS6.mtp``, ``OUT/train.json`` (settings, training and held-out errors).
Resumable: an existing ``OUT/Cu7PS6.mtp`` is not retrained unless ``--force`` (motep cannot
resume inside one fit); ``--init`` continues from an earlier fit (used by active learning).

Example::

    python scripts/cu7ps6/train.py --data runs/cu7ps6/data --out runs/cu7ps6/train --level 12
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from mdargy.potentials.mtp.fit import LMProblem, levenberg_marquardt  # noqa: E402
from mdargy.potentials.mtp.mtpfile import read_mtp, write_mtp  # noqa: E402
from mdargy.potentials.mtp.templates import make_template  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="folder with train.xyz (and holdout.xyz)")
    p.add_argument("--train-file", type=Path, default=None, help="training set (default DATA/train.xyz)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--level", type=int, default=12, help="MTP level (accuracy vs speed: 10–16)")
    p.add_argument("--min-dist", type=float, default=1.6, help="radial basis start, Å")
    p.add_argument("--cutoff", type=float, default=5.0, help="radial basis end = cutoff, Å")
    p.add_argument("--radial-size", type=int, default=8, help="Chebyshev radial basis size")
    p.add_argument("--optimizer", choices=("lm", "lbfgs"), default="lm",
                   help="lm: Levenberg–Marquardt on all parameters (mdargy.potentials.mtp.fit); "
                   "lbfgs: motep's L-BFGS-B")
    p.add_argument("--maxiter", type=int, default=60, help="LM (or L-BFGS-B) iterations")
    p.add_argument("--time-limit", type=float, default=None, help="stop LM after this many seconds")
    p.add_argument("--weights", type=float, nargs=3, default=(1.0, 0.01, 0.001),
                   metavar=("E", "F", "S"), help="loss weights of energy, forces, stress")
    p.add_argument("--init", type=Path, default=None, help="start from this trained .mtp")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--force", action="store_true")
    return p.parse_args(argv)


def _copy_labelled(atoms):
    """A copy with the labels as a fresh single-point calculator (motep's Trainer replaces it)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    at = atoms.copy()
    at.calc = SinglePointCalculator(at, **{k: v for k, v in atoms.calc.results.items()
                                           if k in ("energy", "forces", "stress")})
    return at


def fit(train_frames, out_mtp: Path, level=12, min_dist=1.6, cutoff=5.0, radial_size=8,
        maxiter=1000, weights=(1.0, 0.01, 0.001), init: Path | None = None, seed=11,
        optimizer: str = "lm",
        time_limit_s: float | None = None, record: dict | None = None,
        frame_weights=None) -> Path:
    """Fit an MTP to ``train_frames`` and write it (MLIP layout) to ``out_mtp``.

    ``frame_weights`` (positive integers, one per frame; default 1) weigh configurations: motep's
    linear least-squares step sees each frame repeated that many times, the Levenberg–Marquardt
    step scales its residuals instead (the same loss at the cost of one copy).
    """
    from motep.io.mlip.mtp import read_mtp as motep_read
    from motep.io.mlip.mtp import write_mtp as motep_write
    from motep.train.trainer import Trainer


    logging.getLogger("motep").setLevel(int(os.environ.get("MOTEP_LOGLEVEL", logging.WARNING)))
    out_mtp = Path(out_mtp).resolve()
    init = Path(init).resolve() if init is not None else None
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # motep writes intermediate_*.mtp into the working directory
        try:
            if init is not None:
                Path("init.mtp").write_text(read_mtp(init).to_text())
            else:
                tpl = make_template(level, len(common.SPECIES), min_dist=min_dist,
                                    max_dist=cutoff, radial_basis_size=radial_size)
                Path("init.mtp").write_text(tpl.to_text())
            data = motep_read("init.mtp")
            data.species = list(common.SPECIES_Z)
            steps = [{"method": "LLS"}]
            if optimizer == "lbfgs" and maxiter > 0:
                steps += [{"method": "minimize",
                           "kwargs": {"method": "L-BFGS-B", "options": {"maxiter": maxiter}}},
                          {"method": "LLS"}]
            loss = {"energy_weight": weights[0], "forces_weight": weights[1], "stress_weight": weights[2]}
            reps = [1] * len(train_frames) if frame_weights is None else list(frame_weights)
            if len(reps) != len(train_frames) or any(int(r) != r or r < 1 for r in reps):
                raise ValueError("frame_weights: one positive integer per training frame")
            reps = [int(r) for r in reps]
            Trainer(data, seed=seed, engine="cext", steps=steps, loss=loss).train(
                [_copy_labelled(a) for a, r in zip(train_frames, reps) for _ in range(r)])
            if optimizer == "lm" and maxiter > 0:
                problem = LMProblem(list(train_frames), data, weights=tuple(weights),
                                    frame_weights=reps)

                def progress(it, value, lam):
                    if problem.comm.rank == 0:
                        print(f"  LM {it:3d}: loss {value:.6e}  lambda {lam:.1e}", flush=True)

                res = levenberg_marquardt(problem, max_iter=maxiter, progress=progress,
                                          time_limit_s=time_limit_s)
                if record is not None:
                    record["levenberg_marquardt"] = {k: v for k, v in res.items() if k != "history"}
                    record["loss_history"] = res["history"]
            motep_write("final.mtp", data, legacy=True)
            pot = read_mtp("final.mtp")  # tolerant reader: fixes motep's layout
        finally:
            os.chdir(cwd)
    pot = dataclasses.replace(pot, potential_tag="species: " + " ".join(common.SPECIES))
    if _rank() == 0:  # under mpirun every rank fits its share; rank 0 writes
        out_mtp.parent.mkdir(parents=True, exist_ok=True)
        write_mtp(out_mtp, pot, force=True)
    return out_mtp


def _rank() -> int:
    if "mpi4py" not in sys.modules:
        return 0
    from mpi4py import MPI

    return MPI.COMM_WORLD.rank


def main(argv=None):
    args = parse(argv)
    out_mtp = args.out / "Cu7PS6.mtp"
    record = {}
    if out_mtp.exists() and not args.force:
        print(f"{out_mtp} exists: skipping the fit (use --force to refit)")
    else:
        train = common.read_frames(args.train_file or args.data / "train.xyz")
        if not train:
            raise SystemExit(f"no training data in {args.train_file or args.data / 'train.xyz'}")
        what = f"continuing from {args.init}" if args.init else f"level-{args.level} template"
        print(f"fitting an MTP ({what}) on {len(train)} configurations ...", flush=True)
        t0 = time.time()
        fit(train, out_mtp, args.level, args.min_dist, args.cutoff, args.radial_size,
            args.maxiter, args.weights, args.init, args.seed, optimizer=args.optimizer,
            time_limit_s=args.time_limit, record=record)
        record["seconds"] = time.time() - t0
        if _rank() != 0:
            return 0
        print(f"fitted in {time.time() - t0:.0f} s -> {out_mtp}")
    calc = out_mtp  # errors evaluated in LAMMPS with mdargy's pair_style mtp
    summary = {"settings": {k: str(v) for k, v in vars(args).items()},
               "species_order": list(common.SPECIES), "fit": record}
    sets = {"train": args.train_file or args.data / "train.xyz", "holdout": args.data / "holdout.xyz"}
    for name, path in sets.items():
        frames = common.read_frames(path)
        if frames:
            err = common.errors(frames, calc)
            summary[name] = {k: v for k, v in err.items() if k != "parity"}
            print(f"{name:8s} n={err['n_configurations']:4d}  E RMSE {err['energy_rmse_meV_atom']:8.2f} meV/atom  "
                  f"F RMSE {err['force_rmse_eV_A']:.3f} eV/Å  S RMSE {err.get('stress_rmse_GPa', float('nan')):.3f} GPa")
    common.write_json(args.out / "train.json", summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
