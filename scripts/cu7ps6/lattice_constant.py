#!/usr/bin/env python
"""The 0 K lattice constant of P2_13 Cu7PS6 for each model, from E(a) and P(a) on the same cells.

``fit``: for each labelled set of ``make_ea_frames.py``'s scaled cells (``--labels NAME=FILE``,
a label directory or a collected extxyz(.gz) from ``label.py``), fit the third-order
Birch–Murnaghan equation of state (F. Birch, *Phys. Rev.* 71, 809 (1947)) to E(V) and,
separately, to P(V) from the labels' stresses, and report a0 = V0^(1/3), B0 and B0'. The two
fits use different data (energies, stresses), so their agreement checks each label set; for
CP2K the analytic stress includes the basis-set (Pulay) terms, so P(V) = −dE/dV holds to the
grid error. The energy zero of each model is arbitrary and drops out.

``relax``: the same cells with the ions relaxed at fixed cell by an ML model (the MTP or
SevenNet-0, through ``labelers.py``'s ASE calculators), written as a labelled set. Fitting
both the clamped-ion and the relaxed-ion sets of a model measures what clamping the ions does
to a0 for that model; the PBEsol set is clamped only (relaxing 56 atoms in CP2K costs ~20
single points per lattice constant).

Examples::

    python scripts/cu7ps6/lattice_constant.py relax scripts/cp2k/mtp_shipped.toml \\
        results/cu7ps6/dft/ea_frames_56.extxyz runs/dft/ea_mtp_relaxed.extxyz
    python scripts/cu7ps6/lattice_constant.py fit --labels PBEsol=runs/dft/ea_pbesol_400Ry \\
        --labels "MTP clamped=runs/dft/ea_mtp" --labels "MTP relaxed=runs/dft/ea_mtp_relaxed.extxyz" \\
        --json results/cu7ps6/dft/lattice_constant.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write
from ase.optimize import BFGS
from scipy.optimize import curve_fit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import compare_labels  # noqa: E402
import labelers  # noqa: E402

from mdargy.errors import InputError  # noqa: E402
from mdargy.io.atomic import atomic_write_json  # noqa: E402

GPA = common.EV_A3_TO_GPA


def bm_energy(V, E0, V0, B0, B0p):
    """Third-order Birch–Murnaghan E(V) (eV, Å³; B0 in eV/Å³)."""
    x = (V0 / V) ** (2.0 / 3.0) - 1.0
    return E0 + 9.0 * V0 * B0 / 16.0 * (x ** 3 * B0p + x ** 2 * (6.0 - 4.0 * (x + 1.0)))


def bm_pressure(V, V0, B0, B0p):
    """Third-order Birch–Murnaghan P(V) (eV/Å³)."""
    eta = (V0 / V) ** (1.0 / 3.0)
    return 1.5 * B0 * (eta ** 7 - eta ** 5) * (1.0 + 0.75 * (B0p - 4.0) * (eta ** 2 - 1.0))


def fit_eos(volumes_A3, energies_eV, pressures_eV_A3=None) -> dict:
    """Birch–Murnaghan fits of E(V) and (when given) P(V); a0 in Å for a cubic cell.

    σ are the fits' standard errors (from the residuals; with 5 points and 4 or 3 parameters
    they measure how well the form fits, not a statistical error of the labels).
    """
    V = np.asarray(volumes_A3, float)
    E = np.asarray(energies_eV, float)
    if len(V) < 5:
        raise InputError(f"E(a) needs at least 5 volumes, got {len(V)}")
    i = int(np.argmin(E))
    p0 = (E[i], V[i], 0.5, 4.5)
    pe, ce = curve_fit(bm_energy, V, E, p0=p0, maxfev=20000)
    se = np.sqrt(np.diag(ce)) if np.all(np.isfinite(ce)) else np.full(4, np.nan)
    out = {"a0_E_A": float(pe[1] ** (1 / 3)), "a0_E_err_A": float(se[1] / (3 * pe[1] ** (2 / 3))),
           "B0_E_GPa": float(pe[2] * GPA), "B0p_E": float(pe[3]),
           "E_fit_rms_eV": float(np.sqrt(np.mean((bm_energy(V, *pe) - E) ** 2))),
           "V_range_A3": [float(V.min()), float(V.max())]}
    if pressures_eV_A3 is not None:
        P = np.asarray(pressures_eV_A3, float)
        pp, cp = curve_fit(bm_pressure, V, P, p0=(pe[1], pe[2], pe[3]), maxfev=20000)
        sp = np.sqrt(np.diag(cp)) if np.all(np.isfinite(cp)) else np.full(3, np.nan)
        out.update(a0_P_A=float(pp[0] ** (1 / 3)),
                   a0_P_err_A=float(sp[0] / (3 * pp[0] ** (2 / 3))),
                   B0_P_GPa=float(pp[1] * GPA), B0p_P=float(pp[2]),
                   P_fit_rms_GPa=float(np.sqrt(np.mean((bm_pressure(V, *pp) - P) ** 2)) * GPA))
    return out


def load_set(src) -> list:
    """The labelled frames of a label directory or collected extxyz(.gz) file."""
    if not Path(src).exists():
        raise InputError("labels not found", src)
    return list(compare_labels.load_set(src).values())


def curve(frames) -> dict:
    """E(V) and P(V) fits of labelled cubic cells, and the points (by increasing volume)."""
    frames = sorted(frames, key=lambda at: at.get_volume())
    n = len(frames[0])
    V = [at.get_volume() for at in frames]
    E = [at.get_potential_energy() for at in frames]
    P = None
    if all(at.calc.results.get("stress") is not None for at in frames):
        P = [-float(np.mean(np.asarray(at.get_stress(voigt=True))[:3])) for at in frames]
    fit = fit_eos(V, E, P)
    fit["E_fit_rms_meV_atom"] = fit.pop("E_fit_rms_eV") / n * 1e3
    E_rel = (np.asarray(E) - min(E)) / n * 1e3
    fit["points"] = [{"a_A": float(np.cbrt(V[k])), "E_rel_meV_atom": float(E_rel[k]),
                      "P_GPa": None if P is None else float(P[k] * GPA),
                      "max_force_eV_A": float(np.abs(frames[k].get_forces()).max())}
                     for k in range(len(frames))]
    return fit


def calculator(cfg):
    lab = labelers.make_labeler(cfg)
    if isinstance(lab, labelers.LammpsLabeler):
        return lab.calc
    if isinstance(lab, labelers.ASELabeler):
        return lab.calc
    raise InputError(f"relax needs an ML labeler (kind lammps, sevennet or ase:...), not "
                     f"{cfg.kind!r}", cfg.path)


def cmd_relax(a) -> int:
    cfg = labelers.load_config(a.config)
    calc = calculator(cfg)
    out = []
    for at in read(a.frames, ":"):
        at = at.copy()
        at.calc = calc
        opt = BFGS(at, logfile=None, maxstep=0.1)
        ok = opt.run(fmax=a.fmax, steps=a.max_steps)
        e, f = at.get_potential_energy(), at.get_forces()
        s = at.get_stress(voigt=True)
        fmax = float(np.sqrt((f ** 2).sum(1)).max())
        if not ok:
            raise InputError(f"{at.info['frame_id']}: not relaxed in {a.max_steps} steps "
                             f"(max |F| {fmax:.3f} eV/Å)", a.frames)
        res = at.copy()
        res.info = dict(at.info, ions="relaxed", labeler_kind=cfg.kind,
                        labeler_digest=cfg.digest, relax_fmax_eV_A=a.fmax,
                        relax_steps=opt.get_number_of_steps())
        res.calc = SinglePointCalculator(res, energy=e, forces=f, stress=s)
        out.append(res)
        print(f"{at.info['frame_id']}: relaxed in {opt.get_number_of_steps()} steps, "
              f"E = {e / len(at):.6f} eV/atom, P = {-np.mean(s[:3]) * GPA:+.3f} GPa", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    write(a.out, out, format="extxyz")
    return 0


def cmd_fit(a) -> int:
    rows = {}
    for spec in a.labels:
        name, _, src = spec.partition("=")
        if not src:
            raise InputError(f"--labels {spec!r}: expected NAME=PATH")
        frames = load_set(src)
        ions = frames[0].info.get("ions", "clamped")
        key = f"{name}, {ions} ions"
        if key in rows:
            raise InputError(f"--labels {spec!r}: a second {ions}-ion set named {name!r}")
        rows[key] = dict(curve(frames), model=name, source=str(src), n_points=len(frames),
                         labeler_kind=frames[0].info.get("labeler_kind"), ions=ions)
    lines = ["| model | ions | a0 from E(V) (Å) | a0 from P(V) (Å) | B0 from E (GPa) | "
             "B0 from P (GPa) | E fit rms (meV/atom) |", "|---|---|---|---|---|---|---|"]
    for r in rows.values():
        aP = f"{r['a0_P_A']:.4f}" if "a0_P_A" in r else "—"
        BP = f"{r['B0_P_GPa']:.1f}" if "B0_P_GPa" in r else "—"
        lines.append(f"| {r['model']} | {r['ions']} | {r['a0_E_A']:.4f} ± {r['a0_E_err_A']:.4f} | {aP} | "
                     f"{r['B0_E_GPa']:.1f} | {BP} | {r['E_fit_rms_meV_atom']:.3f} |")
    print("\n".join(lines))
    if a.json:
        atomic_write_json(Path(a.json), {"models": rows, "eos": "Birch-Murnaghan 3rd order",
                                         "cell": "Cu7PS6 P2_13, 56 atoms"})
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("relax", help="relax the ions of the E(a) cells with an ML labeler")
    p.add_argument("config")
    p.add_argument("frames")
    p.add_argument("out")
    p.add_argument("--fmax", type=float, default=0.005, help="eV/Å")
    p.add_argument("--max-steps", type=int, default=2000)
    p.set_defaults(fn=cmd_relax)
    p = sub.add_parser("fit", help="fit E(V) and P(V) of labelled E(a) sets")
    p.add_argument("--labels", action="append", required=True, help="NAME=label dir or file")
    p.add_argument("--json", default=None)
    p.set_defaults(fn=cmd_fit)
    a = ap.parse_args(argv)
    try:
        return a.fn(a)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
