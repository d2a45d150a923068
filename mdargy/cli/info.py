"""``mdargy info``: what LAMMPS, MPI and plugins this installation has."""

from __future__ import annotations

import json

from mdargy.errors import InputError
from mdargy.lammps.runtime import capabilities, create_lammps, get_comm, require_styles


def add_parser(sub):
    p = sub.add_parser(
        "info",
        help="report LAMMPS version, packages, MPI library and ranks, pair styles, plugins",
        description="Report the capabilities of the LAMMPS/MPI runtime that mdargy will use. "
        "Under mpirun only rank 0 prints.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--full", action="store_true", help="list every package and pair style")
    p.add_argument(
        "--require",
        metavar="CATEGORY:STYLE",
        action="append",
        default=[],
        help="fail with a clear message unless LAMMPS has this style, e.g. pair:mtp or "
        "fix:ttm (repeatable)",
    )
    p.set_defaults(func=run)
    return p


def _parse_requirements(items):
    req: dict[str, list[str]] = {}
    for item in items:
        if ":" not in item:
            raise InputError(f"--require {item!r}: expected CATEGORY:STYLE, e.g. pair:mtp")
        cat, name = item.split(":", 1)
        req.setdefault(cat.strip(), []).append(name.strip())
    return req


def run(args) -> int:
    required = _parse_requirements(args.require)
    if required:
        lmp = create_lammps()
        try:
            require_styles(lmp, required)
        finally:
            lmp.close()
    caps = capabilities()
    if get_comm().Get_rank() == 0:
        print(json.dumps(caps.to_dict(), indent=2) if args.json else caps.format(full=args.full))
    return 0
