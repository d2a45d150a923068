"""The thermo.csv reader: columns as arrays, a stage filter, errors naming file and row."""

import numpy as np
import pytest

from mdargy.errors import InputError
from mdargy.io.thermo import read_thermo_csv


def test_columns_and_stage(tmp_path):
    p = tmp_path / "thermo.csv"
    p.write_text("step,T_K,vol_A3,stage\n0,10,100.5,equilibration\n10,11,101,equilibration\n"
                 "20,12,102,production\n")
    all_rows = read_thermo_csv(p)
    assert all_rows["step"].tolist() == [0, 10, 20] and all_rows["stage"][2] == "production"
    eq = read_thermo_csv(p, stage="equilibration")
    np.testing.assert_allclose(eq["vol_A3"], [100.5, 101.0])
    assert read_thermo_csv(p, stage="nemd")["T_K"].size == 0


def test_bad_number_and_missing_file(tmp_path):
    p = tmp_path / "thermo.csv"
    p.write_text("step,T_K\n0,10\n10,hot\n")
    with pytest.raises(InputError, match=r"thermo.csv.*'hot' is not a number \(data row 2\)"):
        read_thermo_csv(p)
    with pytest.raises(InputError, match="cannot read"):
        read_thermo_csv(tmp_path / "none.csv")
