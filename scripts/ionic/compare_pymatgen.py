#!/usr/bin/env python
"""D_Cu of mdargy against pymatgen-analysis-diffusion's DiffusionAnalyzer on the same frames.

pymatgen is heavy and not a dependency of mdargy, so this runs in two steps, each in its own
environment:

    # 1. with mdargy's venv: mdargy's D and the frames, into an .npz (every STRIDE-th frame)
    .venv/bin/python scripts/ionic/compare_pymatgen.py export runs/ionic-cu7ps6-550K /tmp/cu550.npz
    # 2. in a venv with `pip install pymatgen-analysis-diffusion`: pymatgen's D on those frames
    /tmp/pmg/bin/python scripts/ionic/compare_pymatgen.py compare /tmp/cu550.npz

Step 2 prints both D with their σ, for pymatgen's default fit (``smoothed="max"``: all time
origins, weighted, over the whole range of lags with enough observations) and its plain fit
(``smoothed=False``), and writes a JSON beside the .npz.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from mdargy.io.runmeta import run_trajectory


def export(run_dir: str, out: str, species: str = "Cu", stride: int = 5) -> int:
    from mdargy.analysis.diffusion import diffusion_coefficients
    from mdargy.io.trajectory import load_trajectory

    traj = load_trajectory(run_trajectory(run_dir), velocities=False)
    T = json.load(open(f"{run_dir}/result.json"))["T_mean_K"]
    da = diffusion_coefficients(traj.positions, traj.dt_ps, species=traj.elements,
                                masses=traj.masses_amu, T_K=T)
    d = da[species]
    np.savez(out, positions=traj.positions[::stride], box=np.mean(traj.boxes_A, axis=0),
             elements=np.asarray(traj.elements).astype(str), dt_ps=traj.dt_ps * stride, T_K=T,
             species=species, D_mdargy=d.D_cm2_s, D_err_mdargy=d.D_err_cm2_s,
             window_ps=np.asarray(d.window_ps), n_frames_full=traj.n_frames)
    print(f"{run_dir}: mdargy D_{species} = {d.D_cm2_s:.4g} ± {d.D_err_cm2_s:.2g} cm2/s "
          f"(window {d.window_ps[0]:.3g}-{d.window_ps[1]:.3g} ps, {traj.n_frames} frames); "
          f"wrote {out} with every {stride}th frame")
    return 0


def compare(npz: str) -> int:
    from pymatgen.analysis.diffusion.analyzer import DiffusionAnalyzer
    from pymatgen.core import Lattice, Structure

    z = np.load(npz)
    pos, box, el = z["positions"], z["box"], [str(e) for e in z["elements"]]
    st = Structure(Lattice(box), el, pos[0], coords_are_cartesian=True)
    disp = np.transpose(pos - pos[0], (1, 0, 2))  # (site, step, 3), Å, unwrapped
    dt_fs = float(z["dt_ps"]) * 1000.0
    out = {"file": npz, "T_K": float(z["T_K"]), "species": str(z["species"]),
           "dt_ps": float(z["dt_ps"]), "n_frames": int(pos.shape[0]),
           "mdargy": {"D_cm2_s": float(z["D_mdargy"]), "D_err_cm2_s": float(z["D_err_mdargy"]),
                      "window_ps": z["window_ps"].tolist()}}
    for mode in ("max", False):
        a = DiffusionAnalyzer(st, disp, str(z["species"]), float(z["T_K"]), time_step=dt_fs,
                              step_skip=1, smoothed=mode)
        out[f"pymatgen_smoothed_{mode}"] = {"D_cm2_s": float(a.diffusivity),
                                            "D_err_cm2_s": float(a.diffusivity_std_dev)}
    m = out["mdargy"]
    print(f"mdargy                    D = {m['D_cm2_s']:.4g} ± {m['D_err_cm2_s']:.2g} cm2/s")
    for k in ("pymatgen_smoothed_max", "pymatgen_smoothed_False"):
        p = out[k]
        dev = (p["D_cm2_s"] - m["D_cm2_s"]) / np.hypot(p["D_err_cm2_s"], m["D_err_cm2_s"])
        out[k]["deviation_sigma"] = float(dev)
        print(f"{k:25s} D = {p['D_cm2_s']:.4g} ± {p['D_err_cm2_s']:.2g} cm2/s "
              f"({(p['D_cm2_s'] / m['D_cm2_s'] - 1) * 100:+.1f} %, {dev:+.1f} σ combined)")
    path = npz.rsplit(".", 1)[0] + "-pymatgen.json"
    with open(path, "w") as fh:
        json.dump(out, fh, indent=2)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "export":
        raise SystemExit(export(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 3 and sys.argv[1] == "compare":
        raise SystemExit(compare(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    raise SystemExit(2)
