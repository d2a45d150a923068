"""Run configurations of the EMD and NEMD drivers, and their TOML form.

A configuration is a plain dataclass of paths, numbers, strings and a
:class:`~mdargy.potentials.spec.PotentialSpec`. Units are in the field names (LAMMPS ``metal``
units inside: Å, ps, eV, K, bar). Defaults suit Cu7PS6 (1 fs time step).

TOML layout (one file per run)::

    structure = "Ar_fcc.cif"          # relative to this file
    replicate = [4, 4, 4]
    output_dir = "runs/argon-emd"    # relative to the working directory
    temperature_K = 50.0
    timestep_fs = 5.0

    [potential]
    kind = "lj"
    cutoff_A = 8.5
    lj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }

Structure and potential files are resolved against the folder of the TOML file; ``output_dir``
against the working directory. Command-line overrides ``key=value`` (value in TOML syntax,
``potential.cutoff_A=9`` for nested keys) are applied before validation.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from mdargy.errors import InputError
from mdargy.potentials.spec import PotentialSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_toml(path: str | os.PathLike) -> dict:
    """Parse a TOML file, turning syntax errors into :class:`InputError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("configuration file not found", path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", path) from exc


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"a.b=value"`` -> (["a", "b"], value); the value is read as TOML, else as a string."""
    if "=" not in item:
        raise InputError(f"override {item!r} is not of the form key=value")
    key, _, raw = item.partition("=")
    key = key.strip()
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict, overrides: Sequence[str] | Mapping[str, Any]) -> dict:
    """Return a copy of ``data`` with ``key=value`` overrides applied (nested by dots)."""
    import copy

    data = copy.deepcopy(data)
    items = (overrides.items() if isinstance(overrides, Mapping)
             else (parse_override(o) for o in overrides))
    for keys, value in items:
        if isinstance(keys, str):
            keys = keys.split(".")
        d = data
        for k in keys[:-1]:
            d = d.setdefault(k, {})
            if not isinstance(d, dict):
                raise InputError(f"override {'.'.join(keys)}: {k} is not a table")
        d[keys[-1]] = value
    return data


@dataclasses.dataclass
class _Common:
    """Fields shared by both drivers (documented in the subclasses)."""

    structure: str
    potential: PotentialSpec
    output_dir: str
    replicate: tuple[int, int, int] = (1, 1, 1)
    type_elements: tuple[str, ...] = ()
    temperature_K: float = 300.0
    timestep_fs: float = 1.0
    seed: int = 12345
    thermo_every: int = 100
    checkpoint_every: int = 10000
    max_temperature_K: float | None = None
    neighbor_skin_A: float = 2.0

    def _check_common(self):
        self.replicate = tuple(int(r) for r in self.replicate)
        self.type_elements = tuple(str(e) for e in self.type_elements)
        if len(self.replicate) != 3 or min(self.replicate) < 1:
            raise InputError(f"replicate must be three positive integers, got {self.replicate}")
        if not isinstance(self.potential, PotentialSpec):
            raise InputError("potential must be a PotentialSpec (or a [potential] table)")
        if not self.temperature_K > 0:
            raise InputError(f"temperature_K must be positive, got {self.temperature_K}")
        if not self.timestep_fs > 0:
            raise InputError(f"timestep_fs must be positive, got {self.timestep_fs}")
        for name in ("thermo_every", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be a positive number of steps")
        if not (0 < int(self.seed) < 900_000_000):
            raise InputError("seed must be an integer between 1 and 899999999 (LAMMPS limit)")

    @property
    def timestep_ps(self) -> float:
        return self.timestep_fs * 1e-3

    @property
    def runaway_T_K(self) -> float:
        """Temperature above which the run is declared blown up."""
        return self.max_temperature_K or (5.0 * self.temperature_K + 1000.0)

    def to_dict(self) -> dict:
        from mdargy.results import to_jsonable

        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["potential"] = self.potential.to_dict()
        return to_jsonable(d)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: str | os.PathLike | None = None,
                  source: str | os.PathLike | None = None):
        """Build from a mapping (TOML tables); paths are resolved against ``base_dir``."""
        data = dict(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown key(s) {', '.join(unknown)}; known keys: "
                             f"{', '.join(sorted(known))}", source)
        for req in ("structure", "potential", "output_dir"):
            if req not in data:
                raise InputError(f"'{req}' is required", source)
        try:
            pot = data["potential"]
            if not isinstance(pot, PotentialSpec):
                if not isinstance(pot, Mapping):
                    raise InputError("'potential' must be a table")
                pot = PotentialSpec.from_dict(pot, base_dir=base_dir)
            data["potential"] = pot
            s = Path(str(data["structure"])).expanduser()
            if base_dir is not None and not s.is_absolute():
                s = Path(base_dir) / s
            data["structure"] = str(s)
            data["output_dir"] = str(Path(str(data["output_dir"])).expanduser())
            return cls(**data)
        except InputError as exc:
            if source is not None and exc.path is None:
                raise InputError(str(exc), source) from None
            raise
        except TypeError as exc:
            raise InputError(f"bad configuration: {exc}", source) from exc

    @classmethod
    def from_toml(cls, path: str | os.PathLike, overrides: Sequence[str] | Mapping = ()):
        """Read a TOML configuration, apply ``key=value`` overrides, validate."""
        path = Path(path)
        data = apply_overrides(read_toml(path), overrides)
        return cls.from_dict(data, base_dir=path.parent, source=path)


@dataclasses.dataclass
class EMDConfig(_Common):
    """Equilibrium MD: optional minimisation, equilibration (NPT/NVT), production (NVT/NVE).

    Parameters
    ----------
    structure : str
        LAMMPS data file or any ASE-readable structure (CIF, POSCAR, extxyz).
    potential : PotentialSpec
    output_dir : str
        Run directory; created; a finished run there is never overwritten.
    replicate : (int, int, int)
        Supercell of the structure.
    type_elements : tuple of str
        Element of each atom type of a LAMMPS data file without element comments.
    temperature_K : float
        Target temperature (velocities are drawn at it, Gaussian, zero total momentum).
    timestep_fs : float
        MD time step (1 fs suits Cu7PS6; 5 fs suits LJ argon).
    seed : int
        Seed of the velocities and stochastic thermostats.
    minimize : bool
        Relax positions (conjugate gradient) before the MD.
    equilibration_ensemble : {"nvt", "npt"}
        Nosé–Hoover NVT, or NPT at ``pressure_bar`` (isotropic for cubic cells, ``aniso``
        otherwise) during equilibration.
    equilibration_steps : int
    production_ensemble : {"nvt", "nve"}
    production_steps : int
    pressure_bar : float
    tdamp_fs, pdamp_fs : float
        Nosé–Hoover thermostat and barostat relaxation times.
    barostat : {"iso", "aniso", "tri"}
        NPT coupling.
    dump_every : int
        Steps between trajectory frames (binary + LAMMPS text dump).
    text_dump : bool
        Also write the LAMMPS text dump ``traj.lammpstrj``.
    heat_every : int
        Steps between samples of the heat current J (``heatflux.dat``: LAMMPS ``compute
        heat/flux`` with the centroid per-atom virial, and the velocity sum of each species)
        during production; 0 (default) writes none. For Green-Kubo κ use an NVE production and
        a sampling interval of about 5 fs (e.g. 5 steps of 1 fs), well below the period of the
        fastest vibration (the cepstral analysis filters above a few THz). The pair style must
        provide a correct centroid per-atom virial (mtp, lj/cut and other pair potentials);
        others (sw, tersoff, eam, ...) are refused.
    thermo_every : int
        Steps between rows of ``thermo.csv``.
    checkpoint_every : int
        Steps between restart checkpoints (rounded up to a multiple of ``dump_every`` and
        ``thermo_every``).
    max_temperature_K : float, optional
        Runaway threshold (default 5 T + 1000 K).
    """

    minimize: bool = False
    equilibration_ensemble: str = "nvt"
    equilibration_steps: int = 10000
    production_ensemble: str = "nvt"
    production_steps: int = 50000
    pressure_bar: float = 0.0
    tdamp_fs: float = 100.0
    pdamp_fs: float = 1000.0
    barostat: str = "iso"
    dump_every: int = 100
    text_dump: bool = True
    heat_every: int = 0

    def __post_init__(self):
        self._check_common()
        self.equilibration_ensemble = str(self.equilibration_ensemble).lower()
        self.production_ensemble = str(self.production_ensemble).lower()
        if self.equilibration_ensemble not in ("nvt", "npt"):
            raise InputError(f"equilibration_ensemble must be nvt or npt, got {self.equilibration_ensemble!r}")
        if self.production_ensemble not in ("nvt", "nve"):
            raise InputError(f"production_ensemble must be nvt or nve, got {self.production_ensemble!r}")
        if self.barostat not in ("iso", "aniso", "tri"):
            raise InputError(f"barostat must be iso, aniso or tri, got {self.barostat!r}")
        if int(self.equilibration_steps) < 0 or int(self.production_steps) < 1:
            raise InputError("equilibration_steps must be >= 0 and production_steps >= 1")
        if int(self.dump_every) < 1:
            raise InputError("dump_every must be a positive number of steps")
        if int(self.production_steps) % int(self.dump_every):
            raise InputError(f"production_steps ({self.production_steps}) must be a multiple of "
                             f"dump_every ({self.dump_every})")
        if int(self.heat_every) < 0:
            raise InputError("heat_every must be 0 (no heat current) or a positive number of steps")
        if int(self.heat_every):
            for name in ("production_steps", "equilibration_steps"):
                if int(getattr(self, name)) % int(self.heat_every):
                    raise InputError(f"{name} ({getattr(self, name)}) must be a multiple of "
                                     f"heat_every ({self.heat_every}): heat-current samples are "
                                     "aligned with the step count")


@dataclasses.dataclass
class NEMDConfig(_Common):
    """Non-equilibrium MD along x of a periodic bar, hot and cold slabs half a period apart.

    Parameters (besides those of :class:`EMDConfig` with the same names)
    ----------------------------------------------------------------------
    method : {"langevin", "muller-plathe"}
        ``langevin``: Langevin baths at ``T ± delta_T_K/2`` on slab regions (dynamic groups,
        re-evaluated every step) with tallied energy; ``muller-plathe``: kinetic-energy swaps
        between the slabs (``fix thermal/conductivity``) every ``swap_every`` steps.
    replicate : (int, int, int)
        The bar: ``nx`` unit cells along x (its length L), ``ny x nz`` in the cross-section.
    n_bins : int
        Slabs of the temperature profile along x (even; Müller-Plathe uses the same slabs).
    bath_bins : int
        Width of each Langevin bath in bins (Müller-Plathe baths are one bin).
    delta_T_K : float
        Langevin: temperature difference between hot and cold bath.
    langevin_damp_fs : float
        Langevin damping time of the baths.
    swap_every, swap_atoms : int
        Müller-Plathe: steps between swaps, and pairs swapped each time.
    equilibration_steps : int
        NVT (Nosé–Hoover) equilibration at ``temperature_K`` before the baths are switched on.
    nemd_steps : int
        Steps with the baths on (a multiple of ``block_steps``).
    block_steps : int
        Steps per profile/heat block (the unit of averaging, checkpointing and progress).
    sample_every : int
        Steps between samples of the profile inside a block.
    fit_exclude_bins : float
        Bins next to each bath left out of the gradient fit.
    discard_blocks : int, optional
        Transient blocks to drop; default: detected (MSER).
    n_error_blocks : int
        Groups of steady blocks for σ(κ).
    """

    method: str = "langevin"
    n_bins: int = 20
    bath_bins: int = 1
    delta_T_K: float = 40.0
    langevin_damp_fs: float = 500.0
    swap_every: int = 100
    swap_atoms: int = 1
    equilibration_steps: int = 20000
    nemd_steps: int = 200000
    block_steps: int = 1000
    sample_every: int = 10
    fit_exclude_bins: float = 1.0
    discard_blocks: int | None = None
    n_error_blocks: int = 5
    tdamp_fs: float = 100.0

    def __post_init__(self):
        self._check_common()
        self.method = str(self.method).lower().replace("_", "-")
        if self.method in ("mp", "muller", "mueller-plathe", "müller-plathe"):
            self.method = "muller-plathe"
        if self.method not in ("langevin", "muller-plathe"):
            raise InputError(f"method must be 'langevin' or 'muller-plathe', got {self.method!r}")
        if int(self.n_bins) < 8 or int(self.n_bins) % 2:
            raise InputError(f"n_bins must be even and at least 8, got {self.n_bins}")
        if not (1 <= int(self.bath_bins) <= int(self.n_bins) // 4):
            raise InputError(f"bath_bins must be between 1 and n_bins/4, got {self.bath_bins}")
        if int(self.block_steps) < 1 or int(self.nemd_steps) % int(self.block_steps):
            raise InputError(f"nemd_steps ({self.nemd_steps}) must be a multiple of block_steps "
                             f"({self.block_steps})")
        if int(self.block_steps) % int(self.sample_every):
            raise InputError("block_steps must be a multiple of sample_every")
        if int(self.equilibration_steps) % int(self.block_steps):
            raise InputError(f"equilibration_steps ({self.equilibration_steps}) must be a multiple "
                             f"of block_steps ({self.block_steps}): the temperature profile is "
                             "averaged in blocks aligned with the step count")
        # bins of one heat path (between the baths) whose centres lie further than
        # fit_exclude_bins from both baths: the gradient fit needs at least 2 on each path
        m = int(self.n_bins) // 2 - int(self.bath_bins)
        e = float(self.fit_exclude_bins)
        usable = sum(1 for k in range(m) if e < k + 0.5 < m - e)
        if usable < 2:
            raise InputError(f"only {usable} temperature bin(s) per heat path are left for the "
                             f"gradient fit (n_bins={self.n_bins}, bath_bins={self.bath_bins}, "
                             f"fit_exclude_bins={self.fit_exclude_bins}); use more bins, thinner "
                             "baths or a smaller exclusion")
        if int(self.nemd_steps) // int(self.block_steps) < 2 * int(self.n_error_blocks):
            raise InputError("nemd_steps must hold at least 2 * n_error_blocks blocks")
        if self.method == "langevin" and not (0 < self.delta_T_K < 2 * self.temperature_K):
            raise InputError("delta_T_K must be positive and below 2 * temperature_K")
        if int(self.swap_every) < 1 or int(self.swap_atoms) < 1:
            raise InputError("swap_every and swap_atoms must be positive")
        if int(self.equilibration_steps) < 0:
            raise InputError("equilibration_steps must be >= 0")
