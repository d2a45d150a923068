"""Generate the small test potentials in tests/data/mtp/ (reproducible, seeded).

* ``random_l10_CuPS.mtp``: level-10 template for 3 species (Cu P S declared in potential_tag),
  random but smooth coefficients (for exactness tests: energies/forces/stress vs motep).
* ``random_l08_2sp.mtp``: level-08, 2 species, no element names, radial_funcs_count written
  after radial_coeffs (the motep 0.2.0 layout), for parser and pair_coeff mapping tests.
* ``trained_l08_CuPS.mtp``: level-08 MTP trained with motep on energies and forces computed by
  LAMMPS for a Cu-P-S mixture interacting by a soft pair potential (see ``reference_commands``),
  for the NVE energy-conservation test.

Usage: ``python scripts/make_test_mtp.py [--skip-training]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mdargy.potentials.mtp.mtpfile import MTPPotential  # noqa: E402
from mdargy.potentials.mtp.templates import make_template  # noqa: E402

OUT = ROOT / "tests" / "data" / "mtp"


def random_potential(level: int, species: int, seed: int, min_dist=1.2, max_dist=4.5,
                     rbs=8, tag="") -> MTPPotential:
    rng = np.random.default_rng(seed)
    t = make_template(level, species, min_dist=min_dist, max_dist=max_dist,
                      radial_basis_size=rbs)
    rc = rng.uniform(-1, 1, (species, species, t.radial_funcs_count, rbs)) / np.arange(1, rbs + 1) ** 1.5
    sc = rng.uniform(-3, -1, species)
    mc = rng.uniform(-1, 1, t.alpha_scalar_moments) * 0.05
    import dataclasses
    return dataclasses.replace(t, radial_coeffs=rc * 0.2, species_coeffs=sc, moment_coeffs=mc,
                               potential_tag=tag, scaling=1.0 if species != 2 else 0.7)


def motep_layout(text: str) -> str:
    """Move `radial_funcs_count` after the radial_coeffs block (motep 0.2.0's layout)."""
    lines = text.splitlines()
    rfc = [l for l in lines if l.strip().startswith("radial_funcs_count")]
    lines = [l for l in lines if not l.strip().startswith("radial_funcs_count")]
    k = next(i for i, l in enumerate(lines) if l.startswith("alpha_moments_count"))
    lines.insert(k, rfc[0].strip())
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-training", action="store_true")
    a = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    p = random_potential(10, 3, 1, tag="species: Cu P S")
    (OUT / "random_l10_CuPS.mtp").write_text(p.to_text())
    p2 = random_potential(8, 2, 2)
    (OUT / "random_l08_2sp.mtp").write_text(motep_layout(p2.to_text()))
    if not a.skip_training:
        from train_test_mtp import train  # scripts/train_test_mtp.py
        train(OUT / "trained_l08_CuPS.mtp")
    print("wrote", *sorted(x.name for x in OUT.glob("*.mtp")))


if __name__ == "__main__":
    main()
