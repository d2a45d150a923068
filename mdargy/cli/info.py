"""``mdargy info``: what LAMMPS, MPI and plugins this installation has."""

from __future__ import annotations

import json


def add_parser(sub):
    p = sub.add_parser(
        "info",
        help="report LAMMPS version, packages, MPI library and ranks, pair styles, plugins",
        description="Report the capabilities of the LAMMPS/MPI runtime that mdargy will use. "
        "Under mpirun only rank 0 prints.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--full", action="store_true", help="list every package and pair style")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from mdargy.lammps.runtime import capabilities, get_comm

    caps = capabilities()
    if get_comm().Get_rank() == 0:
        print(json.dumps(caps.to_dict(), indent=2) if args.json else caps.format(full=args.full))
    return 0
