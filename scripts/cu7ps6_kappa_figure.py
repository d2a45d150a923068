#!/usr/bin/env python
"""The Cu7PS6 κ(T) figure of results/cu7ps6/README.md, from the small result files in the tree.

Reads the campaign reports of results/cu7ps6/campaigns/ (NEMD κ∞ and κ of the longest bar,
Green–Kubo, Wigner κ_p + κ_c), the demo's NEMD at 300 K (results/cu7ps6/demo/) and the 600 ps
Green–Kubo run at 300 K (scripts/gk/validation/), and draws them with the measured band of the
reference paper (0.43–0.58 W/m/K, 100–400 K) into results/cu7ps6/kappa_vs_T.png. NEMD points:
κ∞ of the 1/κ = 1/κ∞ + A/L fit where a length dependence is resolved (|A| > 2σ_A), else the
weighted mean κ̄ of κ(L) (mdargy.analysis.kappa); κ of the longest bar is drawn too.

Usage: python scripts/cu7ps6_kappa_figure.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mdargy.analysis.kappa import extrapolate_kappa_per_T
from mdargy.plots.kappa import plot_kappa_methods

ROOT = Path(__file__).resolve().parents[1]
RES = ROOT / "results" / "cu7ps6"


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _rows(path, k="kappa_W_mK", e="kappa_err_W_mK"):
    """(T_K, κ, σ) rows of a result CSV; none when the file is not there (yet)."""
    if not path.exists():
        return []
    return [(float(r["T_K"]), float(r[k]), float(r[e])) for r in _csv(path)]


def _nemd(dirs):
    """From the κ(L) tables of the campaign reports in ``dirs`` that exist: κ∞ where the 1/L
    fit resolves a length dependence with A > 0, the weighted mean κ̄ where it resolves none,
    the temperatures where κ falls with L (resolved), and κ of the longest bar per T."""
    kinf, flat, invalid, longest = [], [], [], []
    for d in dirs:
        rows = _csv(d / "kappa_L.csv") if (d / "kappa_L.csv").exists() else []
        if not rows:
            continue
        per_T = extrapolate_kappa_per_T(
            [float(r["T_K"]) for r in rows], [float(r["length_A"]) for r in rows],
            [float(r["kappa_W_mK"]) for r in rows], [float(r["kappa_err_W_mK"]) for r in rows])
        for f in per_T.fits:
            if not f.length_dependence_resolved:
                flat.append((f.T_K, f.kappa_mean_W_mK, f.kappa_mean_err_W_mK))
            elif f.A_AmK_W > 0:
                kinf.append((f.T_K, f.kappa_inf_W_mK, f.kappa_inf_err_W_mK))
            else:  # κ falls with L, resolved: not the 1/κ = 1/κ∞ + A/L law
                invalid.append((f.T_K, f.kappa_inf_W_mK, f.kappa_inf_err_W_mK))
        for T in sorted({r["T_K"] for r in rows}):
            r = max((r for r in rows if r["T_K"] == T), key=lambda r: float(r["length_A"]))
            longest.append((float(r["T_mean_K"]), float(r["kappa_W_mK"]),
                            float(r["kappa_err_W_mK"])))
    return kinf, flat, invalid, longest


def main() -> int:
    camp = RES / "campaigns"
    series = {}
    nemd, invalid = [], []
    sets = (("1×1-cell bars, 58–117 Å", (camp / "100K_methods", camp / "nemd_T", RES / "demo")),
            ("2×2-cell bars, 78–233 Å",
             tuple(camp / f"nemd2x2_{T}K" for T in (100, 200, 300, 400))))
    for label, dirs in sets:
        kinf, flat, bad, longest = _nemd(dirs)
        nemd += kinf
        invalid += [(T, label.split(",")[0]) for T, _, _ in bad]
        series[f"NEMD κ∞ ({label})"] = kinf
        series[f"NEMD κ̄, no L dependence resolved ({label})"] = flat
        if label.startswith("2×2"):  # the 1x1 bars' longest one says little (σ 25-50 %)
            series[f"NEMD κ of the longest bar ({label.split(', ')[0]}, at its mean T)"] = longest
    gk = json.loads((ROOT / "scripts/gk/validation/cu7ps6_300K-gk/gk.json").read_text())
    series["Green–Kubo (300 ps NVE; 600 ps at 292 K)"] = (
        _rows(camp / "100K_methods" / "kappa_gk.csv") + _rows(camp / "P213_T" / "kappa_gk.csv")
        + [(gk["temperature_K"], gk["kappa_W_mK"], gk["kappa_err_W_mK"])])
    w = _csv(camp / "100K_methods" / "kappa_wigner.csv")
    series["Wigner κ_p + κ_c (4×4×4 q-mesh)"] = [
        (float(r["T_K"]), float(r["kappa_total_W_mK"]), 0.0) for r in w]
    series["Wigner κ_c"] = [(float(r["T_K"]), float(r["kappa_c_W_mK"]), 0.0) for r in w]
    series["paper: Wigner κ_p + κ_c (PBEsol)"] = [(100.0, 0.404, 0.0), (400.0, 0.698, 0.0)]
    series = {k: v for k, v in series.items() if v}
    out = RES / "kappa_vs_T.png"
    fig = plot_kappa_methods(series, band=((100.0, 400.0), (0.43, 0.58), "measured"))
    ax = fig.axes[0]
    ax.set_title("Cu7PS6 (P2₁3), shipped MTP (SevenNet-0 labels)")
    top = 1.2
    clipped = [f"{T:.0f} K: {k:.2g} ± {e:.2g}" for T, k, e in nemd if k + e > top]
    ax.set_ylim(0.0, top)
    notes = []
    if clipped:
        notes.append("NEMD κ∞ beyond the axis: " + "; ".join(clipped))
    if invalid:
        notes.append("no NEMD κ∞ (κ falls with L beyond 2σ): "
                     + ", ".join(f"{T:.0f} K, {what}" for T, what in invalid))
    if notes:
        ax.text(0.99, 0.02, "\n".join(notes), ha="right", va="bottom", transform=ax.transAxes,
                fontsize=7)
    fig.savefig(out, dpi=150)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
