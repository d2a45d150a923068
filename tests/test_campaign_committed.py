"""Committed results: a campaign carries on from the small files of its finished tasks.

A synthetic campaign (a task function instead of LAMMPS, as in ``test_campaign_run``) with
every kind of task the report reads -- NEMD κ(L), EMD MSD/DOS, Green–Kubo, ionic conductivity
and lattice dynamics -- writes real result files plus large ones (a binary trajectory, an
oversized thermo table, checkpoints). ``export`` must copy only the small files; after the
output directory is deleted, ``run`` must restore every task without calling the task function
once, and the report's tables must be byte for byte those of the original tasks. A committed
task made with other inputs, or changed after export, is not used. The cost table sums known
attempt times.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write

from mdargy.analysis.conductivity import ionic_conductivity
from mdargy.analysis.diffusion import diffusion_coefficients
from mdargy.analysis.dos import compute_dos
from mdargy.analysis.greenkubo import green_kubo
from mdargy.campaign.committed import MANIFEST_NAME, export_committed
from mdargy.campaign.report import COST_COLUMNS, build_report, task_cost
from mdargy.campaign.runner import run_campaign
from mdargy.campaign.schema import canonical_hash, load_campaign
from mdargy.campaign.store import CampaignStore
from mdargy.campaign.tasks import build_tasks, fingerprint_inputs
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_json
from mdargy.io.integrity import file_sha256
from mdargy.lattice.pipeline import LatticeResult
from mdargy.lattice.wigner import WignerResult

ROOT = Path(__file__).resolve().parents[1]
#: a lattice result of the repository (Cu7PS6 at 100 K): the report reads lattice.json and,
#: for a figure, lattice/wigner.json
LATTICE_DIR = ROOT / "results" / "cu7ps6" / "lattice" / "T100K"

CAMPAIGN = """
[campaign]
name = "committed-test"
seed = 17
committed = "committed"

[structure]
lattice = "fcc"
a_A = 5.30
element = "Ar"

[potential]
kind = "lj"
lj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }

[md]
timestep_fs = 5.0

[nemd]
temperatures_K = [40.0, 60.0]
lengths_cells = [8, 16]
cross_section_cells = [3, 3]
equilibration_ps = 1.0
production_ps = 10.0

[emd]
msd_temperatures_K = [500.0, 600.0]
dos_temperatures_K = [500.0]
gk_temperatures_K = [600.0]
production_ensemble = "nve"
replicate = [2, 2, 2]
equilibration_ps = 1.0
production_ps = 10.0
dump_every_fs = 10.0

[lattice]
temperatures_K = [100.0]
n_snapshots = 10

[ionic]
temperatures_K = [700.0]
site_reference = "none"
"""

BIG = 2_500_000  # bytes: above the 2 MB export limit


def _big(path: Path, size: int = BIG) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:  # sparse: costs no time
        fh.truncate(size)


def synthetic_task(spec, task, workdir, comm, calls=None):
    """Result files of every kind, computed by mdargy's analyses on synthetic data, plus the
    large files a real task leaves (trajectory, oversized table, checkpoints, log)."""
    if calls is not None:
        calls.append(task.id)
    work = Path(workdir)
    rng = np.random.default_rng(task.seed)
    atomic_write_json(work / "run" / "result.json", {"T_K": task.T_K})
    atomic_write_json(work / "run" / "checkpoints" / "state.json", {"step": 10})
    _big(work / "run" / "checkpoints" / "ckpt-10.restart", 40_000)
    (work / "run" / "log.lammps").write_text("LAMMPS log\n")
    _big(work / "run" / "thermo.csv")  # a CSV, but above the limit
    if task.kind == "nemd":
        L = task.params["length_cells"] * 5.30
        k = 1.0 / (1.0 / (0.5 if task.T_K == 40 else 0.35) + 20.0 / L)
        return {"kind": "nemd", "length_A": L, "kappa_W_mK": k, "kappa_err_W_mK": 0.01 * k,
                "T_mean_K": task.T_K, "n_atoms": 36 * task.params["length_cells"],
                "result": "run/result.json", "warnings": []}
    _big(work / "run" / "traj.bin")
    out = {"kind": "emd", "T_K": task.T_K, "T_mean_K": task.T_K, "n_atoms": 32, "msd": None,
           "diffusion": None, "dos": None, "gk": None, "result": "run/result.json",
           "warnings": []}
    n_frames, n_atoms, dt_ps = 400, 16, 0.01
    if task.params.get("msd"):
        pos = np.cumsum(rng.normal(0.0, 0.05 * np.sqrt(task.T_K / 500),
                                   (n_frames, n_atoms, 3)), axis=0)
        da = diffusion_coefficients(pos, dt_ps, species=["Ar"] * n_atoms, window_ps=(0.5, 2.0),
                                    T_K=task.T_K)
        da.msd.to_json(work / "msd.json")
        atomic_write_json(work / "diffusion.json",
                          {"diffusion": [d.to_dict() for d in da.diffusion]})
        out.update(msd="msd.json", diffusion="diffusion.json")
    if task.params.get("dos"):
        t = np.arange(n_frames) * dt_ps
        v = np.cos(2 * np.pi * 1.5 * t[:, None, None] + rng.uniform(0, 6.3, (n_atoms, 3)))
        compute_dos(v, dt_ps, elements=["Ar"] * n_atoms, masses_amu=np.full(n_atoms, 39.948),
                    resolution_THz=0.5).to_json(work / "dos.json")
        out["dos"] = "dos.json"
    if task.params.get("gk"):
        J = rng.normal(0.0, 1.0, (4000, 3))
        green_kubo(J, 0.005, 5000.0, task.T_K).to_json(work / "gk.json")
        out["gk"] = "gk.json"
    if task.params.get("lattice"):
        lat = LatticeResult.from_json(LATTICE_DIR / "lattice.json")
        # that file has no coarse-mesh check (mesh_change null): the report must take it
        lat.to_json(work / "lattice.json")
        WignerResult.from_json(LATTICE_DIR / "wigner.json").to_json(work / "lattice" / "wigner.json")
        _big(work / "lattice" / "fc3.hdf5")
        out["lattice"] = "lattice.json"
    if task.params.get("ionic"):
        walk = np.cumsum(rng.normal(0, 0.1, (n_frames, n_atoms // 2, 3)), axis=0)
        pos = np.concatenate([walk, np.broadcast_to(walk[:1], walk.shape)], axis=1)
        el = ["Li"] * (n_atoms // 2) + ["Cl"] * (n_atoms // 2)
        ionic_conductivity(pos, dt_ps, el, 8000.0, task.T_K, charges_e={"Li": 1.0, "Cl": -1.0},
                           window_ps=(0.5, 2.0)).to_json(work / "conductivity.json")
        atomic_write_json(work / "ionic.json", {"sites": None})
        (work / "density.cube").write_text("density map\n")
        out.update(ionic="ionic.json", conductivity="conductivity.json",
                   density_cube="density.cube")
    return out


def _campaign(tmp_path, text=CAMPAIGN) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def _run(path, out, calls=None, **kw):
    return run_campaign(path, output=out, quiet=True, tick_s=0,
                        executor=lambda s, t, w, c: synthetic_task(s, t, w, c, calls), **kw)


def _tables(rdir: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(rdir.glob("*.csv"))}


def test_export_then_restore_reproduces_the_report_without_running(tmp_path):
    path, out = _campaign(tmp_path), tmp_path / "out"
    calls = []
    first = _run(path, out, calls)
    ids = {t.id for t in build_tasks(load_campaign(path))}
    assert first.complete and set(calls) == ids and len(ids) == 8
    rep1 = build_report(path, output=out, figures=False)
    tables1 = _tables(Path(rep1.directory))
    assert {"kappa_L.csv", "kappa_inf.csv", "diffusion.csv", "dos_T500K.csv", "kappa_gk.csv",
            "kappa_wigner.csv", "ionic.csv", "cost.csv"} <= set(tables1)
    # a Wigner result without a coarse-mesh check is reported as such, not as a crash or "nan%"
    summary = (Path(rep1.directory) / "summary.md").read_text()
    assert "not computed" in summary and "nan%" not in summary
    assert any("mesh convergence is unknown" in w for w in rep1.warnings)

    res = export_committed(path, output=out)
    dest = tmp_path / "committed"  # [campaign] committed, relative to the campaign file
    assert Path(res.dest) == dest and set(res.exported) == ids and not res.refused
    manifest = json.loads((dest / MANIFEST_NAME).read_text())
    assert manifest["campaign"] == "committed-test" and manifest["mdargy_version"]
    # only small result files: no trajectory, checkpoint, log or file above the limit
    files = [p for p in (dest / "tasks").rglob("*") if p.is_file()]
    names = {p.relative_to(dest / "tasks").as_posix() for p in files}
    assert max(p.stat().st_size for p in files) < 2_000_000
    assert not any(n.endswith(("traj.bin", "thermo.csv", "log.lammps", ".restart", ".hdf5"))
                   or "/checkpoints/" in n for n in names)
    for must in ("emd_T500K/task.json", "emd_T500K/msd.json", "emd_T500K/diffusion.json",
                 "emd_T500K/dos.json", "emd_T600K/gk.json", "emd_T100K/lattice.json",
                 "emd_T100K/lattice/wigner.json", "emd_T700K/conductivity.json",
                 "emd_T700K/ionic.json", "emd_T700K/density.cube", "nemd_T40K_L8/task.json",
                 "nemd_T40K_L8/run/result.json"):
        assert must in names, must
    left = res.left_out["emd_T500K"]
    assert left["run/traj.bin"] == "not a JSON/CSV/text result"
    assert left["run/thermo.csv"].startswith("2.5 MB, above")
    assert left["run/checkpoints/state.json"] == "checkpoint"
    assert res.left_out["emd_T100K"]["lattice/fc3.hdf5"] == "not a JSON/CSV/text result"
    for tid, entry in manifest["tasks"].items():
        for rel, d in entry["files"].items():
            assert file_sha256(dest / "tasks" / tid / rel) == d["sha256"]
    # exporting again changes nothing
    before = (dest / MANIFEST_NAME).read_bytes()
    again = export_committed(path, output=out)
    assert again.written == () and again.unchanged == len(files)
    assert (dest / MANIFEST_NAME).read_bytes() == before

    # a fresh machine: no output directory; the campaign carries on from the committed files
    shutil.rmtree(out)
    calls.clear()
    second = _run(path, out, calls)
    assert calls == [] and second.ran == () and second.complete
    assert set(second.restored) == ids and set(second.skipped_done) == ids
    rep2 = build_report(path, output=out, figures=False)
    assert _tables(Path(rep2.directory)) == tables1
    j1, j2 = (json.loads(Path(r.json_path).read_text()) for r in (rep1, rep2))
    for key in ("kappa_L", "kappa_inf", "kappa_gk", "kappa_wigner", "ionic", "diffusion",
                "arrhenius", "dos", "cost", "total_core_h", "warnings"):
        assert j1[key] == j2[key], key
    idx = json.loads((out / "campaign.json").read_text())
    assert all(e["restored"] and e["status"] == "done" for e in idx["tasks"].values())
    # the restored tasks export to the same files (and manifest) again
    assert export_committed(path, output=out).written == ()
    assert (dest / MANIFEST_NAME).read_bytes() == before
    # a restored task has no trajectory: its analyses cannot be redone here
    with pytest.raises(InputError, match="restored from committed results"):
        _run(path, out, calls, reanalyse=("emd_T500K",))
    # the figures of a lattice task without lattice/phonons.json are left out, with a warning
    rep3 = build_report(path, output=out, figures=True)
    assert any("lattice/phonons.json" in w for w in rep3.warnings)
    assert (Path(rep3.directory) / "figures" / "spectral_kappa_T100K.png").is_file()


def test_committed_task_with_other_inputs_or_changed_files_is_not_used(tmp_path):
    path, out = _campaign(tmp_path), tmp_path / "out"
    _run(path, out)
    export_committed(path, output=out)
    dest = tmp_path / "committed"
    shutil.rmtree(out)
    # a result changed after export; other NEMD inputs in the campaign file now
    f = dest / "tasks" / "emd_T500K" / "diffusion.json"
    f.write_text(f.read_text().replace('"D_cm2_s": ', '"D_cm2_s": 1e-3 + '))
    changed = _campaign(tmp_path, CAMPAIGN.replace("cross_section_cells = [3, 3]",
                                                   "cross_section_cells = [4, 4]"))
    calls = []
    s = _run(changed, out, calls)
    nemd = {t.id for t in build_tasks(load_campaign(changed)) if t.kind == "nemd"}
    assert set(calls) == nemd | {"emd_T500K"}
    assert set(s.restored) == {"emd_T600K", "emd_T100K", "emd_T700K"}
    assert "differs from the manifest" in s.committed_rejected["emd_T500K"]
    assert all("other inputs" in s.committed_rejected[t] for t in nemd)
    # the tasks computed here are this machine's: the changed committed file is not replaced
    with pytest.raises(InputError, match=r"differ from the finished tasks' files and are not "
                       r"replaced: .*tasks/emd_T500K/diffusion.json"):
        export_committed(changed, dest, output=out)
    assert "1e-3 + " in f.read_text()


def test_export_refuses_a_task_whose_report_input_is_too_large(tmp_path):
    path, out = _campaign(tmp_path), tmp_path / "out"
    _run(path, out)
    res = export_committed(path, tmp_path / "small", output=out, max_bytes=3000)
    assert "dos.json" in res.refused["emd_T500K"] and "above" in res.refused["emd_T500K"]
    assert "emd_T500K" not in res.exported and "nemd_T40K_L8" in res.exported
    assert not (tmp_path / "small" / "tasks" / "emd_T500K").exists()


def test_export_and_restore_commands(tmp_path):
    path, out = _campaign(tmp_path), tmp_path / "out"
    _run(path, out)
    dest = tmp_path / "elsewhere"
    cmd = [sys.executable, "-m", "mdargy", "campaign"]
    r = subprocess.run(cmd + ["export", str(path), str(dest), "--output", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "exported 8 finished task(s)" in r.stdout
    assert "emd_T500K: left out" in r.stdout and "run/checkpoints/ (2 files)" in r.stdout
    assert "run/thermo.csv (2.5 MB)" in r.stdout
    shutil.rmtree(out)
    r = subprocess.run(cmd + ["restore", str(path), "--from", str(dest), "--output", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "restored 8 finished task(s)" in r.stdout
    st = subprocess.run(cmd + ["status", str(path), "--output", str(out), "--check"],
                        capture_output=True, text=True, timeout=300)
    assert st.returncode == 0, st.stdout + st.stderr
    r = subprocess.run(cmd + ["restore", str(path), "--from", str(tmp_path / "nowhere"),
                              "--output", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "no such folder of committed results" in r.stderr


def test_cost_sums_every_attempt(tmp_path):
    path = _campaign(tmp_path)
    spec = load_campaign(path, output=tmp_path / "out")
    task = next(t for t in build_tasks(spec) if t.id == "emd_T500K")
    store = CampaignStore(spec.output)
    work = store.begin(task, {"inputs": {"ranks": 4}})
    rec = json.loads((work / "task.json").read_text())
    start = time.time() - 1000.0  # the first attempt began 1000 s ago, wrote for 600 s, died
    rec["attempts"][0]["started_utc"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00",
                                                      time.gmtime(start))
    (work / "task.json").write_text(json.dumps(rec))
    (work / "checkpoint").write_text("x")
    os.utime(work / "checkpoint", (start + 600.0, start + 600.0))
    os.utime(work / "task.json", (start, start))
    store.begin(task, {"inputs": {"ranks": 2}})  # second attempt, on 2 ranks, finishes in 900 s
    store.finish(task, {"n_atoms": 32}, 900.0)
    rec = store.task_record(task.id)
    a1, a2 = rec["attempts"]
    assert a1["wall_estimated"] and a1["wall_s"] == pytest.approx(600.0, abs=1.0)
    assert a2["wall_s"] == 900.0 and a2["ranks"] == 2
    c = task_cost(task, rec)
    assert c["wall_s"] == pytest.approx(1500.0, abs=1.0)
    assert c["core_h"] == pytest.approx((600.0 * 4 + 900.0 * 2) / 3600.0, abs=2e-3)
    assert (c["ranks"], c["attempts"], c["untimed_attempts"], c["atoms"]) == (2, 2, 0, 32)
    # a record from before attempts were timed: only the finishing attempt's wall time counts
    old = {"attempts": [{"attempt": 1}, {"attempt": 2}], "wall_s": 360.0,
           "provenance": {"inputs": {"ranks": 8}}, "outputs": {}}
    c = task_cost(task, old)
    assert (c["wall_s"], c["core_h"], c["untimed_attempts"], c["atoms"]) == (360.0, 0.8, 1, None)


def test_cost_table_of_the_report(tmp_path):
    path, out = _campaign(tmp_path), tmp_path / "out"
    _run(path, out)
    rep = build_report(path, output=out, figures=False)
    rows = np.genfromtxt(Path(rep.directory) / "cost.csv", delimiter=",", names=True,
                         dtype=None, encoding=None)
    assert tuple(rows.dtype.names) == COST_COLUMNS and len(rows) == 8
    store = CampaignStore(out)
    for r in rows:
        rec = store.task_record(r["task"])
        assert r["wall_s"] == pytest.approx(rec["wall_s"], rel=1e-9)  # one attempt each
        assert r["ranks"] == 1 and r["core_h"] == pytest.approx(r["wall_s"] / 3600, rel=1e-9)
    assert rep.total_core_h == pytest.approx(rows["core_h"].sum(), rel=1e-9)
    assert {r["task"]: r["atoms"] for r in rows}["nemd_T40K_L16"] == 576
    summary = Path(rep.summary_path).read_text()
    assert f"Cost: {rep.total_core_h:.3g} core-hours over 8 finished tasks" in summary


def _project(root: Path) -> Path:
    """A checkout with the campaign file, its structure file and its committed folder."""
    (root / "inputs" / "structures").mkdir(parents=True)
    (root / "inputs" / "campaigns").mkdir()
    write(root / "inputs" / "structures" / "Ar.cif", bulk("Ar", "fcc", a=5.30, cubic=True))
    text = CAMPAIGN.replace('committed = "committed"',
                            'committed = "../../results/committed"')
    text = text.replace('lattice = "fcc"\na_A = 5.30\nelement = "Ar"',
                        'file = "../structures/Ar.cif"')
    path = root / "inputs" / "campaigns" / "c.toml"
    path.write_text(text)
    return path


def _first_format_fingerprint(spec, task) -> str:
    """The fingerprint as mdargy first computed it: the structure and potential tables with
    their absolute file paths, hashed with the task's other inputs."""
    table = "nemd" if task.kind == "nemd" else "emd"
    return canonical_hash({
        "kind": task.kind, "T_K": task.T_K, "seed": task.seed, "params": task.params,
        table: fingerprint_inputs(table, getattr(spec, table), spec.timestep_fs),
        "structure": dict(spec.structure), "potential": dict(spec.potential),
        **fingerprint_inputs("md", spec.md, spec.timestep_fs),
        "extra_commands": spec.extra_commands})


def test_committed_results_travel_with_the_checkout(tmp_path):
    # committed in one checkout, restored in a copy of it elsewhere: file paths differ, file
    # contents do not, so nothing is rerun
    a = _project(tmp_path / "a")
    _run(a, tmp_path / "a" / "out")
    export_committed(a, output=tmp_path / "a" / "out")
    shutil.copytree(tmp_path / "a" / "inputs", tmp_path / "b" / "inputs")
    shutil.copytree(tmp_path / "a" / "results", tmp_path / "b" / "results")
    b = tmp_path / "b" / "inputs" / "campaigns" / "c.toml"
    calls = []
    s = _run(b, tmp_path / "b" / "out", calls)
    assert calls == [] and s.complete and len(s.restored) == 8
    # a structure file with other contents at the same path: every task is rerun
    cif = tmp_path / "b" / "inputs" / "structures" / "Ar.cif"
    cif.write_text(cif.read_text().replace("5.3", "5.4"))
    calls.clear()
    s = _run(b, tmp_path / "b" / "out2", calls)
    assert len(calls) == 8 and not s.restored
    assert all("other inputs" in why for why in s.committed_rejected.values())


def test_records_of_the_first_fingerprint_format_are_recognised(tmp_path):
    # records made when fingerprints hashed absolute paths: recognised where they were made
    # and, through the campaign file their provenance names, in a copy of the checkout
    a = _project(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    b = tmp_path / "b" / "inputs" / "campaigns" / "c.toml"
    spec_a, spec_b = load_campaign(a), load_campaign(b)
    for ta, tb in zip(build_tasks(spec_a), build_tasks(spec_b)):
        assert ta.fingerprint == tb.fingerprint  # contents, not paths
        old = _first_format_fingerprint(spec_a, ta)
        assert old != _first_format_fingerprint(spec_b, tb)
        rec = {"fingerprint": old, "provenance": {"inputs": {"campaign_file": str(a)}}}
        assert ta.matches({"fingerprint": old}) and tb.matches(rec)
        assert not tb.matches({"fingerprint": old})  # made elsewhere, and not saying where
        rec_c = {"fingerprint": old,
                 "provenance": {"inputs": {"campaign_file": str(tmp_path / "c" / "c.toml")}}}
        assert not tb.matches(rec_c)
        assert not tb.matches({"fingerprint": ta.fingerprint[::-1]}) and not tb.matches(None)
        assert "legacy" not in tb.to_dict()
