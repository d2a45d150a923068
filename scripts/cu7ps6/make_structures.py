#!/usr/bin/env python
"""Write the shipped F-43m structure files of ``inputs/structures/`` (step 0 of the pipeline).

* ``Cu7PS6_F-43m_average.cif``: the site-averaged superionic structure (framework + Cu1/Cu2 on
  48h and Cu3 on 16e, occupancy 1/4 each), space group F-43m;
* ``Cu7PS6_F-43m_seed1.cif``: one 56-atom cell with Cu placed at random (seed 1);
* with ``--cells N1 N2 N3``: ``Cu7PS6_F-43m_<N1>x<N2>x<N3>_seed<S>.cif``, a supercell whose Cu
  are placed at random over the whole supercell (not a periodic copy of one 56-atom cell).

The P2_13 file comes from ``derive_p213.py``. Usage: ``python scripts/cu7ps6/make_structures.py
[--out inputs/structures] [--force]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (puts the repository on sys.path)

from mdargy.errors import InputError  # noqa: E402
from mdargy.io.atomic import atomic_write_text  # noqa: E402
from mdargy.structures import cu7ps6 as c  # noqa: E402
from mdargy.structures.builders import write_cif  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=common.ROOT / "inputs" / "structures")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--cells", type=int, nargs=3, default=(1, 1, 1),
                   help="supercell of the random placement (default 1 1 1: the 56-atom cell)")
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)

    avg = args.out / "Cu7PS6_F-43m_average.cif"
    cells = tuple(args.cells)
    tag = "" if cells == (1, 1, 1) else "{}x{}x{}_".format(*cells)
    if not avg.exists() or args.force:
        atomic_write_text(avg, c.f43m_average_cif(header=[
            "Cu7PS6, superionic cubic F-43m phase, site-averaged -- DERIVED, NOT REFINED FROM EXPERIMENT",
            f"a = {c.A_DEFAULT} A from the literature density 4.91 g/cm3 (Z = 4)",
            f"framework: P 4b, S 4a, 4c, 16e with P-S = {c.P_S_BOND} A (x(16e) = 1/2 + d/(sqrt(3) a))",
            "Cu sites: centres of the sulphur framework's holes (mdargy.structures.cu7ps6.cu_candidate_sites):",
            "  Cu1 48h tetrahedral, Cu2 48h trigonal, Cu3 16e tetrahedral; 28 Cu on 112 sites (occupancy 1/4)",
            "made by scripts/cu7ps6/make_structures.py; see inputs/structures/README.md",
        ]))
    at = c.build_f43m(cells=cells, seed=args.seed)
    prov = at.info["provenance"]
    name = f"Cu7PS6_F-43m_{tag}seed{args.seed}.cif"
    write_cif(args.out / name, at, [
        "Cu7PS6, superionic cubic F-43m phase, ONE random Cu placement -- DERIVED, NOT REFINED",
        f"mdargy.structures.cu7ps6.build_f43m(cells={cells}, seed={args.seed}, a={prov['a_A']}, min_cu_cu={prov['min_cu_cu_A']})",
        f"Cu sites occupied: {prov['cu_sites_occupied']} (of {prov['cu_sites_available']})",
        "the paper used an SQS; this is a seeded random placement with a Cu-Cu minimum distance",
    ], force=args.force)
    print(f"wrote {args.out / name} ({len(at)} atoms)")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
