"""The pluggable labeler of the Cu7PS6 pipeline (scripts/cu7ps6/labelers.py, label.py):
config parsing, one file per configuration, resume, refusal to mix settings, Slurm chunks.

No CP2K needed: the labeler here is ASE's Lennard-Jones or EMT calculator, or the shipped MTP
in LAMMPS (tests/test_labeler_cp2k.py runs CP2K itself)."""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from ase.io import read, write

from mdargy.errors import InputError, MdargyError

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts" / "cu7ps6"
sys.path.insert(0, str(SCRIPTS))
import compare_labels  # noqa: E402
import label  # noqa: E402
import labelers  # noqa: E402

LJ = """[labeler]
kind = "ase:ase.calculators.lj:LennardJones"
sigma = {sigma}
epsilon = 0.05
rc = 5.0
smooth = true
"""


def _frames(n=4, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 1, 1))
        a.rattle(0.05, seed=int(rng.integers(1 << 30)))
        a.info["frame_id"] = f"cu_{i:02d}"
        a.info["T_K"] = 100.0 * i
        out.append(a)
    return out


def _setup(tmp_path, sigma=2.3, n=4):
    cfg = tmp_path / "lj.toml"
    cfg.write_text(LJ.format(sigma=sigma))
    frames = tmp_path / "frames.extxyz"
    write(frames, _frames(n))
    return cfg, frames, tmp_path / "out"


def _count_labelled(monkeypatch) -> list:
    """The frame ids the ASE labeler is called on, from now on, in order."""
    calls = []
    real = labelers.ASELabeler.__call__

    def counting(self, atoms, workdir):
        calls.append(atoms.info["frame_id"])
        return real(self, atoms, workdir)

    monkeypatch.setattr(labelers.ASELabeler, "__call__", counting)
    return calls


# ------------------------------------------------------------------ configuration


def test_cp2k_defaults_filled_and_digest_stable(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[labeler]\nkind = "cp2k"\ncutoff_Ry = 300\n')
    c = labelers.load_config(p)
    assert c.settings["cutoff_Ry"] == 300.0 and c.settings["xc"] == "PBESOL"
    assert c.settings["pseudo_potential"] == "GTH-PBE" and c.settings["kpoints"] == [1, 1, 1]
    rec = c.record()
    assert rec["is_dft"] and "GTH-PBE" in rec["note"] and "approximation" in rec["note"]
    # the digest depends on the settings only, not on how defaults were spelled
    p2 = tmp_path / "c2.toml"
    p2.write_text('[labeler]\nkind = "cp2k"\ncutoff_Ry = 300.0\nxc = "pbesol"\nstress = true\n'
                  '[run]\ncommand = "cp2k_shell"\n')
    assert labelers.load_config(p2).digest == c.digest
    p2.write_text('[labeler]\nkind = "cp2k"\ncutoff_Ry = 500\n')
    assert labelers.load_config(p2).digest != c.digest


def test_cp2k_template_has_the_requested_physics():
    s = dict(labelers.CP2K_DEFAULTS, kpoints=[2, 2, 2], smearing_K=500.0)
    t = labelers.cp2k_input_template(s)
    for needle in ("PARAMETRIZATION PBESOL", "METHOD FERMI_DIRAC",
                   "ELECTRONIC_TEMPERATURE [K] 500.0",
                   "METHOD BROYDEN_MIXING", "&DIAGONALIZATION", "REL_CUTOFF [Ry] 50.0",
                   "MONKHORST-PACK 2 2 2"):
        assert needle in t, needle
    assert "&KPOINTS" not in labelers.cp2k_input_template(labelers.CP2K_DEFAULTS)  # Γ only
    assert "PARAMETRIZATION ORIG" in labelers.cp2k_input_template(dict(s, xc="PBE"))


@pytest.mark.parametrize("text, needle", [
    ('[labeler]\nkind = "cp2k"\ncutof_Ry = 300\n', "cutof_Ry"),
    ('[labeler]\nkind = "cp2k"\nxc = "B3LYP"\n', "xc"),
    ('[labeler]\nkind = "cp2k"\nkpoints = [2, 2]\n', "kpoints"),
    ('[labeler]\nkind = "cp2k"\ncutoff_Ry = -1\n', "cutoff_Ry"),
    ('[labeler]\nkind = "vasp"\n', "kind"),
    ('[labeler]\nkind = "ase:no module"\n', "ase:<module>:<Class>"),
    ('[labeler]\ncutoff_Ry = 3\n', "kind is missing"),
    ('[labler]\nkind = "cp2k"\n', "[labeler]"),
    ('[labeler]\nkind = "cp2k"\n[run]\ncomand = "x"\n', "comand"),
    ('[labeler]\nkind = "lammps"\nelements = ["Cu"]\n', "mtp"),
    ('[labeler\nkind = "cp2k"\n', "not valid TOML"),
])
def test_bad_config_names_file_and_key(tmp_path, text, needle):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        labelers.load_config(p)
    assert str(p) in str(e.value) and needle in str(e.value)


def test_ase_kind_unknown_class_is_a_clear_error(tmp_path):
    p = tmp_path / "x.toml"
    p.write_text('[labeler]\nkind = "ase:ase.calculators.emt:NoSuchCalc"\n')
    with pytest.raises(InputError, match="NoSuchCalc"):
        labelers.make_labeler(labelers.load_config(p))
    p.write_text('[labeler]\nkind = "ase:ase.calculators.lj:LennardJones"\nsigmaa = 2\n')
    with pytest.raises(InputError, match="sigmaa"):
        labelers.make_labeler(labelers.load_config(p))


# ------------------------------------------------------------------ labelling and resume


def test_labels_match_the_calculator_and_record_settings(tmp_path):
    cfg, frames, out = _setup(tmp_path)
    assert label.main(["label", str(cfg), str(frames), str(out)]) == 0
    files = sorted((out / "labels").glob("*.extxyz"))
    assert [f.stem for f in files] == [f"cu_{i:02d}" for i in range(4)]
    calc = LennardJones(sigma=2.3, epsilon=0.05, rc=5.0, smooth=True)
    for src, f in zip(read(frames, ":"), files):
        got = read(f)
        src.calc = calc
        assert got.get_potential_energy() == pytest.approx(src.get_potential_energy(), rel=1e-9)
        np.testing.assert_allclose(got.get_forces(), src.get_forces(), atol=1e-8)
        np.testing.assert_allclose(got.get_stress(), src.get_stress(), atol=1e-10)
        assert got.info["T_K"] == src.info["T_K"]  # the frame's own info is kept
        settings = json.loads(got.info["labeler_settings"])
        assert settings == {"sigma": 2.3, "epsilon": 0.05, "rc": 5.0, "smooth": True}
        assert got.info["labeler_kind"] == "ase:ase.calculators.lj:LennardJones"
        assert got.info["labeler_digest"] == labelers.load_config(cfg).digest
        assert got.info["frame_sha256"] == label.frame_hash(src)
    man = json.loads((out / "labeler.json").read_text())
    assert man["digest"] == labelers.load_config(cfg).digest and man["is_dft"] is False


def test_resume_labels_only_what_is_missing(tmp_path, capsys, monkeypatch):
    cfg, frames, out = _setup(tmp_path)
    assert label.main(["label", str(cfg), str(frames), str(out), "--max-frames", "2"]) == 0
    assert len(list((out / "labels").glob("*.extxyz"))) == 2
    first = (out / "labels" / "cu_00.extxyz").read_bytes()
    calls = _count_labelled(monkeypatch)
    capsys.readouterr()
    assert label.main(["label", str(cfg), str(frames), str(out)]) == 0
    assert calls == ["cu_02", "cu_03"]
    assert "skipped 2" in capsys.readouterr().out
    assert (out / "labels" / "cu_00.extxyz").read_bytes() == first  # untouched
    calls.clear()
    assert label.main(["label", str(cfg), str(frames), str(out)]) == 0
    assert calls == []


def test_a_frame_another_process_holds_is_passed_over(tmp_path, capsys, monkeypatch):
    """Two labellers on one directory never work on the same frame (its CP2K folder)."""
    cfg, frames, out = _setup(tmp_path)
    calls = _count_labelled(monkeypatch)
    (out / "work").mkdir(parents=True)
    with open(out / "work" / "cu_01.lock", "a") as held:  # another labeller's lock
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert label.main(["label", str(cfg), str(frames), str(out)]) == 0
    assert calls == ["cu_00", "cu_02", "cu_03"]
    assert not (out / "labels" / "cu_01.extxyz").exists()
    assert "passed over 1 (another process had them)" in capsys.readouterr().out
    calls.clear()
    assert label.main(["label", str(cfg), str(frames), str(out)]) == 0  # lock released
    assert calls == ["cu_01"]


def test_refuses_to_mix_settings(tmp_path, capsys):
    cfg, frames, out = _setup(tmp_path)
    assert label.main(["label", str(cfg), str(frames), str(out), "--only", "0"]) == 0
    other = tmp_path / "lj2.toml"
    other.write_text(LJ.format(sigma=2.4))
    assert label.main(["label", str(other), str(frames), str(out)]) == 2
    err = capsys.readouterr().err
    assert "labeler.json" in err and "never mixes settings" in err
    assert len(list((out / "labels").glob("*.extxyz"))) == 1
    # a label file of other settings in a directory whose manifest was removed: still refused
    (out / "labeler.json").unlink()
    assert label.main(["label", str(other), str(frames), str(out)]) == 2
    assert "refusing to mix settings" in capsys.readouterr().err


def test_refuses_another_configuration_under_the_same_id(tmp_path, capsys):
    cfg, frames, out = _setup(tmp_path)
    assert label.main(["label", str(cfg), str(frames), str(out), "--only", "1"]) == 0
    moved = _frames(4, seed=99)  # same ids, other positions
    write(frames, moved)
    assert label.main(["label", str(cfg), str(frames), str(out)]) == 2
    assert "another configuration" in capsys.readouterr().err


def test_slurm_chunks_partition_the_frames(tmp_path, monkeypatch):
    cfg, frames, out = _setup(tmp_path, n=5)
    seen = []
    for task in range(3):
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(task))
        assert label.main(["label", str(cfg), str(frames), str(out), "--chunk", "2"]) == 0
        seen.append(sorted(f.stem for f in (out / "labels").glob("*.extxyz")))
    assert seen == [["cu_00", "cu_01"], ["cu_00", "cu_01", "cu_02", "cu_03"],
                    [f"cu_{i:02d}" for i in range(5)]]
    with pytest.raises(InputError, match="--chunk"):
        label.select(5, 0, None, None)


def test_collect_gathers_in_frame_order_and_compresses(tmp_path):
    cfg, frames, out = _setup(tmp_path)
    assert label.main(["label", str(cfg), str(frames), str(out), "--only", "3,1"]) == 0
    dest = tmp_path / "set.extxyz.gz"
    assert label.main(["collect", str(frames), str(out), str(dest)]) == 0
    got = read(dest, ":")
    assert [a.info["frame_id"] for a in got] == ["cu_01", "cu_03"]
    assert all(a.get_stress().shape == (6,) for a in got)


def test_restore_resumes_from_collected_labels(tmp_path, capsys, monkeypatch):
    cfg, frames, out = _setup(tmp_path)
    assert label.main(["label", str(cfg), str(frames), str(out), "--only", "0,2"]) == 0
    dest = tmp_path / "set.extxyz.gz"
    assert label.main(["collect", str(frames), str(out), str(dest)]) == 0
    fresh = tmp_path / "fresh"
    assert label.main(["restore", str(cfg), str(frames), str(dest), str(fresh)]) == 0
    assert sorted(p.stem for p in (fresh / "labels").glob("*.extxyz")) == ["cu_00", "cu_02"]
    calls = _count_labelled(monkeypatch)
    assert label.main(["label", str(cfg), str(frames), str(fresh)]) == 0
    assert calls == ["cu_01", "cu_03"]  # the restored ones are not redone
    again = read(fresh / "labels" / "cu_00.extxyz")
    np.testing.assert_allclose(again.get_forces(), read(out / "labels" / "cu_00.extxyz").get_forces())
    # restoring twice changes nothing; labels of other settings are refused by name
    assert label.main(["restore", str(cfg), str(frames), str(dest), str(fresh)]) == 0
    assert "restored 0 labels" in capsys.readouterr().out
    other = tmp_path / "lj2.toml"
    other.write_text(LJ.format(sigma=2.4))
    assert label.main(["restore", str(other), str(frames), str(dest), str(tmp_path / "x")]) == 2
    assert "settings digest" in capsys.readouterr().err


def test_failed_frame_is_recorded_and_retried(tmp_path, monkeypatch):
    cfg, frames, out = _setup(tmp_path, n=2)

    def failing(self, atoms, workdir):
        raise MdargyError("SCF did not converge (simulated)")

    monkeypatch.setattr(labelers.ASELabeler, "__call__", failing)
    assert label.main(["label", str(cfg), str(frames), str(out)]) == 1
    assert sorted(p.stem for p in (out / "failed").glob("*.json")) == ["cu_00", "cu_01"]
    assert not list((out / "labels").glob("*.extxyz"))
    monkeypatch.undo()
    assert label.main(["label", str(cfg), str(frames), str(out)]) == 0
    assert not list((out / "failed").glob("*.json"))
    assert len(list((out / "labels").glob("*.extxyz"))) == 2


def test_emt_through_the_ase_kind(tmp_path):
    p = tmp_path / "emt.toml"
    p.write_text('[labeler]\nkind = "ase:ase.calculators.emt:EMT"\n')
    frames = tmp_path / "f.extxyz"
    write(frames, _frames(1))
    assert label.main(["label", str(p), str(frames), str(tmp_path / "o")]) == 0
    got = read(tmp_path / "o" / "labels" / "cu_00.extxyz")
    ref = read(frames)
    ref.calc = EMT()
    assert got.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-9)


def test_lammps_kind_with_the_shipped_mtp(tmp_path):
    """The 'lammps' kind evaluates the shipped Cu7PS6 MTP; a rigid translation of the
    configuration leaves energy, forces and stress unchanged, and the stress is the
    finite-difference strain derivative of the energy."""
    root = SCRIPTS.parents[1]
    mtp = root / "inputs" / "potentials" / "Cu7PS6.mtp"
    cif = root / "inputs" / "structures" / "Cu7PS6_P213_derived.cif"
    p = tmp_path / "mtp.toml"
    p.write_text(f'[labeler]\nkind = "lammps"\nmtp = "{mtp}"\nelements = ["Cu", "P", "S"]\n')
    cfg = labelers.load_config(p)
    assert len(cfg.settings["mtp_sha256"]) == 64
    lab = labelers.make_labeler(cfg)
    at = read(cif)
    at.rattle(0.03, seed=3)
    r0, _ = lab(at, tmp_path)
    moved = at.copy()
    moved.translate([0.3, -0.2, 0.1])
    r1, _ = lab(moved, tmp_path)
    assert r1["energy"] == pytest.approx(r0["energy"], abs=1e-8)
    np.testing.assert_allclose(r1["forces"], r0["forces"], atol=1e-7)
    h = 1e-4
    es = []
    for eps in (h, -h):
        b = at.copy()
        b.set_cell(at.cell.array * (1 + eps), scale_atoms=True)
        es.append(lab(b, tmp_path)[0]["energy"])
    dE = (es[0] - es[1]) / (2 * h)
    assert dE == pytest.approx(at.get_volume() * np.sum(r0["stress"][:3]), rel=1e-3, abs=1e-3)


def test_compare_recovers_known_offsets(tmp_path):
    """compare_labels.compare: a model = labels + constant energy per atom + a known force error
    on some atoms + a known pressure shift gives back exactly those numbers."""
    cfg, frames, out = _setup(tmp_path)
    assert label.main(["label", str(cfg), str(frames), str(out)]) == 0
    ref = compare_labels.load_set(out)
    model = {}
    for i, (fid, at) in enumerate(ref.items()):
        e, f, s = compare_labels.efs(at)
        f = f.copy()
        f[0] += [0.3, 0.0, 0.0]  # one atom of 8: RMSE over 24 components = 0.3 / sqrt(24)
        model[fid] = (e + len(at) * (0.010 + 0.002 * (-1) ** i), f,
                      s - np.array([1, 1, 1, 0, 0, 0]) * 0.5 / compare_labels.GPA)
    r = compare_labels.compare(ref, model)
    assert r["n_frames"] == 4
    assert r["energy_offset_meV_atom"] == pytest.approx(10.0)
    assert r["energy_rmse_meV_atom_offset_removed"] == pytest.approx(2.0)
    assert r["force_rmse_eV_A_Cu"] == pytest.approx(0.3 / np.sqrt(24))
    assert "force_rmse_eV_A_P" not in r  # no P in these frames
    assert r["pressure_diff_GPa_mean"] == pytest.approx(0.5)
    assert r["stress_rmse_GPa_diagonal"] == pytest.approx(0.5)
    assert r["stress_rmse_GPa_offdiagonal"] == pytest.approx(0.0, abs=1e-12)
