"""``mdargy mtp``: untrained MTP templates, file checks, normalisation of motep's files.

Examples::

    mdargy mtp template --level 10 --species Cu P S -o untrained.mtp
    mdargy mtp check trained.mtp [--lammps]
    mdargy mtp normalize motep_output.mtp -o fixed.mtp
    mdargy mtp counts
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mdargy.cli.common import is_root
from mdargy.errors import InputError
from mdargy.potentials.mtp.evaluate import evaluate
from mdargy.potentials.mtp.mtpfile import read_mtp, write_mtp
from mdargy.potentials.mtp.templates import count_table, make_template


def add_parser(sub):
    p = sub.add_parser("mtp", help="Moment Tensor Potentials: templates, checks, normalisation",
                       description="Moment Tensor Potential (MLIP .mtp 1.1.0) utilities.")
    s = p.add_subparsers(dest="mtp_command", metavar="ACTION")

    t = s.add_parser("template", help="write an untrained MTP of a given level")
    t.add_argument("--level", type=int, required=True, help="MTP level (e.g. 8, 10, 12, 16)")
    g = t.add_mutually_exclusive_group(required=True)
    g.add_argument("--species", nargs="+", metavar="EL",
                   help="element names in training order (recorded in potential_tag)")
    g.add_argument("--species-count", type=int, help="number of species (no names recorded)")
    t.add_argument("--min-dist", type=float, default=1.5, help="radial basis start, Angstrom")
    t.add_argument("--max-dist", type=float, default=5.0, help="cutoff, Angstrom")
    t.add_argument("--radial-basis-size", type=int, default=8)
    t.add_argument("-o", "--output", required=True)
    t.add_argument("--force", action="store_true", help="overwrite an existing file")
    t.set_defaults(func=run_template)

    c = s.add_parser("check", help="parse an .mtp file and report its sizes")
    c.add_argument("file")
    c.add_argument("--lammps", action="store_true",
                   help="also load it with pair_style mtp in LAMMPS (isolated atoms)")
    c.set_defaults(func=run_check)

    n = s.add_parser("normalize", help="rewrite an .mtp file in MLIP's layout (fixes motep 0.2.0 "
                     "files with radial_funcs_count after radial_coeffs)")
    n.add_argument("file")
    n.add_argument("-o", "--output", required=True)
    n.add_argument("--species", nargs="+", metavar="EL", help="record these element names")
    n.add_argument("--force", action="store_true")
    n.set_defaults(func=run_normalize)

    k = s.add_parser("counts", help="template sizes by level, against MLIP's templates")
    k.add_argument("--levels", type=int, nargs="+", default=[8, 10, 12, 16])
    k.set_defaults(func=run_counts)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    return p


def _root() -> bool:
    return is_root()


def run_template(args) -> int:
    species = args.species
    count = len(species) if species else args.species_count
    if species and len(set(species)) != len(species):
        raise InputError(f"--species lists an element twice: {' '.join(species)}")
    pot = make_template(args.level, count, min_dist=args.min_dist, max_dist=args.max_dist,
                        radial_basis_size=args.radial_basis_size)
    if species:
        pot = dataclasses.replace(pot, potential_tag="species: " + " ".join(species))
    if _root():
        write_mtp(args.output, pot, force=args.force)
        print(f"wrote {args.output}: level {args.level}, {count} species, "
              f"{pot.alpha_moments_count} moments, {pot.alpha_index_basic_count} basic, "
              f"{pot.alpha_index_times_count} contractions, {pot.alpha_scalar_moments} basis "
              f"functions, cutoff {args.max_dist} A (untrained)")
    return 0


def run_check(args) -> int:
    pot = read_mtp(args.file)
    if _root():
        print(f"{args.file}: MTP {pot.version}, {pot.species_count} species"
              + (f" ({pot.potential_tag.split(':', 1)[1].strip()})"
                 if pot.potential_tag.startswith("species:") else "")
              + f", radial {pot.radial_funcs_count} x {pot.radial_basis_size} on "
              f"[{pot.min_dist}, {pot.max_dist}] A, {pot.alpha_moments_count} moments, "
              f"{pot.alpha_scalar_moments} basis functions, "
              + ("trained" if pot.trained else "UNTRAINED template"))
    if args.lammps:
        tag = pot.potential_tag
        els = tag.split(":", 1)[1].split() if tag.startswith("species:") else \
            [f"X{k}" for k in range(pot.species_count)]
        n = len(els)
        pos = np.array([[10.0 + 12.0 * k, 10.0, 10.0] for k in range(n)])
        r = evaluate(args.file, els, np.diag([12.0 * n + 8, 20.0, 20.0]), pos,
                     list(range(1, n + 1)), periodic=False)
        expect = float(np.sum(pot.species_coeffs))
        ok = abs(r.energy_eV - expect) <= 1e-10 * max(1.0, abs(expect))
        if _root():
            print(f"LAMMPS pair_style mtp: isolated-atom energy {r.energy_eV:.10f} eV "
                  f"(expected {expect:.10f}): {'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    return 0


def run_normalize(args) -> int:
    pot = read_mtp(args.file)
    if args.species:
        if len(args.species) != pot.species_count:
            raise InputError(f"--species names {len(args.species)} elements but the file has "
                             f"species_count = {pot.species_count}", path=args.file)
        pot = dataclasses.replace(pot, potential_tag="species: " + " ".join(args.species))
    if _root():
        write_mtp(args.output, pot, force=args.force)
        print(f"wrote {args.output} (MLIP layout)")
    return 0


def run_counts(args) -> int:
    if _root():
        print(count_table(tuple(args.levels)))
    return 0
