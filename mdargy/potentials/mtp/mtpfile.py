"""Reader and writer of MLIP's ``.mtp`` text format, version 1.1.0.

A Moment Tensor Potential file (Shapeev, Multiscale Model. Simul. 14, 1153 (2016); Novikov et
al., Mach. Learn.: Sci. Technol. 2, 025002 (2021)) looks like::

    MTP
    version = 1.1.0
    potential_name = MTP1m
    scaling = 1.0                      (optional; multiplies the radial smoothing)
    species_count = 3
    potential_tag =
    radial_basis_type = RBChebyshev
        min_dist = 1.8                 (Angstrom)
        max_dist = 5.0                 (Angstrom; the cutoff)
        radial_basis_size = 8
        radial_funcs_count = 2
        radial_coeffs                  (species_count**2 blocks "i-j", each radial_funcs_count
            0-0                         lines of radial_basis_size numbers)
                {c0, c1, ...}
            ...
    alpha_moments_count = 18
    alpha_index_basic_count = 11
    alpha_index_basic = {{mu, a, b, c}, ...}
    alpha_index_times_count = 14
    alpha_index_times = {{i1, i2, mult, i3}, ...}
    alpha_scalar_moments = 9
    alpha_moment_mapping = {0, 10, ...}
    species_coeffs = {...}             (eV)
    moment_coeffs = {...}              (eV)

Variants accepted on reading:

* ``radial_funcs_count`` before ``radial_coeffs`` (MLIP) or after it (motep 0.2.0 writes it
  there and then cannot read its own file); the count is then inferred from the blocks;
* motep's ``min``/``max``/``size`` keys instead of ``min_dist``/``max_dist``/
  ``radial_basis_size``;
* untrained templates (no ``radial_coeffs``, ``species_coeffs``, ``moment_coeffs``).

The writer always produces MLIP's layout, which MLIP, motep and mdargy's LAMMPS plugin read.
Every problem raises :class:`mdargy.errors.InputError` naming the file, the line and the problem.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path

import numpy as np

from mdargy.errors import InputError
from mdargy.io.atomic import atomic_write_text, refuse_overwrite

SUPPORTED_VERSION = "1.1.0"
SUPPORTED_RADIAL_BASIS = ("RBChebyshev",)
#: Largest ``max_dist`` accepted (Angstrom): far beyond any MTP, far below what exhausts memory.
MAX_CUTOFF_A = 50.0

_KEY_ALIASES = {"min": "min_dist", "max": "max_dist", "size": "radial_basis_size",
                "min_val": "min_dist", "max_val": "max_dist", "basis_size": "radial_basis_size"}
_INT_KEYS = ("species_count", "radial_basis_size", "radial_funcs_count", "alpha_moments_count",
             "alpha_index_basic_count", "alpha_index_times_count", "alpha_scalar_moments")
_FLOAT_KEYS = ("scaling", "min_dist", "max_dist")
_STR_KEYS = ("version", "potential_name", "potential_tag", "radial_basis_type")
_LIST_KEYS = ("alpha_moment_mapping", "species_coeffs", "moment_coeffs")
_NESTED_KEYS = ("alpha_index_basic", "alpha_index_times")
_KNOWN = set(_INT_KEYS + _FLOAT_KEYS + _STR_KEYS + _LIST_KEYS + _NESTED_KEYS)


@dataclasses.dataclass(frozen=True, eq=False)
class MTPPotential:
    """A Moment Tensor Potential as stored in an ``.mtp`` file.

    Lengths in Angstrom, energies in eV. Arrays are read-only numpy arrays.

    Attributes
    ----------
    radial_coeffs : ndarray, shape (species_count, species_count, radial_funcs_count,
        radial_basis_size) or None
        Chebyshev coefficients of the radial function ``f_mu`` for each ordered species pair
        (centre species, neighbour species). None for an untrained template.
    alpha_index_basic : ndarray of int, shape (n_basic, 4)
        Rows ``(mu, a, b, c)``: the component ``x^a y^b z^c / r^(a+b+c)`` of moment ``M_mu``.
    alpha_index_times : ndarray of int, shape (n_times, 4)
        Rows ``(i1, i2, mult, i3)``: ``m[i3] += mult * m[i1] * m[i2]``, applied in file order.
    alpha_moment_mapping : ndarray of int, shape (alpha_scalar_moments,)
        Which entries of ``m`` are the scalar basis functions ``B_alpha``.
    species_coeffs, moment_coeffs : ndarray or None
        ``E_i = species_coeffs[type_i] + sum_alpha moment_coeffs[alpha] * B_alpha``.
    """

    species_count: int
    min_dist: float
    max_dist: float
    radial_basis_size: int
    radial_funcs_count: int
    alpha_moments_count: int
    alpha_index_basic: np.ndarray
    alpha_index_times: np.ndarray
    alpha_moment_mapping: np.ndarray
    radial_coeffs: np.ndarray | None = None
    species_coeffs: np.ndarray | None = None
    moment_coeffs: np.ndarray | None = None
    scaling: float = 1.0
    version: str = SUPPORTED_VERSION
    potential_name: str = "MTP1m"
    potential_tag: str = ""
    radial_basis_type: str = "RBChebyshev"

    def __post_init__(self):
        for name in ("alpha_index_basic", "alpha_index_times"):
            a = np.asarray(getattr(self, name), dtype=np.int64).reshape(-1, 4)
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        a = np.asarray(self.alpha_moment_mapping, dtype=np.int64).reshape(-1)
        a.setflags(write=False)
        object.__setattr__(self, "alpha_moment_mapping", a)
        for name in ("radial_coeffs", "species_coeffs", "moment_coeffs"):
            v = getattr(self, name)
            if v is not None:
                v = np.array(v, dtype=np.float64)
                v.setflags(write=False)
                object.__setattr__(self, name, v)
        problems = self.problems()
        if problems:
            raise InputError("inconsistent MTP: " + "; ".join(problems))

    # -- derived sizes -------------------------------------------------------------------------
    @property
    def alpha_index_basic_count(self) -> int:
        return int(self.alpha_index_basic.shape[0])

    @property
    def alpha_index_times_count(self) -> int:
        return int(self.alpha_index_times.shape[0])

    @property
    def alpha_scalar_moments(self) -> int:
        return int(self.alpha_moment_mapping.shape[0])

    @property
    def trained(self) -> bool:
        """True when the coefficients are present (the file can be used for MD)."""
        return (self.radial_coeffs is not None and self.species_coeffs is not None
                and self.moment_coeffs is not None)

    @property
    def cutoff(self) -> float:
        """The interaction cutoff in Angstrom (``max_dist``)."""
        return float(self.max_dist)

    def problems(self) -> list[str]:
        """Consistency problems (empty when the potential is usable)."""
        out = []
        s, nb, nr = self.species_count, self.radial_basis_size, self.radial_funcs_count
        nm = self.alpha_moments_count
        if s < 1:
            out.append(f"species_count must be >= 1, got {s}")
        if nb < 2:
            out.append(f"radial_basis_size must be >= 2, got {nb}")
        if nr < 1:
            out.append(f"radial_funcs_count must be >= 1, got {nr}")
        if not (math.isfinite(self.min_dist) and math.isfinite(self.max_dist)
                and 0 <= self.min_dist < self.max_dist):
            out.append(f"need 0 <= min_dist < max_dist, got {self.min_dist}, {self.max_dist}")
        if not math.isfinite(self.scaling):
            out.append(f"scaling must be finite, got {self.scaling}")
        basic, times, amap = self.alpha_index_basic, self.alpha_index_times, self.alpha_moment_mapping
        if basic.shape[0] > nm:
            out.append(f"alpha_index_basic_count {basic.shape[0]} > alpha_moments_count {nm}")
        if basic.size and (basic[:, 0].min() < 0 or basic[:, 0].max() >= nr):
            out.append(f"alpha_index_basic: mu must be in [0, {nr - 1}] (radial_funcs_count)")
        if basic.size and basic[:, 1:].min() < 0:
            out.append("alpha_index_basic: negative power")
        if basic.size and basic[:, 1:].max() > 64:
            out.append("alpha_index_basic: power above 64")
        if times.size:
            idx = times[:, [0, 1, 3]]
            if idx.min() < 0 or idx.max() >= nm:
                out.append(f"alpha_index_times: moment index outside [0, {nm - 1}]")
            if (times[:, 3] < basic.shape[0]).any():
                out.append("alpha_index_times: a contraction writes into a basic moment")
        targets = set(times[:, 3].tolist()) if times.size else set()
        if nm > basic.shape[0] + len(targets):
            out.append(f"alpha_moments_count {nm}: {nm - basic.shape[0] - len(targets)} moment(s) "
                       "are never computed (neither basic nor a contraction target)")
        if self.max_dist > MAX_CUTOFF_A:
            out.append(f"max_dist {self.max_dist:g} A exceeds {MAX_CUTOFF_A:g} A")
        if amap.size and (amap.min() < 0 or amap.max() >= nm):
            out.append(f"alpha_moment_mapping: index outside [0, {nm - 1}]")
        if self.radial_coeffs is not None and self.radial_coeffs.shape != (s, s, nr, nb):
            out.append(f"radial_coeffs has shape {self.radial_coeffs.shape}, expected "
                       f"{(s, s, nr, nb)}")
        if self.species_coeffs is not None and self.species_coeffs.shape != (s,):
            out.append(f"species_coeffs has {self.species_coeffs.size} values, expected {s}")
        if self.moment_coeffs is not None and self.moment_coeffs.shape != (amap.size,):
            out.append(f"moment_coeffs has {self.moment_coeffs.size} values, expected "
                       f"{amap.size} (alpha_scalar_moments)")
        for name in ("radial_coeffs", "species_coeffs", "moment_coeffs"):
            v = getattr(self, name)
            if v is not None and not np.isfinite(v).all():
                out.append(f"{name} contains non-finite values")
        return out

    def with_coefficients(self, radial_coeffs, species_coeffs, moment_coeffs,
                          **changes) -> "MTPPotential":
        """A copy with the given coefficients (and any other fields changed)."""
        return dataclasses.replace(self, radial_coeffs=radial_coeffs,
                                   species_coeffs=species_coeffs, moment_coeffs=moment_coeffs,
                                   **changes)

    # -- conversion ----------------------------------------------------------------------------
    def to_text(self) -> str:
        """The potential in MLIP's ``.mtp`` layout (radial_funcs_count before radial_coeffs)."""
        f = _fmt_float
        lines = ["MTP", f"version = {self.version}", f"potential_name = {self.potential_name}"]
        if self.scaling != 1.0:
            lines.append(f"scaling = {f(self.scaling)}")
        lines += [f"species_count = {self.species_count}",
                  f"potential_tag = {self.potential_tag}".rstrip() if self.potential_tag else
                  "potential_tag = ",
                  f"radial_basis_type = {self.radial_basis_type}",
                  f"\tmin_dist = {f(self.min_dist)}",
                  f"\tmax_dist = {f(self.max_dist)}",
                  f"\tradial_basis_size = {self.radial_basis_size}",
                  f"\tradial_funcs_count = {self.radial_funcs_count}"]
        if self.radial_coeffs is not None:
            lines.append("\tradial_coeffs")
            for a in range(self.species_count):
                for b in range(self.species_count):
                    lines.append(f"\t\t{a}-{b}")
                    for mu in range(self.radial_funcs_count):
                        lines.append("\t\t\t{" + ", ".join(f(x) for x in self.radial_coeffs[a, b, mu]) + "}")
        lines += [f"alpha_moments_count = {self.alpha_moments_count}",
                  f"alpha_index_basic_count = {self.alpha_index_basic_count}",
                  f"alpha_index_basic = {_fmt_nested(self.alpha_index_basic)}",
                  f"alpha_index_times_count = {self.alpha_index_times_count}",
                  f"alpha_index_times = {_fmt_nested(self.alpha_index_times)}",
                  f"alpha_scalar_moments = {self.alpha_scalar_moments}",
                  "alpha_moment_mapping = {" + ", ".join(str(int(i)) for i in self.alpha_moment_mapping) + "}"]
        if self.species_coeffs is not None:
            lines.append("species_coeffs = {" + ", ".join(f(x) for x in self.species_coeffs) + "}")
        if self.moment_coeffs is not None:
            lines.append("moment_coeffs = {" + ", ".join(f(x) for x in self.moment_coeffs) + "}")
        return "\n".join(lines) + "\n"


def _fmt_float(x: float) -> str:
    return repr(float(x))  # shortest text that reads back to the same double


def _fmt_nested(a: np.ndarray) -> str:
    return "{" + ", ".join("{" + ", ".join(str(int(v)) for v in row) + "}" for row in a) + "}"


# ----------------------------------------------------------------------------------------------
# parsing
_KEYVAL = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_PAIR = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


class _Reader:
    def __init__(self, text: str, path):
        self.lines = text.splitlines()
        self.path = path

    def fail(self, lineno: int | None, msg: str):
        raise InputError(msg, path=self.path, line=lineno)


def _parse_int(r: _Reader, tok: str, lineno: int, what: str) -> int:
    tok = tok.strip()
    if not re.fullmatch(r"[+-]?\d+", tok):
        r.fail(lineno, f"{what}: expected an integer, got {tok!r}")
    return int(tok)


def _parse_float(r: _Reader, tok: str, lineno: int, what: str) -> float:
    tok = tok.strip()
    try:
        v = float(tok)
    except ValueError:
        r.fail(lineno, f"{what}: expected a number, got {tok!r}")
    if not math.isfinite(v):
        r.fail(lineno, f"{what}: non-finite number {tok!r}")
    return v


def _parse_list(r: _Reader, text: str, lineno: int, what: str, conv) -> list:
    t = text.strip()
    if not (t.startswith("{") and t.endswith("}")):
        r.fail(lineno, f"{what}: expected a list in braces {{...}}, got {t[:40]!r}")
    inner = t[1:-1].strip()
    if "{" in inner or "}" in inner:
        r.fail(lineno, f"{what}: unexpected nested braces")
    if not inner:
        return []
    return [conv(r, tok, lineno, what) for tok in inner.split(",")]


def _parse_nested(r: _Reader, text: str, lineno: int, what: str) -> list[list[int]]:
    t = text.strip()
    if not (t.startswith("{") and t.endswith("}")):
        r.fail(lineno, f"{what}: expected {{{{..}}, ..}}, got {t[:40]!r}")
    inner = t[1:-1].strip()
    if not inner:
        return []
    rows = []
    pos = 0
    while pos < len(inner):
        m = re.compile(r"\s*\{([^{}]*)\}\s*(,|$)").match(inner, pos)
        if not m:
            r.fail(lineno, f"{what}: malformed row near {inner[pos:pos + 30]!r}")
        row = [_parse_int(r, tok, lineno, what) for tok in m.group(1).split(",")]
        if len(row) != 4:
            r.fail(lineno, f"{what}: row {len(rows)} has {len(row)} entries, expected 4")
        rows.append(row)
        pos = m.end()
    return rows


def parse_mtp_text(text: str, path: str | os.PathLike | None = None,
                   require_trained: bool = False) -> MTPPotential:
    """Parse the text of an ``.mtp`` file.

    Parameters
    ----------
    text : str
        File contents.
    path : path-like, optional
        Used in error messages only.
    require_trained : bool
        Raise unless radial, species and moment coefficients are present.

    Raises
    ------
    InputError
        Naming the file, the line and the problem.
    """
    r = _Reader(text, path if path is not None else "<mtp text>")
    lines = r.lines
    n = len(lines)
    i = 0
    while i < n and not lines[i].strip():
        i += 1
    if i >= n:
        r.fail(None, "empty file, expected 'MTP' on the first line")
    if lines[i].strip() != "MTP":
        r.fail(i + 1, f"expected 'MTP' on the first line, got {lines[i].strip()[:40]!r}")
    i += 1
    vals: dict = {}
    where: dict = {}
    radial_blocks = None  # list of (a, b, [rows]) ; rows are lists of floats
    radial_line = None
    while i < n:
        raw = lines[i]
        lineno = i + 1
        s = raw.strip()
        i += 1
        if not s:
            continue
        if s == "radial_coeffs":
            if radial_blocks is not None:
                r.fail(lineno, "radial_coeffs given twice")
            radial_line = lineno
            radial_blocks = []
            while i < n:
                t = lines[i].strip()
                if not t:
                    i += 1
                    continue
                m = _PAIR.match(t)
                if m:
                    radial_blocks.append((int(m.group(1)), int(m.group(2)), [], i + 1))
                    i += 1
                    continue
                if t.startswith("{"):
                    if not radial_blocks:
                        r.fail(i + 1, "radial_coeffs: coefficient line before the first "
                               "species pair label like '0-0'")
                    radial_blocks[-1][2].append(
                        (_parse_list(r, t, i + 1, "radial_coeffs", _parse_float), i + 1))
                    i += 1
                    continue
                break
            continue
        m = _KEYVAL.match(raw)
        if not m:
            r.fail(lineno, f"cannot parse line {s[:60]!r}: expected 'key = value'")
        key, value = m.group(1), m.group(2)
        key = _KEY_ALIASES.get(key, key)
        if key not in _KNOWN:
            r.fail(lineno, f"unknown key {key!r}")
        if key in vals:
            r.fail(lineno, f"{key} given twice (first on line {where[key]})")
        where[key] = lineno
        if key in _INT_KEYS:
            vals[key] = _parse_int(r, value, lineno, key)
            if vals[key] < 0:
                r.fail(lineno, f"{key} must not be negative, got {vals[key]}")
        elif key in _FLOAT_KEYS:
            vals[key] = _parse_float(r, value, lineno, key)
        elif key in _STR_KEYS:
            vals[key] = value.strip()
        elif key in _NESTED_KEYS:
            vals[key] = _parse_nested(r, value, lineno, key)
        elif key == "alpha_moment_mapping":
            vals[key] = _parse_list(r, value, lineno, key, _parse_int)
        else:
            vals[key] = _parse_list(r, value, lineno, key, _parse_float)

    last = n

    def need(key):
        if key not in vals:
            r.fail(last, f"missing {key!r} (end of file reached without it)")
        return vals[key]

    version = need("version")
    if version != SUPPORTED_VERSION:
        r.fail(where["version"], f"unsupported version {version!r}; mdargy reads "
               f"{SUPPORTED_VERSION}")
    rbt = need("radial_basis_type")
    if rbt not in SUPPORTED_RADIAL_BASIS:
        r.fail(where["radial_basis_type"], f"unsupported radial basis {rbt!r}; supported: "
               + ", ".join(SUPPORTED_RADIAL_BASIS))
    s_count = need("species_count")
    if s_count < 1:
        r.fail(where["species_count"], "species_count must be >= 1")
    if s_count > 128:
        r.fail(where["species_count"], f"species_count {s_count} is unreasonably large")
    rbs = need("radial_basis_size")
    if rbs < 2 or rbs > 1000:
        r.fail(where["radial_basis_size"], f"radial_basis_size must be in [2, 1000], got {rbs}")
    min_dist, max_dist = need("min_dist"), need("max_dist")
    if not (0 <= min_dist < max_dist):
        r.fail(where["max_dist"], f"need 0 <= min_dist < max_dist, got {min_dist} and {max_dist}")
    if max_dist > MAX_CUTOFF_A:
        r.fail(where["max_dist"], f"max_dist = {max_dist:g} A is beyond any interatomic cutoff "
               f"(at most {MAX_CUTOFF_A:g} A is accepted; MTPs use 4-7 A): LAMMPS would build "
               "ghost atoms and neighbour lists for it until memory runs out")

    # radial coefficients: shape and radial_funcs_count (before or after the block)
    rfc = vals.get("radial_funcs_count")
    coeffs = None
    if radial_blocks is not None:
        if not radial_blocks:
            r.fail(radial_line, "radial_coeffs: no species-pair blocks")
        if rfc is None:
            rfc = len(radial_blocks[0][2])
        expected_pairs = [(a, b) for a in range(s_count) for b in range(s_count)]
        got_pairs = [(a, b) for a, b, _, _ in radial_blocks]
        if len(got_pairs) != len(expected_pairs):
            r.fail(radial_line, f"radial_coeffs: {len(got_pairs)} species-pair blocks, expected "
                   f"{len(expected_pairs)} (species_count**2)")
        coeffs = np.empty((s_count, s_count, rfc, rbs))
        for (a, b, rows, ln), (ea, eb) in zip(radial_blocks, expected_pairs):
            if (a, b) != (ea, eb):
                r.fail(ln, f"radial_coeffs: block '{a}-{b}' where '{ea}-{eb}' was expected")
            if len(rows) != rfc:
                r.fail(ln, f"radial_coeffs: block '{a}-{b}' has {len(rows)} functions, "
                       f"expected {rfc} (radial_funcs_count)")
            for mu, (row, rln) in enumerate(rows):
                if len(row) != rbs:
                    r.fail(rln, f"radial_coeffs: {len(row)} coefficients, expected {rbs} "
                           "(radial_basis_size)")
                coeffs[a, b, mu] = row
    if rfc is None:
        r.fail(last, "missing 'radial_funcs_count' (end of file reached without it)")
    if rfc < 1 or rfc > 64:
        r.fail(where.get("radial_funcs_count", radial_line), f"radial_funcs_count must be in "
               f"[1, 64], got {rfc}")

    amc = need("alpha_moments_count")
    basic = need("alpha_index_basic")
    times = need("alpha_index_times")
    amap = need("alpha_moment_mapping")
    for key, arr in (("alpha_index_basic_count", basic), ("alpha_index_times_count", times),
                     ("alpha_scalar_moments", amap)):
        cnt = need(key)
        if cnt != len(arr):
            listkey = {"alpha_index_basic_count": "alpha_index_basic",
                       "alpha_index_times_count": "alpha_index_times",
                       "alpha_scalar_moments": "alpha_moment_mapping"}[key]
            r.fail(where[listkey], f"{listkey} has {len(arr)} entries but {key} = {cnt} "
                   f"(line {where[key]})")
    if len(basic) > amc:
        r.fail(where["alpha_moments_count"], f"alpha_moments_count {amc} is smaller than "
               f"alpha_index_basic_count {len(basic)}")
    for k, row in enumerate(basic):
        if not (0 <= row[0] < rfc) or min(row[1:]) < 0 or max(row[1:]) > 64:
            r.fail(where["alpha_index_basic"], f"alpha_index_basic row {k} = {row}: need "
                   f"0 <= mu < {rfc} and powers in [0, 64]")
    for k, row in enumerate(times):
        i1, i2, _mult, i3 = row
        if not (0 <= i1 < amc and 0 <= i2 < amc and len(basic) <= i3 < amc):
            r.fail(where["alpha_index_times"], f"alpha_index_times row {k} = {row}: indices "
                   f"must be in [0, {amc - 1}] and the target >= {len(basic)}")
    # every moment is basic or the target of a contraction (targets are in range, see above)
    targets = {int(row[3]) for row in times}
    if amc != len(basic) + len(targets):
        first = next(k for k in range(len(basic), amc) if k not in targets)
        r.fail(where["alpha_moments_count"], f"alpha_moments_count = {amc} but the file defines "
               f"only {len(basic) + len(targets)} moments ({len(basic)} basic + {len(targets)} "
               f"contraction targets); {amc - len(basic) - len(targets)} moment(s), from index "
               f"{first}, are never computed")
    for k, v in enumerate(amap):
        if not 0 <= v < amc:
            r.fail(where["alpha_moment_mapping"], f"alpha_moment_mapping entry {k} = {v} is "
                   f"outside [0, {amc - 1}]")
    sc = vals.get("species_coeffs")
    if sc is not None and len(sc) != s_count:
        r.fail(where["species_coeffs"], f"species_coeffs has {len(sc)} values, expected "
               f"{s_count} (species_count)")
    mc = vals.get("moment_coeffs")
    if mc is not None and len(mc) != len(amap):
        r.fail(where["moment_coeffs"], f"moment_coeffs has {len(mc)} values, expected "
               f"{len(amap)} (alpha_scalar_moments)")
    if require_trained:
        for key, v in (("radial_coeffs", coeffs), ("species_coeffs", sc), ("moment_coeffs", mc)):
            if v is None:
                r.fail(last, f"missing {key!r}: this is an untrained template; train it first "
                       "(e.g. with motep or MLIP)")
    scaling = vals.get("scaling", 1.0)
    try:
        return MTPPotential(
            species_count=s_count, min_dist=min_dist, max_dist=max_dist, radial_basis_size=rbs,
            radial_funcs_count=rfc, alpha_moments_count=amc, alpha_index_basic=basic,
            alpha_index_times=times, alpha_moment_mapping=amap, radial_coeffs=coeffs,
            species_coeffs=sc, moment_coeffs=mc, scaling=scaling, version=version,
            potential_name=vals.get("potential_name", ""),
            potential_tag=vals.get("potential_tag", ""), radial_basis_type=rbt)
    except InputError as exc:
        raise InputError(str(exc), path=r.path) from None


def read_mtp(path: str | os.PathLike, require_trained: bool = False) -> MTPPotential:
    """Read an ``.mtp`` file (see :func:`parse_mtp_text`)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read MTP file: {exc.strerror or exc}", path=p) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a text file (byte {exc.start} is not UTF-8)", path=p) from None
    return parse_mtp_text(text, path=p, require_trained=require_trained)


def write_mtp(path: str | os.PathLike, pot: MTPPotential, force: bool = False) -> Path:
    """Write ``pot`` atomically in MLIP's layout; refuse to overwrite unless ``force``."""
    refuse_overwrite(path, force)
    return atomic_write_text(path, pot.to_text())


def normalize_mtp_file(src: str | os.PathLike, dst: str | os.PathLike, force: bool = False) -> Path:
    """Rewrite an ``.mtp`` file (e.g. motep's, with radial_funcs_count misplaced) in MLIP order."""
    return write_mtp(dst, read_mtp(src), force=force)
