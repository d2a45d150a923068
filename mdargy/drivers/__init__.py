"""MD drivers: equilibrium (:mod:`.emd`) and non-equilibrium (:mod:`.nemd`) runs of LAMMPS.

Each driver takes a configuration dataclass (:mod:`.config`) and an optional mpi4py
communicator, writes into ``config.output_dir``, checkpoints and resumes
(:mod:`.checkpoint`), and returns a result object. The LAMMPS input is also available as text
(``emd_input``/``nemd_input``) for ``--dry-run`` and tests.
"""

from mdargy.drivers.config import EMDConfig, NEMDConfig
from mdargy.drivers.emd import run_emd
from mdargy.drivers.nemd import run_nemd

__all__ = ["EMDConfig", "NEMDConfig", "run_emd", "run_nemd"]
