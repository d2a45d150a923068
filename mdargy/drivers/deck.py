"""A LAMMPS deck: the input a run would execute and every file it reads, in one folder
(``mdargy emd/nemd --dry-run [DIR]``).

The folder holds ``in.lammps`` (the uninterrupted run as one script: :func:`mdargy.drivers.emd.
emd_input` or :func:`mdargy.drivers.nemd.nemd_input`), ``structure.data`` (the replicated
structure as the driver writes it) and copies of the potential's files, named by their base
names in the input. ``cd DIR && lmp -in in.lammps`` (or ``lmp.file("in.lammps")`` from Python
in that folder) runs it; outputs land in the folder. A ``pair_style mtp`` deck loads mdargy's
plugin from this installation (``plugin load``), which LAMMPS needs for that style.
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from mdargy.drivers.common import DATA_NAME, prepare_structure
from mdargy.errors import InputError
from mdargy.lammps.runtime import plugin_files
from mdargy.potentials.spec import lammps_path

__all__ = ["INPUT_NAME", "deck_folder", "write_deck"]

INPUT_NAME = "in.lammps"


def deck_folder(config, folder: str | None) -> Path:
    """The deck folder: ``folder`` when given, else ``<output_dir>/deck``."""
    return Path(folder) if folder else Path(config.output_dir) / "deck"


def write_deck(config, folder, make_input: Callable[[dict, str], str]) -> tuple[Path, str]:
    """Write the deck of ``config`` into ``folder``; return the folder and the input text.

    ``make_input(prep, data_file)`` returns the LAMMPS input for the prepared structure
    (:func:`mdargy.drivers.common.prepare_structure`) reading ``data_file``. Files already in
    the folder are kept when identical and refused otherwise (nothing is overwritten).

    Raises
    ------
    InputError
        Bad inputs (as for a run), two potential files with the same name, or a deck file that
        exists with other content.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".deck-", dir=folder.parent))
    try:
        prep = prepare_structure(config, tmp, write=True)
        text = make_input(prep, DATA_NAME)
        names = {DATA_NAME, INPUT_NAME}
        for f in config.potential.resolved_files():
            if f.name in names:
                raise InputError(f"two files of the deck would be named {f.name!r}: rename the "
                                 "potential file", f)
            names.add(f.name)
            shutil.copyfile(f, tmp / f.name)
            text = text.replace(lammps_path(f), lammps_path(f.name))
        if config.potential.kind == "mtp":
            plugins = plugin_files()
            head = ["# pair_style mtp comes from mdargy's LAMMPS plugin of this installation"]
            head += ([f"plugin load {lammps_path(p)}" for p in plugins] if plugins else
                     ["# (not built here: build mdargy's plugin and 'plugin load' it)"])
            text = "\n".join(head) + "\n" + text
        (tmp / INPUT_NAME).write_text(text)
        folder.mkdir(exist_ok=True)
        for src in sorted(tmp.iterdir()):
            dest = folder / src.name
            if dest.is_symlink() or (dest.exists() and not (
                    dest.is_file() and filecmp.cmp(src, dest, shallow=False))):
                raise InputError(f"{dest.name} exists in the deck folder with other content: "
                                 "remove it or write the deck elsewhere (--dry-run DIR)", dest)
        for src in sorted(tmp.iterdir()):
            src.replace(folder / src.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder, text
