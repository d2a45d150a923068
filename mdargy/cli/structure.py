"""``mdargy structure``: build Cu7PS6 cells, supercells and NEMD bars; report on a structure.

Examples::

    mdargy structure build f43m --cells 2 2 2 --seed 1 -o cu7ps6_f43m_222.data
    mdargy structure build p213 --cells 2 2 2 -o cu7ps6_p213_222.data
    mdargy structure build f43m --bar 8 2 2 --seed 3 -o bar.data      # NEMD bar, 8 cells along x
    mdargy structure info cu7ps6_f43m_222.data
"""

from __future__ import annotations

import json

from mdargy.cli.common import is_root
from mdargy.structures import builders
from mdargy.structures.cu7ps6 import LITERATURE
from mdargy.structures.load import read_structure


def add_parser(sub):
    p = sub.add_parser(
        "structure",
        help="build Cu7PS6 structures (F-43m, P2_13), supercells, NEMD bars; report on a file",
        description="Build Cu7PS6 structures and report on structure files. Output: LAMMPS data "
        "(.data/.lmp, types Cu P S with elements in Masses comments) or any ASE format.",
    )
    ss = p.add_subparsers(dest="structure_command", metavar="ACTION")
    b = ss.add_parser("build", help="build a Cu7PS6 cell, supercell or NEMD bar")
    b.add_argument("phase", choices=("f43m", "p213"),
                   help="f43m: superionic, Cu placed at random with --seed; p213: ordered, the "
                   "derived structure shipped in inputs/structures")
    g = b.add_mutually_exclusive_group()
    g.add_argument("--cells", nargs=3, type=int, metavar=("N1", "N2", "N3"), default=(1, 1, 1),
                   help="supercell of the 56-atom cubic cell (default 1 1 1)")
    g.add_argument("--bar", nargs=3, type=int, metavar=("NX", "NY", "NZ"),
                   help="NEMD bar: NX cells along the transport direction x, NY x NZ across")
    b.add_argument("--seed", type=int, default=0, help="seed of the random Cu placement (f43m)")
    b.add_argument("--a", type=float, default=None,
                   help="lattice constant in Å (default: 9.669, the literature density)")
    b.add_argument("--min-cu-cu", type=float, default=None,
                   help="minimum Cu–Cu distance in Å for the random placement (default 2.1)")
    b.add_argument("--p213-file", default=None,
                   help="use this P2_13 cell (e.g. literature coordinates) instead of the shipped one")
    b.add_argument("-o", "--output", required=True, help="output file")
    b.add_argument("--format", default=None, help="ASE format name (default: from the suffix)")
    b.add_argument("--force", action="store_true", help="overwrite an existing output file")
    b.set_defaults(func=run_build)

    i = ss.add_parser("info", help="composition, density, a, space group, distances, Cu CN")
    i.add_argument("file", help="structure file (LAMMPS data or any ASE format)")
    i.add_argument("--cutoff", type=float, default=2.75, help="Cu–S coordination cutoff, Å")
    i.add_argument("--symprec", type=float, default=1e-3, help="spglib tolerance, Å")
    i.add_argument("--check", action="store_true",
                   help="fail unless the file is whole Cu7PS6 formula units with no atoms too close")
    i.add_argument("--elements", nargs="+", default=None,
                   help="fail if the file holds elements outside this list (a potential's)")
    i.add_argument("--json", action="store_true", help="print the report as JSON")
    i.set_defaults(func=run_info)
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    return p


def _root() -> bool:
    try:
        return is_root()
    except Exception:  # pragma: no cover
        return True


def run_build(args) -> int:
    if args.bar:
        nx, ny, nz = args.bar
        if args.phase == "f43m":
            # draw Cu over the whole bar, not one random cell repeated
            atoms = builders.build("f43m", (nx, ny, nz), args.seed, args.a, args.min_cu_cu)
            atoms.info["nemd_bar"] = {"n_x": nx, "n_y": ny, "n_z": nz,
                                      "length_A": float(atoms.cell.lengths()[0]),
                                      "area_A2": float(atoms.cell.lengths()[1] * atoms.cell.lengths()[2])}
        else:
            cell = builders.build("p213", (1, 1, 1), a=args.a, p213_file=args.p213_file)
            atoms = builders.nemd_bar(cell, nx, ny, nz)
    else:
        atoms = builders.build(args.phase, args.cells, args.seed, args.a, args.min_cu_cu,
                               p213_file=args.p213_file)
    builders.check_composition(atoms)
    builders.check_min_distances(atoms)
    if _root():
        path = builders.write_structure(args.output, atoms, fmt=args.format, force=args.force)
        rep = builders.structure_report(atoms, symprec=1e-3)
        print(f"wrote {path}: {rep['n_atoms']} atoms {_formula(rep['composition'])}, "
              f"cell {' x '.join(f'{x:.3f}' for x in rep['cell_lengths_A'])} Å, "
              f"{rep['density_g_cm3']:.3f} g/cm³, min Cu–Cu {rep['min_distances_A'].get('Cu-Cu', 0):.2f} Å")
    return 0


def _formula(comp) -> str:
    return "".join(f"{k}{v}" for k, v in comp.items())


def run_info(args) -> int:
    atoms = read_structure(args.file)
    if args.elements:
        builders.check_elements(atoms, args.elements, path=args.file)
    if args.check:
        builders.check_composition(atoms, path=args.file)
        builders.check_min_distances(atoms, path=args.file)
    rep = builders.structure_report(atoms, args.cutoff, args.symprec)
    rep["file"] = str(args.file)
    if not _root():
        return 0
    if args.json:
        print(json.dumps(rep, indent=2))
        return 0
    la = rep["cell_lengths_A"]
    lines = [
        f"file          {args.file}",
        f"atoms         {rep['n_atoms']}  {_formula(rep['composition'])}"
        + (f"  ({rep['formula_units_Cu7PS6']:g} Cu7PS6)" if rep["formula_units_Cu7PS6"] else ""),
        f"cell (Å)      {la[0]:.4f} {la[1]:.4f} {la[2]:.4f}  angles "
        + " ".join(f"{x:.2f}" for x in rep["cell_angles_deg"]),
        f"density       {rep['density_g_cm3']:.4f} g/cm³ (literature Cu7PS6 {LITERATURE['density_g_cm3']})",
        f"space group   {rep['spacegroup']} (spglib, symprec {args.symprec} Å)",
        "min distances " + ", ".join(f"{k} {v:.3f}" for k, v in rep["min_distances_A"].items()
                                     if v != float("inf")) + " Å",
    ]
    if "cu_coordination" in rep:
        lines.append("Cu–S CN       " + ", ".join(f"{n} Cu with CN={k}" for k, n in
                                                   rep["cu_coordination"].items())
                     + f" (cutoff {args.cutoff} Å)")
    print("\n".join(lines))
    return 0
