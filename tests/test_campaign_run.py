"""Campaigns end to end.

* a known-answer test of the report: a campaign whose task function produces exactly known
  κ(L) (1/κ = 1/κ∞ + A/L), Brownian trajectories with Arrhenius D(T) and harmonic velocities
  of known frequency; the report must recover κ∞, Ea, D and the DOS peak;
* a tiny LJ-argon campaign under ``mpirun -np 2`` split into 2 groups of 1 rank, killed
  (SIGKILL) while one task is finished and another is mid-run, then re-run: it completes,
  finished tasks are not repeated or touched, the interrupted one resumes from its checkpoint;
  then the report of the real runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from mdargy.campaign.report import build_report
from mdargy.campaign.runner import run_campaign
from mdargy.campaign.schema import parse_campaign
from mdargy.constants import K_B_EV_K as K_B
from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_json

MPIRUN = Path(sys.executable).parent / "mpirun"

SYNTHETIC = """
[campaign]
name = "synthetic"
seed = 11

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
lengths_cells = [8, 12, 16, 24]
cross_section_cells = [3, 3]
equilibration_ps = 1.0
production_ps = 10.0
block_ps = 0.5

[emd]
msd_temperatures_K = [500.0, 600.0, 700.0]
dos_temperatures_K = [500.0]
replicate = [2, 2, 2]
equilibration_ps = 1.0
production_ps = 10.0
dump_every_fs = 10.0
"""

KAPPA_INF = {40.0: 0.5, 60.0: 0.35}  # W/m/K
A_COEF = 20.0  # Å m K / W
EA, D0 = 0.30, 1e-2  # eV, cm²/s
NU_THZ = 1.5


def synthetic_executor(spec, task, workdir, comm):
    """Exact κ(L); Brownian walkers with D(T) = D0 exp(-Ea/kT); harmonic velocities at NU."""
    rng = np.random.default_rng(task.seed)
    if task.kind == "nemd":
        L = task.params["length_cells"] * 5.30
        k = 1.0 / (1.0 / KAPPA_INF[task.T_K] + A_COEF / L)
        return {"kind": "nemd", "length_A": L, "kappa_W_mK": k, "kappa_err_W_mK": 0.01 * k,
                "T_mean_K": task.T_K, "warnings": []}
    from mdargy.analysis.diffusion import diffusion_coefficients
    from mdargy.analysis.dos import compute_dos

    n_frames, n_atoms, dt_ps = 2000, 64, 0.01
    out = {"kind": "emd", "msd": None, "diffusion": None, "dos": None, "warnings": []}
    if task.params["msd"]:
        D = D0 * np.exp(-EA / (K_B * task.T_K))  # cm²/s
        step = np.sqrt(2 * D * 1e4 * dt_ps)  # Å per axis per frame (1 cm²/s = 1e4 Å²/ps)
        pos = np.cumsum(rng.normal(0.0, step, (n_frames, n_atoms, 3)), axis=0)
        da = diffusion_coefficients(pos, dt_ps, species=["Ar"] * n_atoms, window_ps=(0.5, 3.0),
                                    T_K=task.T_K)
        da.msd.to_json(Path(workdir) / "msd.json")
        atomic_write_json(Path(workdir) / "diffusion.json",
                          {"diffusion": [d.to_dict() for d in da.diffusion]})
        out.update(msd="msd.json", diffusion="diffusion.json")
    if task.params["dos"]:
        t = np.arange(n_frames) * dt_ps
        phase = rng.uniform(0, 2 * np.pi, (n_atoms, 3))
        v = np.cos(2 * np.pi * NU_THZ * t[:, None, None] + phase[None])
        dos = compute_dos(v, dt_ps, elements=["Ar"] * n_atoms,
                          masses_amu=np.full(n_atoms, 39.948), resolution_THz=0.1)
        dos.to_json(Path(workdir) / "dos.json")
        out["dos"] = "dos.json"
    return out


def test_report_recovers_known_answers(tmp_path):
    spec = parse_campaign(SYNTHETIC, tmp_path / "synthetic.toml", output=tmp_path / "out")
    summary = run_campaign(spec, executor=synthetic_executor, quiet=True, tick_s=0)
    assert summary.complete and len(summary.done_now) == 11
    rep = build_report(spec)
    rdir = Path(rep.directory)
    # κ∞ ± σ at each T, from the four lengths
    rows = {r["T_K"]: r for r in rep.kappa_inf}
    for T, kinf in KAPPA_INF.items():
        assert rows[T]["kappa_inf_W_mK"] == pytest.approx(kinf, rel=1e-9)
        assert 0 < rows[T]["kappa_inf_err_W_mK"] < 0.05 * kinf and rows[T]["n_lengths"] == 4
    csv = np.genfromtxt(rdir / "kappa_inf.csv", delimiter=",", names=True)
    assert np.allclose(np.sort(csv["kappa_inf_W_mK"]), sorted(KAPPA_INF.values()))
    kl = np.genfromtxt(rdir / "kappa_L.csv", delimiter=",", names=True, dtype=None, encoding=None)
    assert len(kl) == 8 and set(kl["length_cells"]) == {8, 12, 16, 24}
    # D(T) and the Arrhenius fit
    for r in rep.diffusion:
        D = D0 * np.exp(-EA / (K_B * r["T_K"]))
        assert abs(r["D_cm2_s"] - D) < 4 * r["D_err_cm2_s"] + 0.05 * D and r["significant"]
    (arr,) = rep.arrhenius
    assert arr["species"] == "Ar" and abs(arr["Ea_eV"] - EA) < 3 * arr["Ea_err_eV"] + 0.02
    # DOS: integral 3N, peak at the oscillators' frequency
    (dos,) = rep.dos
    assert dos["integral"] == pytest.approx(3 * 64, rel=1e-6)
    table = np.genfromtxt(rdir / dos["csv"], delimiter=",", names=True)
    assert table["freq_THz"][np.argmax(table["dos_total_per_THz"])] == pytest.approx(NU_THZ, abs=0.03)
    # the page shows the numbers and the figures, which exist
    md = (rdir / "summary.md").read_text()
    for name in ("kappa_L_T40K.png", "kappa_L_T60K.png", "kappa_inf_vs_T.png", "arrhenius.png",
                 "msd_T500K.png", "dos_T500K.png"):
        assert (rdir / "figures" / name).stat().st_size > 1000
        assert f"figures/{name}" in md
    assert "0.5 |" in md and "κ∞(T)" in md
    data = json.loads((rdir / "report.json").read_text())
    assert data["missing_tasks"] == [] and len(data["task_status"]) == 11
    assert "kappa_inf" in rep.text_summary() and str(rdir / "summary.md") in rep.text_summary()
    # re-running changes nothing: every task is skipped
    again = run_campaign(spec, executor=synthetic_executor, quiet=True, tick_s=0)
    assert again.ran == () and len(again.skipped_done) == 11


def test_only_some_tasks_now_the_rest_later(tmp_path):
    spec = parse_campaign(SYNTHETIC, tmp_path / "synthetic.toml", output=tmp_path / "out")
    with pytest.raises(InputError, match="no task of the campaign matches"):
        run_campaign(spec, executor=synthetic_executor, quiet=True, tick_s=0,
                     only=("nemd_T40K_*", "nemd_T99K_*"))
    s = run_campaign(spec, executor=synthetic_executor, quiet=True, tick_s=0,
                     only=("nemd_T40K_*", "emd_T500K"))
    assert sorted(s.ran) == ["emd_T500K", "nemd_T40K_L12", "nemd_T40K_L16", "nemd_T40K_L24",
                             "nemd_T40K_L8"]
    assert s.selection_complete and not s.complete and len(s.left_out) == 6
    rest = run_campaign(spec, executor=synthetic_executor, quiet=True, tick_s=0)
    assert len(rest.ran) == 6 and len(rest.skipped_done) == 5 and rest.complete


def test_partial_and_failed_tasks_in_report(tmp_path):
    spec = parse_campaign(SYNTHETIC, tmp_path / "synthetic.toml", output=tmp_path / "out")

    def flaky(spec, task, workdir, comm):
        if task.id in ("nemd_T60K_L24", "emd_T700K"):
            raise RuntimeError("synthetic failure")
        return synthetic_executor(spec, task, workdir, comm)

    s = run_campaign(spec, executor=flaky, quiet=True, tick_s=0)
    assert set(s.failed) == {"nemd_T60K_L24", "emd_T700K"} and len(s.done_now) == 9
    idx = json.loads((spec.output / "campaign.json").read_text())
    assert idx["tasks"]["emd_T700K"]["status"] == "failed"
    assert "synthetic failure" in idx["tasks"]["emd_T700K"]["error"]
    assert "Traceback" in (spec.output / "work" / "emd_T700K" / "error.txt").read_text()
    rep = build_report(spec)
    assert set(rep.missing) == {"nemd_T60K_L24", "emd_T700K"}
    assert {r["T_K"]: r["n_lengths"] for r in rep.kappa_inf} == {40.0: 4, 60.0: 3}
    assert "Not finished" in Path(rep.summary_path).read_text()
    # without retry the failures stay; with retry (default) only they run again
    s2 = run_campaign(spec, executor=flaky, quiet=True, tick_s=0, retry_failed=False)
    assert s2.ran == () and set(s2.failed) == {"nemd_T60K_L24", "emd_T700K"}
    s3 = run_campaign(spec, executor=synthetic_executor, quiet=True, tick_s=0)
    assert sorted(s3.ran) == ["emd_T700K", "nemd_T60K_L24"] and s3.complete
    idx = json.loads((spec.output / "campaign.json").read_text())
    assert idx["tasks"]["emd_T700K"]["attempts"] == 2 and idx["tasks"]["nemd_T40K_L8"]["attempts"] == 1


def test_changed_inputs_make_finished_tasks_stale_not_overwritten(tmp_path):
    spec = parse_campaign(SYNTHETIC, tmp_path / "s.toml", output=tmp_path / "out")
    run_campaign(spec, executor=synthetic_executor, quiet=True, tick_s=0)
    before = (spec.output / "tasks" / "nemd_T40K_L8" / "task.json").read_bytes()
    changed = parse_campaign(SYNTHETIC.replace("cross_section_cells = [3, 3]",
                                               "cross_section_cells = [4, 4]"),
                             tmp_path / "s.toml", output=tmp_path / "out")
    s = run_campaign(changed, executor=synthetic_executor, quiet=True, tick_s=0)
    assert len(s.stale) == 8 and s.ran == () and not s.complete  # NEMD stale, EMD unchanged
    assert (spec.output / "tasks" / "nemd_T40K_L8" / "task.json").read_bytes() == before


# ------------------------------------------------------------------------------------------
# real LAMMPS under mpirun -np 2, killed and resumed
# ------------------------------------------------------------------------------------------

TINY_LJ = textwrap.dedent(
    """
    [campaign]
    name = "tiny-lj"
    seed = 3

    [structure]
    lattice = "fcc"
    a_A = 5.30
    element = "Ar"

    [potential]
    kind = "lj"
    cutoff_A = 8.5
    lj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }

    [md]
    timestep_fs = 5.0

    [nemd]
    temperatures_K = [40.0]
    lengths_cells = [6, 10]
    cross_section_cells = [3, 3]
    delta_T_K = 10.0
    equilibration_ps = 2.0
    production_ps = PROD
    block_ps = 1.0
    checkpoint_every_ps = 2.0

    [emd]
    msd_temperatures_K = [40.0]
    dos_temperatures_K = [40.0]
    replicate = [3, 3, 3]
    equilibration_ps = 1.0
    production_ps = 10.0
    dump_every_fs = 20.0

    [lammps]
    extra_commands = "pair_modify shift yes"
    """
)


def _descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (mpirun's proxies and ranks; the proxies start new sessions)."""
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            kids = open(f"/proc/{pid}/task/{tid}/children").read().split()
        except FileNotFoundError:
            continue
        for k in map(int, kids):
            out += [k] + _descendants(k)
    return out


def _hard_kill(p) -> None:
    """SIGKILL the mpirun we started and every process below it, like a wall-time kill."""
    pids = [p.pid] + _descendants(p.pid)
    for pid in reversed(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait(timeout=30)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        alive = []
        for pid in pids[1:]:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    if fh.read().split(")")[-1].split()[0] != "Z":
                        alive.append(pid)
            except FileNotFoundError:
                pass
        if not alive:
            return
        time.sleep(0.1)


def _launch(campaign, out, log):
    cmd = [str(MPIRUN), "-np", "2", sys.executable, "-m", "mdargy", "campaign", "run",
           str(campaign), "--ranks-per-task", "1", "--output", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def test_mpi_campaign_killed_and_resumed(tmp_path):
    campaign = tmp_path / "tiny.toml"
    # one bar much longer than the others, so it is surely still running (with a checkpoint)
    # when a short task has finished, however fast or idle the machine
    campaign.write_text(TINY_LJ.replace("PROD", "40.0").replace("lengths_cells = [6, 10]",
                                                              "lengths_cells = [6, 24]"))
    out = tmp_path / "out"
    log1 = open(tmp_path / "run1.log", "w")
    p = _launch(campaign, out, log1)
    # wait until one task is finished and the long one has written a checkpoint
    state = out / "work" / "nemd_T40K_L24" / "run" / "checkpoints" / "state.json"
    t0 = time.monotonic()
    killed = False
    while time.monotonic() - t0 < 120 and p.poll() is None:
        finished = list((out / "tasks").glob("*/task.json")) if (out / "tasks").exists() else []
        if finished and state.exists():
            _hard_kill(p)
            killed = True
            break
        time.sleep(0.1)
    if not killed:
        p.wait(timeout=30)
    log1.close()
    assert killed, "the campaign ended before it could be interrupted:\n" + (tmp_path / "run1.log").read_text()
    assert not (out / "tasks" / "nemd_T40K_L24").exists()
    done_before = {d.name: (d / "task.json").read_bytes() for d in (out / "tasks").iterdir()}
    assert done_before, "no finished task before the kill"
    idx = json.loads((out / "campaign.json").read_text())
    assert idx["tasks"]["nemd_T40K_L24"]["status"] == "running"  # as left by the kill
    st = subprocess.run([sys.executable, "-m", "mdargy", "campaign", "status", str(campaign),
                         "--output", str(out), "--check"], capture_output=True, text=True)
    assert st.returncode == 3 and "interrupted" in st.stdout  # tasks left: resubmit

    log2 = open(tmp_path / "run2.log", "w")
    p2 = _launch(campaign, out, log2)
    assert p2.wait(timeout=150) == 0, (tmp_path / "run2.log").read_text()
    log2.close()
    text = (tmp_path / "run2.log").read_text()
    for tid, blob in done_before.items():  # finished tasks: skipped, files untouched
        assert (out / "tasks" / tid / "task.json").read_bytes() == blob
        assert f"starting {tid}" not in text and f"resuming {tid}" not in text
    assert f"{len(done_before)} already done" in text and "resuming nemd_T40K_L24" in text
    idx = json.loads((out / "campaign.json").read_text())
    assert {e["status"] for e in idx["tasks"].values()} == {"done"}
    assert {e["group"] for e in idx["tasks"].values() if "group" in e} <= {0, 1}
    rec = json.loads((out / "tasks" / "nemd_T40K_L24" / "task.json").read_text())
    assert rec["outputs"]["resumed_from_step"] > 0 and len(rec["attempts"]) == 2
    assert not (out / ".campaign.lock").exists() and not list((out / "work").iterdir())

    # the report of the real runs: tables match the task results
    rep = build_report(campaign, output=out)
    kl = np.genfromtxt(Path(rep.directory) / "kappa_L.csv", delimiter=",", names=True,
                       dtype=None, encoding=None)
    for row in np.atleast_1d(kl):
        res = json.loads((out / "tasks" / row["task"] / "run" / "result.json").read_text())
        assert row["kappa_W_mK"] == pytest.approx(res["kappa_W_mK"], rel=1e-8)
        assert row["length_A"] == pytest.approx(res["length_A"], rel=1e-8)
    (dos,) = rep.dos
    assert dos["n_atoms_total"] == 108 and dos["integral"] == pytest.approx(3 * 108, rel=1e-3)
    assert 0.5 < dos["mean_freq_THz"] < 3.0  # LJ argon phonons lie below ~2.2 THz
    (d,) = rep.diffusion
    assert d["species"] == "Ar" and not d["significant"]  # a crystal at 40 K does not diffuse
    assert (Path(rep.directory) / "figures" / "dos_T40K.png").exists()


def test_run_lock(tmp_path):
    from mdargy.campaign.store import CampaignStore
    from mdargy.errors import MdargyError

    s = CampaignStore(tmp_path)
    s.acquire_lock()
    with pytest.raises(MdargyError, match="in use by another"):
        CampaignStore(tmp_path).acquire_lock()  # a live owner on this host: refused at once
    dead = subprocess.Popen(["true"])
    dead.wait()
    rec = json.loads(s.lock_path.read_text())
    atomic_write_json(s.lock_path, {**rec, "pid": dead.pid})
    CampaignStore(tmp_path).acquire_lock()  # its owner is gone: taken over
    assert json.loads(s.lock_path.read_text())["pid"] == os.getpid()
    atomic_write_json(s.lock_path, {**rec, "host": "elsewhere"})
    os.utime(s.lock_path, (time.time() - 120, time.time() - 120))
    CampaignStore(tmp_path).acquire_lock(stale_s=60)  # not refreshed for 2 min: stale
    s.release_lock()
    assert not s.lock_path.exists()


def test_mpi_one_group_of_two_ranks(tmp_path):
    """k = N = 2: every task runs on one LAMMPS instance spread over both ranks."""
    campaign = tmp_path / "k2.toml"
    text = TINY_LJ.replace("PROD", "10.0").replace("lengths_cells = [6, 10]", "lengths_cells = [6]")
    campaign.write_text(text)
    out = tmp_path / "out"
    cmd = [str(MPIRUN), "-np", "2", sys.executable, "-m", "mdargy", "campaign", "run",
           str(campaign), "--ranks-per-task", "2", "--output", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=150,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "on 1 group of 2 ranks" in r.stdout and "(2 ranks)" in r.stdout
    for tid in ("nemd_T40K_L6", "emd_T40K"):
        rec = json.loads((out / "tasks" / tid / "task.json").read_text())
        assert rec["status"] == "done" and rec["provenance"]["inputs"]["ranks"] == 2
    assert json.loads((out / "tasks" / "emd_T40K" / "task.json").read_text())["outputs"]["dos"] == "dos.json"


def test_reanalyse_redoes_only_the_named_emd_task(tmp_path):
    """--reanalyse: a finished EMD task runs again in work/ (its stage folders moved aside, not
    deleted); the other tasks are not touched; bad names and NEMD tasks are refused."""
    spec = parse_campaign(SYNTHETIC, tmp_path / "synthetic.toml", output=tmp_path / "out")
    assert run_campaign(spec, executor=synthetic_executor, quiet=True, tick_s=0).complete
    stage = spec.output / "tasks" / "emd_T500K" / "lattice"
    stage.mkdir()
    (stage / "snapshots.npz").write_bytes(b"old settings")
    seen = []

    def recording(spec, task, workdir, comm):
        seen.append((task.id, Path(workdir)))
        return synthetic_executor(spec, task, workdir, comm)

    s = run_campaign(spec, executor=recording, quiet=True, tick_s=0, reanalyse=["emd_T500K"])
    assert s.complete and s.ran == ("emd_T500K",) and len(s.skipped_done) == 10
    assert seen == [("emd_T500K", spec.output / "work" / "emd_T500K")]
    final = spec.output / "tasks" / "emd_T500K"
    assert json.loads((final / "task.json").read_text())["status"] == "done"
    assert not (final / "lattice").exists()
    (aside,) = final.glob("lattice.superseded-*")
    assert (aside / "snapshots.npz").read_bytes() == b"old settings"
    for bad, msg in (("emd_T999K", "no such task"), ("nemd_T40K_L8", "only EMD tasks")):
        with pytest.raises(InputError, match=msg):
            run_campaign(spec, executor=recording, quiet=True, tick_s=0, reanalyse=[bad])


def test_arrhenius_uses_the_runs_mean_temperature(tmp_path):
    """Runs whose mean temperature drifted from the set one (NVE): the Arrhenius law is fitted
    at the mean temperatures (recovers Ea), which the diffusion table also lists."""
    spec = parse_campaign(SYNTHETIC, tmp_path / "synthetic.toml", output=tmp_path / "out")
    drift = {500.0: 430.0, 600.0: 560.0, 700.0: 690.0}

    def drifted(spec, task, workdir, comm):
        if task.kind == "nemd":
            return synthetic_executor(spec, task, workdir, comm)
        out = synthetic_executor(spec, dataclasses.replace(task, T_K=drift[task.T_K]), workdir,
                                 comm)
        return {**out, "T_mean_K": drift[task.T_K]}

    assert run_campaign(spec, executor=drifted, quiet=True, tick_s=0).complete
    rep = build_report(spec, figures=False)
    (arr,) = rep.arrhenius
    assert abs(arr["Ea_eV"] - EA) < 3 * arr["Ea_err_eV"] + 0.02
    assert sorted(arr["T_K"]) == sorted(drift.values())
    table = np.genfromtxt(Path(rep.directory) / "diffusion.csv", delimiter=",", names=True,
                          dtype=None, encoding=None)
    assert sorted(table["T_mean_K"]) == sorted(drift.values())
