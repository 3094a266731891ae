"""tornado: the mask its websocket module looks up by name."""

from __future__ import annotations

from typing import Any

from ._shared import Binding, rebind

LIBRARY = "tornado"  # the name wsfast.patch() takes
MODULE = "tornado"  # the module it imports


def enable(b: list[Binding], api: Any) -> None:
    from tornado import util, websocket

    apply_mask = api.apply_mask

    def _websocket_mask(mask: bytes, data: bytes) -> bytes:
        return apply_mask(data, mask)

    rebind(b, websocket, "_websocket_mask", _websocket_mask, "tornado")
    rebind(b, util, "_websocket_mask", _websocket_mask, "tornado")

