"""Every class and function a package of `xmtp_core` exports (its `__all__`) says in a docstring what it is."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import xmtp_core


def _undocumented() -> list[str]:
    missing = []
    for info in pkgutil.walk_packages(xmtp_core.__path__, "xmtp_core."):
        if ".protos" in info.name or not info.ispkg:
            continue
        module = importlib.import_module(info.name)
        if not module.__doc__:
            missing.append(info.name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name, None)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            doc = obj.__doc__ or ""
            if inspect.isclass(obj) and doc.startswith(obj.__name__ + "("):  # the dataclass's generated signature
                doc = ""
            if not doc.strip():
                missing.append(f"{info.name}.{name}")
    return missing


def test_every_exported_name_has_a_docstring() -> None:
    assert _undocumented() == []
