"""Drop-in acceleration for the WebSocket libraries people already run.

``wsfast.patch()`` rebinds, inside each installed library, the names through which it looks up
its masker and UTF-8 validator (and, for wsproto and websockets, its frame parser) to
wsfast-backed versions with the same signatures, results and errors.  ``wsfast.unpatch()`` puts
every original back.

Only module and class attributes are rebound: objects a library created before the patch
(a connection, a frame decoder) keep the implementation they were built with.  The
replacements call the backend wsfast runs on (``wsfast.BACKEND``) at the time of the patch.

One module per library (``wsfast.integrations.wsproto``, ...), each with ``LIBRARY`` (the name
``patch`` takes), ``MODULE`` (what it imports) and ``enable(bindings, api)``, which rebinds its
names or raises :class:`UnsupportedVersion` saying why it cannot; ``_shared`` holds what they
have in common.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

from . import aiohttp, autobahn, tornado, websocket_client, websockets, ws4py, wsproto

# the maskers and validator stay importable from here, where they were before the split
from ._shared import (  # noqa: F401
    Binding,
    KeyedMasker,
    LibraryNotInstalled,
    NullMasker,
    QuadUtf8Validator,
    UnsupportedVersion,
    current,
    default_api,
    quad_classes,
)

__all__ = [
    "LIBRARIES",
    "LibraryNotInstalled",
    "UnsupportedVersion",
    "check_patched",
    "patch",
    "patched",
    "unpatch",
]

# library name -> its integration module, in the order patch() applies them
INTEGRATIONS: dict[str, ModuleType] = {
    m.LIBRARY: m
    for m in (wsproto, websockets, tornado, autobahn, ws4py, aiohttp, websocket_client)
}
LIBRARIES: tuple[str, ...] = tuple(INTEGRATIONS)

# library -> (the wsfast API its replacements call, its bindings)
_patched: dict[str, tuple[Any, list[Binding]]] = {}


def _installed(name: str) -> bool:
    # by its import name (websocket-client's is ``websocket``)
    try:
        return importlib.util.find_spec(INTEGRATIONS[name].MODULE) is not None
    except (ImportError, ValueError):  # pragma: no cover - a broken parent package
        return False


def patch(*names: str) -> list[str]:
    """Make the named libraries use wsfast; with no names, every installed one.

    Returns the names patched (including ones an earlier call had patched: patching twice
    changes nothing).  An unknown name raises ValueError; a known library that is not
    installed raises :class:`LibraryNotInstalled` (an ImportError), and one whose installed
    version lacks a name wsfast rebinds raises :class:`UnsupportedVersion`.  When a library
    fails, the ones before it in the same call stay patched.
    """
    return _patch(default_api(), names)


def _patch(api: Any, names: tuple[str, ...]) -> list[str]:
    """``patch(*names)`` with replacements calling ``api`` (a backend bound by
    ``wsfast._backend.bind``); the tests use it to patch with each backend in turn."""
    for name in names:
        if name not in INTEGRATIONS:
            known = ", ".join(LIBRARIES)
            raise ValueError(f"unknown library {name!r} (wsfast can patch {known})")
    explicit = bool(names)
    if not explicit:
        names = tuple(name for name in LIBRARIES if _installed(name))
    done = []
    for name in dict.fromkeys(names):
        if name not in _patched:
            if explicit and not _installed(name):
                raise LibraryNotInstalled(
                    f"library {name!r} is not installed", name=name
                )
            bindings: list[Binding] = []
            try:
                INTEGRATIONS[name].enable(bindings, api)
            except BaseException:
                _restore(bindings)
                raise
            _patched[name] = (api, bindings)
        done.append(name)
    return done


def _restore(bindings: list[Binding]) -> None:
    for owner, name, original, _ in reversed(bindings):
        setattr(owner, name, original)


def unpatch() -> None:
    """Restore every name any ``patch()`` call rebound, in every library."""
    while _patched:
        _restore(_patched.popitem()[1][1])


def patched() -> list[str]:
    """The libraries currently patched."""
    return list(_patched)


def check_patched(*names: str) -> None:
    """Raise RuntimeError unless every name wsfast rebound in these libraries still points at
    wsfast (something may have rebound it since, or re-imported the module)."""
    for library in names:
        if library not in _patched:
            raise RuntimeError(f"{library} is not patched")
        for owner, name, _, value in _patched[library][1]:
            if current(owner, name) is not value:
                where = getattr(owner, "__qualname__", None) or owner.__name__
                raise RuntimeError(
                    f"{library}: {where}.{name} no longer points at wsfast"
                )
