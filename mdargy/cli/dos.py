"""``mdargy dos``: phonon DOS (total + partial per element) from the mass-weighted VACF.

Writes ``dos.json``, ``dos.csv`` (frequency in THz, meV and cm⁻¹; DOS per THz), ``vacf.csv``
(normalised VACF) and ``dos.png`` into ``--output``, and prints the sum rules, kinetic
temperatures and the harmonic heat capacity and entropy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mdargy.analysis.dos import compute_dos
from mdargy.cli.common import add_trajectory_arguments, load, prepare_output
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_csv, atomic_write_json
from mdargy.plots.dos import plot_dos

OUTPUTS = ("dos.json", "dos.csv", "vacf.csv", "dos.png")


def add_parser(sub):
    p = sub.add_parser(
        "dos",
        help="phonon DOS (total and per element) from the mass-weighted VACF; Cv and S",
        description="Velocity autocorrelation (FFT, all origins, mass-weighted) and its "
        "cosine transform: total and partial phonon DOS normalised to 3N and 3N_e, in THz, "
        "meV and cm⁻¹, with the harmonic heat capacity and vibrational entropy. The "
        "trajectory must contain velocities (dump vx vy vz).",
    )
    p.add_argument("traj", metavar="TRAJ", help="trajectory file with velocities")
    add_trajectory_arguments(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resolution-THz", type=float, metavar="THZ",
                   help="frequency resolution 1/T_corr, THz (sets the VACF length)")
    g.add_argument("--max-lag", type=int, metavar="FRAMES",
                   help="VACF lags used (default: half the trajectory)")
    p.add_argument("--window", choices=("hann", "blackman", "rect"), default="hann",
                   help="lag window (default hann)")
    p.add_argument("--pad", type=int, default=4, help="zero-padding factor (default 4)")
    p.add_argument("-T", "--temperature", type=float, metavar="K",
                   help="temperature for Cv and S (default: the kinetic temperature)")
    p.add_argument("--unit", choices=("THz", "meV", "cm-1"), default="THz",
                   help="frequency unit of the plot (the CSV has all three)")
    p.add_argument("--mode", choices=("stacked", "overlaid"), default="stacked",
                   help="partials stacked (default) or overlaid in the plot")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    path = Path(args.traj)
    outdir = prepare_output(args.output or (path.with_suffix("").name + "-dos"), OUTPUTS,
                            args.force)
    traj = load(path, args, need_velocities=True)
    if traj.velocities is None:
        raise InputError("the trajectory has no velocities (dump vx vy vz); a DOS needs them",
                         path)
    res = compute_dos(
        traj.velocities, traj.dt_ps, elements=traj.elements, masses_amu=traj.masses_amu,
        max_lag=args.max_lag, resolution_THz=args.resolution_THz, window=args.window,
        pad_factor=args.pad, T_K=args.temperature, workers=args.workers,
    )
    d = res.to_dict()
    d["source"] = str(path)
    atomic_write_json(outdir / "dos.json", d)
    header = ["freq_THz", "freq_meV", "freq_cm1", "dos_total_per_THz"] + [
        f"dos_{e}_per_THz" for e in res.elements]
    cols = [res.freq_THz, res.freq_meV, res.freq_cm1, res.dos_per_THz, *res.dos_partial_per_THz]
    atomic_write_csv(outdir / "dos.csv", header, np.column_stack(cols).tolist())
    header = ["time_ps", "vacf_norm"] + [f"vacf_{e}_norm" for e in res.elements]
    cols = [res.time_ps, res.vacf_norm, *res.vacf_partial_norm]
    atomic_write_csv(outdir / "vacf.csv", header, np.column_stack(cols).tolist())
    plot_dos(res, path=outdir / "dos.png", mode=args.mode, unit=args.unit)

    nu = res.freq_THz
    print(f"{path}  ({traj.n_frames} frames, dt = {res.dt_ps:g} ps, {res.window} window, "
          f"resolution {res.resolution_THz:.3g} THz, Nyquist {nu[-1]:.3g} THz)")
    print(f"{'element':>8} {'atoms':>6} {'∫DOS':>9} {'3N_e':>6} {'T_kin (K)':>10} "
          f"{'peak (THz)':>11}")
    for i, e in enumerate(res.elements):
        g = res.dos_partial_per_THz[i]
        print(f"{e:>8} {res.n_atoms[i]:>6} {np.trapezoid(g, nu):>9.3f} {3 * res.n_atoms[i]:>6} "
              f"{res.T_partial_K[i]:>10.1f} {nu[np.argmax(g)]:>11.3f}")
    print(f"{'total':>8} {sum(res.n_atoms):>6} {np.trapezoid(res.dos_per_THz, nu):>9.3f} "
          f"{3 * sum(res.n_atoms):>6} {res.T_K:>10.1f} {nu[np.argmax(res.dos_per_THz)]:>11.3f}")
    print(f"harmonic at {res.thermo_T_K:.1f} K: Cv = {res.Cv_kB_per_atom:.4f} kB/atom "
          f"({res.Cv_J_molK:.3f} J/mol/K), S = {res.S_kB_per_atom:.4f} kB/atom "
          f"({res.S_J_molK:.3f} J/mol/K)")
    for w in res.warnings:
        print(f"warning: {w}")
    print(f"wrote {outdir}/")
    return 0
