"""Cu7PS6 structures: composition, symmetry (spglib), distances, density, builders, bad input."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import spglib  # noqa: F401  (a runtime dependency: the space group of structure info)

from mdargy.errors import InputError
from mdargy.structures import builders
from mdargy.structures import cu7ps6 as c
from mdargy.structures.geometry import min_pair_distances

STRUCTURES = Path(__file__).resolve().parent.parent / "inputs" / "structures"


def sg_number(atoms, symprec=1e-3) -> int:
    ds = spglib.get_symmetry_dataset((atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers),
                                     symprec=symprec)
    return int(ds.number)


# ---------------------------------------------------------------- known answers, group theory


def test_density_function_known_answer():
    from ase.build import bulk

    cu = bulk("Cu", "fcc", a=3.615, cubic=True)
    assert c.density_g_cm3(cu) == pytest.approx(8.93, abs=0.01)  # textbook fcc Cu
    # the lattice constant of Cu28P4S24 at the literature density
    a = c.lattice_constant_from_density(4.91)
    assert 9.6 <= a <= 9.7
    assert a == pytest.approx(9.669, abs=1e-3)


def test_p213_is_subgroup_of_f43m_with_same_origin():
    f_ops = c.f43m_operations()
    p_ops = c.p213_operations()
    assert len(f_ops) == 96 and len(p_ops) == 12
    for r, t in p_ops:
        assert any(np.allclose(r, q) and c._same_frac(t, u) for q, u in f_ops)
    # orbit splitting F-43m -> P2_13: 4b -> 4a, 16e -> 4a + 12b, 48h -> 4 x 12b
    sizes = lambda frac: sorted(len(o) for o in c.split_orbit(c.orbit(frac, f_ops), p_ops))
    assert sizes([0.5, 0.5, 0.5]) == [4]
    assert sizes([0.62, 0.62, 0.62]) == [4, 12]
    assert sizes([0.32, 0.32, 0.02]) == [12, 12, 12, 12]


def test_framework_f43m_and_ps4_geometry():
    fw = c.framework()
    assert fw.get_chemical_formula() == "P4S24"
    assert sg_number(fw) == 216
    d = builders.min_pair_distances(fw)
    assert d["P-S"] == pytest.approx(c.P_S_BOND, abs=1e-9)
    # each P has exactly four S at 2.05 Å (a PS4 tetrahedron) and S-P-S angles of 109.47°
    from ase.neighborlist import neighbor_list

    i, j, dd, D = neighbor_list("ijdD", fw, 2.2)
    sym = np.array(fw.get_chemical_symbols())
    for p in np.flatnonzero(sym == "P"):
        vecs = D[(i == p) & (sym[j] == "S")]
        assert len(vecs) == 4
        cosines = [u @ v / (np.linalg.norm(u) * np.linalg.norm(v)) for u, v in itertools.combinations(vecs, 2)]
        assert np.allclose(cosines, -1.0 / 3.0, atol=1e-9)


def test_cu_candidate_sites():
    sites = c.cu_candidate_sites()
    assert {k: len(v) for k, v in sites.items()} == {"Cu1_48h": 48, "Cu2_48h": 48, "Cu3_16e": 16}
    fw = c.framework()
    a = c.A_DEFAULT
    s_frac = fw.get_scaled_positions()[np.array(fw.get_chemical_symbols()) == "S"]
    for label, n_close, lo, hi in (("Cu1_48h", 4, 2.3, 2.5), ("Cu2_48h", 3, 2.15, 2.3),
                                   ("Cu3_16e", 4, 2.25, 2.4)):
        x = sites[label][0]
        dist = np.sort(np.linalg.norm(c._minimum_image(s_frac - x) * a, axis=1))
        assert np.all((dist[:n_close] > lo) & (dist[:n_close] < hi)), (label, dist[:5])
        assert dist[n_close] > 2.8  # tetrahedral (4) or trigonal (3) coordination
    # framework + all candidate sites keeps the full F-43m symmetry (site-averaged structure)
    from ase import Atoms

    allsites = fw + Atoms("Cu112", scaled_positions=np.vstack(list(sites.values())), cell=fw.cell)
    assert sg_number(allsites) == 216


# ---------------------------------------------------------------- F-43m builder


def test_f43m_composition_density_distances_seed():
    at = c.build_f43m(seed=1)
    assert builders.composition(at) == {"Cu": 28, "P": 4, "S": 24}
    assert len(at) == 56
    assert builders.check_composition(at) == 4  # Z = 4
    assert c.density_g_cm3(at) == pytest.approx(c.LITERATURE["density_g_cm3"], rel=2e-3)
    d = builders.check_min_distances(at)
    assert d["Cu-Cu"] >= c.MIN_CU_CU - 1e-9
    occ = at.info["provenance"]["cu_sites_occupied"]
    assert sum(occ.values()) == 28
    # reproducible with a seed, different with another
    again = c.build_f43m(seed=1)
    assert np.allclose(again.positions, at.positions)
    other = c.build_f43m(seed=2)
    assert not np.allclose(np.sort(other.positions[-28:], axis=0), np.sort(at.positions[-28:], axis=0))


def test_f43m_supercell_draws_over_whole_cell_and_rejects_impossible_distance():
    at = c.build_f43m(cells=(2, 2, 2), seed=3)
    assert len(at) == 448 and builders.composition(at) == {"Cu": 224, "P": 32, "S": 192}
    assert builders.min_pair_distances(at)["Cu-Cu"] >= c.MIN_CU_CU - 1e-9
    cu = at.get_scaled_positions()[np.array(at.get_chemical_symbols()) == "Cu"] * 2
    octants = [tuple(x) for x in np.floor(cu).astype(int)]
    per_cell = np.bincount([4 * i + 2 * j + k for i, j, k in octants], minlength=8)
    assert per_cell.sum() == 224 and len(set(per_cell)) > 1  # not one cell repeated
    with pytest.raises(InputError, match="could not place"):
        c.build_f43m(seed=0, min_cu_cu=3.0)


# ---------------------------------------------------------------- P2_13


def test_p213_enumeration_symmetry_and_composition():
    orderings = c.enumerate_p213_orderings(min_cu_cu=1.5)
    assert len(orderings) >= 5
    for o in orderings[:6]:
        at = c.p213_atoms(o.orbits)
        assert builders.composition(at) == {"Cu": 28, "P": 4, "S": 24}
        assert sg_number(at) == 198
        labels = at.arrays["site_label"]
        cu = labels[np.array(at.get_chemical_symbols()) == "Cu"]
        assert sorted(np.unique(cu, return_counts=True)[1]) == [4, 12, 12]
    assert [o.gii_vu for o in orderings] == sorted(o.gii_vu for o in orderings)
    # Cu3 also on the other three-fold-axis sites (S triangle beyond the tetrahedron, 4d)
    more = c.enumerate_p213_orderings(min_cu_cu=1.5, extra_4a=True)
    extra = [o for o in more if o.orbits[2][0].startswith("X_")]
    assert len(more) == len(orderings) + len(extra) and extra
    for o in extra[:2]:
        assert sg_number(c.p213_atoms(o.orbits)) == 198


def test_shipped_p213_cif():
    path = STRUCTURES / "Cu7PS6_P213_derived.cif"
    from mdargy.structures.load import read_structure

    at = read_structure(path)
    assert builders.composition(at) == {"Cu": 28, "P": 4, "S": 24}
    assert sg_number(at, symprec=1e-2) == 198
    # relaxed by a universal potential: density within 6 % of the literature value
    assert c.density_g_cm3(at) == pytest.approx(4.91, rel=0.06)
    assert 9.4 < at.cell.lengths()[0] < 9.9
    builders.check_min_distances(at)
    text = path.read_text()
    assert "DERIVED, NOT REFINED FROM EXPERIMENT" in text and "ICSD 22451" in text
    # the builder repeats it
    sc = builders.build("p213", (2, 1, 1))
    assert len(sc) == 112


def test_bond_valence_ps4_known_answer():
    # P with four S at 2.05 Å: BVS = 4 exp((2.145 - 2.05)/0.37) = 5.17 v.u. (Brese & O'Keeffe)
    fw = c.framework()
    bvs = c.bond_valence_sums(fw)
    p = np.array(fw.get_chemical_symbols()) == "P"
    assert np.allclose(bvs[p], 4 * np.exp((2.145 - 2.05) / 0.37))


# ---------------------------------------------------------------- builders and bad input


def test_supercell_and_nemd_bar():
    cell = c.build_f43m(seed=1)
    sc = builders.supercell(cell, (3, 1, 2))
    assert len(sc) == 56 * 6
    assert np.allclose(sc.cell.lengths(), c.A_DEFAULT * np.array([3, 1, 2]))
    bar = builders.nemd_bar(cell, 5, 2, 1)
    assert len(bar) == 56 * 10
    assert np.allclose(bar.cell.lengths(), c.A_DEFAULT * np.array([5, 2, 1]))
    assert bar.info["nemd_bar"]["length_A"] == pytest.approx(5 * c.A_DEFAULT)
    # an elongated input cell with transport along z: the bar puts z along x
    from ase import Atoms

    box = Atoms("Cu2", positions=[[0, 0, 0], [0.5, 1.0, 3.0]], cell=[2.0, 3.0, 7.0], pbc=True)
    zb = builders.nemd_bar(box, 4, 1, 1, axis="z")
    assert np.allclose(zb.cell.lengths(), [28.0, 2.0, 3.0])
    assert np.allclose(zb.positions[1], [3.0, 0.5, 1.0])
    with pytest.raises(InputError):
        builders.nemd_bar(cell, 0, 1, 1)
    with pytest.raises(InputError):
        builders.supercell(cell, (1, 2))


def test_bad_composition_and_elements_name_the_file(tmp_path):
    at = c.build_f43m(seed=1)
    del at[[i for i, s in enumerate(at.get_chemical_symbols()) if s == "Cu"][:3]]
    f = tmp_path / "wrong.xyz"
    at.write(f, format="extxyz")
    from mdargy.cli import main

    with pytest.raises(InputError, match=r"wrong\.xyz.*wrong composition Cu25P4S24"):
        builders.check_composition(at, path=f)
    assert main(["structure", "info", str(f), "--check"]) == 2
    good = tmp_path / "good.xyz"
    c.build_f43m(seed=1).write(good, format="extxyz")
    with pytest.raises(InputError, match=r"good\.xyz.*S are not covered by potential X\.mtp"):
        builders.check_elements(c.build_f43m(seed=1), ["Cu", "P"], path=good, potential="X.mtp")
    assert main(["structure", "info", str(good), "--elements", "Cu", "P"]) == 2
    # atoms too close
    close = c.build_f43m(seed=1)
    close.positions[-1] = close.positions[-2] + [0.5, 0, 0]
    with pytest.raises(InputError, match="Cu-Cu 0.500 Å < 1.8"):
        builders.check_min_distances(close, path="close.xyz")


def test_cli_build_info_roundtrip_and_no_overwrite(tmp_path, capsys):
    from mdargy.cli import main

    out = tmp_path / "cu7ps6.data"
    assert main(["structure", "build", "f43m", "--cells", "1", "1", "2", "--seed", "4", "-o", str(out)]) == 0
    before = out.read_bytes()
    assert main(["structure", "build", "f43m", "--seed", "5", "-o", str(out)]) == 2
    assert out.read_bytes() == before  # nothing silently overwritten
    capsys.readouterr()
    assert main(["structure", "info", str(out), "--json"]) == 0
    import json

    rep = json.loads(capsys.readouterr().out)
    assert rep["composition"] == {"Cu": 56, "P": 8, "S": 48}
    assert rep["density_g_cm3"] == pytest.approx(4.91, rel=2e-3)
    assert rep["cell_lengths_A"][2] == pytest.approx(2 * c.A_DEFAULT)
    cif = tmp_path / "cell.cif"
    assert main(["structure", "build", "f43m", "--seed", "4", "-o", str(cif)]) == 0
    assert "seed: 4" in cif.read_text()


def test_data_file_runs_in_lammps(tmp_path):
    """The written LAMMPS data file is read by LAMMPS with the right box, atoms and types."""
    from mdargy.lammps.runtime import create_lammps, run_commands

    at = c.build_f43m(cells=(2, 1, 1), seed=2)
    path = builders.write_structure(tmp_path / "c.data", at)
    lmp = create_lammps()
    try:
        run_commands(lmp, f"""
units metal
atom_style atomic
read_data {path}
pair_style zero 6.0
pair_coeff * *
run 0
""")
        assert lmp.get_natoms() == 112
        boxlo, boxhi, *_ = lmp.extract_box()
        assert np.allclose(np.subtract(boxhi, boxlo), [2 * c.A_DEFAULT, c.A_DEFAULT, c.A_DEFAULT], atol=1e-4)
        types = np.array(lmp.numpy.extract_atom("type")[:112])
        assert np.bincount(types)[1:].tolist() == [56, 8, 48]  # Cu P S
        mass = lmp.numpy.extract_atom("mass")
        assert mass[1] == pytest.approx(63.546, abs=1e-3)
    finally:
        lmp.close()


def test_shipped_f43m_files():
    import ase.io

    avg = ase.io.read(STRUCTURES / "Cu7PS6_F-43m_average.cif")
    assert builders.composition(avg) == {"Cu": 112, "P": 4, "S": 24}  # all partial sites
    occ = avg.info["occupancy"]
    cu_occ = [v["Cu"] for v in occ.values() if "Cu" in v]
    assert np.allclose(cu_occ, 0.25)  # 28 Cu on 112 sites
    assert sg_number(avg) == 216
    sites = np.vstack(list(c.cu_candidate_sites().values()))
    read_cu = avg.get_scaled_positions()[np.array(avg.get_chemical_symbols()) == "Cu"]
    assert c._set_equal(read_cu % 1.0, sites % 1.0, tol=1e-4)
    one = ase.io.read(STRUCTURES / "Cu7PS6_F-43m_seed1.cif")
    assert builders.composition(one) == {"Cu": 28, "P": 4, "S": 24}
    assert np.allclose(np.sort(one.positions, axis=0), np.sort(c.build_f43m(seed=1).positions, axis=0), atol=1e-4)


def test_pipeline_dry_run_with_standin_labeler(tmp_path):
    """sample -> train -> active learning -> report on 2 configurations with the LJ STAND-IN
    labeler: checks that the scripts run end to end and resume, not the physics."""
    pytest.importorskip("motep")
    import json
    import subprocess
    import sys

    scripts = Path(__file__).resolve().parent.parent / "scripts" / "cu7ps6"
    py = sys.executable

    def run(*args):
        r = subprocess.run([py, str(scripts / args[0]), *args[1:]], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode in (0, 1), r.stderr[-2000:]
        return r

    data, tr, al, rep = (tmp_path / x for x in ("data", "train", "al", "report"))
    run("sample.py", "--labeler", "lj-standin", "--plan", "dry", "--out", str(data))
    meta = json.loads((data / "sample.json").read_text())
    assert meta["n_train"] == 1 and meta["n_holdout"] == 1
    assert meta["labeler"]["labeler_is_standin"] is True and meta["labeler"]["is_dft"] is False
    again = run("sample.py", "--labeler", "lj-standin", "--plan", "dry", "--out", str(data))
    assert "2 configurations" in again.stdout  # resumed: nothing recomputed, same split
    run("augment.py", "--data", str(data), "--labeler", "lj-standin", "--n-rattle", "2",
        "--n-contact", "2", "--n-strain", "1", "--supercells", "2x1x1:1", "--max-energy", "1e9",
        "--max-force", "1e9")
    aug = json.loads((data / "augment.json").read_text())
    assert aug["n_planned"] == 7 and aug["labeler"]["labeler_is_standin"] is True
    from ase.io import read

    merged = read(data / "train_augmented.xyz", ":")
    assert len(merged) == 1 + aug["n_kept_for_training"] and aug["n_kept_for_training"] >= 5
    assert {a.info.get("kind") for a in merged[1:]} <= {"rattle", "contact", "strain", "supercell"}
    run("train.py", "--data", str(data), "--train-file", str(data / "train_augmented.xyz"),
        "--out", str(tr), "--level", "6", "--maxiter", "5")
    fit = json.loads((tr / "train.json").read_text())["fit"]
    lm = fit["levenberg_marquardt"]
    assert lm["loss_end"] < lm["loss_start"]  # Levenberg-Marquardt lowered the loss
    from mdargy.potentials.mtp.mtpfile import read_mtp

    pot = read_mtp(tr / "Cu7PS6.mtp", require_trained=True)
    assert pot.species_count == 3 and "Cu P S" in pot.potential_tag
    run("active_learn.py", "--data", str(data), "--init", str(tr / "Cu7PS6.mtp"), "--out", str(al),
            "--labeler", "lj-standin", "--md-ps", "0.04", "--frame-every", "5", "--check-every", "2",
            "--phases", "f43m", "--temps", "300", "--max-iter", "1", "--maxiter-fit", "3",
            "--cells", "1x1x1", "--train-file", str(data / "train_augmented.xyz"))
    state = json.loads((al / "al.json").read_text())
    assert len(state["iterations"]) == 1 and state["labeler"]["labeler_is_standin"]
    run("report.py", "--mtp", str(tr / "Cu7PS6.mtp"), "--data", str(data), "--out", str(rep),
        "--labeler", "lj-standin", "--dos-ps", "0")
    report = json.loads((rep / "report.json").read_text())
    assert report["errors"]["holdout"]["n_configurations"] == 1
    assert (rep / "parity.png").stat().st_size > 1000


def test_min_pair_distances_of_rocksalt_against_the_lattice_constant():
    """NaCl (a = 5.64 Å): Na-Cl a/2, like pairs a/√2, in any cell shape (primitive cell too);
    one function for the checks, the report and the Cu7PS6 module."""
    from ase.build import bulk

    a = 5.64
    for atoms in (bulk("NaCl", "rocksalt", a=a, cubic=True), bulk("NaCl", "rocksalt", a=a)):
        d = min_pair_distances(atoms)
        assert set(d) == {"Cl-Cl", "Cl-Na", "Na-Na"}
        assert d["Cl-Na"] == pytest.approx(a / 2, rel=1e-12)
        assert d["Na-Na"] == pytest.approx(a / np.sqrt(2), rel=1e-12)
        assert d["Cl-Cl"] == pytest.approx(a / np.sqrt(2), rel=1e-12)
    assert min_pair_distances(bulk("NaCl", "rocksalt", a=a), cutoff=3.0)["Na-Na"] == np.inf
    assert c.min_distances is builders.min_pair_distances is min_pair_distances
