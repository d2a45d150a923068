"""``mdargy msd``: MSD per species, diffusion coefficients with σ, optional Arrhenius fit.

One trajectory gives the MSD and D of every species. Several trajectories (or ``msd.json``
files written earlier) at different temperatures (``--temperature``) also give the Arrhenius law
D0, Ea of each species. Output: JSON + CSV + PNG in ``--output`` (refused if present unless
``--force``) and a table on stdout.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from mdargy.analysis.diffusion import (
    ARRHENIUS_COLUMNS,
    DIFFUSION_COLUMNS,
    arrhenius_row,
    diffusion_coefficients,
    diffusion_row,
    fit_arrhenius_per_species,
    is_diffusing,
)
from mdargy.cli.common import add_trajectory_arguments, load_run, prepare_output
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_csv, atomic_write_json
from mdargy.plots.diffusion import plot_arrhenius
from mdargy.plots.msd import plot_msd

OUTPUTS = ("msd.json", "msd.csv", "diffusion.csv", "msd.png")
ARRHENIUS_OUTPUTS = ("arrhenius.json", "arrhenius.csv", "arrhenius.png")


def add_parser(sub):
    p = sub.add_parser(
        "msd",
        help="MSD per species, diffusion coefficients D ± σ (cm²/s), Arrhenius fit",
        description="Mean squared displacement (FFT, all time origins, per species and "
        "direction, centre-of-mass drift removed), self-diffusion coefficients from the "
        "Einstein relation over the diffusive window found from the data, fitted by generalised "
        "least squares with the MSD covariance (σ calibrated on random walks); species "
        "without a diffusive regime are reported as bounded with no D and kept out of the "
        "Arrhenius fit D0, Ea made with several temperatures. Writes JSON, CSV and PNG.",
    )
    p.add_argument("traj", nargs="+", metavar="TRAJ",
                   help="trajectory file(s) or mdargy emd run folder(s), or msd.json files "
                   "from earlier runs")
    add_trajectory_arguments(p)
    p.add_argument("--window", nargs=2, type=float, metavar=("T0_PS", "T1_PS"),
                   help="fit window in ps (default: found automatically)")
    p.add_argument("--blocks", type=int, default=None,
                   help="also fit D in this many independent blocks as a cross-check (σ(D) "
                   "always comes from the GLS fit with the MSD covariance)")
    p.add_argument("--keep-com", action="store_true",
                   help="do not remove the centre-of-mass drift")
    p.add_argument("-T", "--temperature", type=float, nargs="+", metavar="K",
                   help="temperature of each trajectory, K (for the Arrhenius fit; default: "
                   "the run's measured mean from the result.json beside the trajectory, else "
                   "the temperature the file records)")
    p.add_argument("--species", nargs="+", metavar="EL",
                   help="report only these species")
    p.set_defaults(func=run)
    return p


def write_one(res, outdir: Path, source: str):
    """``msd.json``, ``msd.csv``, ``diffusion.csv`` and ``msd.png`` of one analysis."""
    msd = res.msd
    d = res.to_dict()
    d["source"] = str(source)
    atomic_write_json(outdir / "msd.json", d)
    header = ["time_ps"]
    cols = [msd.time_ps]
    for i, s in enumerate(msd.species):
        header += [f"msd_{s}_A2", f"msd_{s}_x_A2", f"msd_{s}_y_A2", f"msd_{s}_z_A2"]
        cols += [msd.total(i), *msd.msd_A2[i].T]
    header.append("n_origins")
    cols.append(msd.n_origins)
    atomic_write_csv(outdir / "msd.csv", header, np.column_stack(cols).tolist())
    atomic_write_csv(outdir / "diffusion.csv", DIFFUSION_COLUMNS,
                     [diffusion_row(d) for d in res.diffusion])
    plot_msd(msd, res, path=outdir / "msd.png")


def print_table(res, title):
    print(title)
    print(f"{'species':>8} {'atoms':>6} {'D (cm2/s)':>12} {'± σ':>10} {'window (ps)':>20} "
          f"{'slope':>6}")
    for d in res.diffusion:
        w = f"{d.window_ps[0]:.4g}-{d.window_ps[1]:.4g}"
        if d.diffusing:
            print(f"{d.species:>8} {d.n_atoms:>6} {d.D_cm2_s:>12.4e} {d.D_err_cm2_s:>10.2e} "
                  f"{w:>20} {d.loglog_slope:>6.2f}")
        else:
            print(f"{d.species:>8} {d.n_atoms:>6} {'bounded':>12} {'':>10} {w:>20} "
                  f"{d.loglog_slope:>6.2f}   (apparent D <= {d.D_upper_cm2_s:.2e})")
        for w in d.warnings:
            print(f"  warning ({d.species}): {w}")


def _load_previous(path: Path):
    """D values from an earlier ``msd.json``: {species: (D, err, T_K, diffusing)}."""
    try:
        d = json.loads(path.read_text())
        rows = d["diffusion"]
        nan = float("nan")
        return {r["species"]: (nan if r["D_cm2_s"] is None else float(r["D_cm2_s"]),
                               nan if r["D_err_cm2_s"] is None else float(r["D_err_cm2_s"]),
                               r.get("T_K"), is_diffusing(r))
                for r in rows}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not an mdargy msd.json result ({exc})", path)


def run(args) -> int:
    paths = [Path(p) for p in args.traj]
    temps = args.temperature
    if temps is not None and len(temps) != len(paths):
        raise InputError(f"{len(paths)} inputs but {len(temps)} temperatures: give one per input")
    if len(paths) > 1 and not args.output:
        raise InputError("several inputs: give --output DIR")
    outdir = Path(args.output or (paths[0].with_suffix("").name + "-msd"))
    names = (OUTPUTS if len(paths) == 1 else ARRHENIUS_OUTPUTS)
    names = names if len(paths) == 1 else names + tuple(
        f"{i:02d}-{p.stem}/{n}" for i, p in enumerate(paths) for n in OUTPUTS
        if not p.suffix == ".json")
    prepare_output(outdir, names, args.force)

    per_T = []  # (T, {species: (D, err)})
    for i, path in enumerate(paths):
        T = None if temps is None else temps[i]
        if path.suffix == ".json":
            prev = _load_previous(path)
            if T is None:
                Ts = {v[2] for v in prev.values()}
                T = Ts.pop() if len(Ts) == 1 else None
            per_T.append((T, {k: (v[0], v[1], v[3]) for k, v in prev.items()}, str(path)))
            continue
        traj, T, tpath = load_run(path, args, T)
        res = diffusion_coefficients(
            traj.positions, traj.dt_ps, species=traj.elements, masses=traj.masses_amu,
            window_ps=args.window, n_blocks=args.blocks, remove_com=not args.keep_com,
            T_K=T, workers=args.workers,
        )
        if args.species:
            keep = [d for d in res.diffusion if d.species in args.species]
            if not keep:
                raise InputError(f"none of {args.species} in the trajectory (species: "
                                 f"{', '.join(res.msd.species)})", tpath)
            res = dataclasses.replace(res, diffusion=tuple(keep))
        sub = outdir if len(paths) == 1 else outdir / f"{i:02d}-{path.stem}"
        write_one(res, sub, tpath)
        print_table(res, f"{tpath}  ({traj.n_frames} frames, dt = {traj.dt_ps:g} ps"
                     + (f", T = {T:g} K)" if T is not None else ")"))
        per_T.append((T, {d.species: (d.D_cm2_s, d.D_err_cm2_s, d.diffusing)
                          for d in res.diffusion}, str(path)))

    if len(paths) > 1:
        _arrhenius(per_T, outdir)
    print(f"wrote {outdir}/")
    return 0


def _arrhenius(per_T, outdir):
    if any(T is None for T, _, _ in per_T):
        missing = [src for T, _, src in per_T if T is None]
        raise InputError("the Arrhenius fit needs a temperature for every input; give "
                         f"--temperature (missing for {', '.join(missing)})")
    pts = [(T, s, *v) for T, d, _ in per_T for s, v in d.items()]
    T, species, D, E, ok = zip(*pts)
    res = fit_arrhenius_per_species(T, species, D, E, ok)
    print("\nArrhenius fits  D = D0 exp(-Ea / kB T)")
    print(f"{'species':>8} {'Ea (eV)':>10} {'± σ':>8} {'D0 (cm2/s)':>12} {'± σ':>10} "
          f"{'chi2_red':>9} {'n_T':>4}")
    fitted = {f.species: f for f in res.fits}
    for s in sorted(set(species)):
        if s in res.skipped or s in res.failed:
            print(f"{s:>8}  (skipped: {res.skipped.get(s) or res.failed[s]})")
            continue
        f = fitted[s]
        print(f"{s:>8} {f.Ea_eV:>10.4f} {f.Ea_err_eV:>8.4f} {f.D0_cm2_s:>12.4e} "
              f"{f.D0_err_cm2_s:>10.2e} {f.chi2_red:>9.2f} {len(f.T_K):>4}")
        if not f.weighted:
            print(f"  note ({s}): some D have no error; unweighted fit")
        for w in f.warnings:
            print(f"  warning ({s}): {w}")
        if s in res.bounded_T_K:
            print(f"  note ({s}): bounded (no diffusive regime) at T = {res.bounded_T_K[s]} K, "
                  "left out of the fit")
    if not res.fits:
        raise InputError("no species diffuses at 2 or more temperatures; no Arrhenius fit")
    atomic_write_json(outdir / "arrhenius.json", {"arrhenius": [f.to_dict() for f in res.fits]})
    atomic_write_csv(outdir / "arrhenius.csv", ARRHENIUS_COLUMNS,
                     [arrhenius_row(f) for f in res.fits])
    plot_arrhenius(list(res.fits), path=outdir / "arrhenius.png")
