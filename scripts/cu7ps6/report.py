#!/usr/bin/env python
"""Validate a Cu7PS6 MTP against the labeler (step 5 of the pipeline).

* RMSE (and MAE) of energies (meV/atom), forces (eV/Å) and stresses (GPa) on the held-out set
  and on the training set; parity plots (``parity.png``);
* lattice constant of the P2_13 and F-43m cells: energy–volume scan (±3 %, isotropic) with the
  MTP and with the labeler, minimum of a quadratic fit;
* phonon DOS at 300 K (P2_13, 56 atoms): NVE-like MD (Langevin with weak friction) with the MTP
  and with the labeler, DOS from the mass-weighted VACF
  (:func:`mdargy.analysis.dos.compute_dos`), per element; ``dos.png``; the Cu share of the DOS
  below 15 meV and the P+S share above 20 meV (the paper's Cu-dominated low-energy modes).

Writes ``OUT/report.json``, ``OUT/rmse_table.md`` and the figures. Resumable: the DOS
trajectories (the costly part) are stored in ``OUT/dos_*.npz`` and reused.

The labels are from a universal ML potential (or the LJ stand-in), **not DFT**.

Example::

    python scripts/cu7ps6/report.py --mtp runs/cu7ps6/al/iter_05/Cu7PS6.mtp --data runs/cu7ps6/data \\
        --out runs/cu7ps6/report --labeler sevennet
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import labeler as lab  # noqa: E402


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mtp", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True, help="folder with train.xyz, holdout.xyz")
    p.add_argument("--extra-train", type=Path, default=None, help="e.g. the AL train_all.xyz")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--labeler", choices=lab.LABELERS, default="sevennet")
    p.add_argument("--dos-ps", type=float, default=4.0, help="MD length for the DOS, ps (0: skip)")
    p.add_argument("--dt-fs", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    return p.parse_args(argv)


def lattice_constant(atoms, calc, span=0.03, n=7):
    """Minimum of E(a) from a quadratic fit to an isotropic ±span scan; returns a (Å)."""
    a0 = atoms.cell.lengths()[0]
    scales = np.linspace(1 - span, 1 + span, n)
    es = []
    for s in scales:
        b = atoms.copy()
        b.set_cell(atoms.cell.array * s, scale_atoms=True)
        b.calc = calc
        es.append(b.get_potential_energy() / len(b))
    c2, c1, _ = np.polyfit(scales, es, 2)
    return float(a0 * (-c1 / (2 * c2))), [float(x) for x in es]


def dos_run(atoms, calc, T, ps, dt_fs, seed, cache: Path):
    from mdargy.analysis.dos import compute_dos

    if cache.exists():
        z = np.load(cache)
        v, dt_ps = z["v"], float(z["dt_ps"])
    else:
        # 0.5 ps with a strong friction brings the cell to T (started from the relaxed cell,
        # half the kinetic energy goes into the potential); then the weak friction of sampling
        at, dyn = common.langevin(atoms, calc, T, seed, dt_fs, friction=0.02)
        dyn.run(int(500 / dt_fs))
        at, dyn = common.langevin(at, calc, T, seed + 1, dt_fs, friction=0.001)
        frames = []
        from ase import units

        for _ in range(int(ps * 1000 / dt_fs / 2)):
            dyn.run(2)
            frames.append(at.get_velocities() * (1000 * units.fs))  # Å/ps
        v, dt_ps = np.array(frames), 2 * dt_fs / 1000
        np.savez_compressed(cache, v=v, dt_ps=dt_ps)
    res = compute_dos(v, dt_ps, elements=atoms.get_chemical_symbols(),
                      masses_amu=atoms.get_masses(),
                      resolution_THz=max(0.25, 2.0 / (len(v) * dt_ps)))
    return res


def shares(res):
    """Fraction of each element's DOS below 15 meV and above 20 meV."""
    f = np.asarray(res.freq_meV)
    out = {}
    tot_low = res.dos_partial_per_THz[:, f < 15].sum()
    tot_high = res.dos_partial_per_THz[:, f > 20].sum()
    for k, el in enumerate(res.elements):
        out[el] = {"share_below_15meV": float(res.dos_partial_per_THz[k, f < 15].sum() / tot_low),
                   "share_above_20meV": float(res.dos_partial_per_THz[k, f > 20].sum() / tot_high)}
    return out


def main(argv=None):
    args = parse(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    mtp = common.mtp_calculator(args.mtp)
    report = {"potential": str(args.mtp), "labeler": lab.describe(args.labeler)}
    sets = {"holdout": common.read_frames(args.data / "holdout.xyz"),
            "train": common.read_frames(args.extra_train or args.data / "train.xyz")}
    errs = {k: common.errors(v, args.mtp) for k, v in sets.items() if v}  # in LAMMPS: any size
    report["errors"] = {k: {kk: vv for kk, vv in e.items() if kk != "parity"} for k, e in errs.items()}
    rows = ["| set | n | E RMSE (meV/atom) | F RMSE (eV/Å) | S RMSE (GPa) | E MAE (meV/atom) | F MAE (eV/Å) |",
            "|---|---|---|---|---|---|---|"]
    for k, e in errs.items():
        rows.append(f"| {k} | {e['n_configurations']} | {e['energy_rmse_meV_atom']:.2f} | "
                    f"{e['force_rmse_eV_A']:.3f} | {e.get('stress_rmse_GPa', float('nan')):.3f} | "
                    f"{e['energy_mae_meV_atom']:.2f} | {e['force_mae_eV_A']:.3f} |")
    (args.out / "rmse_table.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))
    if "holdout" in errs:
        par = errs["holdout"]["parity"]
        fig, axs = plt.subplots(1, len(par), figsize=(4 * len(par), 4))
        for ax, (name, (ref, pred)) in zip(np.atleast_1d(axs), par.items()):
            ax.plot(ref, pred, ".", ms=2)
            lo, hi = min(min(ref), min(pred)), max(max(ref), max(pred))
            ax.plot([lo, hi], [lo, hi], "k-", lw=0.5)
            ax.set_xlabel(f"labeler {name}")
            ax.set_ylabel(f"MTP {name}")
        fig.suptitle(f"held-out set; labeler {args.labeler} (not DFT)")
        fig.tight_layout()
        fig.savefig(args.out / "parity.png", dpi=120)
        plt.close(fig)
    calc_lab = lab.get_calculator(args.labeler, args.threads)
    report["lattice_constant_A"] = {}
    for phase in ("p213", "f43m"):
        cell = common.build_cell(phase, (1, 1, 1), args.seed)
        a_m, _ = lattice_constant(cell, mtp)
        a_l, _ = lattice_constant(cell, calc_lab)
        report["lattice_constant_A"][phase] = {"mtp": a_m, "labeler": a_l}
        print(f"lattice constant {phase}: MTP {a_m:.4f} Å, labeler {a_l:.4f} Å")
    if args.dos_ps > 0:
        cell = common.build_cell("p213", (1, 1, 1), args.seed)
        report["dos_300K"] = {}
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, calc in (("mtp", mtp), ("labeler", calc_lab)):
            res = dos_run(cell, calc, 300.0, args.dos_ps, args.dt_fs, args.seed, args.out / f"dos_{name}.npz")
            report["dos_300K"][name] = {"shares": shares(res), "T_K": float(res.T_K),
                                        "resolution_THz": float(res.resolution_THz)}
            ax.plot(res.freq_meV, res.dos_per_THz, label=f"{name} total")
            for k, el in enumerate(res.elements):
                ax.plot(res.freq_meV, res.dos_partial_per_THz[k], lw=0.7, label=f"{name} {el}")
        ax.set_xlim(0, 70)
        ax.set_xlabel("energy (meV)")
        ax.set_ylabel("DOS (states/THz)")
        ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(args.out / "dos.png", dpi=120)
        plt.close(fig)
    common.write_json(args.out / "report.json", report)
    print(f"wrote {args.out / 'report.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
