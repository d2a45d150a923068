"""``mdargy lattice`` end to end on small LJ argon runs at two temperatures: fit, phonons (with
the several-temperature dispersion figure), wigner; one-line errors for bad input."""

from __future__ import annotations

import json

import pytest

from mdargy.cli import main

LJ = {"kind": "lj", "cutoff_A": 7.0, "lj": {"Ar": {"epsilon_eV": 0.0104, "sigma_A": 3.40}},
      "masses_amu": {"Ar": 39.948}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from mdargy.drivers.config import EMDConfig
    from mdargy.drivers.emd import run_emd

    base = tmp_path_factory.mktemp("lat_cli")
    out = {}
    for T in (10.0, 30.0):
        cfg = EMDConfig.from_dict(dict(
            structure="inputs/examples/Ar_fcc.cif", replicate=[3, 3, 3],
            output_dir=str(base / f"run{T:g}"), temperature_K=T, timestep_fs=5.0, seed=5,
            equilibration_ps=3.0, production_ensemble="nvt", production_ps=7.5,
            dump_every_fs=250.0, thermo_every_fs=250.0, checkpoint_every_ps=500.0, text_dump=False,
            potential=LJ))
        run_emd(cfg, progress=False)
        out[T] = base / f"run{T:g}"
    return base, out


def test_cli_fit_phonons_wigner(runs, capsys):
    base, r = runs
    dirs = []
    for T, run in r.items():
        d = base / f"fc{T:g}"
        assert main(["lattice", "fit", str(run), "-o", str(d), "--snapshots", "8",
                     "--cutoffs", "7.0", "4.0", "--cv-splits", "2", "-q"]) == 0
        dirs.append(d)
    out = capsys.readouterr().out
    assert "force RMSE" in out and "CV RMSE" in out and "R²" in out
    # a second fit into the same folder is refused (nothing overwritten)
    assert main(["lattice", "fit", str(r[10.0]), "-o", str(dirs[0]), "-q"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["lattice", "phonons", *map(str, dirs), "--mesh", "6", "-q"]) == 0
    out = capsys.readouterr().out
    import re

    dos = [float(v) for v in re.findall(r"∫DOS = ([0-9.]+)", out)]
    assert len(dos) == 2 and all(abs(v - 3.0) < 0.01 for v in dos)
    assert (base / "dispersions.png").stat().st_size > 10_000
    for d in dirs:
        assert (d / "dispersion_Ar.png").is_file() and (d / "dos.csv").is_file()
    assert main(["lattice", "wigner", str(dirs[1]), "-T", "30", "--mesh", "5",
                 "--coarse-mesh", "4", "--band", "0.5", "1.5", "-q"]) == 0
    out = capsys.readouterr().out
    assert "kappa_p_W_mK" in out and "mesh check: 5×5×5 vs 4×4×4" in out
    w = json.loads((dirs[1] / "wigner.json").read_text())
    assert w["result_type"] == "WignerResult" and w["kappa_p_scalar_W_mK"][0] > 0
    header = (dirs[1] / "kappa.csv").read_text().splitlines()[0]
    assert header.startswith("T_K,kappa_p_W_mK,kappa_c_W_mK,kappa_total_W_mK")


def test_cli_errors_are_one_line(runs, tmp_path, capsys):
    base, r = runs
    rc = main(["lattice", "fit", str(r[10.0]), "-o", str(tmp_path / "x"), "--cutoffs", "9.5",
               "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "order-2 cutoff 9.5 Å is too long" in err and len(err.splitlines()) == 1
    rc = main(["lattice", "wigner", str(tmp_path), "-q"])
    assert rc == 2 and "not a `mdargy lattice fit` folder" in capsys.readouterr().err
