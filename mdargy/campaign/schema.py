"""Campaign files: the TOML schema, its validation, and the typed :class:`CampaignSpec`.

A campaign file is *data*. It is parsed with :mod:`tomllib` and checked field by field; nothing
in it is evaluated, imported or passed to a shell. Raw LAMMPS commands are accepted in exactly one
place, ``[lammps] extra_commands``, and are inserted verbatim into every run's input after the
potential has been defined.

Every problem is reported as :class:`mdargy.errors.InputError` naming the file, the table and key,
and what was expected, *before* anything runs: unknown keys (with a "did you mean" hint), wrong
types, missing files (the potential file of an MTP campaign that has not been trained yet gets a
hint on how to make it), and impossible values (a NEMD bar no longer than its two baths, negative
temperatures, run lengths shorter than one time step, ...).

Layout of a campaign file (see ``inputs/campaigns/demo.toml`` and ``docs/campaigns.md``)::

    [campaign]   name, output, seed, description
    [structure]  the crystal: passed to mdargy.structures (``file = ...`` or a lattice builder)
    [potential]  the interatomic potential: passed to mdargy.potentials (kind = lj/native/mtp/mlip)
    [md]         timestep_fs, thermo_every
    [nemd]       temperatures_K, lengths_cells, cross_section_cells, bath_cells, method, run lengths
    [emd]        msd_temperatures_K, dos_temperatures_K, supercell, run lengths, sampling
    [lammps]     extra_commands (raw LAMMPS, the only such field)
    [lattice]    temperatures_K, n_snapshots, cutoffs_A, mesh, ...: force constants (hiPhive),
                 phonons (phonopy) and Wigner kappa_p + kappa_c (phono3py) from EMD snapshots
    [ionic]      temperatures_K, species, charges_e, site_reference, ...: ionic conductivity,
                 Haven ratio, Cu sites and jumps, density maps of EMD runs
    [report]     kappa_band_W_mK, kappa_band_T_K: a measured kappa range drawn on the figures

Relative paths *inside* the file (structure and potential files) are resolved against the
directory of the campaign file. The output directory is resolved against the current working
directory (like any command-line tool's output), unless given on the command line.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

from mdargy.campaign import adapters
from mdargy.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: NEMD methods a campaign may request (see :mod:`mdargy.drivers`).
NEMD_METHODS = ("langevin", "muller-plathe")

#: Hints for potential files that a user has to make before running.
_MAKE_POTENTIAL_HINT = {
    "mtp": "point [potential] files at an existing .mtp (mdargy ships "
    "inputs/potentials/Cu7PS6.mtp) or train one first: scripts/cu7ps6/README.md and "
    "`mdargy mtp --help`",
    "mlip": "train it with the MLIP package (mlp train) or use mdargy's `mdargy mtp` tools",
}


# --------------------------------------------------------------------------------------------
# field descriptions
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Field:
    """One key of a table: its type, whether it is required, its default and a value check."""

    kind: str  # "str", "int", "float", "bool", "list[float]", "list[int]", "table"
    required: bool = False
    default: Any = None
    check: Callable[[Any], str | None] | None = None  # returns an error text or None
    doc: str = ""


def _positive(v):
    return None if v > 0 else "must be > 0"


def _nonneg(v):
    return None if v >= 0 else "must be >= 0"


def _all_positive(vs):
    return None if all(v > 0 for v in vs) else "every value must be > 0"


def _nonempty_unique(vs):
    if len(vs) == 0:
        return "must not be empty"
    if len(set(vs)) != len(vs):
        return "has repeated values"
    return None


def _combine(*checks):
    def check(v):
        for c in checks:
            msg = c(v)
            if msg:
                return msg
        return None

    return check


def _temperatures(vs):
    if len(vs) == 0:
        return None
    bad = [v for v in vs if not (0 < v <= 5000)]
    if bad:
        return f"temperatures must lie in (0, 5000] K; got {bad}"
    if len(set(vs)) != len(vs):
        return "has repeated temperatures"
    return None


def _seed(v):
    return None if 0 < v < 2**31 - 1 else "must be a positive integer below 2**31 - 1 (a LAMMPS seed)"


def _name(v):
    return None if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", v) else (
        "must be 1-64 characters of letters, digits, '_', '.', '-' (it names directories)"
    )


def _method(v):
    return None if v in NEMD_METHODS else f"must be one of {', '.join(NEMD_METHODS)}"


def _len3(vs):
    return None if len(vs) == 3 else "must have 3 entries (a, b, c repetitions)"


def _len2(vs):
    return None if len(vs) == 2 else "must have 2 entries (repetitions across the bar)"


CAMPAIGN_FIELDS = {
    "name": Field("str", required=True, check=_name, doc="campaign name (names directories)"),
    "description": Field("str", default=""),
    "output": Field("str", default=None, doc="output directory; default runs/<name>"),
    "seed": Field("int", default=12345, check=_seed, doc="master seed; task seeds derive from it"),
}

MD_FIELDS = {
    "timestep_fs": Field("float", default=1.0, check=lambda v: None if 0 < v <= 20 else
                         "must lie in (0, 20] fs"),
    "thermo_every": Field("int", default=100, check=_positive, doc="steps between thermo rows"),
}

NEMD_FIELDS = {
    "temperatures_K": Field("list[float]", required=True, check=_combine(_nonempty_unique, _temperatures)),
    "lengths_cells": Field("list[int]", required=True, check=_combine(_nonempty_unique, _all_positive),
                           doc="bar lengths along x (the transport direction), in unit cells"),
    "cross_section_cells": Field("list[int]", required=True, check=_combine(_len2, _all_positive),
                                 doc="repetitions along y and z"),
    "method": Field("str", default="langevin", check=_method),
    "bins_per_cell": Field("int", default=2, check=_positive,
                           doc="temperature-profile slabs per unit cell along x"),
    "bath_cells": Field("int", default=1, check=_positive, doc="width of each bath, unit cells"),
    "delta_T_K": Field("float", default=None, check=_positive,
                       doc="hot - cold bath temperature (langevin); default 0.2 T"),
    "damp_fs": Field("float", default=500.0, check=_positive, doc="Langevin bath damping time"),
    "swap_every": Field("int", default=100, check=_positive, doc="Mueller-Plathe swap period, steps"),
    "swap_atoms": Field("int", default=1, check=_positive, doc="Mueller-Plathe pairs per swap"),
    "equilibration_ps": Field("float", required=True, check=_positive),
    "production_ps": Field("float", required=True, check=_positive),
    "block_ps": Field("float", default=None, check=_positive,
                      doc="averaging block; production_ps must be a multiple; default production/20"),
    "sample_every": Field("int", default=10, check=_positive, doc="profile sampling, steps"),
    "n_error_blocks": Field("int", default=5, check=lambda v: None if v >= 2 else "must be >= 2"),
    "fit_exclude_bins": Field("float", default=1.0, check=_nonneg),
    "checkpoint_every_ps": Field("float", default=None, check=_positive),
    "npt_ps": Field("float", default=20.0, check=_nonneg,
                    doc="NPT run (at pressure_bar) of an npt_cells supercell at each temperature "
                    "whose mean volume over its second half sets the bars' lattice; 0 keeps the "
                    "structure's lattice (bars then sit at its 0 K volume, under pressure)"),
    "npt_cells": Field("list[int]", default=[2, 2, 2], check=_combine(_len3, _all_positive),
                       doc="supercell of that NPT run"),
    "pressure_bar": Field("float", default=0.0, doc="pressure of that NPT run"),
}

EMD_FIELDS = {
    "msd_temperatures_K": Field("list[float]", default=[], check=_temperatures),
    "dos_temperatures_K": Field("list[float]", default=[], check=_temperatures),
    "supercell": Field("list[int]", required=True, check=_combine(_len3, _all_positive)),
    "minimize": Field("bool", default=False),
    "equilibration_ensemble": Field("str", default="nvt", check=lambda v: None if v in ("nvt", "npt")
                                    else "must be 'nvt' or 'npt'"),
    "production_ensemble": Field("str", default="nve", check=lambda v: None if v in ("nvt", "nve")
                                 else "must be 'nvt' or 'nve'"),
    "pressure_bar": Field("float", default=0.0),
    "equilibration_ps": Field("float", required=True, check=_positive),
    "production_ps": Field("float", required=True, check=_positive),
    "dump_every_fs": Field("float", required=True, check=_positive,
                           doc="trajectory sampling (positions and velocities) for MSD and DOS"),
    "msd_fit_range_ps": Field("list[float]", default=None,
                              check=lambda v: None if len(v) == 2 and 0 <= v[0] < v[1] else
                              "must be [t_start, t_end] with 0 <= t_start < t_end"),
    "msd_blocks": Field("int", default=5, check=lambda v: None if v >= 2 else "must be >= 2"),
    "dos_resolution_THz": Field("float", default=None, check=_positive),
    "gk_temperatures_K": Field("list[float]", default=[], check=_temperatures,
                               doc="temperatures whose EMD run also records the heat current for "
                               "Green-Kubo kappa (needs production_ensemble = 'nve')"),
    "heat_every_fs": Field("float", default=5.0, check=_positive,
                           doc="heat-current sampling interval of the Green-Kubo runs"),
    "gk_fstar_THz": Field("float", default=None, check=_positive,
                          doc="cutoff frequency of the cepstral analysis; default automatic"),
    "checkpoint_every_ps": Field("float", default=None, check=_positive),
}

LAMMPS_FIELDS = {
    "extra_commands": Field("str", default="",
                            doc="raw LAMMPS commands inserted after the potential, verbatim"),
}

LATTICE_FIELDS = {
    "temperatures_K": Field("list[float]", required=True,
                            check=_combine(_nonempty_unique, _temperatures),
                            doc="temperatures of the effective force constants (one EMD run each, "
                            "with the [emd] supercell and run lengths)"),
    "n_snapshots": Field("int", default=50, check=_positive,
                         doc="MD frames whose LAMMPS forces are fitted (the paper used 50)"),
    "skip_ps": Field("float", default=0.0, check=_nonneg, doc="production time skipped"),
    "cutoffs_A": Field("list[float]", default=None,
                       check=lambda v: None if 1 <= len(v) <= 3 and all(x > 0 for x in v) else
                       "must be 1-3 positive cutoffs (pairs, triplets, quadruplets) in Å",
                       doc="hiPhive cluster cutoffs; default the paper's 7.5/6.0/3.5 Å, "
                       "clipped to what the supercell allows"),
    "max_order": Field("int", default=3, check=lambda v: None if v in (2, 3, 4) else
                       "must be 2, 3 or 4"),
    "mesh": Field("list[int]", default=[8, 8, 8], check=_combine(_len3, _all_positive),
                  doc="q-mesh of the Wigner conductivity"),
    "coarse_mesh": Field("list[int]", default=None, check=_combine(_len3, _all_positive),
                         doc="second mesh of the convergence check; default a coarser one"),
    "classical": Field("bool", default=False,
                       doc="classical (equipartition) occupations, to compare with MD"),
}


@dataclasses.dataclass(frozen=True)
class LatticeSpec:
    """The ``[lattice]`` table: force constants, phonons and Wigner κ from EMD snapshots."""

    temperatures_K: tuple[float, ...]
    n_snapshots: int
    skip_ps: float
    cutoffs_A: tuple[float, ...] | None
    max_order: int
    mesh: tuple[int, int, int]
    coarse_mesh: tuple[int, int, int] | None
    classical: bool


IONIC_FIELDS = {
    "temperatures_K": Field("list[float]", required=True,
                            check=_combine(_nonempty_unique, _temperatures),
                            doc="EMD runs analysed for ionic transport (with the [emd] settings)"),
    "species": Field("str", default="Cu", doc="mobile species: sites, jumps and density maps"),
    "charges_e": Field("table[float]", default=None,
                       doc="formal charges per element (default Cu +1, P +5, S -2); must sum "
                       "to zero over the cell"),
    "site_reference": Field("str", default="cu7ps6",
                            check=lambda v: None if v in ("cu7ps6", "none") else
                            "must be 'cu7ps6' (the F-43m Cu1/Cu2/Cu3 sites) or 'none'",
                            doc="named crystallographic sites for the jump statistics"),
    "density_grid": Field("int", default=48, check=lambda v: None if 8 <= v <= 256 else
                          "must lie in [8, 256] points per cell edge"),
    "density_sigma_A": Field("float", default=0.15, check=_nonneg,
                             doc="Gaussian smoothing of the density map"),
}


@dataclasses.dataclass(frozen=True)
class IonicSpec:
    """The ``[ionic]`` table: conductivity, Haven ratio, sites, jumps and density maps."""

    temperatures_K: tuple[float, ...]
    species: str
    charges_e: Mapping[str, float] | None
    site_reference: str
    density_grid: int
    density_sigma_A: float


def _band(vs):
    return None if len(vs) == 2 and 0 <= vs[0] <= vs[1] else "must be [low, high] with 0 <= low <= high"


REPORT_FIELDS = {
    "kappa_band_W_mK": Field("list[float]", default=None, check=_band,
                             doc="a measured range of kappa drawn as a band on the kappa(T) figure"),
    "kappa_band_T_K": Field("list[float]", default=None, check=_band,
                            doc="the temperatures the measured band spans"),
    "kappa_band_label": Field("str", default="measured", doc="legend text of the band"),
}

#: Top-level tables. "structure" and "potential" are validated by their own modules.
TABLES = {
    "campaign": CAMPAIGN_FIELDS,
    "structure": None,
    "potential": None,
    "md": MD_FIELDS,
    "nemd": NEMD_FIELDS,
    "emd": EMD_FIELDS,
    "lammps": LAMMPS_FIELDS,
    "report": REPORT_FIELDS,
    "lattice": LATTICE_FIELDS,
    "ionic": IONIC_FIELDS,
}
REQUIRED_TABLES = ("campaign", "structure", "potential")


# --------------------------------------------------------------------------------------------
# typed result
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NEMDSpec:
    """The ``[nemd]`` table: one NEMD run per (temperature, length)."""

    temperatures_K: tuple[float, ...]
    lengths_cells: tuple[int, ...]
    cross_section_cells: tuple[int, int]
    method: str
    bins_per_cell: int
    bath_cells: int
    delta_T_K: float | None
    damp_fs: float
    swap_every: int
    swap_atoms: int
    equilibration_ps: float
    production_ps: float
    block_ps: float | None
    sample_every: int
    n_error_blocks: int
    fit_exclude_bins: float
    checkpoint_every_ps: float | None
    npt_ps: float = 0.0
    npt_cells: tuple[int, int, int] = (2, 2, 2)
    pressure_bar: float = 0.0


@dataclasses.dataclass(frozen=True)
class EMDSpec:
    """The ``[emd]`` table: one EMD run per temperature that asks for MSD and/or DOS."""

    msd_temperatures_K: tuple[float, ...]
    dos_temperatures_K: tuple[float, ...]
    supercell: tuple[int, int, int]
    minimize: bool
    equilibration_ensemble: str
    production_ensemble: str
    pressure_bar: float
    equilibration_ps: float
    production_ps: float
    dump_every_fs: float
    msd_fit_range_ps: tuple[float, float] | None
    msd_blocks: int
    dos_resolution_THz: float | None
    gk_temperatures_K: tuple[float, ...]
    heat_every_fs: float
    gk_fstar_THz: float | None
    checkpoint_every_ps: float | None

    @property
    def temperatures_K(self) -> tuple[float, ...]:
        """Every temperature that gets an EMD run (MSD, DOS and/or Green-Kubo), ascending."""
        return tuple(sorted(set(self.msd_temperatures_K) | set(self.dos_temperatures_K)
                            | set(self.gk_temperatures_K)))


@dataclasses.dataclass(frozen=True)
class CampaignSpec:
    """A validated campaign file.

    ``structure`` and ``potential`` are the raw TOML tables with their file paths made absolute;
    they are turned into objects by :mod:`mdargy.structures` and :mod:`mdargy.potentials` when a
    task runs. ``raw_sha256`` fingerprints the file's bytes.
    """

    path: Path
    name: str
    description: str
    output: Path
    seed: int
    structure: Mapping[str, Any]
    potential: Mapping[str, Any]
    timestep_fs: float
    thermo_every: int
    nemd: NEMDSpec | None
    emd: EMDSpec | None
    extra_commands: str
    raw_sha256: str
    report: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    lattice: LatticeSpec | None = None
    ionic: IonicSpec | None = None

    def to_dict(self) -> dict:
        from mdargy.results import to_jsonable

        return to_jsonable(self)


# --------------------------------------------------------------------------------------------
# parsing and checking
# --------------------------------------------------------------------------------------------

_KIND_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list[float]": "a list of numbers",
    "list[int]": "a list of integers",
    "table[float]": "a table of numbers, e.g. { Cu = 1, S = -2 }",
}


def _type_ok(kind: str, v: Any) -> bool:
    if kind == "str":
        return isinstance(v, str)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if kind == "table[float]":
        return isinstance(v, Mapping) and all(_type_ok("float", x) for x in v.values())
    if kind.startswith("list["):
        inner = kind[5:-1]
        return isinstance(v, list) and all(_type_ok(inner, x) for x in v)
    raise AssertionError(kind)


def _describe(v: Any) -> str:
    text = repr(v)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(v).__name__})"


def _check_table(table: Mapping[str, Any], fields: Mapping[str, Field], where: str, path) -> dict:
    """Check one table against ``fields``; return the values with defaults filled in."""
    if not isinstance(table, Mapping):
        raise InputError(f"[{where}] must be a table, got {_describe(table)}", path)
    for key in table:
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"[{where}] unknown key {key!r}{hint} (allowed: {', '.join(fields)})", path
            )
    out = {}
    for key, field in fields.items():
        if key not in table:
            if field.required:
                raise InputError(f"[{where}] missing required key {key!r}", path)
            out[key] = field.default
            continue
        v = table[key]
        if not _type_ok(field.kind, v):
            raise InputError(
                f"[{where}] {key} must be {_KIND_NAMES[field.kind]}, got {_describe(v)}", path
            )
        if field.kind == "float":
            v = float(v)
        elif field.kind == "list[float]":
            v = [float(x) for x in v]
        if field.check is not None:
            msg = field.check(v)
            if msg:
                raise InputError(f"[{where}] {key} = {v!r}: {msg}", path)
        out[key] = v
    return out


def _tomllib_error(exc: Exception, path) -> InputError:
    msg = str(exc)
    m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
    line = int(m.group(1)) if m else None
    return InputError(f"not valid TOML: {msg}", path, line)


def _resolve_files(table: dict, where: str, base: Path, path) -> dict:
    """Make the file paths of a structure/potential table absolute and check that they exist.

    Keys named ``file`` or ending in ``_file`` are file paths. A path of the form
    ``lammps:NAME`` refers to a potential shipped with the LAMMPS package and is left as it is
    (the potentials module finds it at run time).
    """
    out = dict(table)
    kind = str(table.get("kind", ""))

    def resolve(key, v):
        if not isinstance(v, str) or not v:
            raise InputError(f"[{where}] {key} must be a file path (string), got {_describe(v)}", path)
        if v.startswith("lammps:"):
            from mdargy.potentials.spec import resolve_file

            p = resolve_file(v)
            if not p.is_file():
                raise InputError(f"[{where}] {key}: {v!r} is not shipped with the installed LAMMPS "
                                 f"(looked for {p})", path)
            return v
        p = Path(v).expanduser()
        if not p.is_absolute():
            p = (base / p).resolve()
        if not p.exists():
            hint = ""
            if where == "potential" and kind in _MAKE_POTENTIAL_HINT:
                hint = (f". The {kind.upper()} potential is missing: "
                        + _MAKE_POTENTIAL_HINT[kind])
            raise InputError(f"[{where}] {key}: file {p} does not exist{hint}", path)
        if p.is_dir():
            raise InputError(f"[{where}] {key}: {p} is a directory, not a file", path)
        return str(p)

    for key, v in table.items():
        if key == "files":
            if isinstance(v, str):
                v = [v]
            if not isinstance(v, list):
                raise InputError(f"[{where}] files must be a list of file paths, got {_describe(v)}",
                                 path)
            out[key] = [resolve(key, x) for x in v]
        elif key == "file" or key.endswith("_file"):
            out[key] = resolve(key, v)
    return out


def _check_steps(table: str, values: dict, keys, dt_fs: float, path) -> None:
    """Durations must hold at least one time step and a whole number of them."""
    for key in keys:
        v = values.get(key)
        if v is None:
            continue
        fs = v if key.endswith("_fs") else v * 1000.0
        steps = fs / dt_fs
        if steps < 1 - 1e-9:
            raise InputError(f"[{table}] {key} = {v} is shorter than one time step "
                             f"(timestep_fs = {dt_fs})", path)
        if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
            raise InputError(f"[{table}] {key} = {v} is not a whole number of time steps "
                             f"(timestep_fs = {dt_fs})", path)


def _validate_with_module(kind: str, table: dict, path) -> None:
    """Let the potentials/structures modules check their tables (when they are installed)."""
    try:
        if kind == "potential":
            adapters.potential_from_table(table, "")
        else:
            adapters.validate_structure_table(table)
    except InputError as exc:
        raise InputError(f"[{kind}] {exc}", path) from None
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(f"[{kind}] {exc}", path) from None


def parse_campaign(text: str, path: str | Path = "<string>", base_dir: str | Path | None = None,
                   output: str | Path | None = None, check_modules: bool = True) -> CampaignSpec:
    """Parse and validate campaign TOML ``text``.

    Parameters
    ----------
    text : str
        TOML text.
    path : path
        Where it came from (used in error messages and for ``base_dir``).
    base_dir : path, optional
        Directory against which relative input files are resolved; default ``path``'s directory.
    output : path, optional
        Override of ``[campaign] output``.
    check_modules : bool
        Also let :mod:`mdargy.potentials`/:mod:`mdargy.structures` validate their tables.

    Raises
    ------
    InputError
        On any problem, naming ``path``, the table and the key.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _tomllib_error(exc, path) from None
    base = Path(base_dir) if base_dir is not None else Path(path).resolve().parent

    for key, v in data.items():
        if key not in TABLES:
            close = difflib.get_close_matches(key, list(TABLES), n=1)
            hint = f"; did you mean [{close[0]}]?" if close else ""
            raise InputError(f"unknown table or key {key!r}{hint} (allowed tables: "
                             f"{', '.join('[' + t + ']' for t in TABLES)})", path)
        if not isinstance(v, dict):
            raise InputError(f"{key!r} must be a table ([{key}]), got {_describe(v)}", path)
    for key in REQUIRED_TABLES:
        if key not in data:
            raise InputError(f"missing table [{key}]", path)
    if "nemd" not in data and "emd" not in data:
        raise InputError("the campaign has nothing to run: add a [nemd] and/or an [emd] table", path)

    camp = _check_table(data["campaign"], CAMPAIGN_FIELDS, "campaign", path)
    md = _check_table(data.get("md", {}), MD_FIELDS, "md", path)
    lmp = _check_table(data.get("lammps", {}), LAMMPS_FIELDS, "lammps", path)
    report = _check_table(data.get("report", {}), REPORT_FIELDS, "report", path)
    if (report["kappa_band_W_mK"] is None) != (report["kappa_band_T_K"] is None):
        raise InputError("[report] kappa_band_W_mK and kappa_band_T_K go together", path)

    structure = data["structure"]
    potential = data["potential"]
    if not structure:
        raise InputError("[structure] is empty: give `file = ...` or a lattice builder", path)
    if "kind" not in potential:
        raise InputError("[potential] missing required key 'kind' (lj, native, mtp or mlip)", path)
    for key in ("extra_commands", "base_dir"):
        if key in potential:
            hint = ("raw LAMMPS commands belong in the one field [lammps] extra_commands"
                    if key == "extra_commands" else "relative paths are resolved against the "
                    "campaign file's folder")
            raise InputError(f"[potential] key {key!r} is not allowed in a campaign file: {hint}",
                             path)
    potential = _resolve_files(potential, "potential", base, path)
    structure = _resolve_files(structure, "structure", base, path)
    if check_modules:
        _validate_with_module("potential", potential, path)
        _validate_with_module("structure", structure, path)

    dt_fs = md["timestep_fs"]
    nemd = None
    if "nemd" in data:
        n = _check_table(data["nemd"], NEMD_FIELDS, "nemd", path)
        minimum = 4 * n["bath_cells"]
        short = [L for L in n["lengths_cells"] if L < minimum]
        if short:
            raise InputError(
                f"[nemd] lengths_cells {short} are too short for the two baths: the periodic bar "
                f"holds a hot and a cold bath of bath_cells = {n['bath_cells']} cell(s) half a "
                f"period apart, so it needs at least 4 x bath_cells = {minimum} cells for each of "
                "the two paths between the baths to be as long as a bath", path)
        few = [L for L in n["lengths_cells"] if L * n["bins_per_cell"] < 8]
        if few:
            raise InputError(
                f"[nemd] lengths_cells {few} give fewer than 8 profile slabs with bins_per_cell "
                f"= {n['bins_per_cell']}: use longer bars or more bins_per_cell", path)
        odd = [L for L in n["lengths_cells"] if (L * n["bins_per_cell"]) % 2]
        if odd:
            raise InputError(
                f"[nemd] lengths_cells {odd} x bins_per_cell {n['bins_per_cell']} is odd: the hot "
                "and cold baths sit half a period apart, so the number of slabs must be even "
                "(use bins_per_cell = 2 or even lengths)", path)
        bath_bins = n["bath_cells"] * n["bins_per_cell"] if n["method"] == "langevin" else 1
        no_fit = [L for L in n["lengths_cells"]
                  if L * n["bins_per_cell"] / 2 - bath_bins - 2 * n["fit_exclude_bins"] < 2]
        if no_fit:
            raise InputError(
                f"[nemd] lengths_cells {no_fit} leave fewer than 2 slabs for the gradient fit "
                f"between the baths (each of the two paths has L x bins_per_cell / 2 - bath slabs "
                f"- 2 x fit_exclude_bins slabs): use longer bars, more bins_per_cell or "
                f"narrower baths", path)
        if n["method"] == "muller-plathe" and "delta_T_K" in data["nemd"]:
            raise InputError("[nemd] delta_T_K does not apply to method 'muller-plathe' (it "
                             "imposes the heat flux; set swap_every/swap_atoms)", path)
        if n["method"] == "langevin" and ("swap_every" in data["nemd"] or "swap_atoms" in data["nemd"]):
            raise InputError("[nemd] swap_every/swap_atoms apply only to method 'muller-plathe'",
                             path)
        if n["delta_T_K"] is not None:
            too_big = [T for T in n["temperatures_K"] if n["delta_T_K"] >= 2 * T]
            if too_big:
                raise InputError(f"[nemd] delta_T_K = {n['delta_T_K']} K would put the cold bath at "
                                 f"or below 0 K at T = {too_big} K (need delta_T_K < 2 T)", path)
        _check_steps("nemd", n, ("equilibration_ps", "production_ps", "block_ps",
                                 "checkpoint_every_ps") + (("npt_ps",) if n["npt_ps"] else ()),
                     dt_fs, path)
        if 0 < n["npt_ps"] * 1000 / dt_fs < 100:
            raise InputError(f"[nemd] npt_ps = {n['npt_ps']} is fewer than 100 time steps: too "
                             "short to average the volume (0 switches the NPT run off)", path)
        block = n["block_ps"] if n["block_ps"] is not None else n["production_ps"] / 20
        ratio = n["production_ps"] / block
        if abs(ratio - round(ratio)) > 1e-6:
            raise InputError(f"[nemd] production_ps = {n['production_ps']} must be a whole multiple "
                             f"of block_ps = {block}", path)
        if round(ratio) < 2 * n["n_error_blocks"]:
            raise InputError(f"[nemd] production_ps / block_ps = {round(ratio)} blocks; need at "
                             f"least 2 x n_error_blocks = {2 * n['n_error_blocks']}", path)
        ratio = n["equilibration_ps"] / block
        if abs(ratio - round(ratio)) > 1e-6:
            raise InputError(f"[nemd] equilibration_ps = {n['equilibration_ps']} must be a whole "
                             f"multiple of block_ps = {block} (the temperature profile is averaged "
                             "in blocks aligned with the step count)", path)
        block_steps = block * 1000 / dt_fs
        if abs(block_steps - round(block_steps)) > 1e-6 or round(block_steps) % n["sample_every"]:
            raise InputError(f"[nemd] block_ps = {block} ps = {block_steps:g} steps must be a whole "
                             f"number of steps and a multiple of sample_every = "
                             f"{n['sample_every']}", path)
        nemd = NEMDSpec(**{**n, "temperatures_K": tuple(n["temperatures_K"]),
                           "lengths_cells": tuple(n["lengths_cells"]),
                           "cross_section_cells": tuple(n["cross_section_cells"]),
                           "npt_cells": tuple(n["npt_cells"]),
                           "block_ps": block})
    emd = None
    if "emd" in data:
        e = _check_table(data["emd"], EMD_FIELDS, "emd", path)
        if not (e["msd_temperatures_K"] or e["dos_temperatures_K"] or e["gk_temperatures_K"]
                or "lattice" in data or "ionic" in data):
            raise InputError("[emd] has no task: give msd_temperatures_K, dos_temperatures_K "
                             "and/or gk_temperatures_K (or a [lattice] or [ionic] table)", path)
        _check_steps("emd", e, ("equilibration_ps", "production_ps", "dump_every_fs",
                                "checkpoint_every_ps"), dt_fs, path)
        if e["gk_temperatures_K"]:
            _check_steps("emd", e, ("heat_every_fs",), dt_fs, path)
            if e["production_ensemble"] != "nve":
                raise InputError("[emd] gk_temperatures_K needs production_ensemble = 'nve': a "
                                 "thermostat perturbs the dynamics that carry the heat "
                                 f"(got {e['production_ensemble']!r})", path)
            heat_steps = round(e["heat_every_fs"] / dt_fs)
            for key in ("equilibration_ps", "production_ps"):
                if round(e[key] * 1000 / dt_fs) % heat_steps:
                    raise InputError(f"[emd] {key} = {e[key]} must be a whole multiple of "
                                     f"heat_every_fs = {e['heat_every_fs']} fs", path)
            nyq = 1.0 / (2 * e["heat_every_fs"] * 1e-3)
            if e["gk_fstar_THz"] is not None and e["gk_fstar_THz"] >= nyq:
                raise InputError(f"[emd] gk_fstar_THz = {e['gk_fstar_THz']} THz is above the "
                                 f"Nyquist frequency {nyq:.4g} THz of heat_every_fs = "
                                 f"{e['heat_every_fs']} fs", path)
        if e["dump_every_fs"] * 1e-3 * 8 > e["production_ps"]:
            raise InputError(f"[emd] dump_every_fs = {e['dump_every_fs']} fs leaves fewer than 8 "
                             f"frames in production_ps = {e['production_ps']} ps", path)
        prod_steps = round(e["production_ps"] * 1000 / dt_fs)
        dump_steps = round(e["dump_every_fs"] / dt_fs)
        if prod_steps % dump_steps:
            raise InputError(f"[emd] production_ps = {e['production_ps']} must be a whole multiple "
                             f"of dump_every_fs = {e['dump_every_fs']} fs", path)
        if e["dos_temperatures_K"]:
            nyquist = 1.0 / (2 * e["dump_every_fs"] * 1e-3)
            if nyquist < 5.0:
                raise InputError(f"[emd] dump_every_fs = {e['dump_every_fs']} fs resolves "
                                 f"frequencies only up to {nyquist:.3g} THz (Nyquist); a DOS needs "
                                 "a finer sampling (e.g. 10 fs -> 50 THz)", path)
        if e["msd_fit_range_ps"] is not None and e["msd_fit_range_ps"][1] > e["production_ps"]:
            raise InputError(f"[emd] msd_fit_range_ps ends at {e['msd_fit_range_ps'][1]} ps, after "
                             f"the production run ({e['production_ps']} ps)", path)
        emd = EMDSpec(**{**e, "msd_temperatures_K": tuple(e["msd_temperatures_K"]),
                         "dos_temperatures_K": tuple(e["dos_temperatures_K"]),
                         "gk_temperatures_K": tuple(e["gk_temperatures_K"]),
                         "supercell": tuple(e["supercell"]),
                         "msd_fit_range_ps": (tuple(e["msd_fit_range_ps"])
                                              if e["msd_fit_range_ps"] else None)})

    lattice = None
    if "lattice" in data:
        la = _check_table(data["lattice"], LATTICE_FIELDS, "lattice", path)
        if emd is None:
            raise InputError("[lattice] needs an [emd] table: its snapshots come from EMD runs "
                             "with the [emd] supercell, ensembles and run lengths", path)
        if la["cutoffs_A"] is not None and len(la["cutoffs_A"]) < la["max_order"] - 1:
            raise InputError(f"[lattice] cutoffs_A = {la['cutoffs_A']} gives fewer cutoffs than "
                             f"orders 2..max_order = {la['max_order']} need", path)
        frames = round(emd.production_ps * 1000 / emd.dump_every_fs)
        if la["n_snapshots"] > frames:
            raise InputError(f"[lattice] n_snapshots = {la['n_snapshots']} is more than the "
                             f"{frames} frames an [emd] run writes (production_ps / "
                             "dump_every_fs)", path)
        lattice = LatticeSpec(**{**la, "temperatures_K": tuple(la["temperatures_K"]),
                                 "cutoffs_A": tuple(la["cutoffs_A"]) if la["cutoffs_A"] else None,
                                 "mesh": tuple(la["mesh"]),
                                 "coarse_mesh": (tuple(la["coarse_mesh"]) if la["coarse_mesh"]
                                                 else None)})

    ionic = None
    if "ionic" in data:
        io_ = _check_table(data["ionic"], IONIC_FIELDS, "ionic", path)
        if emd is None:
            raise InputError("[ionic] needs an [emd] table: it analyses EMD runs made with the "
                             "[emd] supercell, ensembles and run lengths", path)
        ionic = IonicSpec(**{**io_, "temperatures_K": tuple(io_["temperatures_K"]),
                             "charges_e": (dict(io_["charges_e"]) if io_["charges_e"] is not None
                                           else None)})

    if output is None:
        output = camp["output"] if camp["output"] else str(Path("runs") / camp["name"])
    out = Path(output).expanduser().resolve()
    return CampaignSpec(
        path=Path(path).resolve() if path != "<string>" else Path(path),
        name=camp["name"],
        description=camp["description"],
        output=out,
        seed=camp["seed"],
        structure=structure,
        potential=potential,
        timestep_fs=md["timestep_fs"],
        thermo_every=md["thermo_every"],
        nemd=nemd,
        emd=emd,
        extra_commands=lmp["extra_commands"],
        report=report,
        lattice=lattice,
        ionic=ionic,
        raw_sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def load_campaign(path: str | Path, output: str | Path | None = None,
                  check_modules: bool = True) -> CampaignSpec:
    """Read and validate the campaign file at ``path`` (see :func:`parse_campaign`)."""
    path = Path(path)
    if not path.exists():
        raise InputError("campaign file does not exist", path)
    if path.is_dir():
        raise InputError("is a directory, not a campaign file", path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path) from None
    return parse_campaign(text, path=path, output=output, check_modules=check_modules)


def canonical_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON form of ``obj`` (sorted keys)."""
    from mdargy.results import to_jsonable

    return hashlib.sha256(json.dumps(to_jsonable(obj), sort_keys=True).encode()).hexdigest()
