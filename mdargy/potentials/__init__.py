"""Interatomic potentials: typed specs -> LAMMPS ``pair_style``/``pair_coeff`` lines.

See :mod:`mdargy.potentials.spec`. The compiled MTP pair style lives in ``mtp/``.
"""

from mdargy.potentials.spec import KINDS, PotentialSpec, lj_argon, resolve_file  # noqa: F401
