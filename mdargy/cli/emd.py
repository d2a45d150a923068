"""``mdargy emd CONFIG.toml``: equilibrium MD (minimise, equilibrate, produce a trajectory)."""

from __future__ import annotations

import json
import sys

from mdargy.cli.common import is_root
from mdargy.drivers.config import EMDConfig
from mdargy.drivers.deck import INPUT_NAME, deck_folder, write_deck
from mdargy.drivers.emd import emd_input, run_emd
from mdargy.errors import AlreadyDoneError


def add_common_arguments(p) -> None:
    """Arguments shared by ``mdargy emd`` and ``mdargy nemd``."""
    p.add_argument("config", help="TOML configuration file (see inputs/examples/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a configuration value: the keys and units of the file "
                   "(times in fs/ps, sizes in cells), TOML syntax, nested keys with dots, e.g. "
                   "--set production_ps=20 --set potential.cutoff_A=9; repeatable")
    p.add_argument("-o", "--output-dir", help="run directory (overrides output_dir)")
    p.add_argument("-T", "--temperature", type=float, metavar="K",
                   help="temperature in K (overrides temperature_K)")
    p.add_argument("--seed", type=int, help="random seed (overrides seed)")
    p.add_argument("--dry-run", nargs="?", const="", default=None, metavar="DIR",
                   help="check the inputs, write the LAMMPS deck of this run (in.lammps, "
                   "structure.data, the potential's files) into DIR (default OUTPUT_DIR/deck) "
                   "and print its input; run nothing. Run the deck with 'lmp -in in.lammps' in "
                   "DIR")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--fresh", action="store_true",
                   help="start afresh in an output directory holding a run with other settings "
                   "or a damaged checkpoint: its outputs are moved aside to "
                   "superseded-<time>/ (nothing is deleted)")
    p.add_argument("--recover", action="store_true",
                   help="resume from the previous checkpoint when the latest one fails "
                   "verification (outputs truncated, altered or missing since)")


def collect_overrides(args) -> list[str]:
    ov = list(args.overrides)
    if args.output_dir:
        ov.append(f"output_dir={json.dumps(args.output_dir)}")
    if args.temperature is not None:
        ov.append(f"temperature_K={args.temperature!r}")
    if args.seed is not None:
        ov.append(f"seed={args.seed}")
    return ov


def load_config(cls, path, overrides):
    """Read a run configuration (TOML + ``--set`` overrides): the keys, types and values are
    checked, old key names refused with the new one (:meth:`EMDConfig.from_toml`)."""
    return cls.from_toml(path, overrides)


def write_dry_run(config, folder, make_input) -> None:
    """``--dry-run``: write the deck (:mod:`mdargy.drivers.deck`), print its input and where
    it is."""
    deck, text = write_deck(config, deck_folder(config, folder), make_input)
    print(text, end="")
    print(f"wrote the LAMMPS deck to {deck}: run it there with 'lmp -in {INPUT_NAME}'",
          file=sys.stderr)


def add_parser(sub):
    p = sub.add_parser(
        "emd", help="equilibrium MD: trajectory of unwrapped positions and velocities",
        description="Run (or resume) equilibrium MD from a TOML configuration: optional "
        "minimisation, NVT/NPT equilibration, NVT/NVE production writing thermo.csv, "
        "traj.nc (NetCDF, AMBER convention; traj.pdb as its topology), traj.lammpstrj, "
        "final.data and metadata.json into output_dir. "
        "Re-running a killed run continues from its last checkpoint after verifying it; a finished "
        "run is reported as done; a directory made with other settings is refused (--fresh "
        "moves it aside). Launch with mpirun for parallel runs.")
    add_common_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    config = load_config(EMDConfig, args.config, collect_overrides(args))
    root = is_root()
    if args.dry_run is not None:
        if root:
            write_dry_run(config, args.dry_run,
                          lambda prep, data: emd_input(config, data, prep["type_elements"]))
        return 0
    try:
        res = run_emd(config, progress=not args.quiet, fresh=args.fresh, recover=args.recover)
    except AlreadyDoneError as exc:
        if root:
            print(f"mdargy emd: done already: {exc}", file=sys.stderr)
        return 0
    if root:
        print(f"EMD finished: {res.n_frames} frames every {res.frame_dt_ps:g} ps, "
              f"<T> = {res.T_mean_K:.2f} ± {res.T_std_K:.2f} K, "
              f"E drift = {res.etotal_drift_eV_atom_ps:.3g} eV/atom/ps -> {res.output_dir}")
    return 0
