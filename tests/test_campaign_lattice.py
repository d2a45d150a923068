"""Lattice dynamics in campaigns: a ``[lattice]`` table makes the EMD task at each of its
temperatures fit force constants to snapshots of its trajectory, compute phonons and Wigner
κ_p + κ_c, and the report shows them beside the other κ methods.

A tiny LJ argon campaign (fcc, 20 K, 108 atoms) runs for real; its numbers must be those of
:func:`mdargy.lattice.pipeline.lattice_from_run` on the same run (the campaign calls the
pipeline, it does not compute anything of its own), and the schema's refusals are checked
without running anything.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from mdargy.campaign.tasks import build_tasks
from mdargy.errors import InputError
from mdargy.lattice.wigner import WignerResult

from _campaigns import campaign_cli, lj_argon_header

LAT_LJ = lj_argon_header("lattice-lj", 9, cutoff_A=7.0, thermo_every_fs=500.0) + textwrap.dedent(
    """

    [emd]
    replicate = [3, 3, 3]
    equilibration_ps = 5.0
    production_ps = 10.0
    production_ensemble = "nvt"
    dump_every_fs = 250.0

    [lattice]
    temperatures_K = [20.0]
    n_snapshots = 10
    cutoffs_A = [7.0, 4.0]
    mesh = [6, 6, 6]
    coarse_mesh = [4, 4, 4]
"""
)


def test_lattice_tasks(campaign_spec):
    spec = campaign_spec(LAT_LJ)
    (task,) = build_tasks(spec)
    assert task.id == "emd_T20K" and task.params == {"msd": False, "dos": False, "lattice": True}
    assert spec.lattice.mesh == (6, 6, 6) and spec.lattice.cutoffs_A == (7.0, 4.0)


@pytest.mark.parametrize("change, message", [
    (("[emd]\n", "[emdx]\n"), "did you mean"),
    (("n_snapshots = 10", "n_snapshots = 100"), "more than the 40 frames"),
    (("cutoffs_A = [7.0, 4.0]", "cutoffs_A = [7.0]"), "fewer cutoffs than orders"),
    (("mesh = [6, 6, 6]", "mesh = [6, 6]"), "3 entries"),
    (("temperatures_K = [20.0]", "temperatures_K = []"), "must not be empty"),
])
def test_lattice_schema_refusals(change, message, campaign_spec):
    with pytest.raises(InputError, match=message) as exc:
        campaign_spec(LAT_LJ.replace(*change))
    assert "c.toml" in str(exc.value)


def test_lattice_needs_emd(campaign_spec):
    text = LAT_LJ.split("[emd]")[0] + "[nemd]\ntemperatures_K = [20.0]\nlengths_cells = [8]\n" \
        "cross_section_cells = [2, 2]\nequilibration_ps = 1.0\nproduction_ps = 10.0\n" \
        "block_ps = 0.5\n\n[lattice]" + LAT_LJ.split("[lattice]")[1]
    with pytest.raises(InputError, match=r"\[lattice\] needs an \[emd\] table"):
        campaign_spec(text)


def test_lattice_campaign_end_to_end(tmp_path):
    from mdargy.lattice.pipeline import lattice_from_run

    campaign = tmp_path / "lat.toml"
    campaign.write_text(LAT_LJ)
    out = tmp_path / "out"
    campaign_cli("run", campaign, out)
    tdir = out / "tasks" / "emd_T20K"
    o = json.loads((tdir / "task.json").read_text())["outputs"]
    assert o["lattice"] == "lattice.json"
    # LJ argon at 20 K: a simple crystal, so kappa_c is a small share of kappa_p (< 5 % at the
    # 8x8x8 mesh of tests/test_lattice.py; this 6x6x6 mesh gives ~5 %, so only < 10 % here)
    assert o["kappa_p_W_mK"] > 0 and 0 <= o["kappa_c_W_mK"] < 0.10 * o["kappa_p_W_mK"]
    assert o["kappa_wigner_W_mK"] == pytest.approx(o["kappa_p_W_mK"] + o["kappa_c_W_mK"])
    for name in ("fc2.hdf5", "fc3.hdf5", "phonons.json", "wigner.json"):
        assert (tdir / "lattice" / name).is_file(), name
    w = WignerResult.from_json(tdir / "lattice" / "wigner.json")
    assert tuple(w.mesh) == (6, 6, 6) and tuple(w.coarse_mesh) == (4, 4, 4)
    # the pipeline on the same run, in a fresh folder, gives the same numbers (same snapshots)
    again = lattice_from_run(tdir / "run", tmp_path / "again", n_snapshots=10,
                             cutoffs_A={2: 7.0, 3: 4.0}, mesh=(6, 6, 6), coarse_mesh=(4, 4, 4))
    assert again.kappa_p_W_mK == pytest.approx(o["kappa_p_W_mK"], rel=1e-6)

    rep = campaign_cli("report", campaign, out)
    assert "kappa_Wigner(20 K) = kappa_p" in rep.stdout
    rdir = out / "report"
    (row,) = json.loads((rdir / "report.json").read_text())["kappa_wigner"]
    assert row["kappa_p_W_mK"] == pytest.approx(o["kappa_p_W_mK"])
    for fig in ("dispersion_T20K.png", "phonon_dos_T20K.png", "spectral_kappa_T20K.png",
                "kappa_methods_vs_T.png"):
        assert (rdir / "figures" / fig).stat().st_size > 5000, fig
    assert "Wigner κ = κ_p + κ_c" in (rdir / "summary.md").read_text()


def test_lattice_refused_on_a_diffusing_run_keeps_the_task(tmp_path):
    """A liquid: the diffusion check refuses the force constants, the MSD analysis stands."""
    text = (LAT_LJ.replace("a_A = 5.30", "a_A = 5.80")
            .replace("temperatures_K = [20.0]", "temperatures_K = [120.0]")
            .replace('production_ensemble = "nvt"',
                     'production_ensemble = "nvt"\nmsd_temperatures_K = [120.0]'))
    campaign = tmp_path / "liquid.toml"
    campaign.write_text(text)
    out = tmp_path / "out"
    campaign_cli("run", campaign, out)
    o = json.loads((out / "tasks" / "emd_T120K" / "task.json").read_text())["outputs"]
    assert o["lattice"] is None and "diffus" in o["lattice_refused"]
    assert o["diffusion"] == "diffusion.json" and o["D_cm2_s"]["Ar"][0] > 0
    campaign_cli("report", campaign, out)
    warnings = json.loads((out / "report" / "report.json").read_text())["warnings"]
    assert any(w.startswith("no Wigner kappa at 120 K") for w in warnings)
