#!/usr/bin/env python
"""Compare labels: a model (the shipped MTP, or another label set) against DFT labels, per element.

``models``: for every DFT-labelled frame of ``--dft`` (a label directory of ``label.py`` or a
collected extxyz[.gz]), evaluate the MTP in LAMMPS and read the other label sets given with
``--labels NAME=DIR_OR_FILE`` (e.g. SevenNet-0 labels made with ``label.py`` and
``sevennet.toml``); report per model:

* energy per atom: the mean offset (model − DFT; meaningless in absolute terms, since the
  pseudopotential energies of CP2K and the references of a potential differ by a constant) and
  the RMSE after removing it. All frames have the same composition (Cu28P4S24), so one constant
  per atom is all that can be removed;
* forces: RMSE per Cartesian component for Cu, P, S and all atoms, and the RMS of the DFT forces;
* stress: RMSE per Voigt component (GPa) and the mean pressure difference (model − DFT).

``cutoff``: the same frame labelled with several grid settings (``--labels 400=DIR ...``):
differences from the last one given, and the net force (an egg-box indicator).

Writes JSON (``--json``) and prints a markdown table.

Example::

    python scripts/cu7ps6/compare_labels.py models --dft runs/dft/pbesol_400Ry \\
        --mtp inputs/potentials/Cu7PS6.mtp --json results/cu7ps6/dft/compare_56.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from ase.io import read

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from mdargy.io.atomic import atomic_write_json  # noqa: E402

GPA = common.EV_A3_TO_GPA


def load_set(src) -> dict:
    """frame_id -> labelled Atoms, from a label directory or an extxyz(.gz) file."""
    p = Path(src)
    files = sorted((p / "labels").glob("*.extxyz")) if p.is_dir() else None
    frames = [read(f) for f in files] if files is not None else read(p, ":")
    return {str(a.info["frame_id"]): a for a in frames}


def efs(at):
    s = at.calc.results.get("stress")
    return (float(at.get_potential_energy()), np.asarray(at.get_forces()),
            None if s is None else np.asarray(s))


def compare(ref: dict, model: dict) -> dict:
    """Errors of ``model`` (frame_id -> (E, F, s)) against ``ref`` (the same), shared ids."""
    ids = [i for i in ref if i in model]
    if not ids:
        return {"n_frames": 0}
    sym = {i: np.array(ref_at.get_chemical_symbols()) for i, ref_at in ref.items()}
    de, dfe, dfr, ds, dp, fref = [], {}, {}, [], [], {}
    for i in ids:
        e0, f0, s0 = efs(ref[i])
        e1, f1, s1 = model[i]
        n = len(f0)
        de.append((e1 - e0) / n)
        for el in ("Cu", "P", "S"):
            m = sym[i] == el
            dfe.setdefault(el, []).append((f1[m] - f0[m]).ravel())
            fref.setdefault(el, []).append(f0[m].ravel())
        if s0 is not None and s1 is not None:
            ds.append((s1 - s0) * GPA)
            dp.append(-(np.sum(s1[:3]) - np.sum(s0[:3])) / 3 * GPA)
    de = np.array(de)
    per_frame = []
    for k, i in enumerate(ids):
        d = model[i][1] - efs(ref[i])[1]
        per_frame.append({"frame_id": i, "dE_meV_atom_offset_removed": float((de[k] - de.mean())
                                                                             * 1e3),
                          "force_rmse_eV_A": float(np.sqrt(np.mean(d ** 2))),
                          "pressure_diff_GPa": float(dp[k]) if k < len(dp) else None})
    out = {"n_frames": len(ids), "frame_ids": ids, "per_frame": per_frame,
           "energy_offset_meV_atom": float(de.mean() * 1e3),
           # undefined for one frame: the offset takes it all
           "energy_rmse_meV_atom_offset_removed": float(de.std() * 1e3) if len(de) > 1 else None,
           "energy_rmse_meV_atom_raw": float(np.sqrt(np.mean(de ** 2)) * 1e3)}
    allf = []
    for el in ("Cu", "P", "S"):
        d = np.concatenate(dfe[el])
        if d.size == 0:
            continue
        allf.append(d)
        out[f"force_rmse_eV_A_{el}"] = float(np.sqrt(np.mean(d ** 2)))
        out[f"force_rms_dft_eV_A_{el}"] = float(np.sqrt(np.mean(np.concatenate(fref[el]) ** 2)))
    out["force_rmse_eV_A_all"] = float(np.sqrt(np.mean(np.concatenate(allf) ** 2)))
    if ds:
        ds = np.array(ds)
        out["stress_rmse_GPa"] = float(np.sqrt(np.mean(ds ** 2)))
        out["stress_rmse_GPa_diagonal"] = float(np.sqrt(np.mean(ds[:, :3] ** 2)))
        out["stress_rmse_GPa_offdiagonal"] = float(np.sqrt(np.mean(ds[:, 3:] ** 2)))
        out["pressure_diff_GPa_mean"] = float(np.mean(dp))
        out["pressure_diff_GPa_std"] = float(np.std(dp, ddof=1)) if len(dp) > 1 else None
    return out


def table(rows: dict) -> str:
    head = ("| model | frames | E offset (meV/atom) | E RMSE, offset removed (meV/atom) | "
            "F RMSE Cu / P / S / all (eV/Å) | stress RMSE (GPa) | ΔP model−reference (GPa) |\n"
            "|---|---|---|---|---|---|---|")
    lines = [head]
    for name, r in rows.items():
        if not r.get("n_frames"):
            lines.append(f"| {name} | 0 | | | | | |")
            continue
        lines.append(
            f"| {name} | {r['n_frames']} | {r['energy_offset_meV_atom']:.1f} | "
            + ("–" if r["energy_rmse_meV_atom_offset_removed"] is None
               else f"{r['energy_rmse_meV_atom_offset_removed']:.2f}") + " | "
            + " / ".join(f"{r.get('force_rmse_eV_A_' + el, float('nan')):.3f}"
                         for el in ("Cu", "P", "S", "all")) + " | "
            f"{r.get('stress_rmse_GPa', float('nan')):.3f} | "
            f"{r.get('pressure_diff_GPa_mean', float('nan')):+.3f} |")
    return "\n".join(lines)


def cmd_models(a) -> int:
    ref = load_set(a.dft)
    rows = {}
    if a.mtp:
        mtp = {i: common.lammps_efs(at, a.mtp) for i, at in ref.items()}
        rows[f"MTP ({Path(a.mtp).name})"] = compare(ref, mtp)
    for spec in a.labels or []:
        name, src = spec.split("=", 1)
        other = {i: efs(at) for i, at in load_set(src).items()}
        rows[name] = compare(ref, other)
    r0 = next(iter(ref.values()))
    rec = {"dft": str(a.dft), "dft_labeler": json.loads(r0.info["labeler_settings"]),
           "dft_digest": r0.info["labeler_digest"], "n_dft_frames": len(ref),
           "dft_force_rms_eV_A": float(np.sqrt(np.mean(np.concatenate(
               [at.get_forces().ravel() for at in ref.values()]) ** 2))),
           "models": rows,
           "note": "energy offsets are arbitrary (different energy references); the RMSE is "
                   "after removing the mean offset. Force RMSE per Cartesian component."}
    if a.json:
        atomic_write_json(a.json, rec)
    print(table(rows))
    return 0


def cmd_cutoff(a) -> int:
    """Differences of each setting's label of a frame from the reference (the last given).

    Besides energy, force and stress differences it reports |sum of forces|: zero for exact
    forces, so its size shows the grid (egg-box) error of GPW."""
    sets = {}
    for spec in a.labels:
        name, src = spec.split("=", 1)
        sets[name] = load_set(src)
    names = list(sets)
    ref_name = names[-1]
    top = sets[ref_name]
    common = set.intersection(*(set(v) for v in sets.values()))  # frames of every setting
    rows = []
    for name in names:
        for fid, at in sets[name].items():
            if fid not in common:
                continue
            e0, f0, s0 = efs(top[fid])
            e1, f1, s1 = efs(at)
            sym = np.array(at.get_chemical_symbols())
            meta = json.loads(at.info["label_meta"])
            st = json.loads(at.info["labeler_settings"])
            rows.append({"setting": name, "cutoff_Ry": st.get("cutoff_Ry"),
                         "rel_cutoff_Ry": st.get("rel_cutoff_Ry"), "frame_id": fid,
                         "n_atoms": len(at),
                         "dE_meV_atom": (e1 - e0) / len(at) * 1e3,
                         "dF_rms_eV_A": float(np.sqrt(np.mean((f1 - f0) ** 2))),
                         **{f"dF_rms_eV_A_{el}": float(np.sqrt(np.mean((f1 - f0)[sym == el] ** 2)))
                            for el in ("Cu", "P", "S") if np.any(sym == el)},
                         "dF_max_eV_A": float(np.abs(f1 - f0).max()),
                         "net_force_eV_A": float(np.linalg.norm(f1.sum(axis=0))),
                         "dstress_max_GPa": float(np.abs(s1 - s0).max() * GPA),
                         "dP_GPa": float(-(np.sum(s1[:3]) - np.sum(s0[:3])) / 3 * GPA),
                         "F_rms_eV_A": float(np.sqrt(np.mean(f1 ** 2))),
                         "P_GPa": float(-np.sum(s1[:3]) / 3 * GPA),
                         "wall_min": meta.get("wall_s", float("nan")) / 60,
                         "cpu_min": (meta["cpu_s"] / 60 if meta.get("cpu_s") is not None
                                     else None),
                         "scf_steps": meta.get("scf_steps")})
    if a.json:
        atomic_write_json(a.json, {"reference": ref_name, "rows": rows})
    print(f"differences from {ref_name}\n"
          "| setting: cutoff / rel_cutoff (Ry) | frame | ΔE (meV/atom) "
          "| ΔF RMS all / Cu / P / S (eV/Å) | ΔF max (eV/Å) | abs(ΣF) (eV/Å) "
          "| Δσ max (GPa) | ΔP (GPa) | P (GPa) | SCF steps |\n"
          "|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        dfs = " / ".join(f"{r.get('dF_rms_eV_A' + k, float('nan')):.4f}"
                         for k in ("", "_Cu", "_P", "_S"))
        print(f"| {r['setting']}: {r['cutoff_Ry']:.0f} / {r['rel_cutoff_Ry']:.0f} | {r['frame_id']} | "
              f"{r['dE_meV_atom']:+.3f} | {dfs} | {r['dF_max_eV_A']:.3f} | "
              f"{r['net_force_eV_A']:.3f} | {r['dstress_max_GPa']:.3f} | {r['dP_GPa']:+.3f} | "
              f"{r['P_GPa']:+.3f} | {r['scf_steps']} |")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("models", help="models against DFT labels")
    p.add_argument("--dft", required=True, help="DFT label directory or extxyz(.gz)")
    p.add_argument("--mtp", default=None, help=".mtp file to evaluate in LAMMPS")
    p.add_argument("--labels", action="append", help="NAME=DIR_OR_FILE of another label set")
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(fn=cmd_models)
    p = sub.add_parser("cutoff", help="cutoff convergence of one frame")
    p.add_argument("--labels", action="append", required=True,
                   help="NAME=DIR_OR_FILE, one per setting; the last is the reference")
    p.add_argument("--json", type=Path, default=None)
    p.set_defaults(fn=cmd_cutoff)
    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    raise SystemExit(main())
