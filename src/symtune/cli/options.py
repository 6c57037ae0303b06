"""Command-line options generated from a config dataclass: its fields give the names, types and
defaults, the string under each field gives the help. One source per config; the CLI adds only
what is not a config field (where to write, --resume, --json).

    @app.command("tune")
    @config_options(TuneConfig, skip=("mixture", "out"))
    def tune_command(mixture: ..., out: ..., **fields) -> None:
        config = TuneConfig(**config_values(TuneConfig, fields), mixture=..., out=...)

How a field appears: str/int/float as themselves, bool as --x/--no-x, `int | None` as an
integer where 0 means None, a tuple of strings or integers as a comma-separated list, per-task
weights as "task=w,task=w", a nested dataclass (`lora: LoraConfig | None`) as --lora/--no-lora
plus its own fields prefixed (--lora-r ...)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import textwrap
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Annotated, Any

import typer

from symtune.errors import SymtuneError


@cache
def field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring (the string literal right after it), read from the source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def _hints(cls: type) -> dict[str, Any]:
    import sys

    module = sys.modules[cls.__module__]
    return typing.get_type_hints(cls, vars(module))


def _optional(kind: Any) -> Any | None:
    """X for `X | None`, else None."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        real = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(real) == 1 and type(None) in typing.get_args(kind):
            return real[0]
    return None


def _is_str_tuple(kind: Any) -> bool:
    return typing.get_origin(kind) is tuple and typing.get_args(kind) == (str, Ellipsis)


def _is_int_tuple(kind: Any) -> bool:
    return typing.get_origin(kind) is tuple and typing.get_args(kind) == (int, Ellipsis)


def _is_weights(kind: Any) -> bool:
    return typing.get_origin(kind) is tuple and typing.get_args(kind)[:1] == (tuple[str, float],)


def _option(name: str, kind: Any, default: Any, doc: str) -> inspect.Parameter:
    inner = _optional(kind)
    if inner is int:
        kind, default, doc = int, default or 0, f"{doc} (0: none)"
    elif _is_str_tuple(kind) or _is_int_tuple(kind):
        kind, default = str, ",".join(map(str, default))
        doc = f"{doc} (comma-separated)"
    elif _is_weights(kind):
        kind, doc = str, f"{doc} (task=weight,task=weight)"
        default = ",".join(f"{t}={w:g}" for t, w in default)
    elif kind not in (str, int, float, bool):
        raise TypeError(f"no command-line form for field {name}: {kind}")
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=default,
        annotation=Annotated[kind, typer.Option(help=doc or name.replace("_", " "))],
    )


def _fields(cls: type, skip: Sequence[str]) -> list[tuple[str, Any, Any]]:
    hints = _hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None  # a required field: the command supplies it
        out.append((f.name, hints[f.name], default))
    return out


def parameters(cls: type, skip: Sequence[str] = (), prefix: str = "") -> list[inspect.Parameter]:
    """The options of `cls`'s fields (a nested dataclass field flattened, see module doc)."""
    docs = field_docs(cls)
    params: list[inspect.Parameter] = []
    for name, kind, default in _fields(cls, skip):
        nested = _optional(kind) or kind
        if dataclasses.is_dataclass(nested):
            flag_doc = docs.get(name, "") or f"Use {name}."
            params.append(
                inspect.Parameter(
                    prefix + name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=default is not None,
                    annotation=Annotated[bool, typer.Option(help=flag_doc)],
                )
            )
            params += parameters(nested, prefix=f"{prefix}{name}_")  # type: ignore[arg-type]
            continue
        params.append(_option(prefix + name, kind, default, docs.get(name, "")))
    return params


def _integers(text: str, where: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise SymtuneError(f"--{where} {text!r}: expected comma-separated integers") from None


def _weights(text: str, where: str) -> tuple[tuple[str, float], ...]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        task, sep, value = part.rpartition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = None
        if not sep or not task or weight is None:
            raise SymtuneError(f"--{where} {text!r}: expected task=weight,task=weight")
        out.append((task, weight))
    return tuple(out)


def config_values(cls: type, options: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Field values for `cls` from the generated options' values (the inverse of `parameters`);
    fields with no option are left to their defaults."""
    values: dict[str, Any] = {}
    for name, kind, _ in _fields(cls, ()):
        key = prefix + name
        if key not in options:
            continue
        value = options[key]
        nested = _optional(kind) or kind
        if dataclasses.is_dataclass(nested):
            values[name] = nested(**config_values(nested, options, f"{key}_")) if value else None  # type: ignore[operator]
        elif _optional(kind) is int:
            values[name] = value or None
        elif _is_str_tuple(kind):
            values[name] = tuple(p.strip() for p in value.split(",") if p.strip())
        elif _is_int_tuple(kind):
            values[name] = _integers(value, key.replace("_", "-"))
        elif _is_weights(kind):
            values[name] = _weights(value, key.replace("_", "-"))
        else:
            values[name] = value
    return values


def config_options(cls: type, skip: Sequence[str] = ()) -> Callable[[Callable], Callable]:
    """Give a command `cls`'s fields as options after its own parameters (see module doc); the
    command takes them as **fields."""

    def wrap(command: Callable) -> Callable:
        own = [
            p
            for p in inspect.signature(command, eval_str=True).parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        taken = {p.name for p in own}
        generated = [p for p in parameters(cls, skip) if p.name not in taken]
        command.__signature__ = inspect.Signature([*own, *generated])  # type: ignore[attr-defined]
        return command

    return wrap
