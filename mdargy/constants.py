"""Physical constants and unit conversions, in one place, from :mod:`scipy.constants`.

The values are the CODATA recommended values that the installed SciPy ships (CODATA 2018 in
SciPy < 1.15, CODATA 2022 since; the SI-defining constants k_B, e, h, N_A are exact in both).
Nothing here is typed in: every number is derived from :mod:`scipy.constants`, so a change of
CODATA edition changes all of them together.

LAMMPS ``metal`` units keep their own, older constants (``boltz = 8.617343e-5 eV/K``,
``mvv2e = 1.0364269e-4``); they differ from these by about 1e-6 relative. Quantities computed
*inside* LAMMPS (its ``temp``, ``ke``) use LAMMPS's values; quantities mdargy computes from
arrays use these.

Names carry their units: ``K_B_EV_K`` is the Boltzmann constant in eV/K, ``EV_J`` is 1 eV in J.
"""

from __future__ import annotations

import scipy.constants as _sc

# ---------------------------------------------------------------- fundamental constants

#: Boltzmann constant, J/K (exact).
K_B_J_K: float = _sc.k
#: Elementary charge, C (exact).
E_CHARGE_C: float = _sc.e
#: 1 eV in J (exact).
EV_J: float = _sc.electron_volt
#: Boltzmann constant, eV/K.
K_B_EV_K: float = _sc.k / _sc.e
#: Planck constant, J s (exact).
H_J_S: float = _sc.h
#: Planck constant in eV·ps (= eV per THz).
H_EV_PS: float = _sc.h / _sc.e / _sc.pico
#: Avogadro constant, 1/mol (exact).
AVOGADRO_PER_MOL: float = _sc.N_A
#: Molar gas constant, J/(mol K).
R_J_MOLK: float = _sc.R
#: Atomic mass constant (1 amu = 1 g/mol per particle), kg.
AMU_KG: float = _sc.physical_constants["atomic mass constant"][0]
#: Speed of light in vacuum, m/s (exact).
C_M_S: float = _sc.c
#: Bohr radius, Å.
BOHR_A: float = _sc.physical_constants["Bohr radius"][0] / _sc.angstrom

# ---------------------------------------------------------------- unit conversions

#: 1 Å in m.
ANGSTROM_M: float = _sc.angstrom
#: 1 ps in s.
PS_S: float = _sc.pico
#: 1 Å²/ps in cm²/s (diffusion coefficients): 1e-16 cm² / 1e-12 s.
A2_PS_TO_CM2_S: float = (_sc.angstrom / _sc.centi) ** 2 / _sc.pico
#: 1 Å³ in cm³.
A3_TO_CM3: float = (_sc.angstrom / _sc.centi) ** 3
#: 1 eV/ps in W (heat currents).
EV_PS_TO_W: float = _sc.e / _sc.pico
#: 1 amu·Å²/ps² in eV (kinetic energy of metal-unit velocities).
AMU_A2_PS2_TO_EV: float = AMU_KG * (_sc.angstrom / _sc.pico) ** 2 / _sc.e
#: Photon energy of 1 THz in meV.
THZ_TO_MEV: float = H_EV_PS * 1e3
#: 1 THz as a wavenumber in cm⁻¹ (1e12 / c in cm/s).
THZ_TO_CM1: float = 1e12 / (_sc.c / _sc.centi)
#: 1 eV/Å³ in GPa.
EV_A3_TO_GPA: float = _sc.e / _sc.angstrom**3 / _sc.giga

__all__ = [
    "K_B_J_K", "E_CHARGE_C", "EV_J", "K_B_EV_K", "H_J_S", "H_EV_PS", "AVOGADRO_PER_MOL",
    "R_J_MOLK", "AMU_KG", "C_M_S", "BOHR_A", "ANGSTROM_M", "PS_S", "A2_PS_TO_CM2_S",
    "A3_TO_CM3", "EV_PS_TO_W", "AMU_A2_PS2_TO_EV", "THZ_TO_MEV", "THZ_TO_CM1", "EV_A3_TO_GPA",
]
