#!/usr/bin/env python
"""The Cu7PS6 κ(T) figure of results/cu7ps6/README.md, from the small result files in the tree.

Reads the Green–Kubo results (scripts/gk/validation/, results/cu7ps6/demo/kappa_gk.csv), the
NEMD κ∞ of the demo campaign (results/cu7ps6/demo/kappa_inf.csv) and the Wigner κ_p + κ_c of
results/cu7ps6/lattice/T100K/wigner.json, and draws them with the measured band of the
reference paper (0.43–0.58 W/m/K, 100–400 K) into results/cu7ps6/kappa_vs_T.png.

Usage: python scripts/cu7ps6_kappa_figure.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mdargy.plots.kappa import plot_kappa_methods

ROOT = Path(__file__).resolve().parents[1]
RES = ROOT / "results" / "cu7ps6"


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def main() -> int:
    series = {}
    nemd = _csv(RES / "demo" / "kappa_inf.csv")
    series["NEMD κ∞ (demo: 1×1-cell bars ≤ 117 Å, 200 ps)"] = [
        (float(r["T_K"]), float(r["kappa_inf_W_mK"]), float(r["kappa_inf_err_W_mK"]))
        for r in nemd]
    gk = json.loads((ROOT / "scripts/gk/validation/cu7ps6_300K-gk/gk.json").read_text())
    series["Green–Kubo (600 ps NVE)"] = [(gk["temperature_K"], gk["kappa_W_mK"],
                                          gk["kappa_err_W_mK"])]
    demo_gk = _csv(RES / "demo" / "kappa_gk.csv")
    series["Green–Kubo (demo, 100 ps)"] = [(float(r["T_K"]), float(r["kappa_W_mK"]),
                                            float(r["kappa_err_W_mK"])) for r in demo_gk]
    w = json.loads((RES / "lattice" / "T100K" / "wigner.json").read_text())
    mesh = "×".join(map(str, w["mesh"]))
    series[f"Wigner κ_p + κ_c ({mesh} q-mesh)"] = [
        (T, k, 0.0) for T, k in zip(w["temperatures_K"], w["kappa_total_scalar_W_mK"])]
    series["Wigner κ_c"] = [(T, k, 0.0) for T, k in zip(w["temperatures_K"],
                                                       w["kappa_c_scalar_W_mK"])]
    series["paper: Wigner κ_p + κ_c (PBEsol)"] = [(100.0, 0.404, 0.0), (400.0, 0.698, 0.0)]
    out = RES / "kappa_vs_T.png"
    fig = plot_kappa_methods(series, band=((100.0, 400.0), (0.43, 0.58), "measured"))
    fig.axes[0].set_title("Cu7PS6 (P2₁3), shipped MTP (SevenNet-0 labels)")
    fig.savefig(out, dpi=150)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
