"""Fault injection on a small LJ run folder (``scripts/fault_injection.py --quick``): every file
of a killed and of a finished run is truncated, deleted, garbled or replaced by a symbolic link
(each file once, the faults in rotation), kills land at two checkpoints; each case must end
identical to an uninterrupted run or with a clear error and a non-zero exit -- never silently.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("fault_injection",
                                                  ROOT / "scripts" / "fault_injection.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_no_fault_gives_a_silent_outcome(tmp_path):
    fi = _script()
    rows = fi.campaign(tmp_path, quick=True)
    silent = [r for r in rows if r["outcome"] == "SILENT"]
    assert not silent, "\n".join(f"{r['stage']} {r['file']} {r['fault']}: {r['detail']}"
                                 for r in silent)
    covered = {(r["stage"], r["file"]) for r in rows}
    for f in ("traj.nc", "traj.lammpstrj", "checkpoints/state.json", "identity.json",
              "thermo.csv", "metadata.json"):
        assert ("killed", f) in covered and ("finished", f) in covered
    assert {r["fault"] for r in rows} >= set(fi.FAULTS)
    # the dangerous ones are refused, not resumed or analysed
    by = {(r["stage"], r["file"]): r for r in rows}
    assert by[("killed", "traj.nc")]["outcome"] == "refused"
    assert by[("killed", "traj.lammpstrj")]["outcome"] == "refused"
    assert all(r["outcome"] == "identical" for r in rows if r["stage"] == "running")
