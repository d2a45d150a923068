"""``--dry-run`` writes a complete LAMMPS deck (in.lammps + structure.data) that LAMMPS itself
runs, for EMD and both NEMD methods."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mdargy.cli import main
from mdargy.io.lammpsdump import read_lammps_dump
from mdargy.lammps.runtime import create_lammps

EXAMPLES = Path(__file__).resolve().parent.parent / "inputs" / "examples"


def run_deck(deck: Path) -> int:
    """Run ``in.lammps`` in ``deck`` with the LAMMPS Python module; return the last step."""
    here = os.getcwd()
    lmp = create_lammps(load_plugins=False)
    try:
        os.chdir(deck)
        lmp.file("in.lammps")
        return int(lmp.extract_global("ntimestep"))
    finally:
        os.chdir(here)
        lmp.close()


def test_emd_deck_runs_in_lammps(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["emd", str(EXAMPLES / "lj_argon_emd.toml"), "-o", str(out), "--set",
            "equilibration_ps=0.1", "--set", "production_ps=0.2", "--set", "dump_every_fs=100",
            "--set", "thermo_every_fs=100", "--set", "checkpoint_every_ps=0.1", "--set",
            "heat_every_fs=50"]
    assert main(args + ["--dry-run"]) == 0
    deck = out / "deck"
    printed = capsys.readouterr()
    assert "read_data structure.data" in printed.out and str(deck) in printed.err
    assert sorted(p.name for p in out.iterdir()) == ["deck"]  # no run was started
    assert sorted(p.name for p in deck.iterdir()) == ["in.lammps", "structure.data"]
    assert run_deck(deck) == 60
    dump = read_lammps_dump(deck / "traj.lammpstrj")
    assert dump.steps.tolist() == [20, 40, 60] and set(dump.elements) == {"Ar"}
    assert dump.units == "metal" and np.allclose(np.diff(dump.times_ps), 0.1)
    # the same deck again: identical files are kept; a changed input is not overwritten
    assert main(args + ["--dry-run"]) == 0
    assert main(args + ["--dry-run", "--set", "temperature_K=60"]) == 2
    assert "in.lammps exists in the deck folder with other content" in capsys.readouterr().err
    assert "velocity all create 50 " in (deck / "in.lammps").read_text()


@pytest.mark.parametrize("method", ["langevin", "muller-plathe"])
def test_nemd_deck_runs_in_lammps(tmp_path, method, capsys):
    deck = tmp_path / "deck here"
    assert main(["nemd", str(EXAMPLES / "lj_argon_nemd.toml"), "-o", str(tmp_path / "run"),
                 "--method", method, "--set", "equilibration_ps=0.25", "--set",
                 "production_ps=2.0", "--set", "block_ps=0.25", "--set", "checkpoint_every_ps=1.0",
                 "--dry-run", str(deck)]) == 0
    assert not (tmp_path / "run").exists()
    text = (deck / "in.lammps").read_text()
    assert ("langevin" in text) == (method == "langevin")
    assert run_deck(deck) == 450
