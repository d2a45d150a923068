"""One configuration vocabulary: run files, campaign files and ``--set`` share every key, unit
and default; times become steps in one place; old names are refused with the new one."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mdargy.campaign import adapters
from mdargy.campaign.schema import EMD_FIELDS, MD_FIELDS, NEMD_FIELDS, parse_campaign
from mdargy.campaign.tasks import build_tasks
from mdargy.cli import main
from mdargy.drivers.checkpoint import run_identity
from mdargy.drivers.config import RENAMED, EMDConfig, NEMDConfig, step_keys, steps_of
from mdargy.errors import InputError
from mdargy.io.config import apply_overrides, read_toml

from _campaigns import lj_argon_header

ROOT = Path(__file__).resolve().parent.parent
CIF = ROOT / "inputs" / "examples" / "Ar_fcc.cif"
POTENTIAL = """
[potential]
kind = "lj"
cutoff_A = 8.5
lj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }
"""


def _run_file(tmp_path, body: str, name="run.toml") -> Path:
    f = tmp_path / name
    f.write_text(f'structure = "{CIF}"\noutput_dir = "{tmp_path / "out"}"\n{body}\n{POTENTIAL}')
    return f


# -- time -> steps ----------------------------------------------------------------------------
def test_steps_of_converts_and_refuses_with_the_key():
    assert steps_of("production_ps", 2.0, 5.0) == 400
    assert steps_of("dump_every_fs", 10.0, 2.5) == 4
    assert steps_of("equilibration_ps", 0.0, 1.0, floor=0) == 0
    assert steps_of("block_ps", 0.3, 0.1) == 3000  # round-off of 0.3 / 0.1e-3 is not an error
    with pytest.raises(InputError, match=r"dump_every_fs = 12.0 is not a whole number of time "
                       r"steps \(timestep_fs = 5: 2.4 steps\)"):
        steps_of("dump_every_fs", 12.0, 5.0)
    with pytest.raises(InputError, match="production_ps = 0.001 is shorter than one time step"):
        steps_of("production_ps", 0.001, 5.0)
    with pytest.raises(InputError, match="npt_ps = 0.05 is shorter than 100 time steps"):
        steps_of("npt_ps", 0.05, 1.0, floor=100)
    with pytest.raises(ValueError):
        steps_of("dump_every", 10, 1.0)  # a key without a time unit is a programming error


def test_drivers_count_steps_from_times():
    e = EMDConfig(structure=str(CIF), potential=adapters.potential_from_table(
        {"kind": "lj", "lj": {"Ar": {"epsilon_eV": 0.0104, "sigma_A": 3.4}}}), output_dir="o",
        timestep_fs=5.0, equilibration_ps=1.0, production_ps=2.0, dump_every_fs=100.0,
        heat_every_fs=25.0, thermo_every_fs=50.0)
    assert (e.equilibration_steps, e.production_steps, e.dump_every_steps, e.heat_every_steps,
            e.thermo_every_steps, e.checkpoint_every_steps) == (200, 400, 20, 5, 10, 40)
    n = NEMDConfig(structure=str(CIF), potential=e.potential, output_dir="o", timestep_fs=5.0,
                   replicate=(12, 3, 3), bins_per_cell=2, bath_cells=2, production_ps=100.0,
                   equilibration_ps=10.0, temperature_K=50.0)
    assert (n.n_bins, n.bath_bins, n.block_steps, n.production_steps) == (24, 4, 1000, 20000)
    assert n.checkpoint_every_steps == 10_000 and n.delta_T_K == pytest.approx(10.0)
    assert n.sample_every_steps == 2 and n.swap_every_steps == 20


# -- old names ----------------------------------------------------------------------------------
@pytest.mark.parametrize("old, value, new", [
    ("dump_every", "10", "dump_every_fs"), ("production_steps", "400", "production_ps"),
    ("checkpoint_every", "100", "checkpoint_every_ps"), ("supercell", "[2, 2, 2]", "replicate"),
])
def test_old_names_in_a_run_file_are_refused_with_the_new_one(tmp_path, old, value, new):
    f = _run_file(tmp_path, f"{old} = {value}")
    with pytest.raises(InputError) as err:
        EMDConfig.from_toml(f)
    msg = str(err.value)
    assert msg.startswith(str(f)) and f"'{old}' is an old name: did you mean '{new}'?" in msg


@pytest.mark.parametrize("old, value, new", [
    ("n_bins", "12", "bins_per_cell"), ("nemd_steps", "1000", "production_ps"),
    ("langevin_damp_fs", "250.0", "bath_damp_fs"), ("bath_bins", "1", "bath_cells"),
])
def test_old_nemd_names_are_refused(tmp_path, old, value, new):
    f = _run_file(tmp_path, f"replicate = [12, 3, 3]\n{old} = {value}")
    with pytest.raises(InputError, match=f"'{old}' is an old name: did you mean '{new}'"):
        NEMDConfig.from_toml(f)


def test_set_takes_the_file_keys_and_refuses_old_ones(tmp_path, capsys):
    f = _run_file(tmp_path, "timestep_fs = 5.0")
    assert main(["emd", str(f), "--dry-run", "--set", "production_ps=1.0",
                 "--set", "dump_every_fs=50"]) == 0
    capsys.readouterr()
    cfg = EMDConfig.from_toml(f, ["production_ps=1.0", "dump_every_fs=50"])
    assert cfg.dump_every_steps == 10 and cfg.production_steps == 200  # 5 fs steps
    assert main(["emd", str(f), "--dry-run", "--set", "dump_every=10"]) == 2
    err = capsys.readouterr().err
    assert "--set dump_every: 'dump_every' is an old name: did you mean 'dump_every_fs'?" in err
    assert "steps x timestep_fs" in err and len(err.strip().splitlines()) == 1
    assert main(["emd", str(f), "--dry-run", "--set", "dump_evry_fs=10"]) == 2
    assert "did you mean 'dump_every_fs'" in capsys.readouterr().err
    assert main(["nemd", str(f), "--dry-run", "--set", "n_bins=12"]) == 2
    assert "did you mean 'bins_per_cell'" in capsys.readouterr().err
    # nested keys reach their table's module
    data = apply_overrides(read_toml(f), ["potential.cutoff_A=9"], known=list(EMDConfig.fields()),
                           renamed=RENAMED)
    assert data["potential"]["cutoff_A"] == 9


CAMPAIGN = lj_argon_header("vocabulary", 3) + textwrap.dedent("""
    [nemd]
    temperatures_K = [40.0]
    lengths_cells = [8]
    cross_section_cells = [3, 3]
    equilibration_ps = 1.0
    production_ps = 10.0

    [emd]
    msd_temperatures_K = [40.0]
    replicate = [3, 3, 3]
    equilibration_ps = 1.0
    production_ps = 10.0
    dump_every_fs = 20.0
    """)


@pytest.mark.parametrize("table, old, new", [
    ("[md]", "thermo_every = 100", "thermo_every_fs"), ("[nemd]", "damp_fs = 500.0", "bath_damp_fs"),
    ("[nemd]", "sample_every = 10", "sample_every_fs"), ("[emd]", "dump_every = 4", "dump_every_fs"),
])
def test_old_names_in_a_campaign_are_refused(tmp_path, table, old, new):
    text = CAMPAIGN.replace(table, f"{table}\n{old}", 1)
    with pytest.raises(InputError, match=rf"c.toml: \{table[:-1]}\] '{old.split()[0]}' is an old "
                       rf"name: did you mean '{new}'\?"):
        parse_campaign(text, tmp_path / "c.toml", output=tmp_path / "out")
    text = CAMPAIGN.replace("replicate = [3, 3, 3]", "supercell = [3, 3, 3]")
    with pytest.raises(InputError, match="'supercell' is an old name: did you mean 'replicate'"):
        parse_campaign(text, tmp_path / "c.toml", output=tmp_path / "out")


# -- one vocabulary -----------------------------------------------------------------------------
def test_campaign_tables_are_the_drivers_keys():
    """Every driver key is in a campaign table (same Field: unit, type, default, check) or set
    by the campaign per task; the few differences are the ones the schema states."""
    per_task = set(adapters.PER_TASK_KEYS)
    for cls, table, excluded in ((EMDConfig, EMD_FIELDS, {"text_dump"}),
                                 (NEMDConfig, NEMD_FIELDS, {"replicate"})):
        for key, field in cls.fields().items():
            if key in per_task or key in excluded:
                continue
            where = MD_FIELDS if key in adapters.MD_KEYS else table
            got = where[key]
            assert (got.kind, got.unit, got.doc) == (field.kind, field.unit, field.doc), key
            differs = {"replicate", "equilibration_ps", "production_ps", "dump_every_fs",
                       "heat_every_fs", "timestep_fs"}
            if key not in differs:
                assert got == field, key
    assert EMD_FIELDS["replicate"].required and EMD_FIELDS["heat_every_fs"].default == 5.0
    assert EMD_FIELDS["production_ensemble"].default == EMDConfig.fields()["production_ensemble"].default
    # no key means two things: a campaign's own keys are not driver keys (bar the NPT pressure,
    # which is [nemd]'s and NEMDConfig has none)
    for table, cls in ((NEMD_FIELDS, NEMDConfig), (EMD_FIELDS, EMDConfig)):
        own = set(table) - set(cls.fields())
        assert not own & set(RENAMED)


def test_a_run_file_and_a_campaign_table_with_the_same_keys_give_the_same_run(tmp_path):
    keys = {"equilibration_ps": 1.0, "production_ps": 10.0, "dump_every_fs": 20.0,
            "equilibration_ensemble": "npt", "pdamp_fs": 2000.0, "checkpoint_every_ps": 2.5}
    toml = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in keys.items())
    text = CAMPAIGN.split("[emd]")[0] + "[emd]\nmsd_temperatures_K = [40.0]\n" \
        "replicate = [3, 3, 3]\n" + toml + "\n"
    spec = parse_campaign(text, tmp_path / "c.toml", output=tmp_path / "out")
    task = next(t for t in build_tasks(spec) if t.kind == "emd")
    from_campaign = adapters.driver_config(spec, task, tmp_path / "w")
    run = _run_file(tmp_path, toml + f"\nreplicate = [3, 3, 3]\ntimestep_fs = 5.0\n"
                    f"thermo_every_fs = 500.0\ntemperature_K = 40.0\nseed = {task.seed}\n"
                    "text_dump = false")
    single = EMDConfig.from_toml(run)
    a, b = from_campaign.to_dict(), single.to_dict()
    for d in (a, b):
        for k in ("structure", "output_dir", "potential"):
            d.pop(k)
    assert a == b
    assert from_campaign.production_steps == single.production_steps == 2000


def test_shipped_inputs_use_only_the_new_names():
    """No example, campaign or script config uses a key of the old vocabulary, and every single-
    run example loads."""
    files = sorted((ROOT / "inputs").rglob("*.toml")) + sorted((ROOT / "scripts").rglob("*.toml"))
    assert files
    for f in files:
        data = read_toml(f)
        tables = [data] + [data[t] for t in ("md", "nemd", "emd") if isinstance(data.get(t), dict)]
        for t in tables:
            assert not set(t) & set(RENAMED), (f, set(t) & set(RENAMED))
    for f in sorted((ROOT / "inputs" / "examples").glob("*.toml")):
        (NEMDConfig if "nemd" in f.name else EMDConfig).from_toml(f)
    docs = (ROOT / "docs" / "configuration.md").read_text()
    for key in set(EMDConfig.fields()) | set(NEMDConfig.fields()) | set(RENAMED):
        assert f"`{key}`" in docs, key
    readme = (ROOT / "README.md").read_text()
    for old in RENAMED:
        assert not re.search(rf"(--set |[{{\"]){old}\b", readme), old


def test_every_step_counted_key_is_a_time():
    for cls in (EMDConfig, NEMDConfig):
        for key in step_keys(cls):
            assert key.endswith(("_fs", "_ps")), key
            assert cls.fields()[key].unit in ("fs", "ps")
    # the fields are defined once: the campaign's derived Field objects are the drivers'
    assert NEMD_FIELDS["bins_per_cell"] is NEMDConfig.fields()["bins_per_cell"]
    assert dataclasses.is_dataclass(EMDConfig)


# -- layering -----------------------------------------------------------------------------------
def test_toml_handling_lives_in_io_and_potentials_do_not_import_drivers():
    code = ("import sys, mdargy.potentials.spec, mdargy.io.config; "
            "print(sorted(m for m in sys.modules if m.startswith(('mdargy.drivers', "
            "'mdargy.campaign', 'mdargy.cli'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


#: The settings of two LJ-argon demo tasks as the driver recorded them in a run's identity
#: before the keys were renamed (potential and paths left out): a run begun then must resume.
FORMAT1_IDENTITY = {
    "nemd_T40K_L8": {
        "bath_bins": 2, "block_steps": 2000, "checkpoint_every": 20000, "delta_T_K": 10.0,
        "discard_blocks": None, "equilibration_steps": 6000, "fit_exclude_bins": 1.0,
        "langevin_damp_fs": 500.0, "max_temperature_K": None, "method": "langevin", "n_bins": 16,
        "n_error_blocks": 5, "neighbor_skin_A": 2.0, "nemd_steps": 80000, "replicate": [8, 4, 4],
        "sample_every": 10, "seed": 699714887, "swap_atoms": 1, "swap_every": 100,
        "tdamp_fs": 100.0, "temperature_K": 40.0, "thermo_every": 100, "timestep_fs": 5.0,
        "type_elements": []},
    "emd_T40K": {
        "barostat": "iso", "checkpoint_every": 2000, "dump_every": 4,
        "equilibration_ensemble": "nvt", "equilibration_steps": 4000, "heat_every": 0,
        "max_temperature_K": None, "minimize": False, "neighbor_skin_A": 2.0, "pdamp_fs": 1000.0,
        "pressure_bar": 0.0, "production_ensemble": "nve", "production_steps": 20000,
        "replicate": [4, 4, 4], "seed": 190294941, "tdamp_fs": 100.0, "temperature_K": 40.0,
        "text_dump": False, "thermo_every": 100, "timestep_fs": 5.0, "type_elements": []},
}


def test_run_identity_keeps_the_first_format(tmp_path):
    """A run's identity names its settings as before the renaming (a run begun then resumes);
    the configuration itself, its metadata and results use the new names."""
    spec = parse_campaign((ROOT / "inputs" / "campaigns" / "demo_lj_argon.toml").read_text(),
                          tmp_path / "c.toml", output=tmp_path / "out")
    tasks = {t.id: t for t in build_tasks(spec)}
    for tid, want in FORMAT1_IDENTITY.items():
        cfg = adapters.driver_config(spec, tasks[tid], tmp_path / tid)
        got = json.loads(json.dumps(run_identity(cfg)["config"]))
        got.pop("potential")
        got.pop("structure")
        assert got == want, tid
        assert "dump_every_fs" in cfg.to_dict() or "bins_per_cell" in cfg.to_dict()
