"""The ``mdargy`` command line: one module per subcommand, each thin.

Each module ``mdargy/cli/<name>.py`` defines ``add_parser(subparsers)``, which registers its
subcommand and sets ``func`` (taking the parsed arguments, returning an exit code). Errors of type
:class:`mdargy.errors.MdargyError` become one line on stderr and the error's exit code.
"""

from __future__ import annotations

import argparse
import os
import sys

import mdargy
from mdargy.cli.common import is_root  # noqa: F401  (first: subcommands may import it from here)
from mdargy.cli import (  # noqa: E402
    campaign,
    dos,
    emd,
    gk,
    info,
    ionic,
    kappa,
    lattice,
    msd,
    mtp,
    nemd,
    structure,
)
from mdargy.errors import MdargyError

#: Subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS = (info, emd, nemd, msd, dos, kappa, gk, lattice, ionic, campaign, mtp, structure)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mdargy",
        description="Molecular dynamics of thermal and ionic transport in complex crystals "
        "(LAMMPS + MPI): EMD/NEMD drivers, MSD/diffusion, thermal conductivity, phonon DOS, "
        "campaigns.",
    )
    parser.add_argument("--version", action="version", version=f"mdargy {mdargy.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except MdargyError as exc:
        try:
            root = is_root()
        except Exception:
            root = True
        if root:
            print(f"mdargy {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mdargy: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`mdargy campaign check FILE | head`): not an error of ours;
        # point stdout at devnull so the interpreter's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by it
