"""Pure parts of scripts/cu7ps6/validate.py on cases with known answers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts" / "cu7ps6"))
import validate  # noqa: E402


def _gauss(f, centre, width=1.0):
    return np.exp(-0.5 * ((f - centre) / width) ** 2)


def test_dos_shares_of_separated_bands():
    """Cu band at 5 meV, S at 30 meV, P at 55 meV: Cu owns everything below 15 meV, P+S
    everything above 20 meV; with S also at 10 meV, Cu's share below 15 meV is its weight."""
    thz = np.linspace(0, 20, 2001)
    mev = thz * 4.135667696
    dos = {"freq_THz": thz, "freq_meV": mev, "elements": ["Cu", "P", "S"],
           "dos_partial_per_THz": [_gauss(mev, 5), _gauss(mev, 55), _gauss(mev, 30)]}
    sh = validate.dos_shares(dos)
    assert sh["Cu_share_below_15meV"] == pytest.approx(1.0, abs=1e-12)
    assert sh["PS_share_above_20meV"] == pytest.approx(1.0, abs=1e-12)
    assert sh["peak_meV"]["Cu"] == pytest.approx(5.0, abs=0.05)
    dos["dos_partial_per_THz"][2] = _gauss(mev, 10) / 3.0  # S now below 15 meV, 1/3 the weight
    assert validate.dos_shares(dos)["Cu_share_below_15meV"] == pytest.approx(0.75, abs=1e-3)


def test_closest_pairs_of_a_known_structure():
    from ase import Atoms

    at = Atoms("CuSPS", positions=[[0, 0, 0], [2.2, 0, 0], [5, 5, 5], [5, 5, 7.05]],
               cell=[12, 12, 12], pbc=True)
    d = validate.closest_pairs(at)
    assert d["Cu-S"] == pytest.approx(2.2) and d["P-S"] == pytest.approx(2.05)
    assert d["Cu-Cu"] is None and d["P-P"] is None
