#!/usr/bin/env python
"""Table of the D_Cu cause tests (run_cu7ps6_causes.sh) beside the shipped 550 K run.

Reads each run's tracer D of Cu (``mdargy msd`` → ``diffusion.csv``, copied to
``scripts/ionic/cu7ps6/causes/<name>/``) and its mean production temperature: the ``T_K`` of
``diffusion.csv`` when it has one, else the mean of the run's ``thermo.csv`` (in ``runs/``;
the committed ``T_mean_K.txt`` when ``runs/`` is gone), scales
D to 550 K with the Arrhenius energy of the shipped F-43m series (Ea = 0.115 eV, about
0.4 %/K), and writes ``causes/summary.csv`` and a markdown table.

Usage: python scripts/ionic/causes_summary.py
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

from mdargy.constants import K_B_EV_K

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "scripts" / "ionic" / "cu7ps6"
EA_EV = 0.115           # F-43m, 305-679 K (scripts/ionic/README.md)
RUNS = [  # name, what, atoms, production ps, directory of diffusion.csv, run directory
    ("shipped", "seed 1, one 56-atom placement repeated 2×2×2", 448, 200,
     HERE / "02-ionic-cu7ps6-550K", None),
    ("448seed2", "seed 2, random over the whole 448-atom cell", 448, 200,
     HERE / "causes" / "448seed2", ROOT / "runs" / "ionic-cu7ps6-550K-448seed2"),
    ("448seed3", "seed 3, random over the whole 448-atom cell", 448, 200,
     HERE / "causes" / "448seed3", ROOT / "runs" / "ionic-cu7ps6-550K-448seed3"),
    ("1512seed4", "seed 4, random over the whole 3×3×3 cell", 1512, 100,
     HERE / "causes" / "1512seed4", ROOT / "runs" / "ionic-cu7ps6-550K-1512seed4"),
]


def mean_T(run: Path | None, res: Path, row: dict) -> float:
    if row.get("T_K"):
        return float(row["T_K"])
    txt = res / "T_mean_K.txt"
    if run is not None and (run / "thermo.csv").exists():
        with open(run / "thermo.csv", newline="") as fh:
            T = [float(r["T_K"]) for r in csv.DictReader(fh) if r["stage"] == "production"]
        val = sum(T) / len(T)
        txt.write_text(f"{val:.3f}\n")
        return val
    return float(txt.read_text())


def main() -> int:
    rows = []
    for name, what, n, ps, res, run in RUNS:
        f = res / "diffusion.csv"
        if not f.exists():
            continue
        with open(f, newline="") as fh:
            cu = next(r for r in csv.DictReader(fh) if r["species"] == "Cu")
        T = mean_T(run, res, cu)
        D, s = float(cu["D_cm2_s"]), float(cu["D_err_cm2_s"])
        k = math.exp(EA_EV / K_B_EV_K * (1.0 / T - 1.0 / 550.0))
        rows.append({"run": name, "cu_arrangement": what, "n_atoms": n, "production_ps": ps,
                     "T_mean_K": round(T, 1), "D_Cu_cm2_s": D, "D_Cu_err_cm2_s": s,
                     "D_Cu_550K_cm2_s": D * k, "D_Cu_550K_err_cm2_s": s * k})
    if not rows:
        print(f"error: no diffusion.csv of any run under {HERE}: run run_cu7ps6_causes.sh first",
              file=sys.stderr)
        return 2
    out = HERE / "causes" / "summary.csv"
    with open(out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("| run | Cu arrangement | atoms | ps | ⟨T⟩ (K) | D_Cu (1e-5 cm²/s) | at 550 K |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['cu_arrangement']} | {r['n_atoms']} | {r['production_ps']} | "
              f"{r['T_mean_K']:.1f} | {r['D_Cu_cm2_s'] * 1e5:.3f} ± {r['D_Cu_err_cm2_s'] * 1e5:.3f} | "
              f"{r['D_Cu_550K_cm2_s'] * 1e5:.3f} ± {r['D_Cu_550K_err_cm2_s'] * 1e5:.3f} |")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
