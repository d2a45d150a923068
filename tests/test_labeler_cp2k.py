"""The CP2K labeler on a 2-atom CuS cell (rocksalt, primitive) at a low cutoff, in seconds.

Skips when no CP2K shell is installed (``bash scripts/cp2k/install.sh`` installs Debian's).
The cutoff (80 Ry) and the SZV basis are far too small for real labels: the test checks that
the labeler runs CP2K with the requested physics, records it, and returns a stress that is the
strain derivative of its energy (ASE's sign and Voigt order)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import read, write

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts" / "cu7ps6"
sys.path.insert(0, str(SCRIPTS))
import label  # noqa: E402
import labelers  # noqa: E402

pytestmark = pytest.mark.skipif(
    not any(shutil.which(x) for x in ("cp2k_shell", "cp2k.ssmp", "cp2k.psmp")),
    reason="CP2K is not installed (no cp2k_shell, cp2k.ssmp or cp2k.psmp on the PATH); "
           "bash scripts/cp2k/install.sh installs it")

TINY = """[labeler]
kind = "cp2k"
basis_set = "SZV-MOLOPT-SR-GTH"
cutoff_Ry = 80
rel_cutoff_Ry = 20
added_mos = 10
[run]
command = "env OMP_NUM_THREADS=1 cp2k_shell"
"""


def _cus(scale=1.0, dz=0.0):
    a = 2.6 * scale
    return Atoms("CuS", positions=[[0, 0, 0], [a, a, a + dz]],
                 cell=[[0, a, a], [a, 0, a], [a, a, 0]], pbc=True)


def test_cp2k_labels_a_tiny_cell(tmp_path):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY if shutil.which("cp2k_shell") else TINY.split("[run]")[0])
    h = 2e-3
    frames = [_cus(dz=-0.05), _cus(1 + h, -0.05 * (1 + h)), _cus(1 - h, -0.05 * (1 - h))]
    for i, f in enumerate(frames):
        f.info["frame_id"] = f"cus_{i}"
    fpath = tmp_path / "frames.extxyz"
    write(fpath, frames)
    out = tmp_path / "out"
    assert label.main(["label", str(cfg), str(fpath), str(out)]) == 0
    got = [read(out / "labels" / f"cus_{i}.extxyz") for i in range(3)]
    a = got[0]
    meta = json.loads(a.info["label_meta"])
    assert meta["scf_converged"] and meta["cp2k_version"].startswith("CP2K version")
    assert a.info["labeler_is_dft"] and "GTH-PBE" in a.info["labeler_note"]
    assert json.loads(a.info["labeler_settings"])["xc"] == "PBESOL"
    text = (out / "work" / "cus_0" / "cp2k.out").read_text()
    assert "BROYDEN_MIXING" in text and "FERMI_DIRAC" in text
    inp = (out / "work" / "cus_0" / "cp2k.inp").read_text()
    assert "PARAMETRIZATION PBESOL" in inp and "STRESS_TENSOR ANALYTICAL" in inp
    e = a.get_potential_energy()
    assert np.isfinite(e) and e < 0 and a.get_forces().shape == (2, 3)
    s = a.get_stress(voigt=True)
    # stress = strain derivative of the energy: dE/d(scale) = V * trace(sigma)
    dE = (got[1].get_potential_energy() - got[2].get_potential_energy()) / (2 * h)
    assert dE == pytest.approx(a.get_volume() * s[:3].sum(), rel=0.05, abs=0.02)
    # resume: nothing is labelled again
    assert label.main(["label", str(cfg), str(fpath), str(out)]) == 0
    assert json.loads(read(out / "labels" / "cus_0.extxyz").info["label_meta"]) == meta
