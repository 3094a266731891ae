"""aiohttp: the pure-Python mask of its reader and writer (its Cython reader took its mask at
compile time and cannot be patched)."""

from __future__ import annotations

from typing import Any

from ._shared import Binding, UnsupportedVersion, rebind, version_of

LIBRARY = "aiohttp"  # the name wsfast.patch() takes
MODULE = "aiohttp"  # the module it imports


def enable(b: list[Binding], api: Any) -> None:
    # The Cython reader (reader_c) took its mask at compile time: only the pure-Python reader
    # and the writer look it up by name.  The Cython mask beats a cffi call on small frames,
    # so where aiohttp already uses it, it stays; only the pure-Python mask is replaced.
    from aiohttp._websocket import helpers, reader_py, writer

    python_mask = getattr(helpers, "_websocket_mask_python", None)
    if python_mask is None:
        raise UnsupportedVersion(
            f"aiohttp {version_of('aiohttp')} has no _websocket._websocket_mask_python to replace"
        )
    apply_mask_inplace = api.apply_mask_inplace

    def websocket_mask(mask: bytes, data: bytearray) -> None:
        apply_mask_inplace(data, mask)

    for module in (helpers, reader_py, writer):
        if (
            getattr(module, "websocket_mask", None) is python_mask
            or module is reader_py
        ):
            rebind(b, module, "websocket_mask", websocket_mask, "aiohttp")

