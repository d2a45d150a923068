"""``mdargy ionic``: ionic transport of superionic conductors from EMD trajectories.

Sub-commands (each reads a trajectory file or an ``mdargy emd`` run folder, whose
trajectory (``traj.nc``, or ``traj.mdtraj`` of older runs) and measured mean temperature are
used):

* ``conductivity`` — charge MSD → σ_ion (S/cm) ± σ, Nernst–Einstein σ, Haven ratio;
* ``sites`` — assignment to the named sites of a reference (default Cu7PS6 F-43m), occupancies,
  residence times, jump rates, path shares;
* ``density`` — density map of a species as a CUBE file plus an (hkl) slice figure;
* ``all`` — everything above plus the tracer D per species, for one or several runs, with the
  Arrhenius law of σ_ion(T) when several temperatures are given.

Outputs (JSON, CSV, PNG, CUBE) go to ``--output`` and are refused if present unless ``--force``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mdargy.analysis.conductivity import (
    conductivity_points,
    fit_conductivity_arrhenius,
    ionic_conductivity,
)
from mdargy.analysis.density import density_grid, plane_slice
from mdargy.analysis.diffusion import diffusion_coefficients
from mdargy.analysis.sites import analyse_sites, framework_drift, tile_reference
from mdargy.cli.common import add_trajectory_arguments, load_run, prepare_output
from mdargy.cli.msd import OUTPUTS as MSD_OUTPUTS, print_table, write_one
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_csv, atomic_write_json
from mdargy.io.cube import write_cube
from mdargy.plots.ionic import plot_charge_msd, plot_density_slice, plot_sigma_arrhenius
from mdargy.structures.ionic_reference import REFERENCES, site_reference


def _parse_charges(spec):
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        try:
            k, v = part.split("=")
            out[k.strip()] = float(v)
        except ValueError:
            raise InputError(f"--charges {spec!r}: expected EL=CHARGE,... e.g. Cu=1,P=5,S=-2")
    return out


def _load(path, args):
    traj, T, tp = load_run(path, args, args.temperature)
    if T is None:
        raise InputError("temperature unknown: give -T/--temperature", tp)
    return traj, float(T), tp


def _common(p, multi=False):
    p.add_argument("traj", nargs="+" if multi else None, metavar="TRAJ_OR_RUN_DIR",
                   help="trajectory file or mdargy emd run folder" + (" (several: one per "
                                                                       "temperature)" if multi
                                                                       else ""))
    add_trajectory_arguments(p)
    p.add_argument("-T", "--temperature", type=float, metavar="K",
                   help="temperature in K (default: the run's measured mean, result.json)")


def _site_args(p):
    p.add_argument("--species", default=None, metavar="EL",
                   help="mobile species (default: the reference's, Cu for cu7ps6)")
    p.add_argument("--reference", default="cu7ps6", metavar="NAME",
                   help="named-site reference structure (built in: cu7ps6; 'none' to skip)")
    p.add_argument("--core-radius-A", type=float, metavar="A",
                   help="core radius of the jump rule, Å (default 0.45 × the closest site "
                   "distance)")


def _density_args(p):
    p.add_argument("--grid", type=int, default=48, metavar="N",
                   help="grid points per reference-cell edge (multiple of 4 for F-43m "
                   "symmetry; default 48)")
    p.add_argument("--no-symmetrize", action="store_true",
                   help="do not average over the reference's space-group operations")
    p.add_argument("--sigma-A", type=float, default=0.15, metavar="A",
                   help="Gaussian smoothing width of the density, Å (default 0.15)")
    p.add_argument("--stride", type=int, default=5, metavar="N",
                   help="use every N-th frame for the density (default 5)")
    p.add_argument("--hkl", type=int, nargs=3, default=(1, 1, 1), metavar=("H", "K", "L"),
                   help="plane of the density slice figure (default 1 1 1)")
    p.add_argument("--offset", type=float, nargs="+", default=[0.0, 0.25],
                   metavar="D", help="plane offsets in units of the (hkl) spacing "
                   "(default 0 0.25)")


def add_parser(sub):
    p = sub.add_parser(
        "ionic", help="ionic transport: σ_ion (S/cm), Haven ratio, sites and jumps, density maps",
        description="Ionic transport of superionic conductors from EMD trajectories: charge "
        "MSD → ionic conductivity with its GLS error, Nernst–Einstein estimate and Haven ratio; "
        "site assignment and jump statistics on a named-site reference; density maps (CUBE "
        "files for VESTA/OVITO, (hkl) slices). Formal charges default to Cu +1, P +5, S -2.")
    ss = p.add_subparsers(dest="ionic_command", metavar="SUBCOMMAND")
    c = ss.add_parser("conductivity", help="σ_ion (S/cm) ± σ, Nernst–Einstein σ, Haven ratio",
                      description="Charge MSD (FFT, all origins) → ionic conductivity σ_ion "
                      "(S/cm) fitted by GLS with its covariance; Nernst–Einstein σ from the "
                      "tracer D; Haven ratio. Charges must sum to zero.")
    _common(c)
    c.add_argument("--charges", metavar="EL=Q,...",
                   help="formal charges in e (default Cu=1,P=5,S=-2)")
    c.add_argument("--window", nargs=2, type=float, metavar=("T0_PS", "T1_PS"),
                   help="fit window of the charge MSD in ps (default: from the data)")
    c.set_defaults(func=run_conductivity)
    s = ss.add_parser("sites", help="site occupancies, residence times (ps), jump rates (1/ps)",
                      description="Assign each mobile ion, frame by frame, to the named sites "
                      "of a reference structure tiled over the cell; count jumps with the "
                      "core-radius rule.")
    _common(s)
    _site_args(s)
    s.set_defaults(func=run_sites)
    d = ss.add_parser("density", help="density map (CUBE) and (hkl) slices (PNG)",
                      description="Number density of a species folded into the reference "
                      "cell, symmetry-averaged, written as a CUBE file, with slice figures.")
    _common(d)
    _site_args(d)
    _density_args(d)
    d.set_defaults(func=run_density)
    a = ss.add_parser("all", help="D per species, σ_ion, Haven ratio, sites, density; σ_ion(T) "
                      "Arrhenius for several runs",
                      description="Everything for each run (one sub-folder per input), and "
                      "with several temperatures the Arrhenius law of σ_ion T.")
    _common(a, multi=True)
    a.add_argument("--charges", metavar="EL=Q,...",
                   help="formal charges in e (default Cu=1,P=5,S=-2)")
    _site_args(a)
    _density_args(a)
    a.set_defaults(func=run_all)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    return p


def _reference(args):
    if args.reference.lower() == "none":
        return None, None, None, args.species

    ref, ops, paths = site_reference(args.reference)
    species = args.species or REFERENCES[args.reference.lower()][1]
    return ref, ops, paths, species


def _outdir(args, path, suffix):
    return Path(args.output or (Path(path).with_suffix("").name + f"-{suffix}"))


def _print_conductivity(c, label):
    print(label)
    if c.sigma_status == "diffusive":
        print(f"  sigma_ion       = {c.sigma_S_cm:.4g} ± {c.sigma_err_S_cm:.2g} S/cm "
              f"(window {c.window_ps[0]:.4g}-{c.window_ps[1]:.4g} ps)")
    else:
        print("  sigma_ion       = (none: the charge MSD does not grow)")
    print(f"  sigma_NE        = {c.sigma_NE_S_cm:.4g} ± {c.sigma_NE_err_S_cm:.2g} S/cm  "
          + ", ".join(f"{k}: {v:.3g}" for k, v in c.sigma_NE_species_S_cm.items()))
    if np.isfinite(c.haven_ratio):
        print(f"  Haven ratio     = {c.haven_ratio:.3f} ± {c.haven_ratio_err:.2f}")
    for w in c.warnings:
        print(f"  warning: {w}")


def _write_conductivity(c, out: Path):
    c.to_json(out / "conductivity.json")
    atomic_write_csv(out / "charge_msd.csv", ["time_ps", "charge_msd_e2A2"],
                     np.column_stack([c.time_ps, c.charge_msd_e2A2]).tolist())
    plot_charge_msd(c, path=out / "charge_msd.png")


def run_conductivity(args) -> int:
    out = prepare_output(_outdir(args, args.traj, "ionic"),
                         ("conductivity.json", "charge_msd.csv", "charge_msd.png"), args.force)
    traj, T, tp = _load(args.traj, args)
    c = ionic_conductivity(traj.positions, traj.dt_ps, traj.elements, traj.volume_A3, T,
                           charges_e=_parse_charges(args.charges), window_ps=args.window)
    _write_conductivity(c, out)
    _print_conductivity(c, f"{tp}  ({traj.n_frames} frames, dt = {traj.dt_ps:g} ps, "
                           f"T = {T:.1f} K, V = {traj.volume_A3:.1f} A3)")
    print(f"wrote {out}/")
    return 0


def _print_sites(r):
    print(f"  {r.species} on {r.reference}: {r.n_jumps} jumps in {r.duration_ps:.4g} ps, "
          f"{r.jump_rate_total_per_ion_ps:.3g} per ion per ps, mean jump "
          f"{r.mean_jump_distance_A:.3g} A, core radius {r.core_radius_A:.3g} A "
          f"({100 * r.core_fraction:.0f} % of ion-frames inside a core)")
    print("  " + r.table().replace("\n", "\n  "))
    if r.path_share:
        print("  jump shares: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in
                                            r.path_share.items()))
    for w in r.warnings:
        print(f"  warning: {w}")


def _write_sites(r, out: Path):
    r.to_json(out / "sites.json")
    rows = []
    for i, a in enumerate(r.site_types):
        for j, b in enumerate(r.site_types):
            rows.append([a, b, r.jump_counts[i][j], r.jump_rate_per_ion_ps[i][j]])
    atomic_write_csv(out / "jumps.csv", ["from_site", "to_site", "n_jumps",
                                         "rate_per_ion_ps"], rows)


def run_sites(args) -> int:
    ref, ops, paths, species = _reference(args)
    if ref is None:
        raise InputError("the site analysis needs a --reference")
    out = prepare_output(_outdir(args, args.traj, "ionic"), ("sites.json", "jumps.csv"),
                         args.force)
    traj, T, tp = _load(args.traj, args)
    r = analyse_sites(traj.positions, traj.elements, traj.boxes_A, traj.dt_ps, ref, species,
                      core_radius_A=args.core_radius_A, paths=paths, T_K=T)
    _write_sites(r, out)
    print(f"{tp}  ({traj.n_frames} frames, T = {T:.1f} K)")
    _print_sites(r)
    print(f"wrote {out}/")
    return 0


def _density_names(args):
    return ("density.cube", "density.json") + tuple(
        f"density_{''.join(map(str, args.hkl))}_{o:g}.png" for o in args.offset)


def _write_density(d, args, out: Path, atoms=None):
    numbers, pos = atoms if atoms is not None else ((), ())
    write_cube(out / "density.cube", d.density_per_A3, d.cell_A, numbers=numbers,
               positions_A=pos, comment=f"mdargy: number density of {d.species} "
               f"({d.n_frames_used} frames, {d.n_symmetry_ops} symmetry ops, "
               f"T = {d.T_K} K)")
    atomic_write_json(out / "density.json", d.summary())
    h = "".join(map(str, args.hkl))
    for o in args.offset:
        sl = plane_slice(d, tuple(args.hkl), offset=o)
        plot_density_slice(sl, path=out / f"density_{h}_{o:g}.png",
                           title=f"{d.species} density, ({h}) plane, offset {o:g}"
                           + (f", {d.T_K:.0f} K" if d.T_K else ""))


def _framework_atoms(ref):
    """Atomic numbers and positions of the reference framework (for the CUBE file)."""
    if ref is None or not ref.framework:
        return None
    from ase.data import atomic_numbers

    Z, R = [], []
    for el, fr in ref.framework.items():
        Z += [atomic_numbers[el]] * len(fr)
        R.append(np.asarray(fr) @ np.asarray(ref.cell_A))
    return np.array(Z), np.vstack(R)


def _density(traj, T, args, ref, ops, species):
    el = np.asarray(traj.elements).astype(str)
    sel = np.flatnonzero(el == species)
    if sel.size == 0:
        raise InputError(f"no {species} atoms in the trajectory", traj.source)
    reps = (1, 1, 1)
    if ref is not None:
        _, _, reps = tile_reference(ref, np.mean(traj.boxes_A, axis=0))
    return density_grid(traj.positions[:, sel, :], traj.boxes_A, shape=(args.grid,) * 3,
                        shift_A=framework_drift(traj.positions, el, species),
                        reps=reps, ops=None if (ref is None or args.no_symmetrize) else ops,
                        sigma_A=args.sigma_A, frame_stride=args.stride, species=species, T_K=T)


def run_density(args) -> int:
    ref, ops, _, species = _reference(args)
    if species is None:
        raise InputError("give --species (no reference to take it from)")
    out = prepare_output(_outdir(args, args.traj, "ionic"), _density_names(args), args.force)
    traj, T, tp = _load(args.traj, args)
    print(f"{tp}: density of {species} ...", file=sys.stderr)
    d = _density(traj, T, args, ref, ops, species)
    _write_density(d, args, out, _framework_atoms(ref))
    print(f"{tp}  density of {d.species}: {d.atoms_per_cell:.3f} atoms per cell, max "
          f"{d.density_per_A3.max():.3g} /A3, {d.n_symmetry_ops} symmetry ops")
    print(f"wrote {out}/")
    return 0


def run_all(args) -> int:
    paths = [Path(p) for p in args.traj]
    if len(paths) > 1 and not args.output:
        raise InputError("several inputs: give --output DIR")
    if len(paths) > 1 and args.temperature is not None:
        raise InputError("-T applies to one input; with several, each run's result.json "
                         "gives its temperature")
    out = Path(args.output or (paths[0].with_suffix("").name + "-ionic"))
    ref, ops, site_paths, species = _reference(args)
    per = ("conductivity.json", "charge_msd.csv", "charge_msd.png") + MSD_OUTPUTS + (
        ("sites.json", "jumps.csv") if ref is not None else ()) + (
        _density_names(args) if species else ())
    subs = [out if len(paths) == 1 else out / f"{i:02d}-{p.name if p.is_dir() else p.stem}"
            for i, p in enumerate(paths)]
    names = [str(Path(s.relative_to(out)) / n) if s != out else n for s in subs for n in per]
    if len(paths) > 1:
        names += ["sigma_arrhenius.json", "sigma_vs_T.csv", "sigma_arrhenius.png"]
    prepare_output(out, names, args.force)
    conds = []
    for path, sub in zip(paths, subs):
        traj, T, tp = _load(path, args)
        print(f"{tp}  ({traj.n_frames} frames, dt = {traj.dt_ps:g} ps, T = {T:.1f} K)")
        print("  tracer MSD and D ...", file=sys.stderr)
        diff = diffusion_coefficients(traj.positions, traj.dt_ps, species=traj.elements,
                                      masses=traj.masses_amu, T_K=T, workers=args.workers)
        write_one(diff, sub, tp)
        print_table(diff, "  tracer diffusion")
        print("  charge MSD and sigma_ion ...", file=sys.stderr)
        c = ionic_conductivity(traj.positions, traj.dt_ps, traj.elements, traj.volume_A3, T,
                               charges_e=_parse_charges(args.charges), diffusion=diff)
        _write_conductivity(c, sub)
        _print_conductivity(c, "  conductivity")
        conds.append(c)
        if ref is not None:
            print("  sites and jumps ...", file=sys.stderr)
            r = analyse_sites(traj.positions, traj.elements, traj.boxes_A, traj.dt_ps, ref,
                              species, core_radius_A=args.core_radius_A, paths=site_paths,
                              T_K=T)
            _write_sites(r, sub)
            _print_sites(r)
        if species:
            print("  density ...", file=sys.stderr)
            d = _density(traj, T, args, ref, ops, species)
            _write_density(d, args, sub, _framework_atoms(ref))
    if len(paths) > 1:
        _sigma_arrhenius(conds, out)
    print(f"wrote {out}/")
    return 0


def _sigma_arrhenius(conds, out):
    atomic_write_csv(out / "sigma_vs_T.csv",
                     ["T_K", "sigma_S_cm", "sigma_err_S_cm", "sigma_NE_S_cm", "haven_ratio",
                      "status"],
                     [[c.T_K, c.sigma_S_cm, c.sigma_err_S_cm, c.sigma_NE_S_cm, c.haven_ratio,
                       c.sigma_status] for c in sorted(conds, key=lambda c: c.T_K)])
    T, s, e, left = conductivity_points(conds)
    fit = None
    if len(np.unique(T)) >= 2:
        fit = fit_conductivity_arrhenius(T, s, e)
        print(f"\nsigma_ion T = A exp(-Ea/kT): Ea = {fit.Ea_eV:.3f} ± {fit.Ea_err_eV:.3f} eV, "
              f"A = {fit.D0_cm2_s:.3g} S K/cm, chi2_red = {fit.chi2_red:.2f}")
        for w in fit.warnings:
            print(f"  warning: {w}")
    else:
        print("\nno Arrhenius fit of sigma_ion: fewer than 2 temperatures with a conductivity")
    if left:
        print(f"  left out (no conductivity): {', '.join(f'{t:g}' for t in left)} K")
    atomic_write_json(out / "sigma_arrhenius.json", {
        "fit": None if fit is None else fit.to_dict(), "left_out_T_K": list(left),
        "points": [{"T_K": float(t), "sigma_S_cm": float(a), "sigma_err_S_cm": float(b)}
                   for t, a, b in zip(T, s, e)]})
    if len(T):
        plot_sigma_arrhenius(T, s, e, fit=fit, bounded_T_K=left,
                             path=out / "sigma_arrhenius.png")
