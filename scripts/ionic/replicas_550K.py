#!/usr/bin/env python
"""Are the error bars honest on real MD? D_Cu and sigma_ion of independent 550 K Cu7PS6 runs.

Five 100-ps pieces: the two halves of the 200-ps run (seed 550) and three 100-ps runs with
other seeds (551-553; run_cu7ps6.sh with REPLICA_SEEDS). Each piece's D and sigma_ion with its
own sigma; the spread between pieces is compared with those sigmas (chi2 of the weighted mean).
The runs are NVE after NPT, so their mean temperatures differ by a few K: D and sigma T are
brought to 550 K with the Arrhenius energies measured over 305-679 K (0.115 and 0.099 eV); that
correction is about 0.4 % per K. Writes scripts/ionic/cu7ps6/replicas_550K.json.

    .venv/bin/python scripts/ionic/replicas_550K.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from mdargy.analysis.conductivity import ionic_conductivity
from mdargy.analysis.diffusion import K_B_EV_K, diffusion_coefficients
from mdargy.errors import InputError
from mdargy.io.runmeta import run_trajectory
from mdargy.io.trajectory import load_trajectory

ROOT = Path(__file__).resolve().parents[2]
EA_D, EA_S = 0.115, 0.099  # eV, the Arrhenius fits in cu7ps6/D_arrhenius, sigma_arrhenius


def piece(traj, T, sl, label):
    x = traj.positions[sl]
    d = diffusion_coefficients(x, traj.dt_ps, species=traj.elements, masses=traj.masses_amu,
                               T_K=T)
    c = ionic_conductivity(x, traj.dt_ps, traj.elements, traj.volume_A3, T, diffusion=d)
    cu = d["Cu"]
    fD = math.exp(EA_D / K_B_EV_K * (1 / T - 1 / 550.0))
    fS = math.exp(EA_S / K_B_EV_K * (1 / T - 1 / 550.0)) * T / 550.0
    return {"piece": label, "T_K": T, "D_cm2_s": cu.D_cm2_s, "D_err_cm2_s": cu.D_err_cm2_s,
            "D550_cm2_s": cu.D_cm2_s * fD, "D550_err_cm2_s": cu.D_err_cm2_s * fD,
            "correlation_inflation": cu.correlation_inflation,
            "sigma_S_cm": c.sigma_S_cm, "sigma_err_S_cm": c.sigma_err_S_cm,
            "sigma550_S_cm": c.sigma_S_cm * fS, "sigma550_err_S_cm": c.sigma_err_S_cm * fS,
            "haven_ratio": c.haven_ratio, "haven_ratio_err": c.haven_ratio_err}


def consistency(vals, errs):
    v, e = np.asarray(vals), np.asarray(errs)
    w = 1 / e**2
    m = float(np.sum(w * v) / np.sum(w))
    chi2 = float(np.sum(((v - m) / e) ** 2) / (v.size - 1))
    return {"weighted_mean": m, "mean_sigma": float(e.mean()),
            "std_between_pieces": float(v.std(ddof=1)), "chi2_red": chi2,
            "std_over_mean_sigma": float(v.std(ddof=1) / e.mean())}


def main():
    rows = []
    runs = [("runs/ionic-cu7ps6-550K", True)] + [
        (f"runs/ionic-cu7ps6-550K-seed{s}", False) for s in (551, 552, 553)]
    for run, split in runs:
        p = ROOT / run
        try:
            traj_path = run_trajectory(p)
        except InputError:
            print(f"missing {run}: skipped")
            continue
        T = json.loads((p / "result.json").read_text())["T_mean_K"]
        tr = load_trajectory(traj_path, velocities=False)
        if split:
            h = tr.n_frames // 2
            rows.append(piece(tr, T, slice(0, h + 1), f"{run} first half"))
            rows.append(piece(tr, T, slice(h, None), f"{run} second half"))
        else:
            rows.append(piece(tr, T, slice(None), run))
        r = rows[-1]
        print(f"{r['piece']:45s} T={r['T_K']:6.1f}  D550={r['D550_cm2_s']:.4g}±"
              f"{r['D550_err_cm2_s']:.2g} (g={r['correlation_inflation']:.2f})  "
              f"sigma550={r['sigma550_S_cm']:.3g}±{r['sigma550_err_S_cm']:.2g}  "
              f"H={r['haven_ratio']:.2f}±{r['haven_ratio_err']:.2f}")
    out = {"pieces": rows,
           "D_Cu_550K": consistency([r["D550_cm2_s"] for r in rows],
                                    [r["D550_err_cm2_s"] for r in rows]),
           "sigma_ion_550K": consistency([r["sigma550_S_cm"] for r in rows],
                                         [r["sigma550_err_S_cm"] for r in rows])}
    for k in ("D_Cu_550K", "sigma_ion_550K"):
        c = out[k]
        print(f"{k}: weighted mean {c['weighted_mean']:.4g}, spread between pieces "
              f"{c['std_between_pieces']:.2g}, mean sigma {c['mean_sigma']:.2g} "
              f"(ratio {c['std_over_mean_sigma']:.2f}), chi2_red {c['chi2_red']:.2f}")
    dst = ROOT / "scripts" / "ionic" / "cu7ps6" / "replicas_550K.json"
    dst.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
