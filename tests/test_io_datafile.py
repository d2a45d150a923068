"""The one LAMMPS ``Masses`` parser (io.datafile), used by the trajectory loader and the
structure reader alike, and the element/mass tables (io.masses)."""

from __future__ import annotations

import numpy as np
import pytest

from mdargy.errors import InputError
from mdargy.io.datafile import atoms_style, read_lammps_data_masses, read_masses_section
from mdargy.io.masses import element_from_mass, elements_for_types, nearest_element
from mdargy.structures.load import data_file_type_elements, read_structure

DATA = """LAMMPS data file (title line: 3 atom types here is not the header)

4 atoms
3 atom types

0 10 xlo xhi
0 10 ylo yhi
0 10 zlo zhi

Masses  # per type

1 63.546  # Cu
2 30.974
3 40.0  # X9 not an element

Atoms # atomic

1 1 0 0 0
2 1 5 5 5
3 2 2 2 2
4 3 7 7 7
"""


def test_masses_section_types_masses_and_labels(tmp_path):
    p = tmp_path / "a.data"
    p.write_text(DATA)
    sec = read_masses_section(p)
    assert sec.found and sec.n_types == 3
    assert sec.masses == {1: 63.546, 2: 30.974, 3: 40.0}
    assert sec.labels == {1: "Cu", 3: "X9"}
    assert read_lammps_data_masses(p) == sec.masses
    assert atoms_style(p) == "atomic"
    # the structure reader takes the comment when it is an element, else the element whose
    # standard mass is within 0.1 u (type 2: P 30.974; type 3: "X9" is no element, 40.0 is
    # 0.052 from Ar)
    assert data_file_type_elements(p) == ["Cu", "P", "Ar"]
    atoms = read_structure(p)
    assert atoms.get_chemical_symbols() == ["Cu", "Cu", "P", "Ar"]


def test_masses_rules_and_errors(tmp_path):
    p = tmp_path / "b.data"
    p.write_text(DATA.replace("3 40.0  # X9 not an element", "2 40.0"))
    with pytest.raises(InputError, match=r"b.data:14: atom type 2 appears twice"):
        read_masses_section(p)
    p.write_text(DATA.replace("3 40.0  # X9 not an element", "4 40.0"))
    with pytest.raises(InputError, match="type 4 in Masses is outside 1..3"):
        read_masses_section(p)
    p.write_text(DATA.replace("1 63.546  # Cu", "one 63.546"))
    with pytest.raises(InputError, match="cannot read the Masses line 'one 63.546'"):
        read_masses_section(p)
    p.write_text(DATA.replace("Masses  # per type", "Velocities"))
    assert not read_masses_section(p).found
    with pytest.raises(InputError, match="no Masses section"):
        read_lammps_data_masses(p)
    # a section cut short by the next one keeps its rows (data files without blank lines)
    p.write_text(DATA.replace("3 40.0  # X9 not an element\n\n", "3 40.0\nAtoms\n"))
    assert read_masses_section(p).masses == {1: 63.546, 2: 30.974, 3: 40.0}
    with pytest.raises(InputError, match="no such LAMMPS data file"):
        read_masses_section(tmp_path / "missing.data")


def test_elements_from_masses_and_type_maps():
    assert nearest_element(39.95, 0.1)[0] == "Ar" and nearest_element(40.5, 0.1)[0] is None
    assert element_from_mass(1.0) == "H"  # LJ reduced masses map to H within 0.6 u
    with pytest.raises(InputError, match="matches no element"):
        element_from_mass(0.3)
    els, m = elements_for_types(np.array([2, 1, 2]), {1: "Cu"}, {2: 32.06})
    assert els.tolist() == ["S", "Cu", "S"] and m.tolist() == [32.06, pytest.approx(63.546), 32.06]
    with pytest.raises(InputError, match="atom type 3 has no element"):
        elements_for_types(np.array([3]), {1: "Cu"}, None)
