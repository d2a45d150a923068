"""``mdargy gk`` end to end on real small LAMMPS runs (LJ argon, and a two-species LJ mixture)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from _runs import EXAMPLES
from _runs import PYTHON as PY
from mdargy.drivers.config import EMDConfig
from mdargy.potentials.spec import PotentialSpec, lj_argon


def gk(*args):
    return subprocess.run([PY, "-m", "mdargy", "gk", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def _config(out, **kw):
    base = dict(structure=str(EXAMPLES / "Ar_fcc.cif"), potential=lj_argon(), output_dir=str(out),
                replicate=(3, 3, 3), temperature_K=50.0, timestep_fs=5.0, seed=99,
                equilibration_ps=2.5, production_ensemble="nve", production_ps=12.0,
                dump_every_fs=12000.0, text_dump=False, thermo_every_fs=500.0,
                checkpoint_every_ps=12.0, heat_every_fs=25.0)
    base.update(kw)
    return EMDConfig(**base)


@pytest.fixture(scope="module")
def argon_run(tmp_path_factory):
    from mdargy.drivers import run_emd

    out = tmp_path_factory.mktemp("gkcli") / "ar"
    run_emd(_config(out), progress=False)  # 12 ps NVE, J every 25 fs (Nyquist 20 THz)
    return out


def test_gk_end_to_end_single_species(argon_run):
    r = gk(argon_run, "--fstar-THz", "20")
    assert r.returncode == 0, r.stderr
    d = json.loads((argon_run / "gk.json").read_text())
    assert d["result_type"] == "GreenKuboResult" and d["method"] == "one-component"
    assert d["species"] == ["Ar"] and d["n_currents"] == 1
    # LJ argon at 50 K: κ of order 0.5 W/m/K (McGaughey & Kaviany, Int. J. Heat Mass Transfer
    # 47, 1783 (2004)); 12 ps of a 108-atom cell gives a wide error bar
    assert 0.05 < d["kappa_W_mK"] < 3.0 and 0 < d["kappa_err_W_mK"] < d["kappa_W_mK"]
    from mdargy.io.heatflux import mean_temperature

    # the mean production T of thermo.csv (a short NVT start: NVE settles near 60 K)
    assert d["temperature_K"] == pytest.approx(mean_temperature(argon_run / "thermo.csv"))
    assert 30 < d["temperature_K"] < 80
    assert "kappa_GK = " in r.stdout and "W/m/K" in r.stdout
    assert "running_kappa_W_mK" not in d  # the running integral is in the CSV
    csv = np.genfromtxt(argon_run / "gk_running.csv", delimiter=",", names=True)
    assert csv.dtype.names == ("lag_ps", "kappa_running_W_mK", "kappa_running_one_component_W_mK")
    assert csv["lag_ps"][0] == 0 and csv["lag_ps"][-1] == pytest.approx(1.2, abs=0.03)
    assert (argon_run / "gk.png").stat().st_size > 10_000
    assert "reading" in r.stderr  # progress
    # nothing is silently overwritten
    before = (argon_run / "gk.json").read_bytes()
    r2 = gk(argon_run, "--fstar-THz", "20")
    assert "already exists" in r2.stderr and "--force" in r2.stderr
    assert (argon_run / "gk.json").read_bytes() == before
    r3 = gk(argon_run, "--fstar-THz", "20", "--force", "-q", "--max-lag-ps", "2")
    assert r3.returncode == 0 and r3.stderr == ""


def test_gk_errors_are_one_line(argon_run, tmp_path):
    r = gk(tmp_path / "nothing")
    assert r.returncode == 2 and "heat_every" in r.stderr and "Traceback" not in r.stderr
    r = gk(argon_run / "heatflux.dat", "-o", tmp_path / "o", "--fstar-THz", "1")
    assert r.returncode == 2 and "heatflux.dat: the heat-current series is too short" in r.stderr
    assert ">= 200 ps at this f*" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run([PY, "-m", "mdargy", "gk", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--fstar-THz" in r.stdout and "W/m/K" in r.stdout


def test_gk_two_species_is_multicomponent_by_default(tmp_path):
    """An Ar/Kr LJ mixture: multicomponent by default; --one-component gives a flagged result."""
    import ase.io

    from mdargy.drivers import run_emd
    from mdargy.structures.load import read_structure, replicate

    atoms = replicate(read_structure(str(EXAMPLES / "Ar_fcc.cif")), (3, 3, 3))
    sym = atoms.get_chemical_symbols()
    for i in range(0, len(sym), 3):
        sym[i] = "Kr"
    atoms.set_chemical_symbols(sym)
    ase.io.write(tmp_path / "ArKr.extxyz", atoms)
    pot = PotentialSpec(kind="lj", lj={"Ar": {"epsilon_eV": 0.0104, "sigma_A": 3.40},
                                       "Kr": {"epsilon_eV": 0.0140, "sigma_A": 3.60}},
                        cutoff_A=8.5)
    out = tmp_path / "mix"
    run_emd(_config(out, structure=str(tmp_path / "ArKr.extxyz"), potential=pot), progress=False)
    r = gk(out, "--fstar-THz", "20")
    assert r.returncode == 0, r.stderr
    d = json.loads((out / "gk.json").read_text())
    assert d["method"] == "multicomponent" and d["n_currents"] == 2
    assert sorted(d["species"]) == ["Ar", "Kr"]
    assert np.isfinite(d["kappa_one_component_W_mK"]) and d["kappa_err_W_mK"] > 0
    r = gk(out, "--fstar-THz", "20", "--one-component", "-o", tmp_path / "one")
    d1 = json.loads((tmp_path / "one" / "gk.json").read_text())
    assert d1["method"] == "one-component"
    assert any(f.startswith("ONE-COMPONENT") for f in d1["flags"])
    assert "warning: ONE-COMPONENT" in r.stdout
