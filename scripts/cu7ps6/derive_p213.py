#!/usr/bin/env python
"""Derive the ordered P2_13 structure of Cu7PS6 with a labeler (step 1 of the pipeline).

1. enumerate the P2_13-compatible Cu orderings over the candidate sites of the F-43m framework
   (:func:`mdargy.structures.cu7ps6.enumerate_p213_orderings`);
2. relax each with the labeler, keeping P2_13 symmetry (ASE ``FixSymmetry``) and the cell cubic
   (hydrostatic strain only);
3. run a short NVT MD at 300 K on the lowest-energy ones and keep the lowest that stays stable
   (framework atoms stay near their relaxed sites, no Cu–Cu contact below 1.8 Å);
4. write ``Cu7PS6_P213_derived.cif`` with a provenance header and ``derive_p213.json``.

Resumable: every candidate's relaxation and MD is stored in ``OUT/candidates/`` and skipped when
present. Progress is shown with tqdm.

The labels are from a universal ML potential (or the LJ stand-in), **not DFT**.

Example::

    python scripts/cu7ps6/derive_p213.py --labeler sevennet --out runs/p213
    python scripts/cu7ps6/derive_p213.py --labeler lj-standin --max-candidates 2 --out /tmp/dry
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labeler as lab  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--labeler", choices=lab.LABELERS, default="sevennet")
    p.add_argument("--out", type=Path, required=True, help="output directory (resumable)")
    p.add_argument("--a", type=float, default=None, help="starting lattice constant, Å")
    p.add_argument("--min-cu-cu", type=float, default=1.5, help="enumeration filter, Å")
    p.add_argument("--extra-4a", action="store_true",
                   help="also try Cu3 on the other three-fold-axis sites (16e triangle, 4d)")
    p.add_argument("--only", default=None, help="relax only orderings whose name contains this regex")
    p.add_argument("--max-candidates", type=int, default=None, help="relax only the first N (stand-in rank)")
    p.add_argument("--fmax", type=float, default=0.05, help="relaxation force tolerance, eV/Å")
    p.add_argument("--steps", type=int, default=150, help="maximum relaxation steps")
    p.add_argument("--refine", type=int, default=4,
                   help="re-relax the N lowest tightly (--refine-fmax) before ranking")
    p.add_argument("--refine-fmax", type=float, default=0.02)
    p.add_argument("--refine-steps", type=int, default=300)
    p.add_argument("--md-candidates", type=int, default=2, help="MD-check the N lowest in energy")
    p.add_argument("--md-steps", type=int, default=250, help="MD steps (2 fs) at --md-T")
    p.add_argument("--md-T", type=float, default=300.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cif", type=Path, default=None, help="where to write the CIF (default OUT/)")
    return p.parse_args(argv)


def relax(atoms, calc, fmax, steps):
    from ase.constraints import FixSymmetry
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    atoms = atoms.copy()
    atoms.calc = calc
    atoms.set_constraint(FixSymmetry(atoms, symprec=1e-3))
    filt = FrechetCellFilter(atoms, hydrostatic_strain=True)
    opt = FIRE(filt, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    atoms.set_constraint()
    return atoms, converged, opt.get_number_of_steps()


def md_check(atoms, calc, T, nsteps, seed):
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from mdargy.structures.cu7ps6 import min_distances

    at = atoms.copy()
    at.calc = calc
    MaxwellBoltzmannDistribution(at, temperature_K=T, rng=np.random.default_rng(seed))
    dyn = Langevin(at, 2.0 * units.fs, temperature_K=T, friction=0.02, rng=np.random.default_rng(seed + 1))
    ref = atoms.get_positions()
    fw = np.array([s != "Cu" for s in atoms.get_chemical_symbols()])
    energies = []
    for _ in range(max(1, nsteps // 10)):
        dyn.run(10)
        energies.append(at.get_potential_energy() / len(at))
    d = at.get_positions() - ref
    d -= at.cell.array.diagonal() * np.round(d / at.cell.array.diagonal())
    rms_fw = float(np.sqrt((d[fw] ** 2).sum(1).mean()))
    rms_cu = float(np.sqrt((d[~fw] ** 2).sum(1).mean()))
    dmin = min_distances(at)
    stable = rms_fw < 0.5 and dmin["Cu-Cu"] > 1.8 and dmin["P-S"] < 2.3
    return {
        "T_K": T,
        "steps": nsteps,
        "time_ps": nsteps * 0.002,
        "rms_framework_A": rms_fw,
        "rms_cu_A": rms_cu,
        "min_distances_A": dmin,
        "E_mean_eV_atom": float(np.mean(energies[len(energies) // 2 :])),
        "stable": bool(stable),
    }


def _best_file(cdir: Path, r: dict) -> Path:
    refined = cdir / f"cand{r['index']:02d}_refined.xyz"
    return refined if refined.exists() else cdir / f"cand{r['index']:02d}_relaxed.xyz"


def main(argv=None):
    args = parse(argv)
    from ase.io import read, write
    from tqdm import tqdm

    from mdargy.structures import cu7ps6 as c
    from mdargy.structures.builders import structure_report, write_cif

    out = args.out
    cdir = out / "candidates"
    cdir.mkdir(parents=True, exist_ok=True)
    a0 = args.a or c.A_DEFAULT
    orderings = c.enumerate_p213_orderings(a=a0, min_cu_cu=args.min_cu_cu, extra_4a=args.extra_4a)
    if args.only:
        import re

        orderings = [o for o in orderings if re.search(args.only, o.name)]
    if args.max_candidates:
        orderings = orderings[: args.max_candidates]
    calc = lab.get_calculator(args.labeler, args.threads)
    results = []
    for i, o in enumerate(tqdm(orderings, desc="relax P2_13 candidates", unit="cand")):
        jf = cdir / f"cand{i:02d}.json"
        if jf.exists():
            results.append(json.loads(jf.read_text()))
            continue
        t0 = time.time()
        atoms = c.p213_atoms(o.orbits, a=a0)
        del atoms.arrays["site_label"]
        relaxed, conv, nsteps = relax(atoms, calc, args.fmax, args.steps)
        rep = structure_report(relaxed)
        res = {
            "index": i,
            "ordering": o.name,
            "orbits": [list(x) for x in o.orbits],
            "standin_gii_vu": o.gii_vu,
            "unrelaxed_min_cu_cu_A": o.min_cu_cu_A,
            "E_eV_atom": float(relaxed.get_potential_energy() / len(relaxed)),
            "converged": conv,
            "steps": nsteps,
            "a_A": float(relaxed.cell.lengths()[0]),
            "spacegroup": rep["spacegroup"],
            "cu_coordination": rep["cu_coordination"],
            "min_distances_A": rep["min_distances_A"],
            "seconds": time.time() - t0,
        }
        write(cdir / f"cand{i:02d}_relaxed.xyz", relaxed, format="extxyz")
        c_json = json.dumps(res, indent=1)
        (cdir / f".cand{i:02d}.tmp").write_text(c_json)
        (cdir / f".cand{i:02d}.tmp").replace(jf)
        results.append(res)
    ranked = sorted(results, key=lambda r: r["E_eV_atom"])
    for r in tqdm(ranked[: args.refine], desc="refine the lowest", unit="cand"):
        rf = cdir / f"cand{r['index']:02d}_refined.json"
        if not rf.exists():
            start = read(cdir / f"cand{r['index']:02d}_relaxed.xyz")
            tight, conv, nsteps = relax(start, calc, args.refine_fmax, args.refine_steps)
            rep = structure_report(tight)
            write(cdir / f"cand{r['index']:02d}_refined.xyz", tight, format="extxyz")
            rf.write_text(json.dumps({
                "E_eV_atom": float(tight.get_potential_energy() / len(tight)), "converged": conv,
                "steps": nsteps, "a_A": float(tight.cell.lengths()[0]), "spacegroup": rep["spacegroup"],
                "cu_coordination": rep["cu_coordination"], "min_distances_A": rep["min_distances_A"]}, indent=1))
        r["refined"] = json.loads(rf.read_text())
    key = lambda r: r["refined"]["E_eV_atom"] if "refined" in r else r["E_eV_atom"] + 1.0
    ranked = sorted(ranked, key=key) if args.refine else ranked
    chosen = None
    for r in tqdm(ranked[: args.md_candidates], desc=f"MD check at {args.md_T:g} K", unit="cand"):
        mf = cdir / f"cand{r['index']:02d}_md.json"
        if mf.exists():
            r["md"] = json.loads(mf.read_text())
        else:
            relaxed = read(_best_file(cdir, r))
            r["md"] = md_check(relaxed, calc, args.md_T, args.md_steps, args.seed)
            mf.write_text(json.dumps(r["md"], indent=1))
        if r["md"]["stable"] and chosen is None:
            chosen = r
    summary = {
        "labeler": lab.describe(args.labeler),
        "args": {k: str(v) for k, v in vars(args).items()},
        "candidates": ranked,
        "chosen": chosen,
    }
    (out / "derive_p213.json").write_text(json.dumps(summary, indent=1))
    print(f"{'rank':>4} {'ordering':42s} {'E (eV/at)':>10} {'E refined':>10} {'a (Å)':>7} {'SG':>10} "
          f"{'CN hist (2.75 Å)':>18} {'GII':>6}")
    for k, r in enumerate(ranked):
        cn = r.get("refined", r)["cu_coordination"]
        er = f"{r['refined']['E_eV_atom']:10.4f}" if "refined" in r else f"{'-':>10}"
        print(f"{k:4d} {r['ordering']:42s} {r['E_eV_atom']:10.4f} {er} {r.get('refined', r)['a_A']:7.3f} "
              f"{r['spacegroup']:>10} {str(cn):>18} {r['standin_gii_vu']:6.3f}")
    if chosen is None:
        print("no candidate passed the MD stability check; nothing written")
        return 1
    atoms = read(_best_file(cdir, chosen))
    if "refined" in chosen:
        chosen = {**chosen, **{k: chosen["refined"][k] for k in ("E_eV_atom", "a_A")}}
    info = lab.describe(args.labeler)
    header = [
        "Cu7PS6, ordered cubic P2_13 phase -- DERIVED, NOT REFINED FROM EXPERIMENT",
        "made by scripts/cu7ps6/derive_p213.py: enumeration of P2_13 Cu orderings on the F-43m framework,",
        f"relaxed with labeler {info['name']} {info.get('version') or ''} ({info['note']}),",
        f"lowest energy of {len(ranked)} candidates stable in {chosen['md']['time_ps']:g} ps MD at {args.md_T:g} K.",
        f"ordering {chosen['ordering']}; E = {chosen['E_eV_atom']:.4f} eV/atom; a = {chosen['a_A']:.4f} A",
        "to use literature coordinates instead: ICSD 22451 or Materials Project mp-1196216 (see README)",
    ]
    cif = args.cif or (out / "Cu7PS6_P213_derived.cif")
    write_cif(cif, atoms, header, force=True)
    print(f"wrote {cif}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
