"""``mdargy nemd CONFIG.toml``: thermal conductivity κ(L) by non-equilibrium MD."""

from __future__ import annotations

import sys
from pathlib import Path

from mdargy.cli.common import is_root
from mdargy.cli.emd import add_common_arguments, collect_overrides, load_config, write_dry_run
from mdargy.drivers.config import NEMDConfig
from mdargy.drivers.nemd import nemd_input, run_nemd
from mdargy.errors import AlreadyDoneError
from mdargy.plots.nemd import plot_profile


def add_parser(sub):
    p = sub.add_parser(
        "nemd", help="non-equilibrium MD: kappa(L) of a bar (Langevin baths or Muller-Plathe)",
        description="Run (or resume) a NEMD simulation from a TOML configuration and compute "
        "kappa = Q / (2 S |grad T|) with its block-averaged uncertainty and the energy balance. "
        "Writes result.json, profile.csv, profile.png, blocks.csv, thermo.csv into output_dir. "
        "Re-running a killed run continues from its last checkpoint; a finished run is reported "
        "as done.")
    add_common_arguments(p)
    p.add_argument("--method", choices=("langevin", "muller-plathe"),
                   help="heat source/sink (overrides method)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    ov = collect_overrides(args)
    if args.method:
        ov.append(f'method="{args.method}"')
    config = load_config(NEMDConfig, args.config, ov)
    root = is_root()
    if args.dry_run is not None:
        if root:
            write_dry_run(config, args.dry_run, lambda prep, data: nemd_input(
                config, data, prep["type_elements"], prep["cell_A"]))
        return 0
    try:
        r = run_nemd(config, progress=not args.quiet, fresh=args.fresh, recover=args.recover)
    except AlreadyDoneError as exc:
        if root:
            print(f"mdargy nemd: done already: {exc}", file=sys.stderr)
        return 0
    if root:
        plot_profile(r, Path(r.output_dir) / "profile.png")  # the driver draws no figure
        print(f"NEMD ({r.method}) L = {r.length_A:.2f} Å, S = {r.area_A2:.2f} Å², "
              f"<T> = {r.T_mean_K:.2f} K\n"
              f"  kappa  = {r.kappa_W_mK:.4g} ± {r.kappa_err_W_mK:.2g} W/m/K\n"
              f"  |dT/dx| = {r.gradT_K_A:.4g} ± {r.gradT_err_K_A:.2g} K/Å, "
              f"Q = {r.Q_eV_ps:.4g} eV/ps ({r.Q_W:.3g} W)\n"
              f"  heat in {r.heat_in_eV:.4g} eV, out {r.heat_out_eV:.4g} eV, imbalance "
              f"{100 * r.imbalance_fraction:.2f} %\n  -> {r.output_dir}/result.json, profile.png")
    return 0
