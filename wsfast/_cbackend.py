"""The C backend: thin wrappers over the cffi module ``wsfast._wsfast`` (csrc/wsfast.c).

Same functions, results and status codes as wsfast/_pure.py.  Importing this module fails with
ImportError when the extension was not built; wsfast/_backend.py decides what that means.
"""

from __future__ import annotations

import os
import struct
import sys
from typing import Any

from . import _codes as C
from . import _pure
from ._common import check_mask, phase_of, readable
from ._version import __version__
from ._wsfast import ffi, lib  # type: ignore[import-not-found]

# A compiled module left from another version (an old in-place build, a half-done upgrade) may
# not match these wrappers: refuse it rather than use it silently.
_built = getattr(lib, "wsfast_build_version", None)
_built = ffi.string(_built()).decode("ascii") if _built is not None else "an unknown version"
if _built != __version__:
    _path = sys.modules[f"{__package__}._wsfast"].__file__
    raise ImportError(
        f"stale compiled module {_path}: built for wsfast {_built}, not {__version__}; "
        "delete it and reinstall or rebuild wsfast"
    )

# The CPU kernels: the best this CPU runs, chosen once here, or the one WSFAST_FORCE_KERNEL
# names (for tests and comparisons; an unknown or unsupported name is an error, never ignored).
KERNEL_IDS = {
    "scalar": lib.WSFAST_KERNEL_SCALAR,
    "sse2": lib.WSFAST_KERNEL_SSE2,
    "avx2": lib.WSFAST_KERNEL_AVX2,
    "neon": lib.WSFAST_KERNEL_NEON,
}
# What runs each operation, e.g. {"mask": "avx2", "utf8": "avx2"}; wsfast.KERNELS is this dict.
KERNELS: dict[str, str] = {}


def available_kernels() -> list[str]:
    """The kernels this CPU can run, slowest first."""
    bits = lib.wsfast_kernels_available()
    return [name for name, k in KERNEL_IDS.items() if bits & (1 << k)]


def use_kernel(name: str | None = None) -> dict[str, str]:
    """Switch every C function to kernel ``name`` (None: the best available).  Process-wide:
    not to be called while another thread is inside wsfast."""
    if name is None:
        kernel = lib.WSFAST_KERNEL_BEST
    elif name in KERNEL_IDS:
        kernel = KERNEL_IDS[name]
    else:
        raise ValueError(f"unknown kernel {name!r}: choose from {', '.join(KERNEL_IDS)}")
    if lib.wsfast_use_kernel(kernel) < 0:
        raise ValueError(
            f"kernel {name!r} is not available on this CPU "
            f"(available: {', '.join(available_kernels())})"
        )
    KERNELS.update(
        mask=ffi.string(lib.wsfast_kernel_name(0)).decode("ascii"),
        utf8=ffi.string(lib.wsfast_kernel_name(1)).decode("ascii"),
    )
    return KERNELS


try:
    use_kernel(os.environ.get("WSFAST_FORCE_KERNEL") or None)
except ValueError as e:
    raise RuntimeError(f"WSFAST_FORCE_KERNEL: {e}") from None

# Below this size a cffi call costs more than the work: the pure twin does it.
SMALL = 0

# CPython: a bytes object we have just created and nobody else has seen can be filled in place,
# as C extensions fill PyBytes_FromStringAndSize(NULL, n).  bytes(n) for n >= 2 is always a new
# object (only b"" and single bytes are shared).  PyPy may hand cffi a copy of a bytes object's
# data, so there the output goes through a bytearray.
_FILL_BYTES = sys.implementation.name == "cpython"


def _uninitialized_bytes() -> Any:
    """CPython's PyBytes_FromStringAndSize(NULL, n) through ctypes: a new bytes object whose
    contents C is about to write, without bytes(n)'s zero fill (a whole extra pass over a large
    buffer).  None where it is not available."""
    try:
        import ctypes

        new = ctypes.pythonapi.PyBytes_FromStringAndSize
    except (ImportError, AttributeError):  # pragma: no cover - not CPython
        return None
    new.restype = ctypes.py_object
    new.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
    return new


_bytes_new: Any = _uninitialized_bytes() if _FILL_BYTES else None
# Below this size the ctypes call costs more than bytes(n)'s zero fill.
_UNINITIALIZED_FROM = 4096


def _output(n: int) -> bytes:
    """A new bytes object of n bytes for C to fill (CPython only)."""
    if n >= _UNINITIALIZED_FROM and _bytes_new is not None:
        return _bytes_new(None, n)
    return bytes(n)


_header = ffi.new("wsfast_header *")
_value = ffi.new("uint64_t *")
_state = ffi.new("uint32_t *")
_index = ffi.new("size_t *")


def _pointer(data: Any) -> Any:
    """A pointer cffi can pass for a read-only buffer: bytes as they are, others wrapped."""
    if type(data) is bytes:
        return data
    return ffi.from_buffer(data)


def mask_(data: Any, mask_: bytes, phase: int) -> bytes:
    n = len(data)
    if n < 2:
        return _pure.mask(data, mask_, phase)
    if _FILL_BYTES:
        out = _output(n)
        lib.wsfast_mask(_pointer(data), out, n, mask_, phase)
        return out
    buf = bytearray(n)  # pragma: no cover - PyPy
    lib.wsfast_mask(_pointer(data), ffi.from_buffer(buf), n, mask_, phase)  # pragma: no cover
    return bytes(buf)  # pragma: no cover


mask = mask_

_c_mask = lib.wsfast_mask


def apply_mask(data: Any, mask: Any, offset: Any = 0) -> bytes:
    """The public apply_mask with the checks inlined: at 125 bytes the call overhead is the
    cost, so this path makes one cffi call and nothing else on the common types."""
    if type(mask) is not bytes or len(mask) != 4:
        mask = check_mask(mask)
    if type(offset) is not int:
        offset = phase_of(offset)
    if type(data) is bytes:
        ptr = data
    else:
        data = readable(data)
        ptr = data if type(data) is bytes else ffi.from_buffer(data)
    n = len(data)
    if n < 2 or not _FILL_BYTES:
        return mask_(data, mask, offset & 3)  # pragma: no cover - PyPy
    out = bytes(n) if n < _UNINITIALIZED_FROM else _output(n)
    _c_mask(ptr, out, n, mask, offset & 3)
    return out


def mask_inplace(view: memoryview, mask_: bytes, phase: int) -> None:
    n = len(view)
    if n:
        p = ffi.from_buffer(view)
        lib.wsfast_mask(p, p, n, mask_, phase)


def utf8_feed(state: int, data: Any) -> tuple[int, int]:
    _state[0] = state
    if lib.wsfast_utf8_feed(_state, _pointer(data), len(data), _index) == 0:
        return _state[0], -1
    return _state[0], _index[0]


def parse_header(data: Any, strict: bool) -> tuple:
    h = _header
    status = lib.wsfast_parse_header(_pointer(data), len(data), strict, h, _value)
    if status != C.OK:
        return status, _value[0], None
    key = bytes(h.mask) if h.masked else b"\x00\x00\x00\x00"
    return status, 0, (h.fin, h.rsv, h.opcode, h.masked, key, h.length, h.size)


def build_header(fin: bool, rsv: int, opcode: int, length: int, mask_: bytes | None) -> bytes:
    # Twin of _pure.build_header, used by tests to hold the two to the same bytes; the
    # encoder builds headers in Python, where 2-14 bytes cost less than a cffi call.
    out = ffi.new("uint8_t[14]")
    n = lib.wsfast_build_header(out, fin, rsv, opcode, length, ffi.NULL if mask_ is None else mask_)
    return ffi.buffer(out, n)[:]


_c_client_frame = lib.wsfast_client_frame
# For the Encoder: (out, first, payload bytes, n, keys, at) straight to C, where out is a new
# bytes object of n + header bytes (CPython only: PyPy may hand C a copy of a bytes object).
fill_client_frame = _c_client_frame if _FILL_BYTES else None


def client_frame(first: int, payload: Any, keys: bytes, at: int) -> bytes:
    """Twin of _pure.client_frame: the frame allocated once and written by one C call."""
    n = len(payload)
    size = n + (6 if n < 126 else 8 if n < 65536 else 14)
    if _FILL_BYTES:
        out = bytes(size) if size < _UNINITIALIZED_FROM else _output(size)
        _c_client_frame(
            out, first, payload if type(payload) is bytes else ffi.from_buffer(payload), n, keys, at
        )
        return out
    buf = bytearray(size)  # pragma: no cover - PyPy
    _c_client_frame(  # pragma: no cover - PyPy
        ffi.from_buffer(buf), first, ffi.from_buffer(payload), n, keys, at
    )
    return bytes(buf)  # pragma: no cover - PyPy


_RECORD = struct.Struct("=QQII")
_decode = lib.wsfast_decode
_MAX_RECORDS = lib.WSFAST_MAX_RECORDS
# Room for a 64 KiB read (a common socket read size) with up to 16 KiB of a frame left from the
# read before it: a stream read in 64 KiB pieces never grows the buffer, which at 128 KiB would
# come from mmap, its pages faulted in per connection.
_INITIAL_CAPACITY = 80 << 10
# Frames of this many bytes that are still arriving go straight into their bytes object, which
# is allocated when the header arrives.  Only where it can be allocated without touching its
# pages (resident memory grows as the bytes arrive, as with the receive buffer), and only up to
# 16 MiB (the default message limit): a bare header reserves no more address space than that.
_SINK_MIN = 1 << 16
_SINK_MAX = 16 << 20
_SHRINK_ABOVE = 8 << 20  # keep buffers of up to 8 MiB: regrowing per message costs copies
# Batches of these kinds need no records: every payload is a whole message of that kind.
_UNIFORM = (C.R_TEXT | C.R_FIRST | C.R_FIN | 0x1, C.R_FIRST | C.R_FIN | 0x2)


# The receive buffer is not zeroed: C reads only bytes it has written (a payload is unmasked into
# it before any record points at it; header bytes are skipped, never read back).
_new_buffer = ffi.new_allocator(should_clear_after_alloc=False)
_RECORDS_AT = ffi.offsetof("wsfast_decoder", "records")
_LAYOUT_AT = ffi.offsetof("wsfast_decoder", "layout")
# What a decode call returns besides its count, read in one go instead of field by field
# (each cffi field read costs as much as the whole unpack): first_offset, want_sink,
# layout_size, same_kind, sink_record.
_SUMMARY = struct.Struct("=QQIII")
_SUMMARY_AT = ffi.offsetof("wsfast_decoder", "first_offset")
_SUMMARY_FIELDS = ("first_offset", "want_sink", "layout_size", "same_kind", "sink_record")
if [ffi.offsetof("wsfast_decoder", f) - _SUMMARY_AT for f in _SUMMARY_FIELDS] != [0, 8, 16, 20, 24]:
    raise ImportError(  # pragma: no cover - a compiler that pads them
        "wsfast_decoder's summary fields are not laid out as _SUMMARY reads them"
    )


# Compiled batch layouts (struct formats written by wsfast_decode), by format: a stream of
# same-size messages reuses one.  Bounded: cleared when full.
_LAYOUTS: dict[bytes, struct.Struct] = {}
_MAX_LAYOUTS = 256


def _layout(fmt: bytes) -> struct.Struct:
    s = _LAYOUTS.get(fmt)
    if s is None:
        if len(_LAYOUTS) >= _MAX_LAYOUTS:
            _LAYOUTS.clear()
        s = _LAYOUTS[fmt] = struct.Struct(fmt)
    return s


class Scanner:
    """Twin of _pure.Scanner over wsfast_decode: one C call per feed, records read in bulk."""

    def __init__(
        self,
        client: bool,
        strict: bool,
        rsv_allowed: int,
        max_frame: int,
        max_message: int,
        max_compressed: int,
    ) -> None:
        d = ffi.new("wsfast_decoder *")
        d.flags = (lib.WSFAST_CLIENT if client else 0) | (lib.WSFAST_STRICT if strict else 0)
        d.rsv_allowed = rsv_allowed
        d.max_frame = min(max_frame, 2**64 - 1)
        d.max_message = min(max_message, 2**64 - 1)
        d.max_compressed = min(max_compressed, 2**64 - 1)
        self._d = d
        self._raw = ffi.buffer(d)  # the records and the layout are read through this
        if _bytes_new is not None:  # pragma: no branch - None only on PyPy (no sinks there)
            d.sink_min, d.sink_max = _SINK_MIN, _SINK_MAX
        self._sink: Any = None  # the object a large frame's payload is going into, and its cdata
        d.buffer = self._buf = _new_buffer("uint8_t[]", _INITIAL_CAPACITY)
        d.capacity = self._capacity = _INITIAL_CAPACITY
        self._view = ffi.buffer(self._buf)
        self.error: tuple[int, int, int] | None = None

    def _use(self, size: int) -> None:
        """Move the unconsumed bytes into a new receive buffer of ``size`` bytes."""
        buf = _new_buffer("uint8_t[]", size)
        if lib.wsfast_move_buffer(self._d, buf, size) != 0:
            raise AssertionError("receive buffer too small")  # pragma: no cover - a bug
        self._buf, self._view, self._capacity = buf, ffi.buffer(buf), size

    def feed(self, data: Any) -> list:
        """Twin of _pure.Scanner.feed: a list of (same_kind, payloads, records) batches."""
        d = self._d
        src = data if type(data) is bytes else ffi.from_buffer(data)
        count = _decode(d, src, len(data))
        if count == -C.NEED_ROOM:
            self._use(max(d.need, 2 * self._capacity))
            count = _decode(d, src, len(data))
        batches = []
        while True:
            if count < 0:
                count = -count - 16
                if self.error is None:
                    self.error = (d.error, d.error_value, d.error_position)
                full = False
            else:
                full = count == _MAX_RECORDS
            if count:
                first, want_sink, size, same, sink_record = _SUMMARY.unpack_from(
                    self._raw, _SUMMARY_AT
                )
                if sink_record:
                    # A large frame, received straight into its own bytes object.
                    payload = self._sink[0]
                    self._sink = None
                    if type(payload) is not bytes:
                        payload = bytes(payload)  # pragma: no cover - PyPy
                    record = d.records[0]
                    same = record.kind
                    records: Any = None if same in _UNIFORM else ((0, record.length, same, 0),)
                    batches.append((same, (payload,), records))
                    full = True  # what followed the frame waits in the buffer
                else:
                    # Every payload of the batch copied once, straight from the receive buffer
                    # into its bytes object, by one struct call over the layout C wrote.
                    fmt = self._raw[_LAYOUT_AT : _LAYOUT_AT + size]
                    payloads = _layout(fmt).unpack_from(self._view, first)
                    records = (
                        None
                        if same in _UNIFORM
                        else _RECORD.iter_unpack(self._raw[_RECORDS_AT : _RECORDS_AT + count * 24])
                    )
                    batches.append((same, payloads, records))
                    if self._capacity > _SHRINK_ABOVE and d.begin == d.end:
                        # A large message grew the buffer; do not hold that memory while idle.
                        self._use(_INITIAL_CAPACITY)
            else:
                want_sink = d.want_sink
            if want_sink:
                # A large frame has opened: its payload goes into the object the user gets.
                target = _bytes_new(None, want_sink)
                self._sink = (target, ffi.from_buffer("uint8_t[]", target))
                d.sink = self._sink[1]
                full = True
            if not full:
                return batches
            # The record array filled up, or a sink was set: decode on from the bytes buffered.
            count = _decode(d, b"", 0)
