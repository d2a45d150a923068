"""Configuration files: TOML reading, ``--set`` overrides and the checking of typed tables.

The I/O side of mdargy's one configuration vocabulary. The keys themselves (name, unit, type,
default, check) are defined once, as :class:`Field` entries in the run configurations of
:mod:`mdargy.drivers.config`; the campaign schema (:mod:`mdargy.campaign.schema`) derives its
tables from them. This module knows no key: it reads TOML, applies ``key=value`` overrides and
checks a table against the fields it is given, refusing unknown keys (with a "did you mean")
and keys of an older vocabulary (naming the key that replaced them).

Every problem is an :class:`~mdargy.errors.InputError` naming the file (or ``--set``), the table
and the key.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mdargy.errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: What the errors call the command-line overrides.
OVERRIDES = "--set"


@dataclasses.dataclass(frozen=True)
class Field:
    """One key of a configuration table.

    Attributes
    ----------
    kind : str
        ``"str"``, ``"int"``, ``"float"``, ``"bool"``, ``"list[float]"``, ``"list[int]"``,
        ``"list[str]"``, ``"table[float]"`` or ``"table"`` (checked by its own module).
    required : bool
    default : object
        Value when the key is absent (``None``: unset, the consumer chooses).
    check : callable, optional
        ``check(value) -> str | None``: the problem with a well-typed value, or None.
    doc : str
        One line for error messages and generated documentation.
    unit : str
        Unit of the value (also the suffix of the key: ``_fs``, ``_ps``, ``_K``, ...).
    """

    kind: str
    required: bool = False
    default: Any = None
    check: Callable[[Any], str | None] | None = None
    doc: str = ""
    unit: str = ""


KIND_NAMES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list[float]": "a list of numbers",
    "list[int]": "a list of integers",
    "list[str]": "a list of strings",
    "table[float]": "a table of numbers, e.g. { Cu = 1, S = -2 }",
    "table": "a table",
}


def type_ok(kind: str, v: Any) -> bool:
    """Whether ``v`` has the type ``kind`` (an int is a valid float; a bool is no number)."""
    if kind == "str":
        return isinstance(v, str)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "float":
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    if kind == "table[float]":
        return isinstance(v, Mapping) and all(type_ok("float", x) for x in v.values())
    if kind == "table":
        return isinstance(v, Mapping) or hasattr(v, "to_dict")
    if kind.startswith("list["):
        inner = kind[5:-1]
        return isinstance(v, (list, tuple)) and all(type_ok(inner, x) for x in v)
    raise AssertionError(kind)


def describe(v: Any) -> str:
    """``repr`` of a value, shortened, with its type: ``'300' (str)``."""
    text = repr(v)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(v).__name__})"


def normalise(kind: str, v: Any) -> Any:
    """A well-typed value in its canonical form (floats as float, lists as lists)."""
    if v is None:
        return None
    if kind == "float":
        return float(v)
    if kind == "list[float]":
        return [float(x) for x in v]
    if kind.startswith("list["):
        return list(v)
    return v


def check_value(key: str, field: Field, v: Any, where: str = "") -> Any:
    """Type-check and check one value; returns it normalised. ``where``: ``"[nemd] "`` or ""."""
    if not type_ok(field.kind, v):
        raise InputError(f"{where}{key} must be {KIND_NAMES[field.kind]}, got {describe(v)}")
    v = normalise(field.kind, v)
    if field.check is not None:
        msg = field.check(v)
        if msg:
            raise InputError(f"{where}{key} = {v!r}: {msg}")
    return v


def key_problem(key: str, known: Sequence[str], renamed: Mapping[str, tuple[str, str]]
                | None = None, where: str = "") -> str | None:
    """Why ``key`` is not accepted (an old name, or unknown), or None when it is known.

    ``renamed`` maps an old key to ``(new key, how to convert the value)``.
    """
    if key in known:
        return None
    if renamed and key in renamed:
        new, how = renamed[key]
        if new in known:
            return (f"{where}{key!r} is an old name: did you mean {new!r}? "
                    f"({how})" if how else f"{where}{key!r} is an old name: did you mean {new!r}?")
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{where}unknown key {key!r}{hint} (allowed: {', '.join(known)})"


def check_table(table: Mapping[str, Any], fields: Mapping[str, Field], where: str, source,
                renamed: Mapping[str, tuple[str, str]] | None = None) -> dict:
    """Check one table against ``fields``; return every field's value, defaults filled in.

    Parameters
    ----------
    table : mapping
        The table as read.
    fields : mapping of str to Field
    where : str
        The table's name for messages (``"nemd"`` -> ``[nemd] key ...``; ``""``: top level).
    source : path or str
        The file (or ``--set``) named in the errors.
    renamed : mapping, optional
        Old key -> (new key, conversion hint): refused with "did you mean".
    """
    prefix = f"[{where}] " if where else ""
    if not isinstance(table, Mapping):
        raise InputError(f"[{where}] must be a table, got {describe(table)}", source)
    for key in table:
        msg = key_problem(key, list(fields), renamed, prefix)
        if msg:
            raise InputError(msg, source)
    out = {}
    for key, field in fields.items():
        if key not in table:
            if field.required:
                raise InputError(f"{prefix}missing required key {key!r}", source)
            out[key] = copy.deepcopy(field.default)
            continue
        try:
            out[key] = check_value(key, field, table[key], prefix)
        except InputError as exc:
            raise InputError(str(exc), source) from None
    return out


# --------------------------------------------------------------------------------------------
# TOML
# --------------------------------------------------------------------------------------------


def _decode_error(exc: Exception, source) -> InputError:
    msg = str(exc)
    m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
    return InputError(f"not valid TOML: {msg}", source, int(m.group(1)) if m else None)


def loads_toml(text: str, source="<string>") -> dict:
    """Parse TOML text; a syntax error becomes an :class:`InputError` at ``source:line``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _decode_error(exc, source) from None


def read_toml(path: str | os.PathLike) -> dict:
    """Read a TOML file; a missing file or a syntax error is an :class:`InputError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError("configuration file not found", path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not a UTF-8 text file ({exc.reason})", path) from None
    return loads_toml(text, path)


# --------------------------------------------------------------------------------------------
# --set overrides
# --------------------------------------------------------------------------------------------


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"a.b=value"`` -> (["a", "b"], value); the value is read as TOML, else as a string."""
    if "=" not in item:
        raise InputError(f"{OVERRIDES} {item!r} is not of the form key=value")
    key, _, raw = item.partition("=")
    key = key.strip()
    raw = raw.strip()
    if not key or any(not k for k in key.split(".")):
        raise InputError(f"{OVERRIDES} {item!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str] | Mapping[str, Any],
                    known: Sequence[str] | None = None,
                    renamed: Mapping[str, tuple[str, str]] | None = None) -> dict:
    """A copy of ``data`` with ``key=value`` overrides applied (nested keys with dots).

    With ``known`` (the top-level keys of the configuration), an unknown or renamed top-level
    key is refused here, as ``--set KEY``, before it reaches the file's validation. Nested keys
    (``potential.cutoff_A``) are checked by the table's own module.
    """
    data = copy.deepcopy(dict(data))
    items = (overrides.items() if isinstance(overrides, Mapping)
             else (parse_override(o) for o in overrides))
    for keys, value in items:
        if isinstance(keys, str):
            keys = keys.split(".")
        if known is not None:
            msg = key_problem(keys[0], list(known), renamed)
            if msg:
                raise InputError(f"{OVERRIDES} {'.'.join(keys)}: {msg}")
        d = data
        for k in keys[:-1]:
            d = d.setdefault(k, {})
            if not isinstance(d, dict):
                raise InputError(f"{OVERRIDES} {'.'.join(keys)}: {k} is not a table")
        d[keys[-1]] = value
    return data
