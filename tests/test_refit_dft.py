"""Pure parts of scripts/cu7ps6/refit_dft.py (split, energy zero, weighting) on known answers."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts" / "cu7ps6"))
import refit_dft  # noqa: E402

from mdargy.errors import InputError  # noqa: E402

#: The order of results/cu7ps6/dft/frames_56.extxyz (five conditions interleaved).
ORDER = ([f"{c}_{k:02d}" for k in range(4) for c in
          ("p213_100K", "p213_200K", "p213_300K", "p213_400K", "f43m_550K")]
         + [f"f43m_550K_{k:02d}" for k in range(4, 8)])


def _frame(fid, n_fu, rng, e_per_atom):
    """A labelled Cu7PS6 cell of ``n_fu`` formula units with random forces and stress."""
    syms = (["Cu"] * 7 + ["P"] + ["S"] * 6) * n_fu
    at = Atoms(syms, positions=rng.uniform(0, 9, (len(syms), 3)), cell=[9.6] * 3, pbc=True)
    at.calc = SinglePointCalculator(at, energy=e_per_atom * len(at),
                                    forces=rng.normal(size=(len(at), 3)),
                                    stress=rng.normal(size=6) * 1e-3)
    at.info["frame_id"] = fid
    return at


def test_split_of_the_validation_frames():
    assert ORDER[:6] == ["p213_100K_00", "p213_200K_00", "p213_300K_00", "p213_400K_00",
                         "f43m_550K_00", "p213_100K_01"]
    train, held = refit_dft.split_ids(ORDER, 3)
    assert held == ["p213_300K_00", "p213_100K_01", "p213_400K_01", "p213_200K_02",
                    "f43m_550K_02", "p213_300K_03", "f43m_550K_04", "f43m_550K_07"]
    assert len(train) == 16 and not set(train) & set(held) and set(train) | set(held) == set(ORDER)
    # every condition has held-out and training frames
    cond = lambda ids: Counter(i.rsplit("_", 1)[0] for i in ids)  # noqa: E731
    assert cond(held) == {"p213_100K": 1, "p213_200K": 1, "p213_300K": 2, "p213_400K": 1,
                          "f43m_550K": 3}
    assert set(cond(train)) == set(cond(held))
    # every second frame: the odd positions
    assert refit_dft.split_ids(list("abcdefg"), 2) == (list("aceg"), list("bdf"))
    with pytest.raises(InputError, match="repeated"):
        refit_dft.split_ids(["a", "b", "a"])


def test_offset_recovered_and_energies_on_the_reference_zero():
    rng = np.random.default_rng(4)
    c = -780.5312345  # DFT − reference, eV/atom
    ref_e = {}
    dft = {}
    for k, n_fu in enumerate((4, 4, 8)):  # 56, 56 and 112 atoms
        e_ref = -4.37 + 0.01 * rng.normal()
        fid = f"f{k}"
        ref_e[fid] = e_ref * 14 * n_fu
        dft[fid] = _frame(fid, n_fu, rng, e_ref + c)
    # a held-out frame with a different offset must not change the training offset
    dft["held"] = _frame("held", 4, rng, -4.37 + c + 0.5)
    ref_e["held"] = -4.37 * 56
    off = refit_dft.energy_offset_eV_atom(dft, ref_e, ["f0", "f1", "f2"])
    assert off == pytest.approx(c, abs=1e-9)
    for fid in ("f0", "f1", "f2"):
        s = refit_dft.shifted(dft[fid], off)
        assert s.get_potential_energy() == pytest.approx(ref_e[fid], abs=1e-7)
        np.testing.assert_array_equal(s.get_forces(), dft[fid].get_forces())
        np.testing.assert_array_equal(s.get_stress(), dft[fid].get_stress())
        assert dft[fid].get_potential_energy() == pytest.approx((ref_e[fid] / len(s) + c) * len(s))
    with pytest.raises(InputError, match="offset is undefined"):
        refit_dft.energy_offset_eV_atom(dft, ref_e, [])


def test_training_set_repeats_dft_frames_and_never_holds_out():
    rng = np.random.default_rng(1)
    base = [_frame(f"sevennet{k}", 4, rng, -4.37) for k in range(5)]
    train_ids, held_ids = refit_dft.split_ids(ORDER, 3)
    labelled = ORDER[:7]  # the labels that exist so far
    dft = [_frame(i, 4, rng, -784.9) for i in train_ids if i in labelled]
    assert [a.info["frame_id"] for a in dft] == ["p213_100K_00", "p213_200K_00", "p213_400K_00",
                                                 "f43m_550K_00", "p213_200K_01"]
    ts, w = refit_dft.training_set(base, dft, 7)
    assert len(ts) == len(w) == 5 + 5 and sum(w) == 5 + 5 * 7
    n = Counter()
    for a, wk in zip(ts, w):
        n[a.info["frame_id"]] += wk
    assert all(n[a.info["frame_id"]] == 7 for a in dft)
    assert all(n[a.info["frame_id"]] == 1 for a in base)
    assert not set(n) & set(held_ids)
    assert refit_dft.training_set(base, dft, 1)[0][5:] == dft


def test_composition_check():
    rng = np.random.default_rng(2)
    refit_dft.check_composition([_frame("ok", 4, rng, 0.0), _frame("ok2", 8, rng, 0.0)], "x")
    bad = _frame("bad", 4, rng, 0.0)
    bad.symbols[0] = "S"
    with pytest.raises(InputError, match="bad.*not Cu7PS6"):
        refit_dft.check_composition([bad], "x.extxyz")


def test_verdict():
    sh = {"n_frames": 8, "force_rmse_eV_A_all": 0.17, "pressure_diff_GPa_mean": 2.5}
    good = {"n_frames": 8, "force_rmse_eV_A_all": 0.12, "pressure_diff_GPa_mean": -0.3}
    assert refit_dft.verdict(sh, good)["closer_to_pbesol"] is True
    worse_p = dict(good, pressure_diff_GPa_mean=-2.6)
    assert refit_dft.verdict(sh, worse_p)["closer_to_pbesol"] is False
    assert refit_dft.verdict({"n_frames": 0}, {"n_frames": 0})["closer_to_pbesol"] is None


def test_recorded_settings_name_repository_files_relative_to_it(tmp_path, monkeypatch):
    """The refit's record reads the same on every machine: repository paths are relative."""
    root = refit_dft.common.ROOT
    monkeypatch.chdir(root / "inputs")
    a = argparse.Namespace(init=root / "inputs/potentials/Cu7PS6.mtp", out=tmp_path / "refit",
                           weight=30.0, frames=Path("structures/x.cif"))
    rec = refit_dft.common.settings_record(a)
    assert rec["init"] == "inputs/potentials/Cu7PS6.mtp"
    assert rec["out"] == str(tmp_path / "refit")  # outside the repository: as given
    assert rec["weight"] == "30.0"
    assert rec["frames"] == "inputs/structures/x.cif"  # relative to where it was run
