"""Campaign files: the TOML schema, its validation, and the typed :class:`CampaignSpec`.

A campaign file is *data*. It is parsed with :mod:`tomllib` and checked field by field; nothing
in it is evaluated, imported or passed to a shell. Raw LAMMPS commands are accepted in exactly one
place, ``[lammps] extra_commands``, and are inserted verbatim into every run's input after the
potential has been defined.

Every problem is reported as :class:`mdargy.errors.InputError` naming the file, the table and key,
and what was expected, *before* anything runs: unknown keys (with a "did you mean" hint), wrong
types, missing files (the potential file of an MTP campaign that has not been trained yet gets a
hint on how to make it), and impossible values (a NEMD bar no longer than its two baths, negative
temperatures, run lengths shorter than one time step, ...). Keys of an older vocabulary
(``supercell``, ``damp_fs``, ``thermo_every``, ...) are refused with the key that replaced them.

One vocabulary: the ``[md]``, ``[nemd]`` and ``[emd]`` tables hold the keys of the drivers' run
configurations (:mod:`mdargy.drivers.config`) under the same names, units, defaults and checks
as a single-run file or ``--set``; their field descriptions are derived from the drivers'
(:func:`mdargy.campaign.adapters.driver_fields`), never re-listed here. Only the keys a single
run has no use for are this module's own: temperature lists, bar lengths and cross-sections,
the NPT run that sets the bars' lattice, and the analysis settings.

Layout of a campaign file (see ``inputs/campaigns/demo.toml`` and ``docs/campaigns.md``)::

    [campaign]   name, output, seed, description, committed
    [structure]  the crystal: passed to mdargy.structures (``file = ...`` or a lattice builder)
    [potential]  the interatomic potential: passed to mdargy.potentials (kind = lj/native/mtp/mlip)
    [md]         timestep_fs, thermo_every_fs, neighbor_skin_A
    [nemd]       temperatures_K, lengths_cells, cross_section_cells, bath_cells, method, run lengths
    [emd]        msd_temperatures_K, dos_temperatures_K, replicate, run lengths, sampling
    [lammps]     extra_commands (raw LAMMPS, the only such field)
    [lattice]    temperatures_K, n_snapshots, cutoffs_A, mesh, ...: force constants (hiPhive),
                 phonons (phonopy) and Wigner kappa_p + kappa_c (phono3py) from EMD snapshots
    [ionic]      temperatures_K, species, charges_e, site_reference, ...: ionic conductivity,
                 Haven ratio, Cu sites and jumps, density maps of EMD runs
    [report]     kappa_band_W_mK, kappa_band_T_K: a measured kappa range drawn on the figures

Relative paths *inside* the file (structure and potential files) are resolved against the
directory of the campaign file. The output directory is resolved against the current working
directory (like any command-line tool's output), unless given on the command line. The folder
of committed results (``[campaign] committed``) is part of the repository, so it is resolved
against the campaign file's directory.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Mapping

from mdargy.campaign import adapters
from mdargy.drivers.config import (RENAMED, EMDConfig, NEMDConfig, check_emd_times,
                                   check_nemd_times, nemd_bar_problem, step_keys, steps_of)
from mdargy.errors import InputError
from mdargy.io.config import Field, check_table, describe, loads_toml
from mdargy.results import to_jsonable

#: NEMD methods a campaign may request (see :mod:`mdargy.drivers`).
NEMD_METHODS = ("langevin", "muller-plathe")

#: Hints for potential files that a user has to make before running.
_MAKE_POTENTIAL_HINT = {
    "mtp": "point [potential] files at an existing .mtp (mdargy ships "
    "inputs/potentials/Cu7PS6.mtp) or train one first: scripts/cu7ps6/README.md and "
    "`mdargy mtp --help`",
    "mlip": "train it with the MLIP package (mlp train) or use mdargy's `mdargy mtp` tools",
}

#: Default of ``[emd] dos_max_THz``: the highest frequency a DOS must resolve. Cu7PS6 vibrates
#: up to ~15 THz (P-S stretching; Raman bands up to ~600 cm^-1 = 18 THz), so 20 THz asks for
#: frames at most 25 fs apart. Lower it for soft crystals (LJ argon stops below 2 THz).
DOS_MAX_THZ_DEFAULT = 20.0


# --------------------------------------------------------------------------------------------
# field descriptions: the drivers' keys (derived) and the campaign's own
# --------------------------------------------------------------------------------------------


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


def _len3(vs):
    return None if len(vs) == 3 else "must have 3 entries (a, b, c repetitions)"


def _len2(vs):
    return None if len(vs) == 2 else "must have 2 entries (repetitions across the bar)"


def _derive(table: str, required=(), defaults: Mapping[str, Any] | None = None,
            checks: Mapping[str, Any] | None = None) -> dict[str, Field]:
    """The driver keys of a campaign table (:func:`adapters.driver_fields`), with the few
    campaign-specific differences stated: keys a campaign must give, and defaults or checks
    that differ (each with its reason at the call)."""
    out = {}
    for key, f in adapters.driver_fields(table).items():
        if key in required:
            f = dataclasses.replace(f, required=True)
        if defaults and key in defaults:
            f = dataclasses.replace(f, default=defaults[key])
        if checks and key in checks:
            f = dataclasses.replace(f, check=checks[key])
        out[key] = f
    return out


CAMPAIGN_FIELDS = {
    "name": Field("str", required=True, check=_name, doc="campaign name (names directories)"),
    "description": Field("str", default=""),
    "output": Field("str", default=None, doc="output directory; default runs/<name>"),
    "seed": Field("int", default=12345, check=_seed, doc="master seed; task seeds derive from it"),
    "committed": Field("str", default=None,
                       doc="folder of committed results (`mdargy campaign export`), relative to "
                       "the campaign file: finished tasks found there are restored, not rerun"),
}

#: ``[md]``: the run-wide keys of both drivers (a campaign refuses time steps above 20 fs,
#: which no crystal it studies allows; a single run may try them).
MD_FIELDS = _derive("md", checks={"timestep_fs": lambda v: None if 0 < v <= 20 else
                                  "must lie in (0, 20] fs"})

#: ``[nemd]``: temperatures and bar sizes of the sweep, the keys of NEMDConfig, and the NPT run
#: that sets the bars' lattice. Every campaign states its run lengths.
NEMD_FIELDS = {
    "temperatures_K": Field("list[float]", required=True, check=_combine(_nonempty_unique, _temperatures)),
    "lengths_cells": Field("list[int]", required=True, check=_combine(_nonempty_unique, _all_positive),
                           doc="bar lengths along x (the transport direction), in unit cells"),
    "cross_section_cells": Field("list[int]", required=True, check=_combine(_len2, _all_positive),
                                 doc="repetitions along y and z"),
    **_derive("nemd", required=("equilibration_ps", "production_ps")),
    "npt_ps": Field("float", default=20.0, check=_nonneg, unit="ps",
                    doc="NPT run (at pressure_bar) of an npt_cells supercell at each temperature "
                    "whose mean volume over its second half sets the bars' lattice; 0 keeps the "
                    "structure's lattice (bars then sit at its 0 K volume, under pressure)"),
    "npt_cells": Field("list[int]", default=[2, 2, 2], check=_combine(_len3, _all_positive),
                       doc="supercell of that NPT run"),
    "pressure_bar": Field("float", default=0.0, unit="bar", doc="pressure of that NPT run"),
}

#: ``[emd]``: the temperatures of each analysis, the keys of EMDConfig, and the analysis
#: settings. Every campaign states its supercell, run lengths and sampling; the heat current,
#: recorded only by the runs at gk_temperatures_K, defaults to 5 fs there.
EMD_FIELDS = {
    "msd_temperatures_K": Field("list[float]", default=[], check=_temperatures),
    "dos_temperatures_K": Field("list[float]", default=[], check=_temperatures),
    "gk_temperatures_K": Field("list[float]", default=[], check=_temperatures,
                               doc="temperatures whose EMD run also records the heat current for "
                               "Green-Kubo kappa (needs production_ensemble = 'nve')"),
    **_derive("emd", required=("replicate", "equilibration_ps", "production_ps", "dump_every_fs"),
              defaults={"heat_every_fs": 5.0}),
    "msd_fit_range_ps": Field("list[float]", default=None, unit="ps",
                              check=lambda v: None if len(v) == 2 and 0 <= v[0] < v[1] else
                              "must be [t_start, t_end] with 0 <= t_start < t_end"),
    "msd_blocks": Field("int", default=5, check=lambda v: None if v >= 2 else "must be >= 2"),
    "dos_resolution_THz": Field("float", default=None, check=_positive, unit="THz"),
    "dos_max_THz": Field("float", default=DOS_MAX_THZ_DEFAULT, check=_positive, unit="THz",
                         doc="highest frequency the DOS must resolve: dump_every_fs must sample "
                         "it (Nyquist); default 20 THz, above every Cu7PS6 mode"),
    "gk_fstar_THz": Field("float", default=None, check=_positive, unit="THz",
                          doc="cutoff frequency of the cepstral analysis; default automatic"),
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
    "window_ps": Field("float", default=0.0, check=_nonneg,
                       doc="production time after skip_ps used for snapshots, the diffusion "
                       "check and the averaged reference (0: to the end)"),
    "max_displacement_A": Field("float", default=1.5, check=_positive,
                                doc="how far an atom may sit from its reference site (and move "
                                "from its mean position) before the run is refused, Å"),
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
    window_ps: float
    max_displacement_A: float
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


def _spec_class(name: str, fields: Mapping[str, Field], doc: str, namespace=None) -> type:
    """A frozen dataclass with one attribute per key of a table (derived, never re-listed)."""
    cls = dataclasses.make_dataclass(name, [(k, Any) for k in fields], frozen=True,
                                     namespace=dict(namespace or {}))
    cls.__doc__ = doc
    cls.__module__ = __name__
    return cls


def _emd_temperatures(self) -> tuple[float, ...]:
    """Every temperature that gets an EMD run (MSD, DOS and/or Green-Kubo), ascending."""
    return tuple(sorted(set(self.msd_temperatures_K) | set(self.dos_temperatures_K)
                        | set(self.gk_temperatures_K)))


#: The ``[nemd]`` table, checked: one NEMD run per (temperature, length). Lists are tuples;
#: ``block_ps`` and ``delta_T_K`` may be None (the driver's defaults then apply).
NEMDSpec = _spec_class("NEMDSpec", NEMD_FIELDS, "The ``[nemd]`` table: one NEMD run per "
                       "(temperature, length); attributes are its keys (NEMD_FIELDS).")
#: The ``[emd]`` table, checked: one EMD run per temperature that asks for an analysis.
EMDSpec = _spec_class("EMDSpec", EMD_FIELDS, "The ``[emd]`` table: one EMD run per temperature "
                      "that asks for an analysis; attributes are its keys (EMD_FIELDS).",
                      {"temperatures_K": property(_emd_temperatures)})
#: The ``[md]`` table, checked.
MDSpec = _spec_class("MDSpec", MD_FIELDS, "The ``[md]`` table: the run-wide MD keys.")


def _tuples(values: Mapping[str, Any], fields: Mapping[str, Field]) -> dict:
    return {k: (tuple(v) if v is not None and fields[k].kind.startswith("list[") else v)
            for k, v in values.items()}


@dataclasses.dataclass(frozen=True)
class CampaignSpec:
    """A validated campaign file.

    ``structure`` and ``potential`` are the raw TOML tables with their file paths made absolute;
    they are turned into objects by :mod:`mdargy.structures` and :mod:`mdargy.potentials` when a
    task runs. ``md`` holds the ``[md]`` keys (time step, thermo interval, neighbour skin).
    ``raw_sha256`` fingerprints the file's bytes. ``committed`` is the folder of committed
    results (absolute), or None.
    """

    path: Path
    name: str
    description: str
    output: Path
    seed: int
    structure: Mapping[str, Any]
    potential: Mapping[str, Any]
    md: Any
    nemd: Any
    emd: Any
    extra_commands: str
    raw_sha256: str
    report: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    lattice: LatticeSpec | None = None
    ionic: IonicSpec | None = None
    committed: Path | None = None

    @property
    def timestep_fs(self) -> float:
        return self.md.timestep_fs

    def to_dict(self) -> dict:
        return to_jsonable(self)


# --------------------------------------------------------------------------------------------
# parsing and checking
# --------------------------------------------------------------------------------------------

def is_file_key(key: str) -> bool:
    """Whether a key of a structure/potential table holds file paths: ``file``, ``files``
    (a list) and keys ending in ``_file``."""
    return key in ("file", "files") or key.endswith("_file")


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
            raise InputError(f"[{where}] {key} must be a file path (string), got {describe(v)}", path)
        if v.startswith("lammps:"):
            p = adapters.resolve_file(v)
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
                raise InputError(f"[{where}] files must be a list of file paths, got {describe(v)}",
                                 path)
            out[key] = [resolve(key, x) for x in v]
        elif is_file_key(key):
            out[key] = resolve(key, v)
    return out


def _check_steps(table: str, values: dict, dt_fs: float, path, unused=()) -> None:
    """Times counted in steps (the drivers' step keys of the table) hold whole time steps;
    ``unused``: keys the campaign's runs do not use."""
    keys = set(step_keys(NEMDConfig)) | set(step_keys(EMDConfig))
    for key in values:
        v = values[key]
        if key not in keys or v is None or key in unused:
            continue
        try:
            steps_of(key, v, dt_fs, floor=0 if v == 0 else 1)
        except InputError as exc:
            raise InputError(f"[{table}] {exc}", path) from None


def _prefixed(table: str, check, *args, path) -> None:
    """Run a driver's check on a campaign table; its errors name the file and the table."""
    try:
        check(*args)
    except InputError as exc:
        raise InputError(f"[{table}] {exc}", path) from None


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
    data = loads_toml(text, path)
    base = Path(base_dir) if base_dir is not None else Path(path).resolve().parent

    for key, v in data.items():
        if key not in TABLES:
            close = difflib.get_close_matches(key, list(TABLES), n=1)
            hint = f"; did you mean [{close[0]}]?" if close else ""
            raise InputError(f"unknown table or key {key!r}{hint} (allowed tables: "
                             f"{', '.join('[' + t + ']' for t in TABLES)})", path)
        if not isinstance(v, dict):
            raise InputError(f"{key!r} must be a table ([{key}]), got {describe(v)}", path)
    for key in REQUIRED_TABLES:
        if key not in data:
            raise InputError(f"missing table [{key}]", path)
    if "nemd" not in data and "emd" not in data:
        raise InputError("the campaign has nothing to run: add a [nemd] and/or an [emd] table", path)

    camp = check_table(data["campaign"], CAMPAIGN_FIELDS, "campaign", path, RENAMED)
    md = check_table(data.get("md", {}), MD_FIELDS, "md", path, RENAMED)
    lmp = check_table(data.get("lammps", {}), LAMMPS_FIELDS, "lammps", path, RENAMED)
    report = check_table(data.get("report", {}), REPORT_FIELDS, "report", path, RENAMED)
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
    _check_steps("md", md, dt_fs, path)
    nemd = None
    if "nemd" in data:
        n = check_table(data["nemd"], NEMD_FIELDS, "nemd", path, RENAMED)
        bad: dict[str, list[int]] = {}
        for L in n["lengths_cells"]:
            problem = nemd_bar_problem(L, n["bins_per_cell"], n["bath_cells"], n["method"],
                                       n["fit_exclude_bins"])
            if problem:
                bad.setdefault(problem, []).append(L)
        if bad:
            problem, lengths = next(iter(bad.items()))
            raise InputError(f"[nemd] lengths_cells {lengths} {problem}", path)
        if n["method"] == "muller-plathe" and "delta_T_K" in data["nemd"]:
            raise InputError("[nemd] delta_T_K does not apply to method 'muller-plathe' (it "
                             "imposes the heat flux; set swap_every_fs/swap_atoms)", path)
        if n["method"] == "langevin" and ("swap_every_fs" in data["nemd"]
                                          or "swap_atoms" in data["nemd"]):
            raise InputError("[nemd] swap_every_fs/swap_atoms apply only to method "
                             "'muller-plathe'", path)
        if n["delta_T_K"] is not None:
            too_big = [T for T in n["temperatures_K"] if n["delta_T_K"] >= 2 * T]
            if too_big:
                raise InputError(f"[nemd] delta_T_K = {n['delta_T_K']} K would put the cold bath at "
                                 f"or below 0 K at T = {too_big} K (need delta_T_K < 2 T)", path)
        _check_steps("nemd", n, dt_fs, path,
                     unused=("swap_every_fs",) if n["method"] == "langevin" else ())
        if n["npt_ps"]:
            try:
                steps_of("npt_ps", n["npt_ps"], dt_fs, floor=100)
            except InputError as exc:
                raise InputError(f"[nemd] {exc}: too short to average the volume (0 switches "
                                 "the NPT run off)", path) from None
        _prefixed("nemd", check_nemd_times, n, dt_fs, path=path)
        nemd = NEMDSpec(**_tuples(n, NEMD_FIELDS))
    emd = None
    if "emd" in data:
        e = check_table(data["emd"], EMD_FIELDS, "emd", path, RENAMED)
        if not (e["msd_temperatures_K"] or e["dos_temperatures_K"] or e["gk_temperatures_K"]
                or "lattice" in data or "ionic" in data):
            raise InputError("[emd] has no task: give msd_temperatures_K, dos_temperatures_K "
                             "and/or gk_temperatures_K (or a [lattice] or [ionic] table)", path)
        _check_steps("emd", e, dt_fs, path,
                     unused=() if e["gk_temperatures_K"] else ("heat_every_fs",))
        if e["gk_temperatures_K"]:
            if not e["heat_every_fs"] > 0:
                raise InputError("[emd] gk_temperatures_K needs heat_every_fs > 0 (the heat-"
                                 "current sampling of the Green-Kubo runs)", path)
            if e["production_ensemble"] != "nve":
                raise InputError("[emd] gk_temperatures_K needs production_ensemble = 'nve': a "
                                 "thermostat perturbs the dynamics that carry the heat "
                                 f"(got {e['production_ensemble']!r})", path)
            nyq = 1.0 / (2 * e["heat_every_fs"] * 1e-3)
            if e["gk_fstar_THz"] is not None and e["gk_fstar_THz"] >= nyq:
                raise InputError(f"[emd] gk_fstar_THz = {e['gk_fstar_THz']} THz is above the "
                                 f"Nyquist frequency {nyq:.4g} THz of heat_every_fs = "
                                 f"{e['heat_every_fs']} fs", path)
        # the heat current is sampled by the Green-Kubo runs only
        _prefixed("emd", check_emd_times,
                  {**e, "heat_every_fs": e["heat_every_fs"] if e["gk_temperatures_K"] else 0.0},
                  dt_fs, path=path)
        if e["dump_every_fs"] * 1e-3 * 8 > e["production_ps"]:
            raise InputError(f"[emd] dump_every_fs = {e['dump_every_fs']} fs leaves fewer than 8 "
                             f"frames in production_ps = {e['production_ps']} ps", path)
        if e["dos_temperatures_K"]:
            nyquist = 1.0 / (2 * e["dump_every_fs"] * 1e-3)
            if nyquist < e["dos_max_THz"]:
                raise InputError(
                    f"[emd] dump_every_fs = {e['dump_every_fs']} fs resolves frequencies only up "
                    f"to {nyquist:.3g} THz (Nyquist), below dos_max_THz = {e['dos_max_THz']:g} THz, "
                    "the highest frequency the DOS must resolve: sample every "
                    f"{500.0 / e['dos_max_THz']:.3g} fs or less, or lower dos_max_THz for a "
                    "softer crystal", path)
        if e["msd_fit_range_ps"] is not None and e["msd_fit_range_ps"][1] > e["production_ps"]:
            raise InputError(f"[emd] msd_fit_range_ps ends at {e['msd_fit_range_ps'][1]} ps, after "
                             f"the production run ({e['production_ps']} ps)", path)
        emd = EMDSpec(**_tuples(e, EMD_FIELDS))

    lattice = None
    if "lattice" in data:
        la = check_table(data["lattice"], LATTICE_FIELDS, "lattice", path, RENAMED)
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
        io_ = check_table(data["ionic"], IONIC_FIELDS, "ionic", path, RENAMED)
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
        md=MDSpec(**md),
        nemd=nemd,
        emd=emd,
        extra_commands=lmp["extra_commands"],
        report=report,
        lattice=lattice,
        ionic=ionic,
        committed=(base / Path(camp["committed"]).expanduser()).resolve()
        if camp["committed"] else None,
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
    return hashlib.sha256(json.dumps(to_jsonable(obj), sort_keys=True).encode()).hexdigest()
