"""Python functions named in a config (``"module:function"``), and the rule that guards them.

A config field may name user code, e.g. the AAE's ``prior_fn``. The name is what ``config.json``
records; the function itself is found in this process's table of trusted functions, filled in
only by the user:

* in Python, by passing the function itself (``AAEConfig(prior_fn=my_prior)`` registers it under
  ``"its_module:its_name"``; ``genzoo.load(run, prior_fn=my_prior)``) or calling :func:`register`;
* on the command line, by typing ``--prior-fn module:function`` to ``genzoo train``;
* by an explicit opt-in in code: ``genzoo.load(run, trust_code=True)``.

:func:`import_function` is the only place that imports a named module, and nothing that reads a
run or model directory calls it unless the caller opted in: a shared run directory whose config
names a module beside it never runs that module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from genzoo.errors import UntrustedCodeError

_TRUSTED: dict[str, Callable] = {}


def name_of(fn: Callable) -> str:
    """``"module:qualified_name"`` of a function (the name a config records)."""
    return f"{getattr(fn, '__module__', None) or '__main__'}:{getattr(fn, '__qualname__', type(fn).__name__)}"


def register(fn: Callable, name: str | None = None) -> str:
    """Trust ``fn`` under ``name`` (default: :func:`name_of`) in this process; returns the name.
    A later registration under the same name replaces the earlier one."""
    if not callable(fn):
        raise TypeError(f"expected a function, got {type(fn).__name__}")
    name = name or name_of(fn)
    _TRUSTED[name] = fn
    return name


def import_function(spec: str) -> Callable:
    """Import ``"package.module:function"`` and trust it; ValueError with the reason otherwise.

    This runs the module's code: call it only for a name the user typed or explicitly trusts."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise ValueError(f"expected 'module:function', got {spec!r}")
    mod_name, fn_name = spec.split(":")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as e:
        raise ValueError(f"{spec!r}: cannot import module {mod_name!r} ({e})") from None
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise ValueError(f"{spec!r}: module {mod_name!r} has no function {fn_name!r}")
    register(fn, spec)
    return fn


def trusted(spec: str, field: str) -> Callable:
    """The function trusted under ``spec``; :class:`UntrustedCodeError` (one line, naming
    ``field``) when the user has not supplied it. Never imports anything."""
    fn = _TRUSTED.get(spec)
    if fn is None:
        raise UntrustedCodeError(
            f"{field} {spec!r} names Python code, which genzoo never imports from a file: in Python pass "
            f"the function, genzoo.load(run, {field}=your_function), or trust_code=True if you trust "
            f"this run; 'genzoo train' trusts --{field.replace('_', '-')} typed on its own command line")
    return fn
