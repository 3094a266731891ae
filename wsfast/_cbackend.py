"""The C backend: thin wrappers over the cffi module ``wsfast._wsfast`` (csrc/wsfast.c).

Same functions, results and status codes as wsfast/_pure.py.  Importing this module fails with
ImportError when the extension was not built; wsfast/_backend.py decides what that means.
"""

from __future__ import annotations

import marshal
import os
import struct
import sys
import threading
from typing import Any

from . import _codes as C
from . import _pure
from ._common import check_mask, phase_of, readable
from ._version import __version__
from .errors import ProtocolError
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


class _PerThread(threading.local):
    """The cells parse_header and utf8_feed pass C for its results, one set per thread."""

    def __init__(self) -> None:
        self.header = ffi.new("wsfast_header *")
        self.value = ffi.new("uint64_t *")
        self.state = ffi.new("uint32_t *")
        self.index = ffi.new("size_t *")


_here = _PerThread()


def utf8_feed(state: int, data: Any) -> tuple[int, int]:
    here = _here
    cell, index = here.state, here.index
    cell[0] = state
    if lib.wsfast_utf8_feed(cell, _pointer(data), len(data), index) == 0:
        return cell[0], -1
    return cell[0], index[0]


def parse_header(data: Any, strict: bool) -> tuple:
    here = _here
    h, value = here.header, here.value
    status = lib.wsfast_parse_header(_pointer(data), len(data), strict, h, value)
    if status != C.OK:
        return status, value[0], None
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
    if not 0 <= at <= len(keys) - 4:
        raise ValueError(f"no 4-byte key at offset {at} of {len(keys)} bytes")
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
_AGAIN = lib.WSFAST_AGAIN
_INTERRUPTED = lib.WSFAST_E_INTERRUPTED
_COUNT = _AGAIN - 1  # rc & _COUNT: the records of a call that returned rc >= 0
# Scratch space: room for the payloads of a 64 KiB read's complete frames plus a frame
# left from the read before it.  A call whose frames do not all fit stops and is called again.
_INITIAL_SPACE = 80 << 10
# Frames of this many bytes that are still arriving go straight into their bytes object, which
# is allocated when the header arrives.  Only where it can be allocated without touching its
# pages (resident memory grows as the bytes arrive), and only up to 16 MiB (the default message
# limit): a bare header reserves no more address space than that.
_SINK_MIN = 1 << 16
_SINK_MAX = 16 << 20
# A smaller frame still arriving is kept in a buffer of its own size (larger ones: a buffer that
# doubles as they arrive), which the decoder drops as soon as the frame is complete.
_KEEP_WHOLE = _SINK_MAX
_SHRINK_ABOVE = 8 << 20  # scratch spaces of up to 8 MiB are kept after a large frame
# Batches of these kinds need no records: every payload is a whole message of that kind.
_UNIFORM = (C.R_TEXT | C.R_FIRST | C.R_FIN | 0x1, C.R_FIRST | C.R_FIN | 0x2)

# Keep buffers and scratch space are not zeroed: C reads only bytes it has written.
_new_buffer = ffi.new_allocator(should_clear_after_alloc=False)
_SPACE_AT = ffi.sizeof("wsfast_scratch")
# A batch of one is read without the layout: its payload follows the space's head and its own
_FIRST_AT = _SPACE_AT + lib.WSFAST_SPACE_HEAD + lib.WSFAST_ITEM_HEAD
_RECORDS_AT = ffi.offsetof("wsfast_scratch", "records")
_LAYOUT_AT = ffi.offsetof("wsfast_scratch", "layout")
# What a decode call returns besides its count, read in one go instead of field by field
# (each cffi field read costs as much as the whole unpack).
_SUMMARY = struct.Struct("=QQIII")
_SUMMARY_FIELDS = ("want", "first_length", "layout_size", "same_kind", "flags")
if [ffi.offsetof("wsfast_scratch", f) for f in _SUMMARY_FIELDS] != [0, 8, 16, 20, 24]:
    raise ImportError(  # pragma: no cover - a compiler that pads them
        "wsfast_scratch's summary fields are not laid out as _SUMMARY reads them"
    )
_SINK_RECORD = lib.WSFAST_F_SINK_RECORD
_RELEASED = lib.WSFAST_F_RELEASED
_WANT_SINK = lib.WSFAST_F_WANT_SINK
_WANT_ROOM = lib.WSFAST_F_WANT_ROOM
_WANT_SPACE = lib.WSFAST_F_WANT_SPACE
_MARSHAL = lib.WSFAST_F_MARSHAL
_WHOLE_TEXT = _UNIFORM[0]
_ONE_TEXT = 1 + lib.WSFAST_ONE_TEXT  # wsfast_decode's code for a read of one whole message
_ONE_BINARY = 1 + lib.WSFAST_ONE_BINARY
# With WSFAST_F_MARSHAL the space is a marshal tuple of its payloads: one call makes a batch's
# strs (CPython's marshal format, which the import checks below).
_loads = marshal.loads
_decode_utf8 = bytes.decode


def _marshal_reads_the_framing() -> bool:
    """Whether this Python's marshal reads the framing wsfast_decode writes as a tuple of str
    and bytes (CPython 3.10 to 3.13 do; the check costs nothing at import, and a Python whose
    marshal does not gets bytes decoded instead)."""
    head = struct.Struct("<cI")
    blob = head.pack(b"(", 2) + head.pack(b"u", 3) + "añ".encode() + head.pack(b"s", 1) + b"\xff"
    try:
        return _loads(memoryview(blob + b"ignored")) == ("añ", b"\xff")
    except (ValueError, EOFError, TypeError):  # pragma: no cover - another marshal format
        return False


_MARSHAL_TEXT = _marshal_reads_the_framing()


def _new_scratch(capacity: int) -> tuple[Any, Any, Any, Any]:
    """(scratch pointer, buffer over it and its space, the allocation, a view of the space):
    what a decode call writes into."""
    block = _new_buffer("uint8_t[]", _SPACE_AT + capacity)
    s = ffi.cast("wsfast_scratch *", block)
    s.capacity = capacity
    raw = ffi.buffer(block)
    return s, raw, block, memoryview(raw)[_SPACE_AT:]


# Scratches not in use.  A feed takes one (or makes one, when every one is in use: as many exist
# as feeds have ever run at once, one per thread that decodes) and gives it back when it has
# read the results.  list.pop and list.append are atomic, with or without the GIL, and the GIL is
# released inside every cffi call: two calls never share a scratch, on any build, even when a
# finalizer or a signal handler feeds another decoder in the middle of a feed.  A scratch an
# exception leaves out is simply freed.
_scratches: list = []
_take, _give = _scratches.pop, _scratches.append


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
    """Twin of _pure.Scanner over wsfast_decode: one C call per feed, records read in bulk.

    Per connection it holds the C decoder state (168 bytes) and, only while a frame
    is still arriving, the buffer that frame's payload accumulates in (its sink, when large).
    The records and the payloads of complete frames go through a scratch shared by every
    decoder (one per feed running at the time).  Not for use from two threads at once, as any
    decoder's state: one connection's bytes arrive in order.
    """

    __slots__ = ("_d", "_sink", "_keep", "_text", "error")

    def __init__(
        self,
        client: bool,
        strict: bool,
        rsv_allowed: int,
        max_frame: int,
        max_message: int,
        max_compressed: int,
        text: bool = False,
    ) -> None:
        d = ffi.new("wsfast_decoder *")
        d.flags = (
            (lib.WSFAST_CLIENT if client else 0)
            | (lib.WSFAST_STRICT if strict else 0)
            # both read the space with marshal: only where it reads the framing
            | (lib.WSFAST_STR_TEXT if text and _MARSHAL_TEXT else 0)
            | (lib.WSFAST_ONE_CODES if _MARSHAL_TEXT else 0)
        )
        d.rsv_allowed = rsv_allowed
        d.max_frame = min(max_frame, 2**64 - 1)
        d.max_message = min(max_message, 2**64 - 1)
        d.max_compressed = min(max_compressed, 2**64 - 1)
        if _bytes_new is not None:  # pragma: no branch - None only on PyPy (no sinks there)
            d.sink_min, d.sink_max = _SINK_MIN, _SINK_MAX
        self._d = d
        self._sink: Any = None  # the object a large frame's payload is going into, and its cdata
        self._keep: Any = None  # the buffer a smaller frame's payload is arriving in
        self._text = bool(text)  # batches of whole text messages as str
        self.error: tuple[int, int, int] | None = None

    def _room(self, need: int) -> None:
        """Give the open frame a keep buffer of at least ``need`` bytes."""
        d = self._d
        length = d.frame_length
        size = length if length <= _KEEP_WHOLE else max(need, 2 * d.keep_capacity)
        buf = _new_buffer("uint8_t[]", size)
        if lib.wsfast_keep(d, buf, size) != 0:
            raise AssertionError("keep buffer too small")  # pragma: no cover - a bug
        self._keep = buf

    def feed(self, data: Any) -> list:
        """Twin of _pure.Scanner.feed: a list of (same_kind, payloads, records) batches."""
        src = data if type(data) is bytes else ffi.from_buffer(data)
        try:
            scratch = _take()
        except IndexError:
            scratch = _new_scratch(_INITIAL_SPACE)
        return self.read(_decode(self._d, scratch[0], src, len(data)), scratch, src, len(data))

    def read(self, rc: int, scratch: Any, src: Any, n: int) -> list:
        """The batches of a decode call over ``src`` (``n`` bytes) that returned ``rc`` into
        ``scratch``, which goes back to the pool (and the calls it asks for)."""
        d = self._d
        s, raw, block, space = scratch
        if rc == 0:
            _give(scratch)
            return []  # nothing complete, nothing asked for (a frame still arriving)
        batches = []
        try:
            while True:
                if rc >= _ONE_TEXT:
                    rc = 1  # one whole message: the summary tells it all the same
                if rc >= 0:
                    count = rc & _COUNT
                else:
                    count = -rc - 16
                    if d.error == _INTERRUPTED:
                        raise ProtocolError(
                            "decoder stopped: an earlier feed was interrupted by an exception",
                            1011,
                        )
                    if self.error is None:
                        self.error = (d.error, d.error_value, d.error_position)
                want, first, size, same, flags = _SUMMARY.unpack_from(raw)
                if count:
                    payloads: Any
                    if same == _WHOLE_TEXT and self._text and flags & _MARSHAL and _MARSHAL_TEXT:
                        # Whole text messages wanted as str: made straight from the space, from
                        # bytes validated in C, by one marshal call (no bytes object between)
                        payloads = _loads(space)
                        if flags & _SINK_RECORD:
                            payloads = (_decode_utf8(self._sink_payload()), *payloads)
                    else:
                        # Every payload of the batch copied once, from the scratch space into
                        # its bytes object: one slice for a batch of one (one message per read,
                        # the usual case on a live connection), else one struct call over the
                        # layout.
                        if count == 1 and not flags & _SINK_RECORD:
                            payloads = (raw[_FIRST_AT : _FIRST_AT + first],)
                        else:
                            payloads = _layout(raw[_LAYOUT_AT : _LAYOUT_AT + size]).unpack_from(
                                raw, _SPACE_AT
                            )
                            if flags & _SINK_RECORD:
                                payloads = (self._sink_payload(), *payloads)
                        if same == _WHOLE_TEXT and self._text:
                            payloads = tuple(map(_decode_utf8, payloads))
                    records = (
                        None
                        if same in _UNIFORM
                        else _RECORD.iter_unpack(raw[_RECORDS_AT : _RECORDS_AT + count * 24])
                    )
                    batches.append((same, payloads, records))
                if flags & _RELEASED:
                    self._keep = None
                if rc < _AGAIN:
                    _give(scratch)
                    if rc < 0:
                        self._keep = self._sink = None  # the decoder is stopped for good
                    return batches
                # Stopped early: serve what it asks for (or nothing: the records or the space
                # filled up), then go on from where it stopped.
                if flags & _WANT_SINK:
                    # A large frame has opened: its payload goes into the object the user gets
                    target = _bytes_new(None, want)
                    self._sink = (target, ffi.from_buffer("uint8_t[]", target))
                    d.sink = self._sink[1]
                elif flags & _WANT_ROOM:
                    self._room(want)
                elif flags & _WANT_SPACE:
                    # A complete frame larger than the space: a larger one, which goes back to
                    # the pool in place of the small one unless it is very large (then it is
                    # this call's alone, freed when it returns).
                    grown = max(want, 2 * s.capacity)
                    bigger = _new_scratch(grown)
                    if grown <= _SHRINK_ABOVE:
                        scratch = bigger
                    s, raw, block, space = bigger
                rc = _decode(d, s, src, n)
        except BaseException:
            if not d.error:
                # C has consumed this call's frames (and a call owed a repeat with this input
                # will not get it): what the exception took with it is lost, so the decoder
                # must not go on with the bytes after it.
                d.error = _INTERRUPTED
                self._keep = self._sink = None
            raise

    def _sink_payload(self) -> bytes:
        """The large frame just completed in its sink."""
        payload = self._sink[0]
        self._sink = None
        if type(payload) is not bytes:
            payload = bytes(payload)  # pragma: no cover - PyPy
        return payload


def decoder_feed() -> Any:
    """``Decoder.feed`` on this backend (wsfast/_backend.py puts it on the bound Decoder): a
    read that completes exactly one whole text or binary message and nothing else (the usual
    read on a live connection) is answered straight from the decode call's result code, its
    payload made by one marshal call from the space; every other read goes the general way
    with that call's result.  The same events and errors as ``Decoder.feed``."""
    from .decoder import _make, _make_text
    from .decoder import Decoder as Base

    general = Base.feed
    read_events = Base._events_of

    def feed(self: Any, data: Any) -> Any:
        if type(data) is not bytes or self._error is not None:
            return general(self, data)
        scanner = self._scanner
        d = scanner._d
        try:
            scratch = _take()
        except IndexError:
            scratch = _new_scratch(_INITIAL_SPACE)
        rc = _decode(d, scratch[0], data, len(data))
        if rc == _ONE_TEXT or rc == _ONE_BINARY:
            try:
                payload = _loads(scratch[3])[0]
                if rc == _ONE_BINARY:
                    event = _make((payload, False))
                elif self.decode_text:  # (the space framed it as str)
                    event = _make_text((payload, True))
                else:
                    event = _make((payload, True))
            except BaseException:
                # C has consumed the read: the message it held is lost (see Scanner.read)
                d.error = _INTERRUPTED
                raise
            _give(scratch)
            return [event]
        return read_events(self, scanner.read(rc, scratch, data, len(data)))

    feed.__doc__ = general.__doc__
    feed.__qualname__ = general.__qualname__
    return feed
