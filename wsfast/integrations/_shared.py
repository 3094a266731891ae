"""What the integrations share: the patch's bookkeeping (rebinding a name and remembering the
original), maskers and validators with the interfaces the peers define, and the unmasking
helpers the frame parsers read payloads with."""

from __future__ import annotations

import mmap
from collections.abc import Callable
from typing import Any


class LibraryNotInstalled(ImportError):
    """``patch`` was asked for a library it knows but that cannot be imported here."""


class UnsupportedVersion(ImportError):
    """The installed version of a library does not look its accelerators up where wsfast
    expects (a name wsfast would rebind is missing), so patching it would do nothing."""


# (owner, attribute, original, replacement) for every name a patch rebound, per library.
Binding = tuple[Any, str, Any, Any]


def current(owner: Any, name: str) -> Any:
    # a class attribute as stored (a classmethod object, not the bound method it gives)
    return owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)


def rebind(
    bindings: list[Binding], owner: Any, name: str, value: Any, library: str
) -> None:
    try:
        original = current(owner, name)
    except (KeyError, AttributeError):
        where = getattr(owner, "__qualname__", None) or getattr(
            owner, "__name__", repr(owner)
        )
        raise UnsupportedVersion(
            f"{library} {version_of(library)} has no {where}.{name} to patch"
        ) from None
    bindings.append((owner, name, original, value))
    setattr(owner, name, value)


def version_of(library: str) -> str:
    try:
        from importlib.metadata import version

        return version(library)
    except Exception:  # noqa: BLE001  # pragma: no cover - metadata missing in odd installs
        return "(unknown version)"


def default_api() -> Any:
    """The public functions of the backend wsfast runs on."""
    from .. import _api  # type: ignore[attr-defined]

    return _api


# ---------------------------------------------------------------------------------------------
# Maskers and validators with the interfaces the peers (and wsaccel) define, over one backend.


class KeyedMasker:
    """A masker that keeps its key phase across calls, as autobahn's and wsaccel's do:
    ``process(data) -> bytes``, ``pointer()`` (bytes processed so far), ``reset()``."""

    __slots__ = ("_mask", "_ptr")
    _apply_mask: Callable[..., bytes]

    def __init__(
        self, mask: bytes | bytearray | memoryview, length: int | None = None
    ) -> None:
        mask = bytes(mask)
        if len(mask) != 4:
            raise ValueError("mask must contain 4 bytes")
        self._mask = mask
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: Any) -> bytes:
        out = self._apply_mask(data, self._mask, self._ptr & 3)
        self._ptr += len(out)
        return out


class NullMasker:
    """The masker for unmasked frames: data through unchanged, ``pointer()`` still counted."""

    __slots__ = ("_ptr",)

    def __init__(self, mask: Any = None, length: int | None = None) -> None:
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: Any) -> Any:
        self._ptr += len(data)
        return data


class QuadUtf8Validator:
    """Incremental UTF-8 validation with the quad API of autobahn, ws4py and wsaccel.

    ``validate(buf) -> (valid, endsOnCodePoint, currentIndex, totalIndex)``: while valid,
    ``currentIndex`` is ``len(buf)`` and ``totalIndex`` the bytes consumed since ``reset()``; at
    the first byte that makes the input invalid, ``(False, False, i, total)`` with ``i`` that
    byte's offset in ``buf`` and ``total`` its offset since ``reset()``.  A rejected validator
    stays rejected (``(False, False, 0, total)``; an empty chunk, which they never scan, gives
    ``(True, False, 0, total)`` as in wsaccel and autobahn) until ``reset()``.
    """

    __slots__ = ("_index", "_rejected", "_validator")
    _Validator: Callable[[], Any]

    def __init__(self) -> None:
        self._validator = self._Validator()
        self._index = 0
        self._rejected = False

    def reset(self) -> None:
        self._validator.reset()
        self._index = 0
        self._rejected = False

    def validate(self, ba: Any) -> tuple[bool, bool, int, int]:
        from ..errors import InvalidUTF8

        n = (
            len(ba)
            if type(ba) is bytes or type(ba) is bytearray
            else memoryview(ba).nbytes
        )
        if self._rejected:
            # wsaccel and autobahn scan no byte of an empty chunk, so they call it valid
            return not n, False, 0, self._index
        try:
            self._validator.feed(ba)
        except InvalidUTF8 as exc:
            here = exc.position - self._index
            self._index = exc.position
            self._rejected = True
            return False, False, here, self._index
        self._index += n
        return True, self._validator.complete, n, self._index


def quad_classes(
    api: Any,
) -> tuple[type[KeyedMasker], type[NullMasker], type[QuadUtf8Validator]]:
    """KeyedMasker, NullMasker and QuadUtf8Validator calling ``api`` (a bound backend)."""
    masker = type(
        "KeyedMasker",
        (KeyedMasker,),
        {
            "__slots__": (),
            "_apply_mask": staticmethod(api.apply_mask),
            "__module__": __name__,
        },
    )
    validator = type(
        "QuadUtf8Validator",
        (QuadUtf8Validator,),
        {"__slots__": (), "_Validator": api.Utf8Validator, "__module__": __name__},
    )
    masker.__doc__, validator.__doc__ = KeyedMasker.__doc__, QuadUtf8Validator.__doc__
    return masker, NullMasker, validator


# ---------------------------------------------------------------------------------------------
# One function per library: rebind its lookup names, return the bindings to restore.


def c_fill(api: Any) -> tuple[Callable[[int], bytes], Any, Any] | None:
    """``(new, c_mask, from_buffer)`` where the backend can mask straight into a new bytes
    object (the C backend on CPython: ``new(n)`` is uninitialized bytes, filled by ``c_mask``
    before anything else sees it, as its apply_mask fills its output); None elsewhere."""
    backend = api.backend
    if not getattr(backend, "_FILL_BYTES", False):
        return None
    lib, ffi = backend.lib, backend.ffi  # C backend only
    return backend._output, lib.wsfast_mask, ffi.from_buffer  # C backend only


def slice_unmasker(
    api: Any, small: Callable[[bytes, bytes], bytes] | None = None
) -> Callable[[Any, int, int, bytes, int], bytes]:
    """``unmask(data, start, n, key, phase) -> bytes``: ``data[start:start + n]`` unmasked,
    read from ``data`` (bytes or bytearray), which nothing refers to afterwards (a bytearray
    can be resized).  Up to 2 KiB the slice is copied and masked by ``apply_mask`` (or by
    ``small(chunk, key)`` at phase 0, a peer's own compiled masker where one call of it costs
    less than a cffi call); above, with the C backend on CPython, one cffi call reads the
    slice in place into a new bytes object, as the backend's apply_mask fills its output;
    elsewhere apply_mask on a view.  The key is 4 bytes, as every caller reads it from a
    frame header."""
    apply_mask = api.apply_mask
    fill = c_fill(api)
    small_c_mask = fill[1] if fill is not None else None

    def unmask(data: Any, start: int, n: int, key: bytes, phase: int) -> bytes:
        if n <= 2048:
            chunk = data[start : start + n]
            if type(chunk) is not bytes:
                chunk = bytes(chunk)
            if small is not None and not phase & 3:
                return small(chunk, key)
            if small_c_mask is not None and n:  # C backend only
                # apply_mask's own call, without its argument checks (a 4-byte key and a
                # bytes chunk here): at 125 bytes they cost half as much as the call
                out = bytes(n)
                small_c_mask(chunk, out, n, key, phase & 3)
                return out
            return apply_mask(chunk, key, phase)
        if fill is not None:  # C backend only
            new, c_mask, from_buffer = fill
            out = new(n)
            # the cdata dies with this call, releasing a bytearray's buffer (CPython only)
            c_mask(from_buffer(data) + start, out, n, key, phase & 3)
            return out
        with memoryview(data) as view:
            return apply_mask(view[start : start + n], key, phase)

    return unmask


def scratch_decoder(api: Any) -> Callable[[Any, int, int, bytes], str | None] | None:
    """``decode(data, start, n, key) -> str | None``: ``data[start:start + n]`` unmasked with
    ``key`` (phase 0) and decoded as UTF-8, or None when it is not valid UTF-8 or outside the
    sizes this is for (the caller then unmasks it as usual and its own decode raises).  The
    payload is unmasked into a buffer taken from a small pool and given back after the decode,
    instead of into a new bytes object only the decode reads: at 64 KiB that object was a
    fresh allocation per message, often memory the allocator had just returned to the kernel
    and had to fault in again.  A buffer is in use by one call at a time, so threads decoding
    at once each take their own; at most ``SCRATCH_KEPT`` are kept, each as large as the
    largest payload it was taken for.  C backend on CPython only; None
    elsewhere."""
    fill = c_fill(api)
    if fill is None:
        return None
    _, c_mask, from_buffer = fill
    # each buffer with a pointer to it and a view of it, made once: (pointer, view, size)
    pool: list[tuple[Any, memoryview, int]] = []
    take, give = pool.pop, pool.append
    low, high, kept = SCRATCH_FROM, SCRATCH_UP_TO, SCRATCH_KEPT

    def buffer_for(n: int) -> tuple[Any, memoryview, int]:
        mapped = new_buffer(n)
        return from_buffer(mapped), memoryview(mapped), len(mapped)

    def decode(data: Any, start: int, n: int, key: bytes) -> str | None:
        if not low <= n <= high:
            return None
        try:
            buffer = take()
            if buffer[2] < n:
                buffer = buffer_for(n)
        except IndexError:
            buffer = buffer_for(n)
        try:
            c_mask(from_buffer(data) + start, buffer[0], n, key, 0)
            return str(buffer[1][:n], "utf-8")
        except UnicodeDecodeError:
            return None
        finally:
            if len(pool) < kept:
                give(buffer)

    return decode


def new_buffer(n: int) -> mmap.mmap:
    """A scratch buffer of at least ``n`` bytes (whole 64 KiB), mapped on its own instead of
    taken from the heap.  Kept for the life of the process, a heap block this large would sit
    wherever the heap's top was when it was made and change what glibc can give back to the
    kernel from then on (at 64 KiB messages, how often a server faults its heap back in
    follows such placements); mapped apart, the pool leaves the heap's layout as it was."""
    return mmap.mmap(-1, -(-n // 65536) * 65536, **_PRIVATE)


# an anonymous mapping is shared by default: after a fork, parent and child would unmask into
# the same pages at once and hand each other's text out as their own.  Private, each has its
# own copy once it writes (Windows, with no fork, has no such flag: its mappings stay the
# process's own)
_PRIVATE = {"flags": mmap.MAP_PRIVATE} if hasattr(mmap, "MAP_PRIVATE") else {}


# scratch_decoder: the payload sizes it takes (below, the new bytes object is small-object
# memory or cheap; above, a buffer this large kept would be more memory than it saves), and
# how many buffers the pool keeps
SCRATCH_FROM = 8 * 1024
SCRATCH_UP_TO = 256 * 1024
SCRATCH_KEPT = 2


Pieces = tuple[Callable[[Any, int, int, int], None], Callable[[], bytes]]


def assembler(
    api: Any, unmask: Callable[[Any, int, int, bytes, int], bytes]
) -> Callable[[int, bytes], Pieces]:
    """``start(length, key) -> (write, finish)`` for a masked payload of ``length`` bytes that
    arrives in pieces: ``write(data, start, n, at)`` unmasks ``data[start:start + n]`` as the
    payload's bytes from offset ``at`` (key phase ``at``), ``finish()`` returns the payload.
    With the C backend on CPython the pieces are unmasked straight into the bytes object
    returned (no join afterwards); elsewhere each is unmasked by ``unmask`` and they are joined."""
    fill = c_fill(api)
    if fill is None:

        def start(length: int, key: bytes) -> Pieces:
            parts: list[bytes] = []

            def write(data: Any, start: int, n: int, at: int) -> None:
                parts.append(unmask(data, start, n, key, at))

            return write, lambda: b"".join(parts)

        return start

    new, c_mask, from_buffer = fill  # C backend only

    def start_in_place(length: int, key: bytes) -> Pieces:  # C backend only
        out = new(length)
        dst = from_buffer("uint8_t[]", out)

        def write(data: Any, start: int, n: int, at: int) -> None:
            # the cdata dies with this call, releasing a bytearray's buffer (CPython only)
            c_mask(from_buffer(data) + start, dst + at, n, key, at & 3)

        return write, lambda: out

    return start_in_place  # C backend only

