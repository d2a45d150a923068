"""mdargy.constants against values worked out by hand from the SI definitions and CODATA."""

from __future__ import annotations

import pytest

from mdargy import constants as c

# exact in the SI since 2019
K_B = 1.380649e-23  # J/K
E = 1.602176634e-19  # C
H = 6.62607015e-34  # J s
N_A = 6.02214076e23  # 1/mol
C_LIGHT = 299792458.0  # m/s


def test_exact_constants():
    assert c.K_B_J_K == K_B and c.E_CHARGE_C == E and c.EV_J == E
    assert c.H_J_S == H and c.AVOGADRO_PER_MOL == N_A and c.C_M_S == C_LIGHT
    assert c.K_B_EV_K == pytest.approx(K_B / E, rel=1e-15)
    assert c.R_J_MOLK == pytest.approx(K_B * N_A, rel=1e-15)


def test_measured_constants_match_codata_2018_and_2022():
    # CODATA 2018: 1.66053906660e-27 kg, 0.529177210903 Å; CODATA 2022: 1.66053906892e-27 kg,
    # 0.529177210544 Å. Either edition may ship with SciPy.
    assert c.AMU_KG == pytest.approx(1.6605390666e-27, rel=2e-9)
    assert c.BOHR_A == pytest.approx(0.529177210903, rel=1e-9)


def test_unit_conversions_worked_by_hand():
    assert c.ANGSTROM_M == 1e-10 and c.PS_S == 1e-12
    assert c.A2_PS_TO_CM2_S == pytest.approx(1e-4, rel=1e-15)  # 1e-16 cm² / 1e-12 s
    assert c.A3_TO_CM3 == pytest.approx(1e-24, rel=1e-15)
    assert c.EV_PS_TO_W == pytest.approx(E / 1e-12, rel=1e-15)
    assert c.H_EV_PS == pytest.approx(H / E * 1e12, rel=1e-15)
    assert c.THZ_TO_MEV == pytest.approx(4.135667696, rel=1e-9)  # h · 1 THz
    assert c.THZ_TO_CM1 == pytest.approx(1e12 / (C_LIGHT * 100), rel=1e-15)
    assert c.EV_A3_TO_GPA == pytest.approx(E / 1e-30 / 1e9, rel=1e-15)  # 160.2176634
    # metal units: 1 amu (Å/ps)² in eV; LAMMPS's mvv2e = 1.0364269e-4 is this to 7 digits
    assert c.AMU_A2_PS2_TO_EV == pytest.approx(1.0364269e-4, rel=1e-7)


def test_ase_units_agree():
    """ASE (CODATA 2014 by default) agrees to the precision of that older edition."""
    units = pytest.importorskip("ase.units")
    assert c.K_B_EV_K == pytest.approx(units.kB, rel=1e-6)
    assert c.AMU_A2_PS2_TO_EV == pytest.approx(units._amu * 1e4 / units._e, rel=1e-7)
    assert c.BOHR_A == pytest.approx(units.Bohr, rel=1e-8)
