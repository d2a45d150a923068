"""Figures and the summary table of the Cu7PS6 lattice results (results/cu7ps6/lattice/T*K).

    .venv/bin/python scripts/lattice/cu7ps6_report.py [results/cu7ps6/lattice]

Reads fit.json, phonons.json, wigner.json of every T*K folder; writes dispersion_Cu.png,
dos.png, spectral_kappa.png per folder, dispersions.png (all temperatures) and summary.csv in
the parent, and prints a Markdown table against the paper (Cu7PS6, PBEsol DFT + hiPhive + phono3py;
ours: the SevenNet-0-labelled MTP).
"""

import json
import sys
from pathlib import Path

import numpy as np

from mdargy.io.atomic import atomic_write_csv
from mdargy.lattice.phonons import PhononResult
from mdargy.lattice.wigner import WignerResult
from mdargy.plots.lattice import (plot_dispersion_weight, plot_dispersions, plot_phonon_dos,
                                  plot_spectral_kappa)

PAPER = {100: (0.144, 0.260), 400: (0.044, 0.654)}  # kappa_p, kappa_c in W/m/K
BAND = (0.6, 3.7)  # THz; the paper: 77 % of kappa_c at 100 K from this band


def main(root="results/cu7ps6/lattice"):
    root = Path(root)
    rows, phs = [], []
    for d in sorted(root.glob("T*K"), key=lambda p: float(p.name[1:-1])):
        fit = json.loads((d / "fit.json").read_text()) if (d / "fit.json").is_file() else {}
        ph = PhononResult.from_json(d / "phonons.json") if (d / "phonons.json").is_file() else None
        w = WignerResult.from_json(d / "wigner.json") if (d / "wigner.json").is_file() else None
        T = float(d.name[1:-1])
        if ph is not None:
            plot_dispersion_weight(ph, "Cu", d / "dispersion_Cu.png", fmax_THz=None)
            plot_phonon_dos(ph, d / "dos.png")
            phs.append(ph)
        share = float("nan")
        if w is not None:
            plot_spectral_kappa(w, d / "spectral_kappa.png", band_THz=BAND)
            share = w.band_share(*BAND, "c")
        rows.append([
            T, fit.get("n_snapshots"), str(fit.get("cutoffs_A")), fit.get("n_parameters"),
            fit.get("rmse_eV_A"), fit.get("force_rms_eV_A"), fit.get("r2"),
            fit.get("cv_rmse_eV_A"),
            len(ph.imaginary_modes) if ph else None, ph.min_freq_THz if ph else None,
            "x".join(map(str, w.mesh)) if w else None,
            float(w.kappa_p_scalar_W_mK[0]) if w else None,
            float(w.kappa_c_scalar_W_mK[0]) if w else None,
            float(w.kappa_total_scalar_W_mK[0]) if w else None,
            "x".join(map(str, w.coarse_mesh)) if w and len(w.coarse_mesh) else None,
            float(w.mesh_change[0]) if w and len(w.coarse_mesh) else None, share])
    header = ["T_K", "n_snapshots", "cutoffs_A", "n_parameters", "fit_rmse_eV_A",
              "force_rms_eV_A", "fit_r2", "fit_cv_rmse_eV_A", "n_imaginary_modes",
              "min_freq_THz", "mesh", "kappa_p_W_mK", "kappa_c_W_mK", "kappa_total_W_mK",
              "coarse_mesh", "mesh_change", "kappa_c_share_0.6_3.7THz"]
    atomic_write_csv(root / "summary.csv", header,
                     [["" if v is None else v for v in r] for r in rows])
    labels = [f"{p.temperature_K:g} K (effective FCs)" for p in phs]
    fd = root / "T0K_fd" / "phonons.json"
    if fd.is_file():  # 0 K harmonic reference (scripts/lattice/cu7ps6_0K.py)
        phs.insert(0, PhononResult.from_json(fd))
        labels.insert(0, "0 K (finite displacements)")
    if len(phs) > 1:
        plot_dispersions(phs, root / "dispersions.png", labels=labels)
    # mesh convergence of kappa_p + kappa_c from the kept wigner_mesh*.json files
    for d in sorted(root.glob("T*K")):
        ws = sorted((WignerResult.from_json(f) for f in d.glob("wigner_mesh*.json")),
                    key=lambda w: w.mesh[0])
        if ws:
            print(f"{d.name}: " + "; ".join(
                f"{'x'.join(map(str, w.mesh))}: kappa_p {w.kappa_p_scalar_W_mK[0]:.3f}, kappa_c "
                f"{w.kappa_c_scalar_W_mK[0]:.3f}, total {w.kappa_total_scalar_W_mK[0]:.3f}"
                for w in ws))
    print("| T (K) | κ_p mdargy | κ_p paper | κ_c mdargy | κ_c paper | κ_c share 0.6–3.7 THz "
          "| mesh (change vs coarser) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        T = int(r[0])
        pp, pc = PAPER.get(T, ("–", "–"))
        f = (lambda v: "–" if v is None or not np.isfinite(v) else f"{v:.3f}")
        ch = f"{r[10]} ({100 * r[15]:.0f} % vs {r[14]})" if r[15] is not None else str(r[10])
        print(f"| {T} | {f(r[11])} | {pp} | {f(r[12])} | {pc} | "
              f"{'–' if not np.isfinite(r[16]) else f'{100 * r[16]:.0f} %'} | {ch} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
