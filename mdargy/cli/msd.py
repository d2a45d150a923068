"""``mdargy msd``: MSD per species, diffusion coefficients with σ, optional Arrhenius fit.

One trajectory gives the MSD and D of every species. Several trajectories (or ``msd.json``
files written earlier) at different temperatures (``--temperature``) also give the Arrhenius law
D0, Ea of each species. Output: JSON + CSV + PNG in ``--output`` (refused if present unless
``--force``) and a table on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mdargy.errors import InputError

OUTPUTS = ("msd.json", "msd.csv", "diffusion.csv", "msd.png")
ARRHENIUS_OUTPUTS = ("arrhenius.json", "arrhenius.csv", "arrhenius.png")


def add_trajectory_arguments(p):
    """Arguments shared by the commands that read a trajectory."""
    p.add_argument("--topology", "--data", dest="topology", metavar="FILE",
                   help="LAMMPS data file (elements from its Masses) or MDAnalysis topology")
    p.add_argument("--types", metavar="MAP",
                   help="LAMMPS type to element, e.g. 1=Cu,2=P,3=S")
    p.add_argument("--timestep-fs", type=float, metavar="FS",
                   help="MD time step in fs (when the file does not carry the frame time)")
    p.add_argument("--dump-interval", type=int, metavar="STEPS",
                   help="steps between frames (default: from the file's step numbers)")
    p.add_argument("--format", choices=("netcdf", "mdargy", "lammpsdump", "extxyz", "mdanalysis"),
                   help="trajectory format (default: detected)")
    p.add_argument("--units", choices=("metal", "real"),
                   help="LAMMPS units of a text dump without ITEM: UNITS (default metal)")
    p.add_argument("--frames", metavar="START:STOP[:STEP]",
                   help="use only these frames (Python slice syntax)")
    p.add_argument("--workers", type=int, default=1,
                   help="threads for the FFTs (default 1)")
    p.add_argument("-o", "--output", metavar="DIR", help="output directory")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")


def parse_frames(spec):
    if spec is None:
        return None
    try:
        parts = [int(s) if s.strip() else None for s in spec.split(":")]
        if not 1 <= len(parts) <= 3:
            raise ValueError
    except ValueError:
        raise InputError(f"--frames {spec!r}: expected START:STOP[:STEP]")
    if len(parts) == 1:
        parts = [parts[0], None]
    return slice(*parts)


def load(path, args, need_velocities=False):
    """Load a trajectory with the CLI's options (see :func:`mdargy.io.trajectory.load_trajectory`)."""
    from mdargy.io.trajectory import load_trajectory

    traj = load_trajectory(
        path, topology=args.topology, types=args.types, timestep_fs=args.timestep_fs,
        dump_interval=args.dump_interval, format=args.format, velocities=need_velocities,
        frames=parse_frames(args.frames), units=args.units,
    )
    if traj.dt_ps is None:
        raise InputError(
            "the time between frames is unknown: give --timestep-fs (and --dump-interval if "
            "the file has no step numbers)", path,
        )
    for w in traj.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return traj


def prepare_output(outdir, names, force: bool) -> Path:
    """Check that none of ``names`` exists in ``outdir`` (unless ``force``), before any work."""
    from mdargy.io.atomic import refuse_overwrite

    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise InputError("output exists and is not a directory", out)
    for n in names:
        refuse_overwrite(out / n, force)
    return out


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
                   help="trajectory file(s), or msd.json files from earlier runs")
    add_trajectory_arguments(p)
    p.add_argument("--window", nargs=2, type=float, metavar=("T0_PS", "T1_PS"),
                   help="fit window in ps (default: found automatically)")
    p.add_argument("--blocks", type=int, default=None,
                   help="also fit D in this many independent blocks as a cross-check (σ(D) "
                   "always comes from the GLS fit with the MSD covariance)")
    p.add_argument("--keep-com", action="store_true",
                   help="do not remove the centre-of-mass drift")
    p.add_argument("-T", "--temperature", type=float, nargs="+", metavar="K",
                   help="temperature of each trajectory, K (for the Arrhenius fit)")
    p.add_argument("--species", nargs="+", metavar="EL",
                   help="report only these species")
    p.set_defaults(func=run)
    return p


def _diffusion_rows(res):
    rows = []
    for d in res.diffusion:
        rows.append([d.species, d.n_atoms, d.status, d.D_cm2_s, d.D_err_cm2_s,
                     *d.D_xyz_cm2_s, d.window_ps[0], d.window_ps[1], d.loglog_slope,
                     d.D_upper_cm2_s, d.D_window_spread_cm2_s,
                     "" if d.T_K is None else d.T_K])
    return rows


DIFF_HEADER = ["species", "n_atoms", "status", "D_cm2_s", "D_err_cm2_s", "Dx_cm2_s",
               "Dy_cm2_s", "Dz_cm2_s", "window_start_ps", "window_end_ps", "loglog_slope",
               "D_upper_cm2_s", "D_window_spread_cm2_s", "T_K"]


def _write_one(res, outdir: Path, source: str):
    from mdargy.io.atomic import atomic_write_csv, atomic_write_json
    from mdargy.plots.msd import plot_msd

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
    atomic_write_csv(outdir / "diffusion.csv", DIFF_HEADER, _diffusion_rows(res))
    plot_msd(msd, res, path=outdir / "msd.png")


def _print_table(res, title):
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
    from mdargy.analysis.diffusion import is_diffusing

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
    from mdargy.analysis.diffusion import diffusion_coefficients, fit_arrhenius

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
        traj = load(path, args)
        res = diffusion_coefficients(
            traj.positions, traj.dt_ps, species=traj.elements, masses=traj.masses_amu,
            window_ps=args.window, n_blocks=args.blocks, remove_com=not args.keep_com,
            T_K=T, workers=args.workers,
        )
        if args.species:
            keep = [d for d in res.diffusion if d.species in args.species]
            if not keep:
                raise InputError(f"none of {args.species} in the trajectory (species: "
                                 f"{', '.join(res.msd.species)})", path)
            import dataclasses

            res = dataclasses.replace(res, diffusion=tuple(keep))
        sub = outdir if len(paths) == 1 else outdir / f"{i:02d}-{path.stem}"
        _write_one(res, sub, path)
        _print_table(res, f"{path}  ({traj.n_frames} frames, dt = {traj.dt_ps:g} ps"
                     + (f", T = {T:g} K)" if T is not None else ")"))
        per_T.append((T, {d.species: (d.D_cm2_s, d.D_err_cm2_s, d.diffusing)
                          for d in res.diffusion}, str(path)))

    if len(paths) > 1:
        _arrhenius(per_T, outdir, fit_arrhenius)
    print(f"wrote {outdir}/")
    return 0


def _arrhenius(per_T, outdir, fit_arrhenius):
    from mdargy.io.atomic import atomic_write_csv, atomic_write_json
    from mdargy.plots.diffusion import plot_arrhenius

    if any(T is None for T, _, _ in per_T):
        missing = [src for T, _, src in per_T if T is None]
        raise InputError("the Arrhenius fit needs a temperature for every input; give "
                         f"--temperature (missing for {', '.join(missing)})")
    species = sorted({s for _, d, _ in per_T for s in d})
    fits, rows = [], []
    print("\nArrhenius fits  D = D0 exp(-Ea / kB T)")
    print(f"{'species':>8} {'Ea (eV)':>10} {'± σ':>8} {'D0 (cm2/s)':>12} {'± σ':>10} "
          f"{'chi2_red':>9} {'n_T':>4}")
    for s in species:
        pts = [(T, d[s][0], d[s][1]) for T, d, _ in per_T if s in d and d[s][2]]
        skipped = [T for T, d, _ in per_T if s in d and not d[s][2]]
        if len({p[0] for p in pts}) < 2:
            print(f"{s:>8}  (skipped: diffuses at fewer than 2 temperatures; bounded at "
                  f"{', '.join(f'{t:g}' for t in skipped) or 'none'} K)")
            continue
        T, D, E = (np.array(c) for c in zip(*pts))
        err = E if np.all(E > 0) else None
        f = fit_arrhenius(T, D, err, species=s)
        fits.append(f)
        rows.append([s, f.Ea_eV, f.Ea_err_eV, f.D0_cm2_s, f.D0_err_cm2_s, f.chi2_red, len(T)])
        print(f"{s:>8} {f.Ea_eV:>10.4f} {f.Ea_err_eV:>8.4f} {f.D0_cm2_s:>12.4e} "
              f"{f.D0_err_cm2_s:>10.2e} {f.chi2_red:>9.2f} {len(T):>4}")
        for w in f.warnings:
            print(f"  warning ({s}): {w}")
        if skipped:
            print(f"  note ({s}): bounded (no diffusive regime) at T = {skipped} K, left out "
                  "of the fit")
    if not fits:
        raise InputError("no species diffuses at 2 or more temperatures; no Arrhenius fit")
    atomic_write_json(outdir / "arrhenius.json", {"arrhenius": [f.to_dict() for f in fits]})
    atomic_write_csv(outdir / "arrhenius.csv",
                     ["species", "Ea_eV", "Ea_err_eV", "D0_cm2_s", "D0_err_cm2_s", "chi2_red",
                      "n_temperatures"], rows)
    plot_arrhenius(fits, path=outdir / "arrhenius.png")
