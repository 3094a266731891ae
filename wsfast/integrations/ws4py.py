"""ws4py: its stream's UTF-8 validator and its frames' mask and unmask."""

from __future__ import annotations

from typing import Any

from ._shared import Binding, quad_classes, rebind

LIBRARY = "ws4py"  # the name wsfast.patch() takes
MODULE = "ws4py"  # the module it imports


def enable(b: list[Binding], api: Any) -> None:
    from ws4py import framing, streaming

    apply_mask_inplace = api.apply_mask_inplace

    def mask(self: Any, data: Any) -> bytearray:
        out = bytearray(data)
        apply_mask_inplace(out, self.masking_key)
        return out

    mask.__doc__ = framing.Frame.mask.__doc__
    rebind(b, streaming, "Utf8Validator", quad_classes(api)[2], "ws4py")
    rebind(b, framing.Frame, "mask", mask, "ws4py")
    rebind(b, framing.Frame, "unmask", mask, "ws4py")

