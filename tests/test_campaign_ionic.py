"""Ionic transport in campaigns: an ``[ionic]`` table makes the EMD task at each of its
temperatures compute the ionic conductivity (charge MSD), the Haven ratio, the Cu site jumps
and the Cu density map; the report gathers σ_ion(T) and its Arrhenius law.

A tiny Cu7PS6 campaign (56-atom F-43m cell, shipped MTP, 700 and 800 K, 20 ps) runs for real;
its numbers must be those of :func:`mdargy.analysis.ionic.ionic_transport` on the same
trajectory (the campaign calls the analysis, it computes nothing of its own).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mdargy.campaign.tasks import build_tasks
from mdargy.errors import InputError

from _campaigns import campaign_cli

ROOT = Path(__file__).resolve().parents[1]

IONIC = textwrap.dedent(
    f"""
    [campaign]
    name = "ionic-cu7ps6"
    seed = 21

    [structure]
    file = "{ROOT / 'inputs/structures/Cu7PS6_F-43m_seed1.cif'}"

    [potential]
    kind = "mtp"
    files = ["{ROOT / 'inputs/potentials/Cu7PS6.mtp'}"]
    elements = ["Cu", "P", "S"]

    [md]
    timestep_fs = 1.0
    thermo_every_fs = 500.0

    [emd]
    replicate = [1, 1, 1]
    equilibration_ps = 1.0
    production_ps = 20.0
    production_ensemble = "nvt"
    dump_every_fs = 20.0

    [ionic]
    temperatures_K = [700.0, 800.0]
    charges_e = {{ Cu = 1, P = 5, S = -2 }}
    density_grid = 24
    """
)


def test_ionic_tasks(campaign_spec):
    spec = campaign_spec(IONIC)
    tasks = build_tasks(spec)
    assert sorted(t.id for t in tasks) == ["emd_T700K", "emd_T800K"]
    assert all(t.params == {"msd": False, "dos": False, "ionic": True} for t in tasks)
    assert spec.ionic.charges_e == {"Cu": 1, "P": 5, "S": -2}


@pytest.mark.parametrize("change, message", [
    (("charges_e = { Cu = 1, P = 5, S = -2 }", 'charges_e = { Cu = "one" }'),
     "charges_e must be a table of numbers"),
    (("density_grid = 24", "density_grid = 4"), "must lie in"),
    (("density_grid = 24", 'site_reference = "nacl"'), "must be 'cu7ps6'"),
    (("[emd]", "[emd_]"), "did you mean"),
])
def test_ionic_schema_refusals(change, message, campaign_spec):
    with pytest.raises(InputError, match=message) as exc:
        campaign_spec(IONIC.replace(*change))
    assert "c.toml" in str(exc.value)


def summ_D(tdir):
    return json.loads((tdir / "ionic.json").read_text())["D_cm2_s"]


def test_ionic_campaign_end_to_end(tmp_path):
    from mdargy.analysis.ionic import ionic_transport
    from mdargy.io.trajectory import load_trajectory
    from mdargy.structures.ionic_reference import site_reference

    campaign = tmp_path / "ionic.toml"
    campaign.write_text(IONIC)
    out = tmp_path / "out"
    campaign_cli("run", campaign, out)
    tdir = out / "tasks" / "emd_T700K"
    o = json.loads((tdir / "task.json").read_text())["outputs"]
    assert o["ionic"] == "ionic.json" and (tdir / "density.cube").stat().st_size > 10000
    # the campaign's numbers are the analysis of the task's own trajectory
    traj = load_trajectory(tdir / "run" / "traj.nc", velocities=False)
    T = json.loads((tdir / "run" / "result.json").read_text())["T_mean_K"]
    ref, ops, paths = site_reference("cu7ps6")
    again = ionic_transport(traj.positions, traj.elements, traj.boxes_A, traj.dt_ps, T,
                            species="Cu", masses=traj.masses_amu, reference=ref,
                            symmetry_ops=ops, paths=paths, density=False)
    c = again.conductivity
    # 56 atoms for 20 ps: the charge MSD (one collective coordinate) is usually too noisy to
    # be significant, and is then reported as bounded (no sigma_ion): either way the campaign
    # must say what the analysis says
    cr = json.loads((tdir / "conductivity.json").read_text())
    assert cr["sigma_status"] == c.sigma_status
    if c.sigma_status == "diffusive":
        assert o["sigma_ion_S_cm"] == pytest.approx(c.sigma_S_cm, rel=1e-9)
    else:
        assert o["sigma_ion_S_cm"] is None or o["sigma_ion_S_cm"] != o["sigma_ion_S_cm"]
    # the tracer D of Cu does not depend on that: Cu diffuses in F-43m at 700 K
    assert summ_D(tdir) == pytest.approx(again.diffusion["Cu"].D_cm2_s, rel=1e-9)
    summ = json.loads((tdir / "ionic.json").read_text())
    assert summ["sites"]["n_jumps"] == again.sites.n_jumps
    assert summ["conductivity"]["sigma_status"] == c.sigma_status

    rep = campaign_cli("report", campaign, out)
    assert "sigma_ion(700 K)" in rep.stdout and "sigma_ion(800 K)" in rep.stdout
    rdir = out / "report"
    rows = json.loads((rdir / "report.json").read_text())["ionic"]
    assert [r["T_K"] for r in rows] == [700.0, 800.0]
    assert rows[0]["n_jumps"] == again.sites.n_jumps
    assert (rdir / "ionic.csv").read_text().startswith("T_K,T_mean_K,sigma_S_cm")
    assert (rdir / "figures" / "charge_msd_T700K.png").stat().st_size > 5000
    assert "Ionic transport" in (rdir / "summary.md").read_text()
