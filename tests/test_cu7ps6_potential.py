"""The shipped Cu7PS6 MTP (inputs/potentials/Cu7PS6.mtp): it loads, it reproduces the errors
its README and record claim on the shipped held-out data, and it runs stable MD in LAMMPS.

The labels are SevenNet-0's (a universal ML potential), not DFT: these tests check the potential
against its labeler and against physical sanity, not against experiment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mdargy.constants import EV_A3_TO_GPA

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "inputs" / "potentials" / "Cu7PS6.mtp"
RECORD = ROOT / "inputs" / "potentials" / "Cu7PS6.json"
DATA = ROOT / "inputs" / "potentials" / "training" / "cu7ps6_sevennet.extxyz.gz"
P213 = ROOT / "inputs" / "structures" / "Cu7PS6_P213_derived.cif"
SPECIES = ("Cu", "P", "S")


def test_shipped_potential_loads_with_its_species_and_settings():
    from mdargy.potentials.mtp.mtpfile import read_mtp
    from mdargy.potentials.spec import mtp_file_species

    pot = read_mtp(POT, require_trained=True)
    assert mtp_file_species(POT) == SPECIES
    assert pot.species_count == 3 and pot.min_dist == 1.6 and pot.max_dist == 5.0
    record = json.loads(RECORD.read_text())
    import hashlib

    assert record["sha256"] == hashlib.sha256(POT.read_bytes()).hexdigest()  # record is current
    assert record["labeler"]["is_dft"] is False
    n_par = np.size(pot.radial_coeffs) + len(pot.moment_coeffs) + len(pot.species_coeffs)
    assert n_par == record["mtp"]["n_parameters"]


def _lammps_errors(frames):
    """E, F, stress errors of the shipped MTP in LAMMPS (any cell shape)."""
    from mdargy.potentials.mtp.evaluate import evaluate_atoms

    de, df, ds = [], [], []
    for at in frames:
        r = evaluate_atoms(POT, at, SPECIES)
        de.append((r.energy_eV - at.get_potential_energy()) / len(at))
        df.append((r.forces_eV_A - at.get_forces()).ravel())
        ds.append((r.stress_eV_A3 - at.get_stress(voigt=False))[np.triu_indices(3)])
    to_gpa = EV_A3_TO_GPA
    return {"energy_rmse_meV_atom": 1e3 * float(np.sqrt(np.mean(np.square(de)))),
            "force_rmse_eV_A": float(np.sqrt(np.mean(np.concatenate(df) ** 2))),
            "stress_rmse_GPa_upper": to_gpa * float(np.sqrt(np.mean(np.concatenate(ds) ** 2)))}


@pytest.mark.parametrize("split", ["holdout_md", "holdout_al"])
def test_shipped_potential_reproduces_its_held_out_errors(split):
    from ase.io import read

    frames = [a for a in read(DATA, ":") if a.info["split"] == split]
    claimed = json.loads(RECORD.read_text())["errors"][split]
    assert len(frames) == claimed["n_configurations"] > 10
    err = _lammps_errors(frames)
    assert err["energy_rmse_meV_atom"] == pytest.approx(claimed["energy_rmse_meV_atom"], rel=1e-6)
    assert err["force_rmse_eV_A"] == pytest.approx(claimed["force_rmse_eV_A"], rel=1e-6)
    # the potential's accuracy targets on held-out data: <= 3 meV/atom (MD snapshots), <= 0.10 eV/Å
    assert err["force_rmse_eV_A"] <= 0.10
    if split == "holdout_md":
        assert err["energy_rmse_meV_atom"] <= 3.0
    assert err["stress_rmse_GPa_upper"] < 0.5


def test_shipped_potential_runs_stable_md_through_the_emd_driver(tmp_path):
    """56-atom ordered cell, 550 K (above T_c, the hardest case for a fragile potential),
    3 ps NVT then 2 ps NVE with mdargy's EMD driver: no blow-up, sane bonds, energy conserved."""
    from ase.io import read
    from ase.neighborlist import neighbor_list

    from mdargy.drivers import run_emd
    from mdargy.drivers.config import EMDConfig
    from mdargy.potentials.spec import PotentialSpec

    cfg = EMDConfig(structure=str(P213), output_dir=str(tmp_path / "md"), replicate=(1, 1, 1),
                    potential=PotentialSpec(kind="mtp", files=(str(POT),), elements=SPECIES),
                    temperature_K=550.0, timestep_fs=1.0, seed=11, equilibration_ps=3.0,
                    production_ensemble="nve", production_ps=2.0, dump_every_fs=100.0,
                    thermo_every_fs=100.0, checkpoint_every_ps=1.0, text_dump=False)
    res = run_emd(cfg, progress=False)
    assert 450.0 < res.T_mean_K < 650.0
    assert abs(res.etotal_drift_eV_atom_ps) < 1e-4  # eV/atom/ps
    final = read(tmp_path / "md" / "final.extxyz")
    i, j, d = neighbor_list("ijd", final, 3.0)
    sym = np.array(final.get_chemical_symbols())
    cus = d[(sym[i] == "Cu") & (sym[j] == "S")]
    ps = d[(sym[i] == "P") & (sym[j] == "S")]
    assert cus.min() > 1.9 and 1.85 < ps.min() < 2.2
    # every P keeps its four S (the PS4 tetrahedra survive)
    n_s = [np.sum((i == k) & (sym[j] == "S") & (d < 2.4)) for k in np.flatnonzero(sym == "P")]
    assert n_s == [4] * 4


def test_structure_with_an_element_the_potential_lacks_is_rejected(tmp_path):
    from ase.io import read, write

    from mdargy.drivers import run_emd
    from mdargy.drivers.config import EMDConfig
    from mdargy.errors import InputError
    from mdargy.potentials.spec import PotentialSpec

    at = read(P213)
    sym = at.get_chemical_symbols()
    sym[-1] = "Se"
    at.set_chemical_symbols(sym)
    bad = tmp_path / "Cu7PS5Se.cif"
    write(bad, at)
    cfg = EMDConfig(structure=str(bad), output_dir=str(tmp_path / "md"), replicate=(1, 1, 1),
                    potential=PotentialSpec(kind="mtp", files=(str(POT),), elements=SPECIES),
                    temperature_K=300.0, timestep_fs=1.0, seed=1, equilibration_ps=0.1,
                    production_ps=0.1, dump_every_fs=10.0, thermo_every_fs=10.0,
                    checkpoint_every_ps=0.1)
    with pytest.raises(InputError, match="Se") as err:
        run_emd(cfg, progress=False)
    assert "Cu7PS5Se.cif" in str(err.value)
    assert not (tmp_path / "md" / "thermo.csv").exists()
