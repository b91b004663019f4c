"""Config dataclasses: JSON round trips and command-line options generated from fields.

Every hyperparameter is declared once, as a dataclass field with a default and a ``help``
entry in its metadata; the CLI options and the saved ``config.json`` are both derived from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import types
import typing
from typing import Any, TypeVar

from genzoo.errors import ConfigError, first_line

T = TypeVar("T")


def field(default: Any = dataclasses.MISSING, *, help: str = "", choices: tuple | None = None, **kw: Any):
    """A dataclass field carrying CLI help text (and optional choices)."""
    meta = {"help": help}
    if choices is not None:
        meta["choices"] = tuple(choices)
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for sequence defaults (no mutable defaults)")
    return dataclasses.field(default=default, metadata=meta, **kw)


def to_dict(cfg: Any) -> dict:
    """Dataclass -> JSON-able dict (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _resolve_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def describe(value: Any, limit: int = 60) -> str:
    """A short description of a (JSON) value for an error message: its JSON text, shortened."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _type_words(tp: Any) -> str:
    tp, optional = _unwrap_optional(tp)
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            word = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}.get(args[0], "values")
            text = f"a list of {word}"
        else:
            text = f"a list of {len(args)} values ({', '.join(_type_words(a) for a in args)})"
    else:
        text = _TYPE_WORDS.get(tp, getattr(tp, "__name__", str(tp)))
    return text + " or null" if optional else text


class _Mismatch(Exception):
    """A value that does not have its field's type (the message, if any, says what it must be)."""


def _convert(value: Any, tp: Any, nonfinite_ok: bool) -> Any:
    """``value`` as type ``tp`` (lists become tuples, ints become floats where a float is asked);
    raises ``_Mismatch`` when it does not have that type. Unknown hints are passed through."""
    inner, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise _Mismatch
    tp = inner
    if tp is bool:
        if type(value) is bool:
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
            if not nonfinite_ok and not math.isfinite(value):
                raise _Mismatch("a finite number")
            return value
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if typing.get_origin(tp) is tuple:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], nonfinite_ok) for v in value)
        if len(value) != len(args):
            raise _Mismatch
        return tuple(_convert(v, a, nonfinite_ok) for v, a in zip(value, args))
    return value


def _field_value(f: dataclasses.Field, tp: Any, value: Any, where: str) -> Any:
    nonfinite_ok = isinstance(f.default, float) and not math.isfinite(f.default)
    try:
        value = _convert(value, tp, nonfinite_ok)
    except _Mismatch as e:  # its message, if any, is a more precise "must be ..."
        raise ConfigError(f"{where}field {f.name!r} must be {str(e) or _type_words(tp)}, "
                          f"got {describe(value)}") from None
    choices = f.metadata.get("choices")
    if choices is not None and value is not None and value not in choices:
        raise ConfigError(f"{where}field {f.name!r} must be one of {', '.join(map(str, choices))}, "
                          f"got {describe(value)}")
    return value


def from_dict(cls: type[T], data: Any, *, where: str = "") -> T:
    """Build dataclass ``cls`` from a dict (e.g. read from a config.json), checking it as untrusted.

    Every value is checked against the field's type hint (bool, int, float, str, tuples, optional
    values) and its ``choices``; lists become tuples; NaN and infinities are refused unless the
    field's default is one. Missing keys take the field default; unknown keys are an error (another
    model's config, or a typo). Any failure, including the dataclass's own ``__post_init__`` checks,
    is a one-line :class:`~genzoo.errors.ConfigError` prefixed by ``where`` (e.g.
    ``"runs/a/config.json: model_config: "``); without ``where`` a ``ValueError`` raised by the
    dataclass itself (e.g. a ``DataError``) passes through unchanged."""
    if where and not where.endswith(": "):
        where = where + ": "
    if not isinstance(data, dict):
        raise ConfigError(f"{where}must be a JSON object with {cls.__name__} fields, got {describe(data)}")
    hints = _resolve_types(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in known]
    if unknown:
        names = ", ".join(describe(k, 30) for k in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise ConfigError(f"{where}unknown field(s) {names} for {cls.__name__}")
    kwargs = {name: _field_value(f, hints[name], data[name], where)
              for name, f in known.items() if name in data}
    try:
        return cls(**kwargs)
    except ValueError as e:
        if not where:  # keep the config's own error type (e.g. DataError) when there is nothing to add
            raise
        raise ConfigError(f"{where}{first_line(e)}") from None
    except (TypeError, ArithmeticError) as e:
        raise ConfigError(f"{where}{first_line(e)}") from None


def _parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _none_or(parse):
    def inner(text: str):
        return None if text.lower() in ("none", "null") else parse(text)

    inner.__name__ = getattr(parse, "__name__", "value")
    return inner


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_dataclass_options(
    parser: argparse.ArgumentParser, cls: type, *, key: str, title: str | None = None,
    skip: tuple[str, ...] = (), defaults: Any = None,
) -> None:
    """Add one ``--option`` per field of ``cls`` (help text and choices from the field metadata).

    Options are stored under ``dest = f"{key}__{field}"`` with default None, so that
    :func:`dataclass_from_args` can tell which ones the user gave. A field whose ``--name`` is
    already taken by another group becomes ``--{key}-{name}``. ``defaults`` (an instance) only
    changes the defaults shown in the help."""
    group = parser.add_argument_group(title or cls.__name__)
    hints = _resolve_types(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        tp, optional = _unwrap_optional(hints[f.name])
        default = getattr(defaults, f.name) if defaults is not None else (
            f.default if f.default is not dataclasses.MISSING else None)
        help_text = f.metadata.get("help", "")
        help_text = f"{help_text} (default: {default})" if help_text else f"default: {default}"
        kw: dict[str, Any] = {"dest": f"{key}__{f.name}", "default": None, "help": help_text}
        if typing.get_origin(tp) is tuple:
            (elem,) = {a for a in typing.get_args(tp) if a is not Ellipsis}
            kw.update(nargs="+", type=elem, metavar=elem.__name__.upper())
        elif tp is bool:
            kw.update(type=_parse_bool, nargs="?", const=True, metavar="BOOL")
        else:
            parse = tp if tp in (int, float, str) else str
            kw["type"] = _none_or(parse) if optional else parse
            kw["metavar"] = parse.__name__.upper()
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
            kw.pop("metavar", None)
        name = option_name(f.name)
        if name in parser._option_string_actions:
            name = option_name(f"{key}_{f.name}")
        group.add_argument(name, **kw)


def dataclass_from_args(cls: type[T], args: argparse.Namespace, *, key: str, base: T | None = None) -> T:
    """Overlay the options the user gave on ``base`` (or on the dataclass defaults)."""
    values = dataclasses.asdict(base) if base is not None else {}
    for f in dataclasses.fields(cls):
        value = getattr(args, f"{key}__{f.name}", None)
        if value is not None:
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return from_dict(cls, values)


def given_options(cls: type, args: argparse.Namespace, *, key: str) -> dict:
    """The fields of ``cls`` that the user set on the command line."""
    return {f.name: getattr(args, f"{key}__{f.name}") for f in dataclasses.fields(cls)
            if getattr(args, f"{key}__{f.name}", None) is not None}
