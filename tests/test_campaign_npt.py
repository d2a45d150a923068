"""NEMD bars at each temperature's own equilibrium volume.

A bar built at the structure's 0 K lattice sits under pressure at finite temperature (1.2 GPa
for Cu7PS6 at 300 K). ``[nemd] npt_ps`` runs NPT at each temperature first and scales the unit
cell to its mean volume: the NEMD run's mean pressure must then be near zero, where the unscaled
bar's is not, and what was used is recorded with the task.
"""

from __future__ import annotations

import csv
import json
import statistics
import textwrap

import pytest

from mdargy.analysis.stats import block_average
from mdargy.campaign.schema import parse_campaign
from mdargy.errors import InputError
from mdargy.io.thermo import read_thermo_csv

from _campaigns import campaign_cli, lj_argon_header

NPT_LJ = lj_argon_header("npt-lj", 3, cutoff_A=8.5, thermo_every_fs=500.0) + textwrap.dedent(
    """

    [nemd]
    temperatures_K = [60.0]
    lengths_cells = [8]
    cross_section_cells = [3, 3]
    delta_T_K = 10.0
    equilibration_ps = 2.0
    production_ps = 10.0
    block_ps = 1.0
    npt_ps = NPT

    [lammps]
    extra_commands = "pair_modify shift yes"
"""
)


def _run(tmp_path, npt_ps):
    campaign = tmp_path / f"c{npt_ps:g}.toml"
    campaign.write_text(NPT_LJ.replace("NPT", str(npt_ps)))
    out = tmp_path / f"out{npt_ps:g}"
    campaign_cli("run", campaign, out)
    tdir = out / "tasks" / "nemd_T60K_L8"
    with open(tdir / "run" / "thermo.csv", newline="") as fh:
        press = [float(row["press_bar"]) for row in csv.DictReader(fh)]
    return tdir, statistics.mean(press)


def test_bars_at_the_npt_volume(tmp_path):
    tdir, p_npt = _run(tmp_path, 20.0)
    info = json.loads((tdir / "npt_lattice.json").read_text())
    out = json.loads((tdir / "task.json").read_text())["outputs"]
    assert out["npt_lattice"]["lattice_scale"] == pytest.approx(info["lattice_scale"])
    # LJ argon expands on heating: a = 5.30 Å (near the 0 K lattice) grows by 1-4 % at 60 K
    assert 1.01 < info["lattice_scale"] < 1.04
    assert abs(info["npt_pressure_bar"]) < 3 * info["npt_pressure_err_bar"] + 50
    # errors from blocks of the second half of the NPT run (rows are correlated), and the
    # lattice constant's from the volume's: sigma_a / a = sigma_V / (3 V)
    th = read_thermo_csv(tdir / "npt" / "thermo.csv", stage="equilibration")
    vol = th["vol_A3"][len(th["vol_A3"]) // 2:]
    v_mean, v_err = block_average(vol, info["n_error_blocks"])
    assert info["volume_per_cell_err_A3"] == pytest.approx(v_err / 8, rel=1e-9)  # 2x2x2 cells
    assert info["volume_per_cell_A3"] == pytest.approx(vol.mean() / 8, rel=1e-9)
    a, a_err = info["cell_lengths_A"][0], info["cell_lengths_err_A"][0]
    assert a_err == pytest.approx(a * v_err / (3 * vol.mean()), rel=1e-9)
    assert 0 < a_err < 0.01 * a
    campaign_cli("report", tmp_path / "c20.toml", tdir.parent.parent)
    with open(tdir.parent.parent / "report" / "kappa_L.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert float(row["npt_a_A"]) == pytest.approx(a, rel=1e-9)
    assert float(row["npt_a_err_A"]) == pytest.approx(a_err, rel=1e-6)
    # a record made before the errors came from blocks: the report computes it from the NPT rows
    rec = json.loads((tdir / "task.json").read_text())
    del rec["outputs"]["npt_lattice"]["cell_lengths_err_A"]
    (tdir / "task.json").write_text(json.dumps(rec))
    campaign_cli("report", tmp_path / "c20.toml", tdir.parent.parent)
    with open(tdir.parent.parent / "report" / "kappa_L.csv", newline="") as fh:
        assert float(next(csv.DictReader(fh))["npt_a_err_A"]) == pytest.approx(a_err, rel=1e-6)
    # the bar was built from the scaled cell
    data = (tdir / "run" / "structure.data").read_text()
    xlo, xhi = next(ln.split()[:2] for ln in data.splitlines() if ln.endswith("xlo xhi"))
    assert float(xhi) - float(xlo) == pytest.approx(8 * 5.30 * info["lattice_scale"], rel=1e-6)
    _, p_0K = _run(tmp_path, 0.0)
    assert p_0K > 800.0  # the 0 K lattice at 60 K: about +1.4 kbar
    assert abs(p_npt) < 200.0


def test_npt_too_short_is_refused(tmp_path):
    with pytest.raises(InputError, match="npt_ps = 0.2 is shorter than 100 time steps"):
        parse_campaign(NPT_LJ.replace("NPT", "0.2"), tmp_path / "c.toml")
