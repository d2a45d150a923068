"""Runs that never lie: what reaches shell scripts, LAMMPS and the type checks (no MD here
except one tiny run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mdargy.errors import InputError, MissingCapabilityError

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "inputs" / "campaigns" / "demo_lj_argon.toml"
CIF = ROOT / "inputs" / "examples" / "Ar_fcc.cif"
PY = [sys.executable, "-m", "mdargy"]


# -- Slurm script injection -------------------------------------------------------------------
@pytest.mark.parametrize("field", ["partition", "account"])
@pytest.mark.parametrize("value", ["gpu\nrm -rf ~", "gpu; rm -rf ~", "gpu $(id)", "a b", "`id`"])
def test_slurm_options_with_shell_syntax_are_refused(field, value):
    from mdargy.campaign.slurm import slurm_script

    with pytest.raises(InputError, match=field):
        slurm_script(DEMO, 1, 4, "1:00:00", **{field: value})


def test_slurm_campaign_file_name_with_a_newline_is_refused(tmp_path):
    from mdargy.campaign.slurm import slurm_script

    evil = tmp_path / "x\ntouch pwned\n.toml"
    evil.write_text(DEMO.read_text())
    with pytest.raises(InputError, match="campaign file"):
        slurm_script(evil, 1, 4, "1:00:00")
    with pytest.raises(InputError):
        slurm_script(DEMO, 1, 4, "1:00:00\ntouch pwned")


def test_slurm_paths_with_spaces_are_quoted(tmp_path):
    from mdargy.campaign.slurm import slurm_script

    f = tmp_path / "my campaign $HOME.toml"
    f.write_text(DEMO.read_text())
    text = slurm_script(f, 1, 4, "1:00:00", partition="short", account="proj-01",
                        output=str(tmp_path / "out dir"))
    assert "#SBATCH --partition=short" in text and "#SBATCH --account=proj-01" in text
    for line in text.splitlines():
        if "campaign run" in line:
            assert f"'{f}'" in line and f"'{tmp_path / 'out dir'}'" in line
    # the script parses as bash and runs no command from a name
    r = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
    assert r.returncode == 0, r.stderr


def test_cli_slurm_refusal_exits_non_zero():
    r = subprocess.run(PY + ["campaign", "slurm", str(DEMO), "--partition", "a\nid"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "partition" in r.stderr and "#SBATCH" not in r.stdout


# -- types named with key, expected type, file ----------------------------------------------
def _emd_toml(tmp_path, extra="", pot_extra="", T="50.0"):
    f = tmp_path / "run.toml"
    f.write_text(f'''structure = "{CIF}"
output_dir = "{tmp_path / 'out'}"
temperature_K = {T}
{extra}
[potential]
kind = "lj"
cutoff_A = 8.5
{pot_extra}
lj = {{ Ar = {{ epsilon_eV = 0.0104, sigma_A = 3.40 }} }}
''')
    return f


@pytest.mark.parametrize("kw, key, want", [
    (dict(T='"300"'), "temperature_K", "a number"),
    (dict(extra='equilibration_ps = "100"'), "equilibration_ps", "a number"),
    (dict(extra='seed = 1.5'), "seed", "an integer"),
    (dict(extra='text_dump = "no"'), "text_dump", "true or false"),
    (dict(pot_extra='masses_amu = { Ar = "heavy" }'), "potential.masses_amu.Ar", "a number"),
])
def test_string_where_number_names_key_type_and_file(tmp_path, capsys, kw, key, want):
    from mdargy.cli import main

    f = _emd_toml(tmp_path, **kw)
    assert main(["emd", str(f), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert str(f) in err and key in err and want in err and "not supported" not in err


def test_campaign_potential_types_are_named(tmp_path):
    from mdargy.campaign.schema import load_campaign

    f = tmp_path / "c.toml"
    f.write_text(DEMO.read_text().replace("epsilon_eV = 0.0104", 'epsilon_eV = "0.0104"'))
    with pytest.raises(InputError, match="epsilon_eV must be a number, got '0.0104' \\(str\\)"):
        load_campaign(f)


# -- styles against the installed LAMMPS ----------------------------------------------------
def test_campaign_check_refuses_a_pair_style_this_lammps_lacks(tmp_path):
    f = tmp_path / "c.toml"
    text = DEMO.read_text().replace(
        'kind = "lj"', f'kind = "mlip"\nfiles = ["{tmp_path / "pot.mtp"}"]\nelements = ["Ar"]')
    (tmp_path / "pot.mtp").write_text("MTP\nspecies_count = 1\n")
    f.write_text(text)
    r = subprocess.run(PY + ["campaign", "check", str(f)], capture_output=True, text=True)
    assert r.returncode != 0, r.stdout
    assert "pair style 'mlip' is not available" in r.stderr


def test_driver_styles_lists_every_fix():
    from mdargy.drivers.common import driver_styles
    from mdargy.drivers.config import EMDConfig, NEMDConfig
    from mdargy.potentials.spec import lj_argon

    e = driver_styles(EMDConfig(structure=str(CIF), potential=lj_argon(), output_dir="x",
                                equilibration_ensemble="npt"))
    assert e["pair"] == ["lj/cut"] and {"nvt", "npt", "nve", "halt"} <= set(e["fix"])
    h = driver_styles(EMDConfig(structure=str(CIF), potential=lj_argon(), output_dir="x",
                                heat_every_fs=5.0))
    assert "heat/flux" in h["compute"] and "vector" in h["fix"]
    n = driver_styles(NEMDConfig(structure=str(CIF), potential=lj_argon(), output_dir="x",
                                 replicate=(12, 3, 3), method="muller-plathe"))
    assert "thermal/conductivity" in n["fix"] and n["compute"] == ["chunk/atom"]

    class Fake:
        def has_style(self, cat, name):
            return name != "npt"

    from mdargy.lammps.runtime import require_styles

    with pytest.raises(MissingCapabilityError, match="npt"):
        require_styles(Fake(), e)


# -- campaign: a truncated result is not "done" ---------------------------------------------
def test_campaign_task_with_truncated_result_is_not_done(tmp_path):
    from mdargy.campaign.execute import _finished
    from mdargy.drivers.emd import EMDResult

    (tmp_path / "result.json").write_text('{"output_dir": "x", "n_atoms": 1')
    assert _finished(tmp_path, EMDResult) is None


# -- refused re-analysis exits non-zero ------------------------------------------------------
def test_refused_overwrite_exits_non_zero(tmp_path):
    from mdargy.errors import AlreadyDoneError
    from mdargy.io.atomic import refuse_overwrite

    p = tmp_path / "dos.json"
    p.write_text("{}")
    with pytest.raises(AlreadyDoneError) as err:
        refuse_overwrite(p)
    assert err.value.exit_code != 0


# -- thermo.csv: one row per step -----------------------------------------------------------
def test_thermo_has_no_repeated_step_between_stages(tmp_path):
    from mdargy.drivers import run_emd
    from mdargy.drivers.config import EMDConfig
    from mdargy.potentials.spec import lj_argon

    cfg = EMDConfig(structure=str(CIF), potential=lj_argon(), output_dir=str(tmp_path / "r"),
                    replicate=(2, 2, 2), temperature_K=50.0, timestep_fs=5.0,
                    equilibration_ps=0.25, production_ps=0.25, dump_every_fs=50.0,
                    thermo_every_fs=50.0, checkpoint_every_ps=0.25)
    run_emd(cfg, progress=False)
    steps = np.genfromtxt(tmp_path / "r" / "thermo.csv", delimiter=",", skip_header=1,
                          usecols=0)
    assert len(np.unique(steps)) == len(steps)
    assert steps.tolist() == list(range(10, 101, 10))
    meta = json.loads((tmp_path / "r" / "metadata.json").read_text())
    assert meta["trajectory"]["n_frames"] == 6


# -- the .mtp reader and the cutoff ---------------------------------------------------------
MTP = ROOT / "tests" / "data" / "mtp" / "trained_l08_CuPS.mtp"


def test_mtp_alpha_moments_count_beyond_the_data_is_refused(tmp_path):
    import re

    from mdargy.potentials.mtp.mtpfile import read_mtp

    f = tmp_path / "big.mtp"
    f.write_text(re.sub(r"alpha_moments_count = \d+", "alpha_moments_count = 100000000",
                        MTP.read_text()))
    with pytest.raises(InputError, match="alpha_moments_count = 100000000 but the file defines "
                       "only 18 moments"):
        read_mtp(f)
    read_mtp(MTP)  # the real one passes


def test_mtp_huge_cutoff_is_refused_before_lammps(tmp_path):
    import re

    from mdargy.potentials.mtp.mtpfile import read_mtp

    f = tmp_path / "far.mtp"
    f.write_text(re.sub(r"max_dist = [0-9.eE+-]+", "max_dist = 1e6", MTP.read_text()))
    with pytest.raises(InputError, match="max_dist = 1e\\+06 A is beyond"):
        read_mtp(f)


def test_lj_cutoff_bounded_by_the_cell_before_allocation(tmp_path):
    from mdargy.drivers import run_emd
    from mdargy.drivers.config import EMDConfig
    from mdargy.potentials.spec import lj_argon

    cfg = EMDConfig(structure=str(CIF), potential=lj_argon(cutoff_A=1e6),
                    output_dir=str(tmp_path / "r"), replicate=(2, 2, 2), production_ps=0.01,
                    dump_every_fs=10.0)
    with pytest.raises(InputError, match="ghost atoms .* beyond memory"):
        run_emd(cfg, progress=False)
    assert not (tmp_path / "r" / "log.lammps").exists()  # refused before LAMMPS started


def test_kappa_result_with_a_string_names_the_key(tmp_path):
    f = tmp_path / "result.json"
    f.write_text('{"kappa_W_mK": "abc", "length_A": 40}')
    r = subprocess.run(PY + ["kappa", str(f), "-o", str(tmp_path / "k")], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "kappa_W_mK must be a number, got 'abc' (str)" in r.stderr
