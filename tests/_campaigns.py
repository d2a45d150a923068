"""Shared pieces of the campaign tests: an LJ-argon campaign header and the CLI runner."""

from __future__ import annotations

import subprocess
import sys


def lj_argon_header(name: str, seed: int, cutoff_A: float = 8.5, a_A: float = 5.30,
                    thermo_every_fs: float = 500.0) -> str:
    """``[campaign]``, ``[structure]`` (fcc argon), ``[potential]`` (LJ) and ``[md]`` (5 fs)."""
    return f"""
[campaign]
name = "{name}"
seed = {seed}

[structure]
lattice = "fcc"
a_A = {a_A:.2f}
element = "Ar"

[potential]
kind = "lj"
cutoff_A = {cutoff_A}
lj = {{ Ar = {{ epsilon_eV = 0.0104, sigma_A = 3.40 }} }}

[md]
timestep_fs = 5.0
thermo_every_fs = {thermo_every_fs}
"""


def campaign_cli(command: str, campaign, out, timeout: int = 600) -> subprocess.CompletedProcess:
    """``python -m mdargy campaign COMMAND CAMPAIGN --output OUT``; asserts exit code 0."""
    r = subprocess.run([sys.executable, "-m", "mdargy", "campaign", command, str(campaign),
                        "--output", str(out)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout + r.stderr
    return r
