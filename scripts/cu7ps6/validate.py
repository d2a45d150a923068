#!/usr/bin/env python
"""Sanity checks of a Cu7PS6 MTP in LAMMPS with mdargy's own tools (step 6 of the pipeline).

For each validation case — the ordered P2_13 cell at 300 K and the superionic F-43m cell at
550 K, both 2×2×2 (448 atoms) — this runs exactly what a user runs:

1. ``mdargy emd inputs/examples/cu7ps6_emd_{300,550}K.toml`` with the potential under test
   (NPT 0 bar equilibration, NVE production, default 50 ps);
2. ``mdargy msd`` on the trajectory: D per species (Einstein relation), MSD of P and S at the
   end of the run (bounded when the framework is intact);
3. ``mdargy dos`` on the velocities: partial DOS; the Cu share of the DOS below 15 meV and the
   P+S share above 20 meV;
4. stability: closest pair distances in the last frame, temperature, NVE energy drift;
5. with ``--labeler``: the labeler's energy and forces on snapshots of the production run,
   against the MTP (|ΔE| per atom, force RMSE) — the active-learning criterion at 448 atoms.

Writes ``OUT/validate.json`` and ``OUT/validate.md`` (the table for the potential's README).
Resumable: a finished EMD run is not rerun (``mdargy emd`` reports it done).

Example::

    python scripts/cu7ps6/validate.py --potential inputs/potentials/Cu7PS6.mtp --out runs/cu7ps6/validate
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from mdargy.io.runmeta import run_trajectory  # noqa: E402
from mdargy.io.trajectory import load_trajectory  # noqa: E402

CASES = (("p213", 300.0, "cu7ps6_emd_300K.toml"), ("f43m", 550.0, "cu7ps6_emd_550K.toml"))
PAPER = {"D_Cu_550K_cm2_s": 5.5e-5, "Cu_modes_below_meV": 15.0}
PAIRS = (("Cu", "S"), ("P", "S"), ("S", "S"), ("Cu", "Cu"), ("Cu", "P"), ("P", "P"))


def _d_text(d: dict) -> str:
    """D ± σ, or "bounded" when the MSD has no diffusive regime (no D reported)."""
    if d.get("D_cm2_s") is None:
        return "bounded (no diffusive regime)"
    return f"{d['D_cm2_s']:.2e} ± {d['D_err_cm2_s']:.1e}"


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--potential", type=Path, default=common.ROOT / "inputs/potentials/Cu7PS6.mtp")
    p.add_argument("--out", type=Path, default=Path("runs/cu7ps6/validate"))
    p.add_argument("--ps", type=float, default=50.0, help="NVE production length, ps")
    p.add_argument("--equil-ps", type=float, default=10.0, help="NPT equilibration length, ps")
    p.add_argument("--dump-every-fs", type=float, default=10.0, help="time between frames, fs")
    p.add_argument("--labeler", default=None, help="label production snapshots with this labeler")
    p.add_argument("--n-label", type=int, default=5, help="snapshots labelled per case")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks for the MD")
    return p.parse_args(argv)


def _mdargy(*args, ranks=1):
    cmd = common.mpirun_prefix(ranks) + [sys.executable, "-m", "mdargy", *map(str, args)]
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)


def closest_pairs(atoms) -> dict:
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, 4.0)
    sym = np.array(atoms.get_chemical_symbols())
    out = {}
    for a, b in PAIRS:
        m = ((sym[i] == a) & (sym[j] == b)) | ((sym[i] == b) & (sym[j] == a))
        out[f"{a}-{b}"] = float(d[m].min()) if m.any() else None
    return out


def dos_shares(dos: dict) -> dict:
    """Cu share of the DOS below 15 meV; P+S share above 20 meV (partial DOS in states)."""
    f = np.asarray(dos["freq_meV"])
    part = {el: np.asarray(v) for el, v in zip(dos["elements"], dos["dos_partial_per_THz"])}
    tot = sum(part.values())
    df = np.gradient(np.asarray(dos["freq_THz"]))
    lo, hi = f < 15.0, f > 20.0
    share_lo = float(np.sum(part["Cu"][lo] * df[lo]) / np.sum(tot[lo] * df[lo]))
    ps_hi = float(np.sum((part["P"] + part["S"])[hi] * df[hi]) / np.sum(tot[hi] * df[hi]))
    peaks = {el: float(f[np.argmax(v)]) for el, v in part.items()}
    return {"Cu_share_below_15meV": share_lo, "PS_share_above_20meV": ps_hi, "peak_meV": peaks}


def main(argv=None):
    args = parse(argv)
    from ase.io import read

    pot = args.potential.resolve()
    if not pot.exists():
        raise SystemExit(f"{pot}: no such potential")
    args.out.mkdir(parents=True, exist_ok=True)
    calc_lab = None
    if args.labeler:
        import labeler as lab

        calc_lab = lab.get_calculator(args.labeler)
    results = {"potential": str(pot), "settings": {k: str(v) for k, v in vars(args).items()},
               "paper": PAPER, "cases": []}
    for phase, T, toml in CASES:
        t0 = time.time()
        run = args.out / f"emd_{phase}_{T:g}K"
        _mdargy("emd", common.ROOT / "inputs/examples" / toml, "-o", run, "-q",
                "--set", f'potential.files=["{pot}"]',
                "--set", f"equilibration_ps={args.equil_ps}",
                "--set", f"production_ps={args.ps}",
                "--set", f"dump_every_fs={args.dump_every_fs}", "--set", "text_dump=false",
                ranks=args.ranks)
        _mdargy("msd", run_trajectory(run), "-o", run / "msd", "--force", "-T", T)
        _mdargy("dos", run_trajectory(run), "-o", run / "dos", "--force")
        emd = json.loads((run / "result.json").read_text())
        msd = json.loads((run / "msd" / "msd.json").read_text())
        dos = json.loads((run / "dos" / "dos.json").read_text())
        final = read(run / "final.extxyz")
        case = {"phase": phase, "T_K": T, "n_atoms": len(final), "production_ps": args.ps,
                "emd": {k: emd.get(k) for k in ("T_mean_K", "T_std_K", "etotal_drift_eV_atom_ps",
                                                 "n_frames", "volume_A3", "press_mean_bar")},
                "lattice_constant_A": float(np.cbrt(final.get_volume() / 8.0)),
                "closest_pairs_A": closest_pairs(final),
                "diffusion": {d["species"]: {"D_cm2_s": d["D_cm2_s"], "D_err_cm2_s": d["D_err_cm2_s"],
                                             "window_ps": d["window_ps"], "loglog_slope": d["loglog_slope"],
                                             "warnings": d.get("warnings", [])} for d in msd["diffusion"]},
                # total MSD (x+y+z) at half the run (all origins; the last lags have few)
                "msd_half_run_A2": {sp: float(np.asarray(m)[len(m) // 2].sum()) for sp, m in
                                    zip(msd["msd"]["species"], msd["msd"]["msd_A2"])},
                "dos": dos_shares(dos), "seconds": None}
        if calc_lab is not None:
            traj = load_trajectory(run_trajectory(run))  # NVE: the box is the final one
            n = len(traj.positions)
            picks = np.linspace(n // 5, n - 1, args.n_label).astype(int)
            de, fr2 = [], []
            for k in picks:
                at = final.copy()
                at.calc = None
                at.positions = traj.positions[k]
                at.wrap()
                ref = common.label(at, calc_lab)
                err = common.errors([ref], pot)
                de.append(err["energy_mae_meV_atom"])
                fr2.append(err["force_rmse_eV_A"] ** 2)
            case["labeler_checks"] = {"n": len(de), "max_abs_dE_meV_atom": max(de) if de else None,
                                      "force_rmse_eV_A": float(np.sqrt(np.mean(fr2))) if fr2 else None}
        case["seconds"] = time.time() - t0
        results["cases"].append(case)
        common.write_json(args.out / "validate.json", results)
        print(json.dumps({k: v for k, v in case.items() if k != "diffusion"}, indent=1), flush=True)
    (args.out / "validate.md").write_text(table(results))
    print(table(results))
    return 0


def table(results) -> str:
    rows = ["| | " + " | ".join(f"{c['phase'].replace('p213', 'P2_13').replace('f43m', 'F-43m')} {c['T_K']:g} K"
                                 for c in results["cases"]) + " | paper |",
            "|---|" + "---|" * (len(results["cases"]) + 1)]

    def row(name, fn, paper=""):
        rows.append(f"| {name} | " + " | ".join(fn(c) for c in results["cases"]) + f" | {paper} |")

    row("atoms × production (ps)", lambda c: f"{c['n_atoms']} × {c['production_ps']:g}")
    row("⟨T⟩ (K)", lambda c: f"{c['emd'].get('T_mean_K', float('nan')):.1f}")
    row("NVE drift (meV/atom/ps)", lambda c: f"{1e3 * c['emd']['etotal_drift_eV_atom_ps']:.2g}")
    row("a at 0 bar (Å)", lambda c: f"{c['lattice_constant_A']:.3f}", "9.6–9.7 (expt.)")
    row("closest Cu–S / P–S / Cu–Cu / Cu–P (Å)", lambda c: " / ".join(
        f"{c['closest_pairs_A'][k]:.2f}" for k in ("Cu-S", "P-S", "Cu-Cu", "Cu-P")))
    row("D_Cu (cm²/s)", lambda c: _d_text(c['diffusion']['Cu']), "5.5e-5 at 550 K")
    row("MSD at half the run, Cu / P / S (Å²)",
        lambda c: " / ".join(f"{c['msd_half_run_A2'][k]:.2f}" for k in ("Cu", "P", "S")))
    row("Cu share of DOS < 15 meV", lambda c: f"{c['dos']['Cu_share_below_15meV']:.2f}", "Cu-dominated")
    row("P+S share of DOS > 20 meV", lambda c: f"{c['dos']['PS_share_above_20meV']:.2f}", "P/S-dominated")
    row("DOS peak Cu / S / P (meV)", lambda c: " / ".join(f"{c['dos']['peak_meV'][k]:.1f}" for k in ("Cu", "S", "P")))
    if all("labeler_checks" in c for c in results["cases"]):
        row("labeler checks: max |ΔE| (meV/atom), F RMSE (eV/Å)", lambda c: (
            f"{c['labeler_checks']['max_abs_dE_meV_atom']:.1f}, {c['labeler_checks']['force_rmse_eV_A']:.3f}"))
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
