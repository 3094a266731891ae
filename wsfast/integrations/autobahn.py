"""autobahn: the UTF-8 validator and maskers its protocol module imports by name."""

from __future__ import annotations

from typing import Any

from ._shared import Binding, KeyedMasker, quad_classes, rebind

LIBRARY = "autobahn"  # the name wsfast.patch() takes
MODULE = "autobahn"  # the module it imports


def enable(b: list[Binding], api: Any) -> None:
    from autobahn.websocket import protocol

    masker, null_masker, validator = quad_classes(api)

    def create_xor_masker(mask: Any, length: int | None = None) -> KeyedMasker:
        return masker(mask)

    rebind(b, protocol, "Utf8Validator", validator, "autobahn")
    rebind(b, protocol, "XorMaskerNull", null_masker, "autobahn")
    rebind(b, protocol, "create_xor_masker", create_xor_masker, "autobahn")

