"""Bad campaign files: each gives one clear InputError naming the file and the problem, before
anything runs; nothing in a file is evaluated."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mdargy.campaign.adapters import validate_tasks
from mdargy.campaign.schema import load_campaign
from mdargy.campaign.tasks import build_tasks
from mdargy.errors import InputError

GOOD = """\
[campaign]
name = "bad-file-test"
seed = 5

[structure]
lattice = "fcc"
a_A = 5.30
element = "Ar"

[potential]
kind = "lj"
lj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }

[md]
timestep_fs = 5.0

[nemd]
temperatures_K = [40.0]
lengths_cells = [6, 8]
cross_section_cells = [3, 3]
delta_T_K = 10.0
equilibration_ps = 1.0
production_ps = 10.0
block_ps = 0.5

[emd]
msd_temperatures_K = [40.0]
dos_temperatures_K = [40.0]
replicate = [3, 3, 3]
equilibration_ps = 1.0
production_ps = 10.0
dump_every_fs = 20.0
"""


def _load(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    spec = load_campaign(p, output=tmp_path / "out")
    validate_tasks(spec, build_tasks(spec))
    return spec


def test_good_file_is_accepted(tmp_path):
    assert _load(tmp_path, GOOD).name == "bad-file-test"


CASES = [
    # (description, old, new, expected fragments of the message)
    ("TOML syntax", "seed = 5", "seed = = 5", ["not valid TOML", "c.toml:3"]),
    ("unknown table", "[md]", "[mdd]", ["unknown table or key 'mdd'", "did you mean [md]"]),
    ("unknown key", "lengths_cells", "lenghts_cells", ["[nemd] unknown key 'lenghts_cells'",
                                                       "did you mean 'lengths_cells'"]),
    ("key outside a table", '[campaign]\nname', 'oops = 1\n[campaign]\nname',
     ["unknown table or key 'oops'"]),
    ("wrong type: string for list", "temperatures_K = [40.0]", 'temperatures_K = "40"',
     ["[nemd] temperatures_K must be a list of numbers", "'40' (str)"]),
    ("wrong type: bool for int", "seed = 5", "seed = true", ["[campaign] seed must be an integer"]),
    ("wrong type: float for int", "lengths_cells = [6, 8]", "lengths_cells = [6.5, 8]",
     ["lengths_cells must be a list of integers"]),
    ("missing key", "production_ps = 10.0\nblock_ps", "block_ps",
     ["[nemd] missing required key 'production_ps'"]),
    ("missing table", '[potential]\nkind = "lj"\nlj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }',
     "", ["missing table [potential]"]),
    ("nothing to run", "[nemd]", "[nemd_disabled]", ["unknown table"]),
    ("negative temperature", "temperatures_K = [40.0]", "temperatures_K = [-40.0]",
     ["(0, 5000] K"]),
    ("repeated temperature", "temperatures_K = [40.0]", "temperatures_K = [40.0, 40.0]",
     ["repeated"]),
    ("length shorter than the baths", "lengths_cells = [6, 8]\n",
     "lengths_cells = [3, 8]\nbath_cells = 1\n", ["lengths_cells [3]", "too short for the two baths"]),
    ("wide baths", "lengths_cells = [6, 8]\n", "lengths_cells = [6, 8]\nbath_cells = 2\n",
     ["lengths_cells [6]", "too short for the two baths", "4 x bath_cells = 8"]),
    ("no room to fit the gradient", "lengths_cells = [6, 8]", "lengths_cells = [4, 8]",
     ["lengths_cells [4]", "fewer than 2 slabs"]),
    ("delta T too large", "delta_T_K = 10.0", "delta_T_K = 90.0", ["cold bath", "0 K"]),
    ("delta T with Mueller-Plathe", "delta_T_K = 10.0", 'delta_T_K = 10.0\nmethod = "muller-plathe"',
     ["delta_T_K does not apply to method 'muller-plathe'"]),
    ("unknown method", "delta_T_K = 10.0", 'delta_T_K = 10.0\nmethod = "ehex"',
     ["method = 'ehex': must be one of langevin, muller-plathe"]),
    ("run shorter than a step", "equilibration_ps = 1.0\nproduction_ps = 10.0\nblock",
     "equilibration_ps = 0.001\nproduction_ps = 10.0\nblock", ["shorter than one time step"]),
    ("blocks do not divide", "block_ps = 0.5", "block_ps = 0.3", ["whole multiple of block_ps"]),
    ("too few blocks", "block_ps = 0.5", "block_ps = 1.0\nn_error_blocks = 6",
     ["need at least 2 x n_error_blocks"]),
    ("equilibration not whole blocks", "equilibration_ps = 1.0\nproduction_ps = 10.0\nblock",
     "equilibration_ps = 0.7\nproduction_ps = 10.0\nblock",
     ["equilibration_ps = 0.7 must be a whole multiple of block_ps = 0.5"]),
    ("dump not a whole number of steps", "dump_every_fs = 20.0", "dump_every_fs = 12.0",
     ["dump_every_fs = 12.0 is not a whole number of time steps"]),
    ("DOS sampling too coarse", "dump_every_fs = 20.0\n", "dump_every_fs = 200.0\n",
     ["Nyquist"]),
    ("DOS sampling below the highest frequency asked for", "dump_every_fs = 20.0\n",
     "dump_every_fs = 40.0\n", ["dump_every_fs = 40.0 fs resolves frequencies only up to 12.5 THz",
                               "below dos_max_THz = 20 THz", "25 fs or less"]),
    ("DOS sampling for a higher frequency", "dump_every_fs = 20.0\n",
     "dump_every_fs = 20.0\ndos_max_THz = 30.0\n", ["up to 25 THz", "dos_max_THz = 30 THz"]),
    ("old key name", "replicate = [3, 3, 3]", "supercell = [3, 3, 3]",
     ["[emd] 'supercell' is an old name: did you mean 'replicate'?"]),
    ("old key name in [md]", "timestep_fs = 5.0", "timestep_fs = 5.0\nthermo_every = 100",
     ["[md] 'thermo_every' is an old name: did you mean 'thermo_every_fs'?",
      "steps x timestep_fs"]),
    ("EMD without task", 'msd_temperatures_K = [40.0]\ndos_temperatures_K = [40.0]', "",
     ["[emd] has no task"]),
    ("time step too long", "timestep_fs = 5.0", "timestep_fs = 50.0", ["(0, 20] fs"]),
    ("bad name", 'name = "bad-file-test"', 'name = "../../etc"', ["names directories"]),
    ("lattice", 'lattice = "fcc"', 'lattice = "hcp"', ["[structure]", "lattice must be one of"]),
    ("structure typo", 'a_A = 5.30', 'a_AA = 5.30', ["[structure] unknown key 'a_AA'", "did you mean 'a_A'"]),
    ("element not in the potential", 'element = "Ar"', 'element = "Si"',
     ["element(s) Si of the structure are not", "elements (Ar)"]),
    ("unreadable structure file", 'lattice = "fcc"\na_A = 5.30\nelement = "Ar"', 'file = "c.toml"',
     ["[structure]", "cannot read the structure"]),
    ("missing structure file", 'lattice = "fcc"\na_A = 5.30\nelement = "Ar"', 'file = "nope.cif"',
     ["[structure] file:", "nope.cif does not exist"]),
    ("unknown potential kind", 'kind = "lj"', 'kind = "magic"', ["unknown potential kind 'magic'"]),
    ("LJ without parameters", 'lj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }', "",
     ["[potential]", "needs per-element parameters"]),
    ("missing MTP", 'kind = "lj"\nlj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }',
     'kind = "mtp"\nfiles = ["pot.mtp"]\nelements = ["Ar"]',
     ["pot.mtp does not exist", "potential is missing", "train"]),
    ("missing LAMMPS potential", 'kind = "lj"\nlj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }',
     'kind = "native"\nstyle = "sw"\nfiles = ["lammps:Nope.sw"]', ["not shipped with the installed LAMMPS"]),
    ("raw LAMMPS outside [lammps]", 'kind = "lj"', 'kind = "lj"\nextra_commands = ["run 0"]',
     ["not allowed", "[lammps] extra_commands"]),
    ("raw LAMMPS of the wrong type", "[md]", '[lammps]\nextra_commands = 3\n[md]',
     ["[lammps] extra_commands must be a string"]),
]


@pytest.mark.parametrize("desc,old,new,fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_campaign_files(tmp_path, desc, old, new, fragments):
    assert old in GOOD, desc
    with pytest.raises(InputError) as exc:
        _load(tmp_path, GOOD.replace(old, new, 1))
    msg = str(exc.value)
    assert msg.startswith(str(tmp_path / "c.toml")), msg  # the message names the file
    for f in fragments:
        assert f in msg, f"{desc}: {f!r} not in {msg!r}"
    assert not (tmp_path / "out").exists()  # nothing ran, nothing was written


def test_dos_max_sets_the_nyquist_check(tmp_path):
    """A soft crystal (LJ argon: no mode above 2 THz) may sample coarser when it says so."""
    coarse = GOOD.replace("dump_every_fs = 20.0\n", "dump_every_fs = 40.0\ndos_max_THz = 5.0\n")
    spec = _load(tmp_path, coarse)
    assert spec.emd.dos_max_THz == 5.0 and spec.emd.dump_every_fs == 40.0
    # the analysis setting does not touch the MD: same fingerprints as the default
    base = {t.id: t.fingerprint for t in build_tasks(_load(tmp_path, coarse.replace(
        "dos_max_THz = 5.0\n", "dos_max_THz = 6.0\n"), "d.toml"))}
    assert base == {t.id: t.fingerprint for t in build_tasks(spec)}


def test_missing_directory_and_binary_files(tmp_path):
    with pytest.raises(InputError, match="campaign file does not exist"):
        load_campaign(tmp_path / "nope.toml")
    with pytest.raises(InputError, match="is a directory"):
        load_campaign(tmp_path)
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        _load(tmp_path, b"\xff\xfe\x00name")


def test_nothing_in_the_file_is_evaluated(tmp_path):
    """Strings that look like code stay strings; raw LAMMPS text is kept verbatim, unexecuted."""
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}')"
    text = GOOD.replace('seed = 5', f'seed = 5\ndescription = "{code}"').replace(
        "[md]", f'[lammps]\nextra_commands = """\nprint "{code}"\nshell touch {marker}\n"""\n[md]')
    spec = _load(tmp_path, text)
    assert spec.description == code and f"shell touch {marker}" in spec.extra_commands
    assert not marker.exists()
    with pytest.raises(InputError, match="names directories"):
        _load(tmp_path, GOOD.replace('name = "bad-file-test"', f'name = "{code}"'))


def test_cli_reports_one_line_and_runs_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(GOOD.replace("lengths_cells = [6, 8]", "lengths_cells = [2, 8]"))
    r = subprocess.run([sys.executable, "-m", "mdargy", "campaign", "run", str(bad), "--output",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "too short for the two baths" in lines[0]
    assert not (tmp_path / "out").exists()


def test_ranks_per_task_must_divide(tmp_path):
    from mdargy.campaign.runner import run_campaign

    spec = _load(tmp_path, GOOD)
    with pytest.raises(InputError, match="must be a positive divisor"):
        run_campaign(spec, ranks_per_task=2, quiet=True, tick_s=0)
    assert not (tmp_path / "out").exists()
