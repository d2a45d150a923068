#!/usr/bin/env python
"""Refit the shipped Cu7PS6 MTP with PBEsol labels; judge it on held-out PBEsol frames.

The shipped potential (``inputs/potentials/Cu7PS6.mtp``) reproduces SevenNet-0, not DFT. This
script continues its fit (``train.fit`` with ``init``: motep's linear least squares, then
Levenberg–Marquardt on all parameters) on the SevenNet-0 training frames plus PBEsol-labelled
frames (CP2K, ``label.py``), and compares the shipped and the refitted potential on PBEsol
frames that the refit never saw.

**Split of the 24 validation MD frames** (``results/cu7ps6/dft/frames_56.extxyz``, whose order
interleaves the five conditions): in file order, frame ``i`` (0-based) is held out when
``i % 3 == 2`` (``--holdout-every 3``): ``p213_300K_00``, ``p213_100K_01``, ``p213_400K_01``,
``p213_200K_02``, ``f43m_550K_02``, ``p213_300K_03``, ``f43m_550K_04``, ``f43m_550K_07``
(8 frames: one at 100, 200 and 400 K, two at 300 K, three of F-43m at 550 K); the other 16
train. The split is fixed by the frame file, not by which labels exist yet, so a frame never
changes side as labelling proceeds. Held-out and training frames of one condition come from
the same MD run, 2 ps or more apart: the held-out frames test interpolation between nearby
configurations, not new phases or temperatures.

**E(a) frames** (``ea_frames_56.extxyz``: the P2_13 cell scaled to a = 9.40–9.80 Å, clamped
ions) all go to training: they carry the volume dependence (pressure) that the MD frames, all
at one volume, cannot.

**Energy zero.** CP2K's pseudopotential energies and the training labels differ by a constant
per atom (all frames have the Cu7PS6 composition, so nothing else is defined). The offset
``mean((E_DFT - E_ref) / N)`` is taken over the *training* MD frames only (not the held-out
ones, not the E(a) frames, whose energies relative to the reference depend on the volume),
with ``E_ref`` the SevenNet-0 label of the same frame (``--offset-ref sevennet``, the
training set's own zero) or the shipped MTP (``--offset-ref mtp``); it is subtracted from every
DFT energy. Forces and stresses are unchanged. Both offsets are recorded.

**Weighting.** Every DFT training frame has weight ``--dft-weight`` (N): motep's linear
least-squares start sees it repeated N times, the Levenberg–Marquardt iterations scale its
residuals by sqrt(N) (:class:`mdargy.potentials.mtp.fit.LMProblem` ``frame_weights``: the same
loss as N copies, at the cost of one).

**Evaluation** (``compare_labels.compare``; evaluated in LAMMPS): shipped and refitted MTP,
and the SevenNet-0 labels, against the held-out PBEsol frames (energy RMSE after removing the
mean offset, and raw on the training offset; force RMSE per element; stress RMSE; ΔP =
P(model) − P(PBEsol), mean ± sd), the same on the DFT training frames (fit quality), and
(``common.errors``) both MTPs against SevenNet-0 on its held-out sets (what the refit gives up).
Verdict: the refit is closer to PBEsol when, on the held-out frames, both its force RMSE (all
atoms) and the magnitude of its mean ΔP are smaller than the shipped MTP's.

Outputs in ``--out``: ``Cu7PS6.mtp`` (the refit), ``refit.json`` (settings, split, offset,
fit record with seconds and loss history, errors, verdict), ``refit.md`` (the tables),
``dft_train.extxyz`` (the DFT training frames on the training energy zero, once each).
Resumable: an existing ``Cu7PS6.mtp`` is not refitted unless ``--force``; the evaluation is
redone (with whatever held-out labels exist by then).

Serial (both CPU-heavy parts, the fit and LAMMPS, run on one core); ``MOTEP_LOGLEVEL=20``
shows motep's log.

Example (the labels of ``label.py``'s output folders, or collected extxyz[.gz] files)::

    nice -n 15 python scripts/cu7ps6/refit_dft.py --out runs/refit \\
        --dft runs/dft/pbesol_400Ry --ea runs/dft/ea_pbesol_400Ry \\
        --dft-weight 10 --maxiter 30 --time-limit 3600
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import compare_labels  # noqa: E402
import train  # noqa: E402

from mdargy.errors import InputError  # noqa: E402

ROOT = common.ROOT
DFT_DIR = ROOT / "results/cu7ps6/dft"
SEVENNET_SPLITS = ("train", "holdout_md", "holdout_al", "holdout_augment")
#: Cu7PS6: atoms of Cu, P, S per formula unit.
FORMULA = {"Cu": 7, "P": 1, "S": 6}


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--dft", type=Path, default=ROOT / "runs/dft/pbesol_400Ry",
                   help="PBEsol labels of the MD frames: label.py folder or extxyz[.gz]")
    p.add_argument("--ea", type=Path, default=ROOT / "runs/dft/ea_pbesol_400Ry",
                   help="PBEsol labels of the E(a) frames: label.py folder or extxyz[.gz] "
                   "(missing or empty: none used)")
    p.add_argument("--frames", type=Path, default=DFT_DIR / "frames_56.extxyz",
                   help="the MD frames in their fixed order (defines the split)")
    p.add_argument("--sevennet", type=Path, default=DFT_DIR / "sevennet_56.extxyz.gz",
                   help="SevenNet-0 labels of the MD frames")
    p.add_argument("--training", type=Path,
                   default=ROOT / "inputs/potentials/training/cu7ps6_sevennet.extxyz.gz",
                   help="the shipped potential's training data (info 'split')")
    p.add_argument("--init", type=Path, default=ROOT / "inputs/potentials/Cu7PS6.mtp",
                   help="the potential to continue from (also the 'shipped' model compared)")
    p.add_argument("--holdout-every", type=int, default=3,
                   help="hold out frame i (file order) when i %% N == N-1")
    p.add_argument("--offset-ref", choices=("sevennet", "mtp"), default="sevennet",
                   help="energy reference of the DFT offset: SevenNet-0 labels or the --init MTP")
    p.add_argument("--dft-weight", type=int, default=10, help="loss weight of each DFT training frame (an integer: N copies)")
    p.add_argument("--maxiter", type=int, default=30, help="Levenberg–Marquardt iterations")
    p.add_argument("--time-limit", type=float, default=None,
                   help="stop LM after the iteration that passes this many seconds")
    p.add_argument("--weights", type=float, nargs=3, default=(1.0, 0.01, 0.001),
                   metavar=("E", "F", "S"), help="loss weights of energy, forces, stress")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--force", action="store_true", help="refit even if OUT/Cu7PS6.mtp exists")
    a = p.parse_args(argv)
    if a.holdout_every < 2:
        p.error("--holdout-every must be at least 2")
    if a.dft_weight < 1:
        p.error("--dft-weight must be at least 1")
    if a.maxiter < 0:
        p.error("--maxiter must be at least 0")
    return a


# ---------------------------------------------------------------------------------------------
# split, energy zero, weighting (pure; tested in tests/test_refit_dft.py)


def split_ids(frame_ids, every: int = 3) -> tuple[list[str], list[str]]:
    """``(train, held_out)`` frame ids: ``frame_ids[i]`` is held out when ``i % every ==
    every - 1`` (file order), so an interleaved file gives every condition held-out frames."""
    ids = [str(i) for i in frame_ids]
    dup = [k for k, n in Counter(ids).items() if n > 1]
    if dup:
        raise InputError(f"repeated frame ids {dup}")
    held = [f for i, f in enumerate(ids) if i % every == every - 1]
    return [f for f in ids if f not in held], held


def check_composition(frames, what) -> None:
    """Refuse any frame that is not Cu7PS6 (one per-atom constant must fit all energies)."""
    for at in frames:
        c = Counter(at.get_chemical_symbols())
        k = len(at) / sum(FORMULA.values())
        if any(c.get(el, 0) != n * k for el, n in FORMULA.items()) or len(c) != len(FORMULA):
            raise InputError(f"frame {at.info.get('frame_id')}: composition {dict(c)} is not "
                             "Cu7PS6; a per-atom energy offset is undefined", what)


def energy_offset_eV_atom(dft: dict, ref: dict, ids) -> float:
    """Mean of ``(E_dft - E_ref) / N`` over ``ids`` (eV/atom).

    ``dft``: frame id -> labelled Atoms; ``ref``: frame id -> energy (eV) of the same frame."""
    ids = list(ids)
    if not ids:
        raise InputError("no training frame with both a DFT and a reference energy: "
                         "the energy offset is undefined")
    return float(np.mean([(dft[i].get_potential_energy() - ref[i]) / len(dft[i]) for i in ids]))


def shifted(at, offset_eV_atom: float):
    """A copy of labelled ``at`` with energy ``E - N * offset`` (forces and stress kept)."""
    r = at.calc.results
    out = at.copy()
    out.calc = SinglePointCalculator(
        out, energy=float(r["energy"]) - len(at) * offset_eV_atom,
        forces=np.array(r["forces"]),
        **({"stress": np.array(r["stress"])} if r.get("stress") is not None else {}))
    out.info["energy_offset_eV_atom"] = offset_eV_atom
    return out


def training_set(base, dft_frames, weight: int) -> tuple[list, list]:
    """The training frames, ``base`` then the DFT frames, and their loss weights (1 for
    ``base``, ``weight`` for every DFT frame)."""
    if int(weight) != weight or weight < 1:
        raise InputError(f"--dft-weight must be a positive integer, got {weight}")
    return list(base) + list(dft_frames), [1] * len(base) + [int(weight)] * len(dft_frames)


# ---------------------------------------------------------------------------------------------


def _load_optional(src) -> dict:
    p = Path(src)
    if not p.exists() or (p.is_dir() and not any((p / "labels").glob("*.extxyz"))):
        return {}
    return compare_labels.load_set(p)


def _digests(*sets) -> set:
    return {str(at.info.get("labeler_digest")) for s in sets for at in s.values()}


def _efs_models(frames: dict, mtp: Path) -> dict:
    return {i: common.lammps_efs(at, mtp) for i, at in frames.items()}


def _fmt(x, spec=".3f"):
    return "–" if x is None or not np.isfinite(x) else format(x, spec)


def sevennet_table(rows: dict) -> str:
    lines = ["| SevenNet-0 set | n | E RMSE shipped → refit (meV/atom) | F RMSE shipped → refit "
             "(eV/Å) | S RMSE shipped → refit (GPa) |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        s, f = r["shipped MTP"], r["refit MTP"]
        lines.append(f"| {name} | {s['n_configurations']} | "
                     f"{_fmt(s['energy_rmse_meV_atom'], '.2f')} → {_fmt(f['energy_rmse_meV_atom'], '.2f')} | "
                     f"{_fmt(s['force_rmse_eV_A'])} → {_fmt(f['force_rmse_eV_A'])} | "
                     f"{_fmt(s.get('stress_rmse_GPa'))} → {_fmt(f.get('stress_rmse_GPa'))} |")
    return "\n".join(lines)


def verdict(shipped: dict, refit: dict) -> dict:
    """Is the refit closer to PBEsol on the held-out frames (force RMSE, all atoms; |mean ΔP|)?"""
    if not shipped.get("n_frames") or not refit.get("n_frames"):
        return {"closer_to_pbesol": None, "why": "no held-out DFT frames labelled"}
    f0, f1 = shipped["force_rmse_eV_A_all"], refit["force_rmse_eV_A_all"]
    p0, p1 = shipped.get("pressure_diff_GPa_mean"), refit.get("pressure_diff_GPa_mean")
    forces = f1 < f0
    pressure = None if p0 is None or p1 is None else abs(p1) < abs(p0)
    return {"n_held_out_frames": refit["n_frames"],
            "force_rmse_all_eV_A": {"shipped": f0, "refit": f1, "refit_lower": forces},
            "pressure_diff_GPa_mean": {"shipped": p0, "refit": p1, "refit_smaller": pressure},
            "closer_to_pbesol": bool(forces and pressure) if pressure is not None else None}


def main(argv=None) -> int:
    a = parse(argv)
    out_mtp = a.out / "Cu7PS6.mtp"
    t_start = time.time()

    # --- the split, fixed by the frame file
    order = [str(at.info["frame_id"]) for at in read(a.frames, ":")]
    train_ids_all, held_ids_all = split_ids(order, a.holdout_every)
    dft = _load_optional(a.dft)
    if not dft:
        raise InputError("no DFT labels (no such file, or a folder without labels/*.extxyz)",
                         a.dft)
    unknown = sorted(set(dft) - set(order))
    if unknown:
        raise InputError(f"labels of frames not in {a.frames}: {unknown}", a.dft)
    ea = _load_optional(a.ea)
    overlap = sorted(set(ea) & set(order))
    if overlap:
        raise InputError(f"E(a) labels with MD frame ids {overlap}", a.ea)
    digests = _digests(dft, ea)
    if len(digests) != 1:
        raise InputError(f"DFT labels with different labeler settings (digests {sorted(digests)}); "
                         "refusing to mix them", a.dft)
    check_composition(list(dft.values()), a.dft)
    check_composition(list(ea.values()), a.ea)
    train_ids = [i for i in train_ids_all if i in dft]
    held_ids = [i for i in held_ids_all if i in dft]
    print(f"DFT labels: {len(dft)} of {len(order)} MD frames ({len(train_ids)} train, "
          f"{len(held_ids)} held out: {', '.join(held_ids) or 'none'}), {len(ea)} E(a) frames")

    # --- the energy zero: offsets on the training MD frames
    sev = {i: at for i, at in compare_labels.load_set(a.sevennet).items()}
    offsets = {}
    ids_sev = [i for i in train_ids if i in sev]
    if ids_sev:
        offsets["sevennet"] = energy_offset_eV_atom(
            dft, {i: sev[i].get_potential_energy() for i in ids_sev}, ids_sev)
    mtp_e = {i: common.lammps_efs(dft[i], a.init)[0] for i in train_ids}
    if train_ids:
        offsets["mtp"] = energy_offset_eV_atom(dft, mtp_e, train_ids)
    if a.offset_ref not in offsets:
        raise InputError(f"no training frame has a {a.offset_ref} energy: no offset", a.dft)
    offset = offsets[a.offset_ref]
    print("energy offset DFT − reference (eV/atom, training MD frames): "
          + ", ".join(f"{k} {v:.6f}" for k, v in offsets.items()) + f"; using {a.offset_ref}")
    dft_train = [shifted(dft[i], offset) for i in train_ids] + [shifted(at, offset)
                                                                for at in ea.values()]
    if not dft_train:
        raise InputError("no DFT training frames labelled yet", a.dft)

    # --- the fit
    a.out.mkdir(parents=True, exist_ok=True)
    base = [at for at in common.read_frames(a.training) if at.info.get("split") == "train"]
    if not base:
        raise InputError("no frames with split == train", a.training)
    train_frames, frame_weights = training_set(base, dft_train, a.dft_weight)
    old = common.read_json(a.out / "refit.json", {})
    split_rec = {"rule": f"MD frame i (file order of {a.frames.name}) held out when "
                         f"i % {a.holdout_every} == {a.holdout_every - 1}; all E(a) frames train",
                 "train_md_all": train_ids_all, "held_out_md_all": held_ids_all,
                 "train_md_labelled": train_ids, "held_out_md_labelled": held_ids,
                 "train_ea_labelled": list(ea)}
    if out_mtp.exists() and not a.force:
        fit_rec = old.get("fit", {})
        print(f"{out_mtp} exists: skipping the fit (use --force to refit)")
        used = (old.get("split") or {}).get("train_md_labelled")
        if used is not None and (used != train_ids
                                 or old["split"].get("train_ea_labelled") != list(ea)):
            print(f"  note: that fit used {len(used)} MD + "
                  f"{len(old['split'].get('train_ea_labelled', []))} E(a) DFT frames; "
                  f"{len(train_ids)} + {len(ea)} are labelled now (--force refits)")
        # the training frames are those of the fit; the held-out ones are all labelled now
        split_rec = dict(old.get("split", split_rec), held_out_md_labelled=held_ids)
        offset = old.get("energy_offset_eV_atom", offset)
    else:
        write(a.out / "dft_train.extxyz", dft_train, format="extxyz")
        n_atoms = sum(len(at) for at in train_frames)
        print(f"refitting {a.init} on {len(base)} SevenNet-0 + {len(dft_train)} DFT "
              f"configurations of weight {a.dft_weight} ({n_atoms} atoms), "
              f"LM maxiter {a.maxiter} ...", flush=True)
        fit_rec = {}
        t0 = time.time()
        train.fit(train_frames, out_mtp, maxiter=a.maxiter, weights=tuple(a.weights),
                  init=a.init, seed=a.seed, optimizer="lm", time_limit_s=a.time_limit,
                  record=fit_rec, frame_weights=frame_weights)
        fit_rec["seconds"] = time.time() - t0
        fit_rec["settings"] = common.settings_record(a)
        fit_rec["n_configurations"] = len(train_frames)
        fit_rec["n_configurations_weighted"] = int(sum(frame_weights))
        fit_rec["n_atoms"] = n_atoms
        lm = fit_rec.get("levenberg_marquardt")
        if lm:
            # every LM trial step evaluates the loss and Jacobian once, plus the first one
            n_eval = 1 + lm["iterations"] + lm["rejected_steps"]
            fit_rec["lm_seconds_per_evaluation"] = lm["seconds"] / n_eval
            fit_rec["lm_seconds_per_iteration"] = lm["seconds"] / max(lm["iterations"], 1)
            fit_rec["lls_and_setup_seconds"] = fit_rec["seconds"] - lm["seconds"]
            print(f"fitted in {fit_rec['seconds']:.0f} s: LLS + setup "
                  f"{fit_rec['lls_and_setup_seconds']:.0f} s, {lm['iterations']} LM iterations "
                  f"({lm['rejected_steps']} rejected steps) in {lm['seconds']:.0f} s, "
                  f"{fit_rec['lm_seconds_per_evaluation']:.1f} s per loss+Jacobian evaluation; "
                  f"loss {lm['loss_start']:.4e} → {lm['loss_end']:.4e}")
        if train._rank() != 0:
            return 0
        # the fit's record first, so an evaluation that fails cannot lose it
        common.write_json(a.out / "refit.json", {
            "settings": common.settings_record(a), "split": split_rec,
            "energy_offset_eV_atom": offset, "energy_offset_ref": a.offset_ref,
            "energy_offsets_eV_atom": offsets, "fit": fit_rec})

    # --- evaluation
    models = {"shipped MTP": a.init, "refit MTP": out_mtp}
    held = {i: shifted(dft[i], offset) for i in held_ids}
    trn = {i: shifted(dft[i], offset) for i in split_rec["train_md_labelled"] if i in dft}
    eas = {i: shifted(at, offset) for i, at in ea.items()}
    dft_rows = {}
    for set_name, ref in (("held-out MD", held), ("training MD", trn), ("training E(a)", eas)):
        rows = {}
        for name, mtp in models.items():
            rows[name] = compare_labels.compare(ref, _efs_models(ref, mtp))
        if set_name != "training E(a)":
            rows["SevenNet-0 labels"] = compare_labels.compare(
                ref, {i: compare_labels.efs(at) for i, at in sev.items()})
        dft_rows[set_name] = rows
    sev_rows = {}
    by_split = {}
    for at in common.read_frames(a.training):
        by_split.setdefault(at.info.get("split"), []).append(at)
    for split in SEVENNET_SPLITS:
        fr = by_split.get(split, [])
        if fr:
            sev_rows[split] = {name: {k: v for k, v in common.errors(fr, mtp).items()
                                      if k != "parity"} for name, mtp in models.items()}
    v = verdict(dft_rows["held-out MD"]["shipped MTP"], dft_rows["held-out MD"]["refit MTP"])

    md = []
    for set_name, rows in dft_rows.items():
        md += [f"### Against PBEsol: {set_name} frames", "", compare_labels.table(rows), ""]
    md += ["### Against SevenNet-0 (the shipped potential's labels)", "", sevennet_table(sev_rows),
           "", f"Verdict (held-out PBEsol frames, force RMSE all and |mean ΔP|): "
           f"refit closer to PBEsol = {v['closer_to_pbesol']}", ""]
    text = "\n".join(md)
    print(text)
    (a.out / "refit.md").write_text(text)
    rec = {"settings": common.settings_record(a),
           "species_order": list(common.SPECIES),
           "dft_digest": next(iter(digests)),
           "dft_labeler": json.loads(next(iter(dft.values())).info.get("labeler_settings", "{}")),
           "split": split_rec,
           "energy_offset_eV_atom": offset, "energy_offset_ref": a.offset_ref,
           "energy_offsets_eV_atom": offsets,
           "energy_note": "DFT energies minus N * energy_offset_eV_atom (DFT − reference, mean "
                          "over the training MD frames). In the DFT tables 'E offset' is the "
                          "remaining mean offset model − shifted DFT; the RMSE removes it.",
           "fit": fit_rec, "against_dft": dft_rows, "against_sevennet": sev_rows,
           "verdict": v, "seconds_total_this_run": time.time() - t_start}
    common.write_json(a.out / "refit.json", rec)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except InputError as e:
        print(f"refit_dft: {e}", file=sys.stderr)
        raise SystemExit(e.exit_code)
