"""Campaign files: the shipped examples, task expansion, driver configurations, Slurm scripts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mdargy.campaign import adapters
from mdargy.campaign.schema import load_campaign, parse_campaign
from mdargy.campaign.slurm import parse_walltime, slurm_script
from mdargy.campaign.tasks import build_tasks, task_seed
from mdargy.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "inputs" / "campaigns" / "demo_lj_argon.toml"
DEMO_CU7PS6 = ROOT / "inputs" / "campaigns" / "demo.toml"
PRODUCTION = ROOT / "inputs" / "campaigns" / "cu7ps6_production.toml"


def test_demo_file_is_valid_and_small(tmp_path):
    spec = load_campaign(DEMO, output=tmp_path / "out")
    tasks = build_tasks(spec)
    adapters.validate_tasks(spec, tasks)
    assert [t.id for t in tasks] == ["nemd_T40K_L24", "nemd_T40K_L16", "nemd_T40K_L8", "emd_T40K"]
    assert tasks[-1].params == {"msd": True, "dos": True}
    assert spec.extra_commands == "pair_modify shift yes"
    # every run in the demo is small: at most ~1500 atoms and ~100k steps
    for t in tasks:
        cfg = adapters.driver_config(spec, t, tmp_path / t.id)
        n_cells = cfg.replicate[0] * cfg.replicate[1] * cfg.replicate[2]
        steps = cfg.equilibration_steps + cfg.production_steps
        assert 4 * n_cells <= 1536 and steps <= 100_000
    # the raw LAMMPS field reaches the potential's commands, and only there
    cfg = adapters.driver_config(spec, tasks[0], tmp_path / "x")
    assert cfg.potential.extra_commands == ("pair_modify shift yes",)


def test_production_file_is_valid_with_the_shipped_potential(tmp_path):
    spec = load_campaign(PRODUCTION, output=tmp_path / "out")
    tasks = build_tasks(spec)
    adapters.validate_tasks(spec, tasks)
    assert len(tasks) == 4 * 4 + 7  # 4 T x 4 L NEMD; EMD at 100-400 K and 500, 550, 600 K


def test_production_file_says_the_potential_is_missing(tmp_path):
    """A copy of the production campaign without its potential file: one clear error."""
    (tmp_path / "campaigns").mkdir()
    shutil.copytree(ROOT / "inputs" / "structures", tmp_path / "structures")
    copy = tmp_path / "campaigns" / "p.toml"
    shutil.copy(PRODUCTION, copy)
    with pytest.raises(InputError) as exc:
        load_campaign(copy)
    msg = str(exc.value)
    assert str(copy) in msg and "[potential]" in msg and "Cu7PS6.mtp does not exist" in msg
    assert "potential is missing" in msg and "train" in msg


def test_production_file_with_a_potential(tmp_path):
    """With the potential and structure files present, the production campaign is valid."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "potentials").mkdir()
    (tmp_path / "structures").mkdir()
    shutil.copy(PRODUCTION, tmp_path / "campaigns" / "p.toml")
    # a real potential: the check reads the whole .mtp file (counts against the data)
    shutil.copy(ROOT / "inputs" / "potentials" / "Cu7PS6.mtp", tmp_path / "potentials")
    from ase import Atoms

    cell = Atoms("Cu7PS6", scaled_positions=[[i / 14, (i * 3 % 14) / 14, (i * 5 % 14) / 14]
                                            for i in range(14)], cell=[9.7] * 3, pbc=True)
    cell.write(tmp_path / "structures" / "Cu7PS6_P213_derived.cif")
    spec = load_campaign(tmp_path / "campaigns" / "p.toml", output=tmp_path / "out")
    tasks = build_tasks(spec)
    adapters.validate_tasks(spec, tasks)
    assert len(tasks) == 4 * 4 + 7
    assert {t.id for t in tasks if t.kind == "emd"} == {
        "emd_T100K", "emd_T200K", "emd_T300K", "emd_T400K", "emd_T500K", "emd_T550K",
        "emd_T600K"}
    emd = {t.id: t.params for t in tasks if t.kind == "emd"}
    assert emd["emd_T100K"] == {"msd": False, "dos": True, "gk": True, "heat_every_fs": 5.0,
                                "lattice": True}
    assert emd["emd_T550K"] == {"msd": True, "dos": False, "ionic": True}
    assert emd["emd_T300K"] == {"msd": True, "dos": False, "gk": True, "heat_every_fs": 5.0,
                                "lattice": True, "ionic": True}
    # longest first: the longest bars, then by temperature id
    assert tasks[0].id.endswith("_L24") and tasks[-1].kind in ("emd", "nemd")
    assert all(a.cost >= b.cost for a, b in zip(tasks, tasks[1:]))
    cfg = adapters.driver_config(spec, next(t for t in tasks if t.id == "nemd_T400K_L16"),
                                 tmp_path / "w")
    assert cfg.replicate == (16, 2, 2) and cfg.n_bins == 32 and cfg.bath_bins == 2
    assert cfg.delta_T_K == pytest.approx(80.0) and cfg.timestep_fs == 1.0
    assert cfg.production_steps == 1_000_000 and cfg.block_steps == 10_000
    assert cfg.checkpoint_every_steps == 50_000 and cfg.bath_damp_fs == 500.0
    assert cfg.potential.kind == "mtp" and cfg.potential.elements == ("Cu", "P", "S")
    assert Path(cfg.structure) == (tmp_path / "structures" / "Cu7PS6_P213_derived.cif").resolve()
    ecfg = adapters.driver_config(spec, next(t for t in tasks if t.id == "emd_T550K"), tmp_path / "w")
    assert ecfg.replicate == (2, 2, 2) and ecfg.dump_every_steps == 10
    assert ecfg.equilibration_ensemble == "npt" and ecfg.production_steps == 1_000_000


def test_seeds_and_fingerprints(tmp_path):
    spec = load_campaign(DEMO, output=tmp_path)
    base = {t.id: t for t in build_tasks(spec)}
    more = parse_campaign(DEMO.read_text().replace("temperatures_K = [40.0]\nlengths",
                                                   "temperatures_K = [40.0, 30.0]\nlengths"),
                          DEMO, output=tmp_path)
    grown = {t.id: t for t in build_tasks(more)}
    assert len(grown) == len(base) + 3
    for tid, t in base.items():  # adding temperatures changes no existing task
        assert grown[tid].seed == t.seed and grown[tid].fingerprint == t.fingerprint
    seeds = [t.seed for t in grown.values()]
    assert len(set(seeds)) == len(seeds) and all(1 <= s <= 899_999_999 for s in seeds)
    assert task_seed(1, "a") != task_seed(2, "a") and task_seed(1, "a") == task_seed(1, "a")
    other = parse_campaign(DEMO.read_text().replace("delta_T_K = 10.0", "delta_T_K = 12.0"),
                           DEMO, output=tmp_path)
    changed = {t.id: t for t in build_tasks(other)}
    for tid, t in base.items():
        assert (changed[tid].fingerprint != t.fingerprint) == (t.kind == "nemd")
    # the analysis settings of EMD tasks are not part of the fingerprint (no MD is redone)
    ana = parse_campaign(DEMO.read_text().replace("dos_resolution_THz = 0.1",
                                                  "dos_resolution_THz = 0.2"), DEMO, output=tmp_path)
    assert {t.id: t.fingerprint for t in build_tasks(ana)} == {t.id: t.fingerprint for t in base.values()}


#: Fingerprints of the LJ-argon demo's tasks as computed before the keys were renamed into the
#: one vocabulary (supercell -> replicate, damp_fs -> bath_damp_fs, thermo_every ->
#: thermo_every_fs, steps -> fs): finished tasks of a campaign must not turn stale when its file
#: is rewritten in the new names with the same values. (The demo has no input file, so its
#: fingerprints do not depend on where the repository lies.)
DEMO_FINGERPRINTS = {
    "nemd_T40K_L24": "eb975f9683c5512138845101c28f13817e190bb21e4d9ec763b54b5e68717ea6",
    "nemd_T40K_L16": "6912a1d8c9f0e0093b88fb74f335d0c7cc66ead67bceca06c6ac7b4db9da4e0e",
    "nemd_T40K_L8": "407dfd0bc86eeb51f88cd1aeeb86001abd5af93edb555689af274da8f70efe59",
    "emd_T40K": "88ccc2e76feefcaf609c6b77154d9b6c79d3a54853ac37bd21bac4a40bfdcf10",
}


def test_fingerprints_survive_the_vocabulary_change(tmp_path):
    spec = load_campaign(DEMO, output=tmp_path)
    assert {t.id: t.fingerprint for t in build_tasks(spec)} == DEMO_FINGERPRINTS
    # a key added since (here the bath thermostat of the equilibration) enters the fingerprint
    # only when it differs from its default
    same = parse_campaign(DEMO.read_text().replace("delta_T_K = 10.0", "delta_T_K = 10.0\n"
                                                   "tdamp_fs = 100.0"), DEMO, output=tmp_path)
    assert {t.id: t.fingerprint for t in build_tasks(same)} == DEMO_FINGERPRINTS
    other = parse_campaign(DEMO.read_text().replace("delta_T_K = 10.0", "delta_T_K = 10.0\n"
                                                    "tdamp_fs = 200.0"), DEMO, output=tmp_path)
    changed = {t.id: t.fingerprint for t in build_tasks(other)}
    assert all((changed[k] != v) == k.startswith("nemd") for k, v in DEMO_FINGERPRINTS.items())


def test_cu7ps6_demo_file_is_valid_and_uses_the_shipped_potential(tmp_path):
    """`make demo` runs inputs/campaigns/demo.toml: Cu7PS6 with the shipped MTP, small runs."""
    spec = load_campaign(DEMO_CU7PS6, output=tmp_path / "out")
    tasks = build_tasks(spec)
    adapters.validate_tasks(spec, tasks)
    assert sorted(t.id for t in tasks) == ["emd_T300K", "emd_T550K", "nemd_T300K_L12",
                                           "nemd_T300K_L6", "nemd_T300K_L8"]
    assert spec.potential["files"] == [str(ROOT / "inputs" / "potentials" / "Cu7PS6.mtp")]
    for t in tasks:
        cfg = adapters.driver_config(spec, t, tmp_path / t.id)
        n_atoms = 56 * cfg.replicate[0] * cfg.replicate[1] * cfg.replicate[2]
        steps = cfg.equilibration_steps + cfg.production_steps
        assert n_atoms <= 672 and steps <= 210_000


def test_relative_paths_resolve_against_the_campaign_file(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(ROOT / "tests" / "test_campaign_schema.py", tmp_path / "a" / "x.data")
    text = DEMO.read_text().split("[structure]")[0] + "[structure]\nfile = \"../x.data\"\n" + \
        "[potential]" + DEMO.read_text().split("[potential]")[1]
    (tmp_path / "a" / "b" / "c.toml").write_text(text)
    monkeypatch.chdir(tmp_path)
    spec = load_campaign(tmp_path / "a" / "b" / "c.toml", check_modules=False)
    assert spec.structure["file"] == str((tmp_path / "a" / "x.data").resolve())
    assert spec.output == (tmp_path / "demo-lj-output").resolve()  # output: the working directory


def test_slurm_script(tmp_path):
    text = slurm_script(DEMO, nodes=4, tasks_per_node=64, time_limit="24:00:00", ranks_per_task=16,
                        partition="compute", account="proj42", resubmit=True,
                        script_path=tmp_path / "job.sh", setup="module load gcc")
    assert "#SBATCH --nodes=4" in text and "#SBATCH --ntasks-per-node=64" in text
    assert "#SBATCH --time=24:00:00" in text and "#SBATCH --partition=compute" in text
    assert "#SBATCH --account=proj42" in text and "module load gcc" in text
    assert f"srun --mpi=pmi2 --ntasks=256 {sys.executable} -m mdargy campaign run {DEMO}" in text
    assert "--ranks-per-task 16" in text and "--stop-after 82800" in text  # 1 h margin
    # the chain's successor: the submitted file as Slurm recorded it, else the saved script
    assert "--dependency=afterany:" in text and f"me={tmp_path / 'job.sh'}" in text
    assert "campaign status" in text and 'sbatch "$0"' not in text
    t2 = slurm_script(DEMO, 1, 8, "30", launcher="mpirun")
    assert "mpirun -np 8" in t2 and "--stop-after 1620" in t2 and "sbatch" not in t2.split(
        "left=$?")[1].split("echo")[0]
    with pytest.raises(InputError, match="multiple of --ranks-per-task"):
        slurm_script(DEMO, 1, 6, "1:00:00", ranks_per_task=4)
    assert parse_walltime("1-02:00:00") == 26 * 3600 and parse_walltime("90") == 5400
    assert parse_walltime("10:30") == 630 and parse_walltime("2-3") == 51 * 3600
    with pytest.raises(InputError):
        parse_walltime("soon")
    # bash accepts the script
    p = tmp_path / "s.sh"
    p.write_text(text)
    assert subprocess.run(["bash", "-n", str(p)]).returncode == 0


def test_cli_check_status_and_slurm(tmp_path):
    py = [sys.executable, "-m", "mdargy", "campaign"]
    out = tmp_path / "out"
    r = subprocess.run(py + ["check", str(DEMO), "--output", str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and "4 tasks" in r.stdout and "nemd_T40K_L16" in r.stdout
    assert not out.exists()  # checking runs nothing
    r = subprocess.run(py + ["status", str(DEMO), "--output", str(out), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 3 and "pending" in r.stdout
    r = subprocess.run(py + ["slurm", str(DEMO), "--nodes", "2", "--tasks-per-node", "4", "--time",
                             "1:00:00", "-o", str(tmp_path / "job.sh")], capture_output=True, text=True)
    assert r.returncode == 0 and "#SBATCH --nodes=2" in (tmp_path / "job.sh").read_text()
    r = subprocess.run(py + ["report", str(DEMO), "--output", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and "run `mdargy campaign run" in r.stderr


def test_status_json_after_a_run(tmp_path):
    from mdargy.campaign.runner import run_campaign

    spec = load_campaign(DEMO, output=tmp_path / "out")

    def fake(spec, task, workdir, comm):
        if task.kind == "emd":
            raise ValueError("no")
        return {"kind": "nemd"}

    run_campaign(spec, executor=fake, quiet=True, tick_s=0)
    r = subprocess.run([sys.executable, "-m", "mdargy", "campaign", "status", str(DEMO), "--output",
                        str(tmp_path / "out"), "--json", "--check"], capture_output=True, text=True)
    idx = json.loads(r.stdout)
    assert r.returncode == 1  # only a failed task is left
    assert idx["counts"] == {"done": 3, "failed": 1}
    assert idx["tasks"]["emd_T40K"]["error"] == "ValueError: no"
