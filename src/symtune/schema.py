"""Values read from YAML or JSON checked against a config dataclass's field types, so a wrong
type is a one-line error naming the field ("data.n = 'abc': expected an integer") instead of a
traceback deep inside the stage that first uses it."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from symtune.errors import SymtuneError

_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _describe(kind: Any) -> str:
    origin = typing.get_origin(kind)
    if kind in _NAMES:
        return _NAMES[kind]
    if origin in (typing.Union, types.UnionType):
        return " or ".join(
            "null" if a is type(None) else _describe(a) for a in typing.get_args(kind)
        )
    if origin is tuple:
        args = typing.get_args(kind)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
        return f"a list of {len(args)} values"
    if origin is dict or kind is dict:
        return "a mapping"
    if dataclasses.is_dataclass(kind):
        return "a mapping"
    return str(kind)


def coerce(kind: Any, value: Any, where: str) -> Any:
    """`value` as field type `kind` (lists become tuples, ints widen to floats, mappings become
    nested dataclasses); anything else raises naming `where`."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        real = [o for o in options if o is not type(None)]
        if len(real) == 1 and value is not None:
            return coerce(real[0], value, where)
        for option in options:
            if option is type(None):
                continue
            try:
                return coerce(option, value, where)
            except SymtuneError:
                continue
        raise SymtuneError(f"{where} = {value!r}: expected {_describe(kind)}")
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise SymtuneError(f"{where} = {value!r}: expected a finite number")
            return float(value)
    elif kind is str:
        if isinstance(value, str):
            return value
    elif origin is tuple:
        args = typing.get_args(kind)
        homogeneous = len(args) == 2 and args[1] is Ellipsis
        if isinstance(value, list | tuple) and (homogeneous or len(value) == len(args)):
            types_ = [args[0]] * len(value) if homogeneous else list(args)
            pairs = enumerate(zip(types_, value, strict=True))
            return tuple(coerce(t, v, f"{where}[{i}]") for i, (t, v) in pairs)
    elif origin is dict or kind is dict:
        if isinstance(value, Mapping):
            return dict(value)
    elif dataclasses.is_dataclass(kind):
        if isinstance(value, Mapping):
            return kind(**fields_of(kind, value, where))  # type: ignore[operator]
        if isinstance(value, kind):
            return value
    else:
        return value
    raise SymtuneError(f"{where} = {value!r}: expected {_describe(kind)}")


def fields_of(cls: type, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """`values` checked field by field against dataclass `cls`: unknown names and wrong types
    are one-line errors naming `where.field`."""
    if not isinstance(values, Mapping):
        raise SymtuneError(f"{where} = {values!r}: expected a mapping")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in known:
            raise SymtuneError(
                f"{where}.{name} is not a known field; expected one of {', '.join(sorted(known))}"
            )
        out[name] = coerce(hints[name], value, f"{where}.{name}")
    return out


def non_finite(config: Any) -> list[str]:
    """ "field=value; expected a finite number" for each float field of a config dataclass
    (nested ones included) that is NaN or infinite: no setting means anything there."""
    bad = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            bad.append(f"{f.name}={value}; expected a finite number")
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            bad += [f"{f.name}.{problem}" for problem in non_finite(value)]
    return bad


Check = tuple[bool, str, Any, str]
"""(holds, field, value, what was expected)."""


def refuse_bad_fields(where: str, config: Any, checks: list[Check]) -> None:
    """The one validation style: every bad field of `config` (non-finite numbers first, then
    each failed check) in one line, "where: field=value; expected ...; field=...". Nothing
    is raised when all hold."""
    bad = non_finite(config) or [
        f"{name}={value!r}; expected {expected}" for ok, name, value, expected in checks if not ok
    ]
    if bad:
        raise SymtuneError(f"{where}: " + "; ".join(bad))
