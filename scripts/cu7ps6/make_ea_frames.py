#!/usr/bin/env python
"""Configurations for E(a): the ordered P2_13 Cu7PS6 cell scaled to five lattice constants.

The 56-atom cell of ``inputs/structures/Cu7PS6_P213_derived.cif`` (positions relaxed with
SevenNet-0 at a = 9.666 Å) is scaled uniformly, fractional coordinates fixed ("clamped ions"),
to each lattice constant of ``--a-A``. Labelled with any labeler of ``label.py`` (PBEsol in
CP2K, SevenNet-0, the MTP), the frames give E(a) and P(a) of each model on the same
configurations; ``lattice_constant.py`` fits them and adds, for the ML models, the relaxed-ion
curve that measures what clamping the ions costs.

Example::

    python scripts/cu7ps6/make_ea_frames.py --out results/cu7ps6/dft/ea_frames_56.extxyz
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from ase.io import read, write

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

CIF = common.ROOT / "inputs/structures/Cu7PS6_P213_derived.cif"
A_DEFAULT_A = (9.40, 9.50, 9.60, 9.70, 9.80)


def scaled_frames(cif: Path, a_values_A) -> list:
    """The CIF cell scaled (clamped fractional coordinates) to each cubic lattice constant (Å)."""
    base = read(cif)
    a0 = float(np.cbrt(base.get_volume()))
    if not np.allclose(base.cell.cellpar()[:3], a0, rtol=1e-6):
        raise SystemExit(f"{cif}: not a cubic cell ({base.cell.cellpar()})")
    out = []
    for a in a_values_A:
        at = base.copy()
        at.set_cell(base.cell.array * (a / a0), scale_atoms=True)
        at.info = {"frame_id": f"p213_a{a:.3f}", "phase": "p213", "a_A": float(a),
                   "ions": "clamped", "source": f"{cif.name} (a = {a0:.4f} A) scaled"}
        out.append(at)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--cif", type=Path, default=CIF)
    ap.add_argument("--a-A", type=float, nargs="+", default=A_DEFAULT_A,
                    help="lattice constants (Å)")
    ap.add_argument("--force", action="store_true", help="overwrite --out")
    a = ap.parse_args(argv)
    if a.out.exists() and not a.force:
        raise SystemExit(f"{a.out} exists: refusing to overwrite (use --force)")
    frames = scaled_frames(a.cif, a.a_A)
    write(a.out, frames, format="extxyz")
    print(f"{len(frames)} frames -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
