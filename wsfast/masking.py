"""Masking (RFC 6455 5.3): byte ``i`` of a payload is XORed with ``mask[(offset + i) % 4]``."""

from __future__ import annotations

from typing import Any, Callable, Union

from ._common import check_mask, phase_of, readable, writable

Buffer = Union[bytes, bytearray, memoryview]


def bind(backend: Any) -> tuple[Callable[..., bytes], Callable[..., None]]:
    """apply_mask and apply_mask_inplace over one backend."""
    b_mask, b_inplace = backend.mask, backend.mask_inplace

    def apply_mask(data: Buffer, mask: Buffer, offset: int = 0) -> bytes:
        """Return ``data`` XORed with the 4-byte ``mask``, starting at key phase ``offset``."""
        if type(mask) is not bytes or len(mask) != 4:
            mask = check_mask(mask)
        if type(data) is not bytes:
            data = readable(data)
        return b_mask(data, mask, offset & 3 if type(offset) is int else phase_of(offset))

    def apply_mask_inplace(buffer: Buffer, mask: Buffer, offset: int = 0) -> None:
        """XOR the writable, contiguous ``buffer`` with ``mask`` in place."""
        if type(mask) is not bytes or len(mask) != 4:
            mask = check_mask(mask)
        b_inplace(writable(buffer), mask, offset & 3 if type(offset) is int else phase_of(offset))

    # A backend may bring its own apply_mask with these same checks inlined (the C one does:
    # for small payloads one Python call layer costs as much as the masking).
    return getattr(backend, "apply_mask", apply_mask), apply_mask_inplace
