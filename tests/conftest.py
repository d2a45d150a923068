"""Fixtures shared by the test modules.

Plain helpers that module-level test code needs (paths, configuration builders, TOML headers)
live in ``_runs.py``, ``_campaigns.py`` and ``_analysis_lammps.py``; the fixtures here build on
them.
"""

from __future__ import annotations

import pytest

from _runs import argon_emd_config, run_emd_quiet
from mdargy.campaign.schema import parse_campaign
from mdargy.lammps.runtime import create_lammps


@pytest.fixture(scope="session")
def argon_emd_run(tmp_path_factory):
    """``(result, run folder)`` of the default :func:`_runs.argon_emd_config` run, made once per
    session. Read it, never change it: copy it first."""
    out = tmp_path_factory.mktemp("argon_emd") / "run"
    return run_emd_quiet(argon_emd_config(out)), out


@pytest.fixture(scope="session")
def lammps_metal_constants() -> dict:
    """LAMMPS's own ``metal`` unit constants (``boltz`` eV/K, ``mvv2e``), which its thermo
    output uses; they differ from CODATA (:mod:`mdargy.constants`) by about 1e-6."""
    lmp = create_lammps(load_plugins=False)
    try:
        lmp.command("units metal")
        return {k: float(lmp.extract_global(k)) for k in ("boltz", "mvv2e")}
    finally:
        lmp.close()


@pytest.fixture
def campaign_spec(tmp_path):
    """Parse campaign TOML text as ``tmp_path/c.toml`` with results under ``tmp_path/out``."""
    def parse(text):
        return parse_campaign(text, tmp_path / "c.toml", output=tmp_path / "out")

    return parse
