"""``mdargy gk RUN_DIR_OR_FILE``: Green–Kubo thermal conductivity from an EMD heat current.

Reads ``heatflux.dat`` (an EMD run made with ``heat_every_fs > 0``), computes the cepstral κ ± σ
(sportran; multicomponent when several species are present) and the running integral, and
writes ``gk.json``, ``gk_running.csv`` and ``gk.png`` into ``--output`` (default: the run
directory).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mdargy.analysis.greenkubo import green_kubo, periodogram
from mdargy.cli.common import prepare_output
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_csv, atomic_write_json
from mdargy.io.heatflux import read_heatflux
from mdargy.plots.greenkubo import plot_green_kubo

OUTPUTS = ("gk.json", "gk_running.csv", "gk.png")


def add_parser(sub):
    p = sub.add_parser(
        "gk",
        help="Green-Kubo thermal conductivity κ ± σ (cepstral, sportran) from an EMD heat current",
        description="Green-Kubo thermal conductivity from the heat current of an EMD run "
        "(heatflux.dat, written with heat_every_fs > 0; NVE production recommended): cepstral "
        "estimate κ ± σ through sportran (Ercole, Marcolongo & Baroni, Sci. Rep. 2017), with "
        "the mass fluxes decorrelated (Bertossa, Grasselli & Baroni, PRL 2019) whenever more "
        "than one species is present, and the running integral for inspection. Writes gk.json "
        "(κ in W/m/K, the one-component diagnostic, flags), gk_running.csv and gk.png.",
    )
    p.add_argument("source", metavar="RUN_DIR_OR_FILE",
                   help="EMD run directory (with heatflux.dat) or a heatflux.dat file")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="output directory (default: the run directory)")
    p.add_argument("--force", action="store_true", help="overwrite existing gk.* outputs")
    p.add_argument("--fstar-THz", type=float, metavar="THZ",
                   help="cutoff frequency f* of the cepstral analysis (default: the frequency "
                   "below which 95 %% of the spectrum's power lies)")
    p.add_argument("--one-component", action="store_true",
                   help="treat J alone even for several species (biased; the result is flagged)")
    p.add_argument("-T", "--temperature", type=float, metavar="K",
                   help="temperature (default: mean production T of thermo.csv beside the file)")
    p.add_argument("--max-lag-ps", type=float, metavar="PS",
                   help="longest lag of the running integral (default: a tenth of the run, at "
                   "most 100 ps)")
    p.add_argument("--plateau-ps", type=float, nargs=2, metavar=("FROM", "TO"),
                   help="window of the running integral averaged as its plateau (default: the "
                   "second half)")
    p.add_argument("--skip-ps", type=float, default=0.0, metavar="PS",
                   help="drop this much of the start of the series (default 0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=run)
    return p


def _say(args, msg):
    if not args.quiet:
        print(msg, file=sys.stderr, flush=True)


def run(args) -> int:
    src = Path(args.source)
    outdir = Path(args.output) if args.output else (src if src.is_dir() else src.parent)
    prepare_output(outdir, OUTPUTS, args.force)
    _say(args, f"reading {src} ...")
    s = read_heatflux(src, temperature_K=args.temperature)
    skip = int(round(args.skip_ps / s.dt_ps))
    if skip < 0 or skip >= s.n_samples - 1:
        raise InputError(f"--skip-ps {args.skip_ps} leaves no samples ({s.duration_ps:g} ps read)")
    J, flux = s.J_eVA_ps[skip:], s.vsum_A_ps[:, skip:]
    _say(args, f"{len(J)} samples every {s.dt_ps * 1000:g} fs ({len(J) * s.dt_ps:g} ps), "
         f"T = {s.temperature_K:.2f} K ({s.temperature_source}), V = {s.volume_A3:.1f} Å³, "
         f"species {' '.join(s.species)}; cepstral analysis (sportran) ...")
    try:
        res = green_kubo(
            J, s.dt_ps, s.volume_A3, s.temperature_K, species_flux=flux, species=s.species,
            multicomponent=False if args.one_component else None, fstar_THz=args.fstar_THz,
            max_lag_ps=args.max_lag_ps, plateau_window_ps=args.plateau_ps, ensemble=s.ensemble,
            inputs={"file": s.path, "skip_ps": args.skip_ps,
                    "temperature_source": s.temperature_source})
    except InputError as exc:
        raise InputError(str(exc), s.path) from None
    _say(args, "running integral and figure ...")
    d = res.to_dict()
    for key in ("running_lag_ps", "running_kappa_W_mK", "running_kappa_one_component_W_mK"):
        d.pop(key)  # in gk_running.csv
    d["source"] = s.path
    d["running_integral_csv"] = "gk_running.csv"
    outdir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(outdir / "gk.json", d)
    atomic_write_csv(outdir / "gk_running.csv",
                     ["lag_ps", "kappa_running_W_mK", "kappa_running_one_component_W_mK"],
                     np.column_stack([res.running_lag_ps, res.running_kappa_W_mK,
                                      res.running_kappa_one_component_W_mK]).tolist())
    currents = J[None] if res.method == "one-component" else np.concatenate([J[None], flux[:-1]])
    spec = periodogram(currents, s.dt_ps, s.volume_A3, s.temperature_K, smooth_THz=0.25)

    plot_green_kubo(res, path=outdir / "gk.png", spectrum=spec)

    print(f"{s.path}: {res.duration_ps:g} ps at {res.temperature_K:.1f} K, {res.method} "
          f"({res.n_currents} current(s)), f* = {res.fstar_THz:.3g} THz, P* = {res.cutoffK + 1}")
    print(f"kappa_GK = {res.kappa_W_mK:.4g} ± {res.kappa_err_W_mK:.2g} W/m/K (cepstral)")
    print(f"running-integral plateau {res.plateau_window_ps[0]:g}-{res.plateau_window_ps[1]:g} ps: "
          f"{res.kappa_plateau_W_mK:.4g} W/m/K (spread {res.kappa_plateau_spread_W_mK:.2g}; not σ)")
    for f, k, e in res.fstar_scan:
        print(f"  check: f* = {f:.3g} THz -> {k:.4g} ± {e:.2g} W/m/K")
    for f in res.flags:
        print(f"warning: {f}")
    print(f"wrote {outdir}/gk.json, gk_running.csv, gk.png")
    return 0
