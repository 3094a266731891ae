"""Argument checks shared by both backends, so they reject bad input with the same errors."""

from __future__ import annotations

from typing import Any


def check_mask(mask: Any) -> bytes:
    """The masking key as bytes: ``TypeError`` unless bytes-like, ``ValueError`` unless 4 bytes."""
    if type(mask) is bytes:
        if len(mask) == 4:
            return mask
    else:
        try:
            mask = memoryview(mask).tobytes()
        except TypeError:
            raise TypeError(
                f"mask must be a bytes-like object, not {type(mask).__name__}"
            ) from None
    if len(mask) != 4:
        raise ValueError("mask must contain 4 bytes")
    return mask


def readable(data: Any) -> Any:
    """``data`` as a contiguous byte buffer (bytes kept as they are; non-contiguous views copied)."""
    if type(data) is bytes or type(data) is bytearray:
        return data
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"data must be a bytes-like object, not {type(data).__name__}") from None
    if not view.c_contiguous:
        return view.tobytes()
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def writable(buffer: Any) -> memoryview:
    """``buffer`` as a writable, contiguous, one-dimensional byte view."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(
            f"buffer must be a writable bytes-like object, not {type(buffer).__name__}"
        ) from None
    if view.readonly:
        raise TypeError(f"buffer must be writable, not a read-only {type(buffer).__name__}")
    if not view.c_contiguous:
        raise ValueError("buffer must be contiguous")
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def phase_of(offset: Any) -> int:
    """The key phase of an offset that is not an int (callers do ``offset & 3`` for ints)."""
    if not hasattr(offset, "__index__"):
        raise TypeError(f"offset must be an integer, not {type(offset).__name__}")
    return offset.__index__() & 3
