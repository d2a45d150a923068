"""Run configurations of the EMD and NEMD drivers: the one configuration vocabulary.

Every key a user writes, in a single-run TOML file, in a campaign file (``[md]``, ``[nemd]``,
``[emd]``, see :mod:`mdargy.campaign.schema`) or with ``--set``, is defined here once, with its
unit, type, default and check (the ``field`` metadata of each dataclass field). The campaign
schema derives its tables from these definitions; only campaign-wide keys (temperature lists,
bar lengths, analysis settings) are its own.

Units are in the key names. Times are in fs (intervals: ``dump_every_fs``, ``thermo_every_fs``,
damping times) or ps (durations: ``equilibration_ps``, ``production_ps``, ``block_ps``,
``checkpoint_every_ps``); sizes in unit cells (``replicate``, ``bins_per_cell``, ``bath_cells``)
or Å. No user file counts time steps: the drivers convert with :func:`steps_of`, which refuses a
time that is not a whole number of time steps. Keys of the older, step-counting vocabulary are
refused with the name that replaced them (:data:`RENAMED`).

TOML layout (one file per run)::

    structure = "Ar_fcc.cif"          # relative to this file
    replicate = [4, 4, 4]
    output_dir = "runs/argon-emd"    # relative to the working directory
    temperature_K = 50.0
    timestep_fs = 5.0
    production_ps = 20.0

    [potential]
    kind = "lj"
    cutoff_A = 8.5
    lj = { Ar = { epsilon_eV = 0.0104, sigma_A = 3.40 } }

Structure and potential files are resolved against the folder of the TOML file; ``output_dir``
against the working directory. Command-line overrides ``key=value`` (value in TOML syntax,
``potential.cutoff_A=9`` for nested keys) are applied before validation.

Defaults suit Cu7PS6 (1 fs time step; LAMMPS ``metal`` units inside: Å, ps, eV, K, bar).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from mdargy.errors import InputError
from mdargy.io.config import Field, apply_overrides, check_value, key_problem, read_toml
from mdargy.potentials.spec import PotentialSpec
from mdargy.results import to_jsonable

#: Keys of the older vocabulary -> (the key that replaced them, how to convert the value).
#: Refused wherever they appear (run files, campaign files, ``--set``) with "did you mean".
RENAMED: dict[str, tuple[str, str]] = {
    "dump_every": ("dump_every_fs", "a time in fs, not steps: steps x timestep_fs"),
    "heat_every": ("heat_every_fs", "a time in fs, not steps: steps x timestep_fs"),
    "thermo_every": ("thermo_every_fs", "a time in fs, not steps: steps x timestep_fs"),
    "sample_every": ("sample_every_fs", "a time in fs, not steps: steps x timestep_fs"),
    "swap_every": ("swap_every_fs", "a time in fs, not steps: steps x timestep_fs"),
    "checkpoint_every": ("checkpoint_every_ps",
                         "a time in ps, not steps: steps x timestep_fs / 1000"),
    "equilibration_steps": ("equilibration_ps",
                            "a time in ps, not steps: steps x timestep_fs / 1000"),
    "production_steps": ("production_ps", "a time in ps, not steps: steps x timestep_fs / 1000"),
    "nemd_steps": ("production_ps", "the time with the baths on, in ps: steps x timestep_fs / "
                   "1000"),
    "block_steps": ("block_ps", "a time in ps, not steps: steps x timestep_fs / 1000"),
    "n_bins": ("bins_per_cell", "slabs per unit cell along x: n_bins / replicate[0]"),
    "bath_bins": ("bath_cells", "the width of each bath in unit cells: bath_bins / "
                  "bins_per_cell"),
    "langevin_damp_fs": ("bath_damp_fs", "the same time, in fs"),
    "damp_fs": ("bath_damp_fs", "the same time, in fs"),
    "supercell": ("replicate", "the same repetitions [na, nb, nc]"),
}

#: Blocks of a NEMD production when ``block_ps`` is not given.
NEMD_DEFAULT_BLOCKS = 20


# --------------------------------------------------------------------------------------------
# time -> steps
# --------------------------------------------------------------------------------------------


def steps_of(key: str, value: float, timestep_fs: float, floor: int = 1) -> int:
    """The number of MD steps of a time given under ``key`` (unit from its suffix, fs or ps).

    The one conversion of the user's times into LAMMPS step counts.

    Parameters
    ----------
    key : str
        The key the time was given under; ends in ``_fs`` or ``_ps`` (its unit).
    value : float
        The time.
    timestep_fs : float
        The MD time step.
    floor : int
        Fewest steps accepted (0 lets a zero time through: "no equilibration").

    Raises
    ------
    InputError
        The time is not a whole number of time steps (within 1e-6), or is shorter than
        ``floor`` steps; the message names the key, the value and the time step.
    """
    if key.endswith("_ps"):
        fs = float(value) * 1000.0
    elif key.endswith("_fs"):
        fs = float(value)
    else:
        raise ValueError(f"{key}: a time key must end in _fs or _ps")
    steps = fs / float(timestep_fs)
    if steps < floor - 1e-6:
        what = "one time step" if floor == 1 else f"{floor} time steps"
        raise InputError(f"{key} = {value!r} is shorter than {what} "
                         f"(timestep_fs = {timestep_fs:g})")
    n = int(round(steps))
    if abs(steps - n) > 1e-6 * max(1.0, steps):
        raise InputError(f"{key} = {value!r} is not a whole number of time steps "
                         f"(timestep_fs = {timestep_fs:g}: {steps:.6g} steps)")
    return n


# --------------------------------------------------------------------------------------------
# field definitions
# --------------------------------------------------------------------------------------------


def _positive(v):
    return None if v > 0 else "must be > 0"


def _nonneg(v):
    return None if v >= 0 else "must be >= 0"


def _three_positive(vs):
    return None if len(vs) == 3 and all(v > 0 for v in vs) else "must be 3 positive integers"


def _one_of(*choices):
    def check(v):
        return None if v in choices else f"must be one of {', '.join(choices)}"

    return check


def _seed(v):
    return None if 0 < v < 900_000_000 else "must lie in [1, 899999999] (a LAMMPS seed)"


def _f(kind: str, default: Any = dataclasses.MISSING, unit: str = "", doc: str = "", check=None,
       steps: bool = False):
    """A dataclass field carrying its :class:`~mdargy.io.config.Field` description.

    ``steps``: the value is a time the driver converts into a whole number of time steps.
    """
    required = default is dataclasses.MISSING
    meta = {"field": Field(kind, required=required, default=None if required else default,
                           check=check, doc=doc, unit=unit),
            "steps": steps}
    if required:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def fields_of(cls) -> dict[str, Field]:
    """The keys of a run configuration class, in order: name -> :class:`Field`."""
    return {f.name: f.metadata["field"] for f in dataclasses.fields(cls)}


def step_keys(cls) -> tuple[str, ...]:
    """The keys of ``cls`` whose times are counted in whole time steps."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("steps"))


def nemd_block_ps(production_ps: float, block_ps: float | None) -> float:
    """The averaging block of a NEMD run: ``block_ps``, or ``production_ps / 20``."""
    return float(block_ps) if block_ps is not None else production_ps / NEMD_DEFAULT_BLOCKS


def nemd_bar_problem(length_cells: int, bins_per_cell: int, bath_cells: int, method: str,
                     fit_exclude_bins: float) -> str | None:
    """Why a periodic NEMD bar of ``length_cells`` cells cannot work, or None.

    The bar holds a hot and a cold bath half a period apart: it needs at least ``4 x
    bath_cells`` cells, an even number of at least 8 profile slabs, and two slabs on each of
    the two paths between the baths beyond ``fit_exclude_bins`` of each bath for the gradient
    fit (Langevin baths are ``bath_cells x bins_per_cell`` slabs wide, Müller-Plathe baths one
    slab).
    """
    L, bpc, bc = int(length_cells), int(bins_per_cell), int(bath_cells)
    if L < 4 * bc:
        return (f"is too short for the two baths: the periodic bar holds a hot and a cold bath "
                f"of bath_cells = {bc} cell(s) half a period apart, so it needs at least "
                f"4 x bath_cells = {4 * bc} cells for each of the two paths between the baths "
                "to be as long as a bath")
    n_bins = L * bpc
    if n_bins < 8:
        return (f"gives fewer than 8 profile slabs with bins_per_cell = {bpc}: use a longer bar "
                "or more bins_per_cell")
    if n_bins % 2:
        return (f"x bins_per_cell {bpc} is odd: the hot and cold baths sit half a period apart, "
                "so the number of slabs must be even (use an even bins_per_cell or length)")
    bath = bc * bpc if method == "langevin" else 1
    m = n_bins // 2 - bath
    e = float(fit_exclude_bins)
    usable = sum(1 for k in range(m) if e < k + 0.5 < m - e)
    if usable < 2:
        return (f"leaves {usable} slab(s), fewer than 2 slabs for the gradient fit on each "
                f"path between the baths ({n_bins} slabs, baths of {bath}, fit_exclude_bins = "
                f"{fit_exclude_bins:g}): use a longer bar, more bins_per_cell, narrower baths "
                "or a smaller exclusion")
    return None


def check_emd_times(v: Mapping[str, Any], timestep_fs: float) -> None:
    """The rules that tie the times of an EMD run together (its keys, in ``v``).

    Production is a whole number of trajectory frames and, with a heat current, both stages
    are whole numbers of heat-current samples. Used by :class:`EMDConfig` and by the campaign
    schema on its ``[emd]`` table.
    """
    dt = timestep_fs
    prod = steps_of("production_ps", v["production_ps"], dt)
    dump = steps_of("dump_every_fs", v["dump_every_fs"], dt)
    if prod % dump:
        raise InputError(f"production_ps = {v['production_ps']!r} must be a whole multiple of "
                         f"dump_every_fs = {v['dump_every_fs']!r} fs")
    heat = steps_of("heat_every_fs", v.get("heat_every_fs") or 0.0, dt, floor=0)
    if heat:
        for key in ("production_ps", "equilibration_ps"):
            if steps_of(key, v[key], dt, floor=0) % heat:
                raise InputError(f"{key} = {v[key]!r} must be a whole multiple of heat_every_fs "
                                 f"= {v['heat_every_fs']!r} fs: heat-current samples are "
                                 "aligned with the step count")


def check_nemd_times(v: Mapping[str, Any], timestep_fs: float) -> None:
    """The rules that tie the times of a NEMD run together (its keys, in ``v``).

    Production and equilibration are whole numbers of averaging blocks (``block_ps``, default
    ``production_ps / 20``), at least ``2 x n_error_blocks`` of them in production, and a block
    is a whole number of profile samples. Used by :class:`NEMDConfig` and the campaign schema.
    """
    dt = timestep_fs
    block = nemd_block_ps(v["production_ps"], v.get("block_ps"))
    block_steps = steps_of("block_ps", block, dt)
    for key in ("production_ps", "equilibration_ps"):
        n = steps_of(key, v[key], dt, floor=0 if key == "equilibration_ps" else 1)
        if n % block_steps:
            raise InputError(f"{key} = {v[key]!r} must be a whole multiple of block_ps = "
                             f"{block:g} (the temperature profile is averaged in blocks aligned "
                             "with the step count)")
    n_blocks = steps_of("production_ps", v["production_ps"], dt) // block_steps
    if n_blocks < 2 * int(v["n_error_blocks"]):
        raise InputError(f"production_ps / block_ps = {n_blocks} blocks; need at least "
                         f"2 x n_error_blocks = {2 * int(v['n_error_blocks'])}")
    sample = steps_of("sample_every_fs", v["sample_every_fs"], dt)
    if block_steps % sample:
        raise InputError(f"block_ps = {block:g} ps ({block_steps} steps) must be a whole multiple "
                         f"of sample_every_fs = {v['sample_every_fs']!r} fs")


# --------------------------------------------------------------------------------------------
# the configurations
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Common:
    """Fields shared by both drivers (documented in the subclasses)."""

    structure: str = _f("str", doc="LAMMPS data file or ASE-readable structure")
    potential: PotentialSpec = _f("table", doc="the [potential] table")
    output_dir: str = _f("str", doc="run directory")
    replicate: tuple[int, int, int] = _f("list[int]", (1, 1, 1), "cells", check=_three_positive,
                                         doc="repetitions of the structure along a, b, c")
    type_elements: tuple[str, ...] = _f("list[str]", (),
                                        doc="element of each atom type of a LAMMPS data file")
    temperature_K: float = _f("float", 300.0, "K", check=_positive)
    timestep_fs: float = _f("float", 1.0, "fs", check=_positive, doc="MD time step")
    seed: int = _f("int", 12345, check=_seed, doc="seed of velocities and thermostats")
    thermo_every_fs: float = _f("float", 100.0, "fs", check=_positive, steps=True,
                                doc="interval between thermo.csv rows")
    checkpoint_every_ps: float | None = _f("float", None, "ps", check=_positive, steps=True,
                                           doc="interval between restart checkpoints")
    max_temperature_K: float | None = _f("float", None, "K", check=_positive,
                                         doc="runaway threshold (default 5 T + 1000 K)")
    neighbor_skin_A: float = _f("float", 2.0, "Å", check=_nonneg, doc="neighbour-list skin")

    # -- validation ---------------------------------------------------------------------------
    def _check_fields(self, unused: tuple[str, ...] = ()) -> None:
        """Types and single-value checks of every field (Python callers get them too); times
        counted in steps must hold whole steps, except in ``unused`` keys."""
        for f in dataclasses.fields(self):
            fld: Field = f.metadata["field"]
            v = getattr(self, f.name)
            if f.name == "potential":
                if not isinstance(v, PotentialSpec):
                    raise InputError("potential must be a PotentialSpec (or a [potential] table)")
                continue
            if v is None and not fld.required:
                continue
            v = check_value(f.name, fld, v)
            if fld.kind.startswith("list["):
                v = tuple(v)
            setattr(self, f.name, v)
        for key in step_keys(type(self)):
            v = getattr(self, key)
            if v is not None and key not in unused:
                steps_of(key, v, self.timestep_fs, floor=0 if v == 0 else 1)

    # -- derived ------------------------------------------------------------------------------
    @property
    def timestep_ps(self) -> float:
        return self.timestep_fs * 1e-3

    def _steps(self, key: str, floor: int = 1) -> int:
        return steps_of(key, getattr(self, key), self.timestep_fs, floor)

    @property
    def thermo_every_steps(self) -> int:
        return self._steps("thermo_every_fs")

    @property
    def equilibration_steps(self) -> int:
        return self._steps("equilibration_ps", floor=0)

    @property
    def production_steps(self) -> int:
        return self._steps("production_ps")

    @property
    def runaway_T_K(self) -> float:
        """Temperature above which the run is declared blown up."""
        return self.max_temperature_K or (5.0 * self.temperature_K + 1000.0)

    # -- (de)serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["potential"] = self.potential.to_dict()
        return to_jsonable(d)

    def identity_dict(self) -> dict:
        """The settings in the layout of the first format, for the run identity.

        Runs begun before the keys were renamed must resume, so a run's identity
        (:func:`mdargy.drivers.checkpoint.run_identity`) names the settings as that format did:
        times as step counts under their first names (``dump_every``, ``production_steps``,
        ``n_bins``, ...). A Langevin run's unused swap interval is its first default, 100 steps.
        """
        d = self.to_dict()
        out = {k: v for k, v in d.items() if k not in _IDENTITY_FORMAT1}
        for key, (old, value) in _IDENTITY_FORMAT1.items():
            if key in d:
                out[old] = value(self)
        return out

    @classmethod
    def fields(cls) -> dict[str, Field]:
        """Name -> :class:`~mdargy.io.config.Field` of every key of this configuration."""
        return fields_of(cls)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base_dir: str | os.PathLike | None = None,
                  source: str | os.PathLike | None = None):
        """Build from a mapping (TOML tables); paths are resolved against ``base_dir``.

        Unknown keys, keys of the older vocabulary (:data:`RENAMED`), wrong types and bad values
        raise :class:`InputError` naming ``source``, the key and the problem.
        """
        data = dict(data)
        known = list(cls.fields())
        for key in data:
            msg = key_problem(key, known, RENAMED)
            if msg:
                raise InputError(msg, source)
        for req in ("structure", "potential", "output_dir"):
            if req not in data:
                raise InputError(f"'{req}' is required", source)
        try:
            for key, fld in cls.fields().items():
                if key in data and key != "potential":
                    data[key] = check_value(key, fld, data[key])
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

    @classmethod
    def from_toml(cls, path: str | os.PathLike, overrides: Sequence[str] | Mapping = ()):
        """Read a TOML configuration, apply ``key=value`` overrides (``--set``), validate."""
        path = Path(path)
        data = apply_overrides(read_toml(path), overrides, known=list(cls.fields()),
                               renamed=RENAMED)
        return cls.from_dict(data, base_dir=path.parent, source=path)


def _langevin_swap(c) -> int:
    return 100 if c.method == "langevin" else c.swap_every_steps


#: New key -> (its name in the first format, its value there): see ``identity_dict``.
_IDENTITY_FORMAT1 = {
    "thermo_every_fs": ("thermo_every", lambda c: c.thermo_every_steps),
    "checkpoint_every_ps": ("checkpoint_every", lambda c: c.checkpoint_every_steps),
    "equilibration_ps": ("equilibration_steps", lambda c: c.equilibration_steps),
    "production_ps": ("production_steps", lambda c: c.production_steps),
    "dump_every_fs": ("dump_every", lambda c: c.dump_every_steps),
    "heat_every_fs": ("heat_every", lambda c: c.heat_every_steps),
    "bins_per_cell": ("n_bins", lambda c: c.n_bins),
    "bath_cells": ("bath_bins", lambda c: c.bath_bins),
    "bath_damp_fs": ("langevin_damp_fs", lambda c: c.bath_damp_fs),
    "swap_every_fs": ("swap_every", _langevin_swap),
    "block_ps": ("block_steps", lambda c: c.block_steps),
    "sample_every_fs": ("sample_every", lambda c: c.sample_every_steps),
}


@dataclasses.dataclass
class EMDConfig(_Common):
    """Equilibrium MD: optional minimisation, equilibration (NPT/NVT), production (NVE/NVT).

    Parameters
    ----------
    structure : str
        LAMMPS data file or any ASE-readable structure (CIF, POSCAR, extxyz).
    potential : PotentialSpec
    output_dir : str
        Run directory; created; a finished run there is never overwritten.
    replicate : (int, int, int)
        Supercell of the structure, in unit cells.
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
        Nosé–Hoover NVT, or NPT at ``pressure_bar`` (``barostat`` coupling) during equilibration.
    equilibration_ps : float
        Length of the equilibration (0: none). Default 10 ps.
    production_ensemble : {"nve", "nvt"}
        NVE (default: the dynamics that MSD, DOS and Green–Kubo measure) or Nosé–Hoover NVT.
    production_ps : float
        Length of the production. Default 50 ps.
    pressure_bar : float
    tdamp_fs, pdamp_fs : float
        Nosé–Hoover thermostat and barostat relaxation times.
    barostat : {"iso", "aniso", "tri"}
        NPT coupling.
    dump_every_fs : float
        Interval between trajectory frames (positions and velocities). Default 10 fs (Nyquist
        frequency 50 THz, above every phonon of Cu7PS6).
    text_dump : bool
        Also write the LAMMPS text dump ``traj.lammpstrj``.
    heat_every_fs : float
        Interval between samples of the heat current J (``heatflux.dat``: LAMMPS ``compute
        heat/flux`` with the centroid per-atom virial, and the velocity sum of each species)
        during production; 0 (default) writes none. For Green-Kubo κ use an NVE production and
        about 5 fs, well below the period of the fastest vibration (the cepstral analysis
        filters above a few THz). The pair style must provide a correct centroid per-atom
        virial (mtp, lj/cut and other pair potentials); others (sw, tersoff, eam, ...) are
        refused.
    thermo_every_fs : float
        Interval between rows of ``thermo.csv``. Default 100 fs.
    checkpoint_every_ps : float, optional
        Interval between restart checkpoints (rounded up to whole frames and thermo rows);
        default a tenth of the production.
    max_temperature_K : float, optional
        Runaway threshold (default 5 T + 1000 K).
    neighbor_skin_A : float
        Neighbour-list skin.

    Every time given in fs or ps is a whole number of time steps (:func:`steps_of`); the
    drivers read the step counts from ``equilibration_steps``, ``production_steps``,
    ``dump_every_steps``, ``heat_every_steps``, ``thermo_every_steps`` and
    ``checkpoint_every_steps``.
    """

    minimize: bool = _f("bool", False, doc="conjugate-gradient relaxation first")
    equilibration_ensemble: str = _f("str", "nvt", check=_one_of("nvt", "npt"))
    equilibration_ps: float = _f("float", 10.0, "ps", check=_nonneg, steps=True,
                                 doc="equilibration length (0: none)")
    production_ensemble: str = _f("str", "nve", check=_one_of("nve", "nvt"))
    production_ps: float = _f("float", 50.0, "ps", check=_positive, steps=True,
                              doc="production length")
    pressure_bar: float = _f("float", 0.0, "bar", doc="NPT pressure")
    tdamp_fs: float = _f("float", 100.0, "fs", check=_positive, doc="thermostat relaxation")
    pdamp_fs: float = _f("float", 1000.0, "fs", check=_positive, doc="barostat relaxation")
    barostat: str = _f("str", "iso", check=_one_of("iso", "aniso", "tri"), doc="NPT coupling")
    dump_every_fs: float = _f("float", 10.0, "fs", check=_positive, steps=True,
                              doc="trajectory sampling (positions and velocities)")
    text_dump: bool = _f("bool", True, doc="also write the LAMMPS text dump")
    heat_every_fs: float = _f("float", 0.0, "fs", check=_nonneg, steps=True,
                              doc="heat-current sampling (0: none)")

    def __post_init__(self):
        self.equilibration_ensemble = str(self.equilibration_ensemble).lower()
        self.production_ensemble = str(self.production_ensemble).lower()
        self._check_fields()
        check_emd_times(vars(self), self.timestep_fs)

    @property
    def dump_every_steps(self) -> int:
        return self._steps("dump_every_fs")

    @property
    def heat_every_steps(self) -> int:
        """Steps between heat-current samples; 0 when none are recorded."""
        return self._steps("heat_every_fs", floor=0)

    @property
    def checkpoint_every_steps(self) -> int:
        if self.checkpoint_every_ps is not None:
            return self._steps("checkpoint_every_ps")
        return max(self.dump_every_steps, self.production_steps // 10)


@dataclasses.dataclass
class NEMDConfig(_Common):
    """Non-equilibrium MD along x of a periodic bar, hot and cold slabs half a period apart.

    Parameters (besides those of :class:`EMDConfig` with the same names)
    ----------------------------------------------------------------------
    method : {"langevin", "muller-plathe"}
        ``langevin``: Langevin baths at ``T ± delta_T_K/2`` on slab regions (dynamic groups,
        re-evaluated about every 10 fs, a divisor of the sampling interval) with tallied energy; ``muller-plathe``: kinetic-energy swaps
        between the slabs (``fix thermal/conductivity``) every ``swap_every_fs``.
    replicate : (int, int, int)
        The bar: ``nx`` unit cells along x (its length L), ``ny x nz`` in the cross-section.
    bins_per_cell : int
        Slabs of the temperature profile per unit cell along x (``nx x bins_per_cell`` slabs,
        an even number; Müller-Plathe uses the same slabs). Default 2.
    bath_cells : int
        Width of each Langevin bath in unit cells (Müller-Plathe baths are one slab). Default 1.
    delta_T_K : float, optional
        Langevin: temperature difference between hot and cold bath; default 0.2 T.
    bath_damp_fs : float
        Langevin damping time of the baths. Default 500 fs.
    swap_every_fs, swap_atoms : float, int
        Müller-Plathe: interval between swaps, and pairs swapped each time.
    equilibration_ps : float
        NVT (Nosé–Hoover, ``tdamp_fs``) equilibration at ``temperature_K`` before the baths are
        switched on. Default 20 ps.
    production_ps : float
        Time with the baths on (a whole number of blocks). Default 200 ps.
    block_ps : float, optional
        Averaging block of the profile and heat (the unit of averaging, checkpointing and
        progress); default ``production_ps / 20``.
    sample_every_fs : float
        Interval between samples of the profile inside a block. Default 10 fs.
    fit_exclude_bins : float
        Slabs next to each bath left out of the gradient fit.
    discard_blocks : int, optional
        Transient blocks to drop; default: detected (MSER).
    n_error_blocks : int
        Groups of steady blocks for σ(κ).
    checkpoint_every_ps : float, optional
        Default 10 blocks (rounded up to whole blocks).

    The driver reads the step counts from ``equilibration_steps``, ``production_steps``,
    ``block_steps``, ``sample_every_steps``, ``swap_every_steps``, ``thermo_every_steps``,
    ``checkpoint_every_steps``, and the slab counts from ``n_bins`` and ``bath_bins``.
    """

    method: str = _f("str", "langevin", check=_one_of("langevin", "muller-plathe"),
                     doc="heat source and sink")
    bins_per_cell: int = _f("int", 2, "slabs/cell", check=_positive,
                            doc="temperature-profile slabs per unit cell along x")
    bath_cells: int = _f("int", 1, "cells", check=_positive, doc="width of each Langevin bath")
    delta_T_K: float | None = _f("float", None, "K", check=_positive,
                                 doc="hot - cold bath temperature (Langevin); default 0.2 T")
    bath_damp_fs: float = _f("float", 500.0, "fs", check=_positive,
                             doc="Langevin bath damping time")
    swap_every_fs: float = _f("float", 100.0, "fs", check=_positive, steps=True,
                              doc="Muller-Plathe swap interval")
    swap_atoms: int = _f("int", 1, check=_positive, doc="Muller-Plathe pairs per swap")
    equilibration_ps: float = _f("float", 20.0, "ps", check=_nonneg, steps=True,
                                 doc="NVT equilibration before the baths (0: none)")
    production_ps: float = _f("float", 200.0, "ps", check=_positive, steps=True,
                              doc="time with the baths on")
    block_ps: float | None = _f("float", None, "ps", check=_positive, steps=True,
                                doc="averaging block; default production_ps / 20")
    sample_every_fs: float = _f("float", 10.0, "fs", check=_positive, steps=True,
                                doc="temperature-profile sampling")
    fit_exclude_bins: float = _f("float", 1.0, "slabs", check=_nonneg,
                                 doc="slabs next to each bath left out of the gradient fit")
    discard_blocks: int | None = _f("int", None, check=_nonneg,
                                    doc="transient blocks dropped; default detected (MSER)")
    n_error_blocks: int = _f("int", 5, check=lambda v: None if v >= 2 else "must be >= 2",
                             doc="groups of steady blocks for sigma(kappa)")
    tdamp_fs: float = _f("float", 100.0, "fs", check=_positive,
                         doc="thermostat relaxation of the equilibration")

    def __post_init__(self):
        self.method = str(self.method).lower().replace("_", "-")
        if self.method in ("mp", "muller", "mueller-plathe", "müller-plathe"):
            self.method = "muller-plathe"
        # a Langevin run does not swap: its swap interval need not be whole steps
        self._check_fields(unused=("swap_every_fs",) if self.method == "langevin" else ())
        problem = nemd_bar_problem(self.replicate[0], self.bins_per_cell, self.bath_cells,
                                   self.method, self.fit_exclude_bins)
        if problem:
            raise InputError(f"a bar of replicate[0] = {self.replicate[0]} cells {problem}")
        check_nemd_times(vars(self), self.timestep_fs)
        if self.delta_T_K is None:
            self.delta_T_K = 0.2 * float(self.temperature_K)
        if self.method == "langevin" and not self.delta_T_K < 2 * self.temperature_K:
            raise InputError(f"delta_T_K = {self.delta_T_K:g} K would put the cold bath at or "
                             f"below 0 K (need delta_T_K < 2 temperature_K)")

    def identity_dict(self) -> dict:
        out = super().identity_dict()
        out["nemd_steps"] = out.pop("production_steps")
        return out

    @property
    def n_bins(self) -> int:
        """Slabs of the temperature profile along the bar."""
        return int(self.replicate[0]) * int(self.bins_per_cell)

    @property
    def bath_bins(self) -> int:
        """Width of each Langevin bath in slabs."""
        return int(self.bath_cells) * int(self.bins_per_cell)

    @property
    def block_steps(self) -> int:
        return steps_of("block_ps", nemd_block_ps(self.production_ps, self.block_ps),
                        self.timestep_fs)

    @property
    def sample_every_steps(self) -> int:
        return self._steps("sample_every_fs")

    @property
    def swap_every_steps(self) -> int:
        return self._steps("swap_every_fs")

    @property
    def checkpoint_every_steps(self) -> int:
        if self.checkpoint_every_ps is not None:
            return self._steps("checkpoint_every_ps")
        return 10 * self.block_steps
