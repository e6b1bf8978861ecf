"""Every public module, class, function and method of ``xmtp_core.mls`` says in a line what it is (issue 10);
a method that overrides a documented one (``encode``/``decode`` of a WireStruct) inherits its docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cached_property
from types import ModuleType

import xmtp_core.mls


def _modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.walk_packages(xmtp_core.mls.__path__, "xmtp_core.mls.")]
    return [xmtp_core.mls, *(importlib.import_module(n) for n in names)]


def _undocumented_members(cls: type) -> list[str]:
    out = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property | cached_property):
            func = member.fget if isinstance(member, property) else member.func
        else:
            func = getattr(member, "__func__", member)
        if not inspect.isfunction(func):
            continue
        # getattr on the class resolves a docstring inherited from a base's method of the same name.
        inherited = inspect.getdoc(member if isinstance(member, property) else getattr(cls, name, None))
        if not inherited and not inspect.getdoc(func):
            out.append(name)
    return out


def _missing() -> list[str]:
    missing = []
    for module in _modules():
        if not inspect.getdoc(module):
            missing.append(module.__name__)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            qualified = f"{module.__name__}.{name}"
            if inspect.isfunction(obj) and not inspect.getdoc(obj):
                missing.append(qualified)
            if inspect.isclass(obj):
                # A dataclass without a docstring gets its signature as __doc__.
                if not obj.__doc__ or obj.__doc__.startswith(f"{obj.__name__}("):
                    missing.append(qualified)
                missing += [f"{qualified}.{m}" for m in _undocumented_members(obj)]
    return missing


def test_every_public_definition_has_a_docstring() -> None:
    assert _missing() == []
