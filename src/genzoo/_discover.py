"""Import every module of a package, so that modules register themselves on import."""

from __future__ import annotations

import importlib
import pkgutil


def import_submodules(package_name: str) -> list:
    package = importlib.import_module(package_name)
    modules = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        modules.append(importlib.import_module(f"{package_name}.{info.name}"))
        if info.ispkg:
            modules.extend(import_submodules(f"{package_name}.{info.name}"))
    return modules
