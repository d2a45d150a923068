"""Green–Kubo κ in campaigns: ``[emd] gk_temperatures_K`` records the heat current in the EMD
run, the task computes κ_GK ± σ, and the report puts κ_GK(T) beside NEMD κ∞(T) with a
measured band.

A tiny LJ argon campaign (fcc, 40 K) runs for real; the GK κ of its 108-atom cell is checked
against the same heat current analysed directly (the campaign must call the analysis the way
`mdargy gk` does), and the schema's refusals are checked without running anything.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from mdargy.analysis.greenkubo import green_kubo
from mdargy.campaign.tasks import build_tasks
from mdargy.errors import InputError
from mdargy.io.heatflux import read_heatflux

from _campaigns import campaign_cli, lj_argon_header

GK_LJ = lj_argon_header("gk-lj", 5, cutoff_A=8.5, thermo_every_fs=1000.0) + textwrap.dedent(
    """

    [emd]
    msd_temperatures_K = [40.0]
    gk_temperatures_K = [40.0]
    replicate = [3, 3, 3]
    equilibration_ps = 10.0
    production_ps = PROD
    production_ensemble = "nve"
    dump_every_fs = 500.0
    heat_every_fs = 10.0

    [report]
    kappa_band_W_mK = [0.3, 0.5]
    kappa_band_T_K = [30.0, 60.0]
    kappa_band_label = "a band"

    [lammps]
    extra_commands = "pair_modify shift yes"
"""
)


def test_gk_tasks_and_fingerprints(campaign_spec):
    spec = campaign_spec(GK_LJ.replace("PROD", "100.0"))
    (task,) = build_tasks(spec)
    assert task.params == {"msd": True, "dos": False, "gk": True, "heat_every_fs": 10.0}
    # a campaign without Green-Kubo keeps the task fingerprints it had before the feature
    plain = campaign_spec(
        GK_LJ.replace("PROD", "100.0").replace("gk_temperatures_K = [40.0]\n", ""))
    (t2,) = build_tasks(plain)
    assert t2.params == {"msd": True, "dos": False}
    assert t2.fingerprint != task.fingerprint
    assert spec.report["kappa_band_W_mK"] == [0.3, 0.5]


@pytest.mark.parametrize("change, message", [
    (('production_ensemble = "nve"', 'production_ensemble = "nvt"'), "needs production_ensemble"),
    (("heat_every_fs = 10.0", "heat_every_fs = 7.5"), "whole number of time steps"),
    (("heat_every_fs = 10.0", "heat_every_fs = 15.0"), "whole multiple of heat_every_fs"),
    (("heat_every_fs = 10.0", "heat_every_fs = 10.0\ngk_fstar_THz = 60.0"), "Nyquist"),
    (("kappa_band_T_K = [30.0, 60.0]\n", ""), "go together"),
    (("kappa_band_W_mK = [0.3, 0.5]", "kappa_band_W_mK = [0.5, 0.3]"), "low <= high"),
    (("kappa_band_label", "kappa_band_lable"), "did you mean 'kappa_band_label'"),
])
def test_gk_schema_refusals(change, message, campaign_spec):
    text = GK_LJ.replace("PROD", "100.0").replace(*change)
    with pytest.raises(InputError, match=message) as exc:
        campaign_spec(text)
    assert "c.toml" in str(exc.value)


def test_gk_campaign_end_to_end(tmp_path):
    campaign = tmp_path / "gk.toml"
    campaign.write_text(GK_LJ.replace("PROD", "250.0"))
    out = tmp_path / "out"
    campaign_cli("run", campaign, out)
    rec = json.loads((out / "tasks" / "emd_T40K" / "task.json").read_text())
    o = rec["outputs"]
    assert o["gk"] == "gk.json" and o["gk_method"] == "one-component"  # one species
    # the campaign's number is the analysis of the run's own heat current
    s = read_heatflux(out / "tasks" / "emd_T40K" / "run" / "heatflux.dat")
    assert s.dt_ps == pytest.approx(0.010) and s.n_samples == 25001
    ref = green_kubo(s.J_eVA_ps, s.dt_ps, s.volume_A3, s.temperature_K,
                     species_flux=s.vsum_A_ps, species=s.species, ensemble=s.ensemble)
    assert o["kappa_GK_W_mK"] == pytest.approx(ref.kappa_W_mK, rel=1e-12)
    assert o["kappa_GK_err_W_mK"] == pytest.approx(ref.kappa_err_W_mK, rel=1e-12)
    assert 0 < o["kappa_GK_err_W_mK"] < o["kappa_GK_W_mK"]
    # LJ argon near 40 K conducts ~0.3-1 W/m/K in the solid; a 108-atom cell is small and the
    # run short, so only the order of magnitude is checked here (scripts/gk/ holds the
    # converged comparison with NEMD)
    assert 0.05 < o["kappa_GK_W_mK"] < 5.0

    rep = campaign_cli("report", campaign, out)
    assert "kappa_GK(40 K) =" in rep.stdout
    rdir = out / "report"
    rj = json.loads((rdir / "report.json").read_text())
    (row,) = rj["kappa_gk"]
    assert row["kappa_W_mK"] == pytest.approx(o["kappa_GK_W_mK"])
    assert (rdir / "kappa_gk.csv").read_text().startswith("T_K,kappa_W_mK,kappa_err_W_mK")
    assert (rdir / "figures" / "gk_T40K.png").stat().st_size > 5000
    assert (rdir / "figures" / "kappa_methods_vs_T.png").stat().st_size > 5000
    summary = (rdir / "summary.md").read_text()
    assert "Green–Kubo" in summary and "kappa_methods_vs_T.png" in summary
