"""MD drivers: equilibrium (:mod:`.emd`) and non-equilibrium (:mod:`.nemd`) runs of LAMMPS.

Each driver takes a configuration dataclass (:mod:`.config`) and an optional mpi4py
communicator, writes into ``config.output_dir``, checkpoints and resumes
(:mod:`.checkpoint`), and returns a result object. The LAMMPS input is also available as text
(``emd_input``/``nemd_input``) for ``--dry-run`` and tests.
"""

from mdargy.drivers.config import EMDConfig, NEMDConfig  # noqa: F401


def run_emd(config, comm=None, progress=True, **kwargs):
    """See :func:`mdargy.drivers.emd.run_emd` (``fresh=``, ``recover=``)."""
    from mdargy.drivers.emd import run_emd as _run

    return _run(config, comm=comm, progress=progress, **kwargs)


def run_nemd(config, comm=None, progress=True, **kwargs):
    """See :func:`mdargy.drivers.nemd.run_nemd` (``fresh=``, ``recover=``)."""
    from mdargy.drivers.nemd import run_nemd as _run

    return _run(config, comm=comm, progress=progress, **kwargs)
