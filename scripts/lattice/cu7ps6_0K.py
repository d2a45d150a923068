"""Cu7PS6 (P2_13) with the shipped MTP at 0 K: relax, then finite-displacement phonons.

The 0 K reference for the temperature-dependent results: the structure file relaxed with the
MTP (cell and positions, symmetric start so the space group is kept), phonopy displacements of
0.01 Å in the 2×2×2 supercell (448 atoms) with forces from LAMMPS, dispersion and DOS.

    nice -n 10 .venv/bin/python scripts/lattice/cu7ps6_0K.py [results/cu7ps6/lattice/T0K_fd]
"""

import json
import sys
from pathlib import Path

import numpy as np


def main(out="results/cu7ps6/lattice/T0K_fd"):
    import spglib

    from mdargy.lammps.runtime import run_commands
    from mdargy.lattice.forces import LammpsForces
    from mdargy.lattice.phonons import compute_phonons, finite_displacement_fc2
    from mdargy.potentials.spec import PotentialSpec
    from mdargy.structures.load import read_structure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    uc = read_structure("inputs/structures/Cu7PS6_P213_derived.cif")
    pot = PotentialSpec(kind="mtp", files=("inputs/potentials/Cu7PS6.mtp",),
                        elements=("Cu", "P", "S"))
    with LammpsForces(pot, uc) as ff:
        f0 = float(np.abs(ff.forces(uc.positions)).max())
        lmp = ff._lmp  # the same instance: relax cell and positions in place
        run_commands(lmp, "fix br all box/relax iso 0.0\nminimize 1e-12 1e-6 5000 50000\n"
                     "unfix br\nminimize 1e-12 1e-6 5000 50000")
        x = np.array(lmp.gather_atoms("x", 1, 3)).reshape(len(uc), 3)
        lo, hi = lmp.extract_box()[:2]
        a = hi[0] - lo[0]
    frac = x / a
    d = frac - uc.get_scaled_positions()
    d -= np.round(d)
    moved = np.linalg.norm(d * a, axis=1)
    relaxed = uc.copy()
    relaxed.set_cell(np.eye(3) * a, scale_atoms=False)
    relaxed.set_scaled_positions(frac % 1.0)
    sg = spglib.get_spacegroup((relaxed.cell[:], relaxed.get_scaled_positions(),
                                relaxed.numbers), symprec=1e-3)
    fc2 = finite_displacement_fc2(relaxed, (2, 2, 2), pot)
    ph = compute_phonons(relaxed, (2, 2, 2), fc2, mesh=8)
    ph.to_json(out / "phonons.json")
    info = {"max_force_at_file_structure_eV_A": f0, "a_relaxed_A": a,
            "a_file_A": float(uc.cell[0, 0]), "max_move_A": float(moved.max()),
            "space_group": sg, "summary": ph.summary(),
            "n_imaginary_modes": len(ph.imaginary_modes), "min_freq_THz": ph.min_freq_THz}
    (out / "relax.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
