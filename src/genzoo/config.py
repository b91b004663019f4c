"""Config dataclasses: JSON round trips and command-line options generated from fields.

Every hyperparameter is declared once, as a dataclass field with a default and a ``help``
entry in its metadata; the CLI options and the saved ``config.json`` are both derived from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

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


def from_dict(cls: type[T], data: dict) -> T:
    """Build dataclass ``cls`` from a dict, ignoring unknown keys and restoring tuples."""
    hints = _resolve_types(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        tp, _ = _unwrap_optional(hints[f.name])
        if typing.get_origin(tp) is tuple and value is not None:
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


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
