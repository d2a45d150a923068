"""The equation-of-state fits behind the Cu7PS6 lattice constants (scripts/cu7ps6/lattice_constant.py):
known Birch–Murnaghan parameters are recovered from E(V) and from P(V), P = -dE/dV holds, and an
ASE calculator with a known minimum (EMT copper) gives its own lattice constant."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts" / "cu7ps6"))
import lattice_constant as lc  # noqa: E402

from mdargy.constants import EV_A3_TO_GPA as GPA  # noqa: E402
from mdargy.errors import InputError  # noqa: E402


def test_birch_murnaghan_parameters_are_recovered():
    V0, B0, B0p = 900.0, 80.0 / GPA, 4.7
    V = np.linspace(0.90, 1.10, 7) * V0
    E = lc.bm_energy(V, -250.0, V0, B0, B0p)
    P = lc.bm_pressure(V, V0, B0, B0p)
    r = lc.fit_eos(V, E, P)
    assert r["a0_E_A"] == pytest.approx(V0 ** (1 / 3), rel=1e-7)
    assert r["a0_P_A"] == pytest.approx(V0 ** (1 / 3), rel=1e-7)
    assert r["B0_E_GPa"] == pytest.approx(80.0, rel=1e-5)
    assert r["B0p_P"] == pytest.approx(4.7, rel=1e-4)


def test_pressure_is_minus_the_volume_derivative_of_energy():
    V0, B0, B0p = 900.0, 0.5, 4.2
    V = np.linspace(820.0, 980.0, 9)
    h = 1e-4
    dEdV = (lc.bm_energy(V + h, 0.0, V0, B0, B0p) - lc.bm_energy(V - h, 0.0, V0, B0, B0p)) / (2 * h)
    np.testing.assert_allclose(lc.bm_pressure(V, V0, B0, B0p), -dEdV, rtol=1e-6, atol=1e-10)


def test_fit_of_labelled_cells_finds_emt_copper(tmp_path, capsys):
    frames = []
    for a in np.linspace(3.50, 3.70, 5):
        at = bulk("Cu", "fcc", a=a, cubic=True)
        at.calc = EMT()
        e, f, s = at.get_potential_energy(), at.get_forces(), at.get_stress()
        lab = at.copy()
        lab.info = {"frame_id": f"a{a:.3f}", "ions": "clamped"}
        lab.calc = SinglePointCalculator(lab, energy=e, forces=f, stress=s)
        frames.append(lab)
    path = tmp_path / "emt.extxyz"
    write(path, frames)
    out = tmp_path / "fit.json"
    assert lc.main(["fit", "--labels", f"EMT={path}", "--json", str(out)]) == 0
    assert "| EMT | clamped |" in capsys.readouterr().out
    r = json.loads(out.read_text())["models"]["EMT, clamped ions"]
    # EMT's own fcc Cu lattice constant: the minimum of its E(a) on a fine scan
    a_scan = np.linspace(3.55, 3.63, 801)
    e_scan = []
    for a in a_scan:
        at = bulk("Cu", "fcc", a=a, cubic=True)
        at.calc = EMT()
        e_scan.append(at.get_potential_energy())
    a_min = a_scan[int(np.argmin(e_scan))]
    assert r["a0_E_A"] == pytest.approx(a_min, abs=2e-3)
    assert r["a0_P_A"] == pytest.approx(a_min, abs=2e-3)


def test_too_few_volumes_is_refused():
    with pytest.raises(InputError, match="at least 5"):
        lc.fit_eos([1.0, 2.0, 3.0], [0.0, -1.0, 0.0])
