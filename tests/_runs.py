"""Paths and the small LJ-argon EMD run shared by the test modules (fixtures: conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from mdargy.drivers import run_emd
from mdargy.drivers.config import EMDConfig
from mdargy.potentials.spec import lj_argon

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "inputs" / "examples"
AR_FCC_CIF = EXAMPLES / "Ar_fcc.cif"
#: the interpreter running the tests, and the mpirun of its environment (mpich wheel)
PYTHON = sys.executable
MPIRUN = str(Path(sys.executable).parent / "mpirun")


def argon_emd_config(out, **kw) -> EMDConfig:
    """LJ argon, 108 atoms at 50 K: 1 ps NVT, 2 ps NVE, frames every 100 fs, checkpoints
    every 0.5 ps. Keywords override any field."""
    base = dict(structure=str(AR_FCC_CIF), potential=lj_argon(), output_dir=str(out),
                replicate=(3, 3, 3), temperature_K=50.0, timestep_fs=5.0, seed=321,
                equilibration_ps=1.0, production_ensemble="nve", production_ps=2.0,
                dump_every_fs=100.0, thermo_every_fs=50.0, checkpoint_every_ps=0.5)
    base.update(kw)
    return EMDConfig(**base)


def run_emd_quiet(config, **kw):
    """:func:`mdargy.drivers.run_emd` without the progress bar."""
    return run_emd(config, progress=False, **kw)
