"""The C decoder's calling contract (csrc/wsfast.h) where it allows more than the Python wrapper
does: driven through cffi directly, with canary bytes after every buffer so that a write past
one is seen without corrupting the process."""

from __future__ import annotations

import struct

import pytest

from .conftest import NO_C
from .framing import client_frame, server_frame

pytestmark = pytest.mark.skipif(
    NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test"
)
CANARY = 0xAA
EXTRA = 64


def canaried(size: int) -> bytearray:
    return bytearray([CANARY]) * (size + EXTRA)


def untouched(buf: bytearray, size: int) -> bool:
    return buf[size:] == bytearray([CANARY]) * EXTRA


class Scratch:
    """A scratch of ``capacity`` bytes of space, canaries after it."""

    def __init__(self, capacity: int) -> None:
        from wsfast._wsfast import ffi  # type: ignore[import-not-found]

        self.size = ffi.sizeof("wsfast_scratch") + capacity
        self.block = canaried(self.size)
        self.s = ffi.cast("wsfast_scratch *", ffi.from_buffer(self.block))
        self.s.capacity = capacity

    def payloads(self, count: int) -> list[bytes]:
        """The batch's payloads read the way the wrapper reads them, through the layout."""
        from wsfast._wsfast import ffi  # type: ignore[import-not-found]

        at = ffi.offsetof("wsfast_scratch", "layout")
        layout = bytes(self.block[at : at + self.s.layout_size])
        return list(struct.unpack_from(layout, self.block, ffi.sizeof("wsfast_scratch")))

    def intact(self) -> bool:
        return untouched(self.block, self.size)


def room(*lengths: int) -> int:
    """The space a batch of payloads of these lengths takes, framing included (wsfast.h)."""
    from wsfast._wsfast import lib  # type: ignore[import-not-found]

    return lib.WSFAST_SPACE_HEAD + sum(lib.WSFAST_ITEM_HEAD + n for n in lengths)


def new_decoder(client: bool = True) -> object:
    from wsfast._wsfast import ffi, lib  # type: ignore[import-not-found]

    d = ffi.new("wsfast_decoder *")
    d.flags = lib.WSFAST_CLIENT if client else 0
    d.max_frame = d.max_message = d.max_compressed = 2**64 - 1
    return d


def test_a_sink_gets_the_payload_and_the_bytes_after_it_go_on_in_the_same_call():
    from wsfast._wsfast import ffi, lib  # type: ignore[import-not-found]

    d = new_decoder()
    d.sink_min, d.sink_max = 1, 1 << 20
    s = Scratch(room(*[0] * 9, 3))  # exactly the room the frames after the sink's take

    # a 32-byte binary frame whose first 4 payload bytes arrive with its header
    head = bytes([0x82, 32]) + b"abcd"
    rc = lib.wsfast_decode(d, s.s, head, len(head))
    assert rc == lib.WSFAST_AGAIN and s.s.flags == lib.WSFAST_F_WANT_SINK and s.s.want == 32
    sink = canaried(32)
    d.sink = ffi.from_buffer(sink)
    assert lib.wsfast_decode(d, s.s, head, len(head)) == 0  # the same input, from where it was

    # the rest of its payload, then nine empty frames and a 3-byte one
    rest = b"x" * 28 + bytes([0x82, 0]) * 9 + bytes([0x81, 3]) + b"end"
    rc = lib.wsfast_decode(d, s.s, rest, len(rest))
    assert rc == 11
    assert untouched(sink, 32), "written past the sink"
    assert s.intact(), "written past the scratch"
    assert sink[:32] == b"abcd" + b"x" * 28
    assert s.s.flags == lib.WSFAST_F_SINK_RECORD | lib.WSFAST_F_MARSHAL
    assert s.s.same_kind == lib.WSFAST_MIXED_KINDS
    assert s.payloads(11) == [b""] * 9 + [b"end"]  # the layout leaves the sink's frame out
    assert d.sink == ffi.NULL


def test_a_frame_larger_than_the_space_asks_for_more_and_loses_nothing():
    from wsfast._wsfast import lib  # type: ignore[import-not-found]

    d = new_decoder()
    small, large = Scratch(room(5)), Scratch(room(20, 1))
    data = bytes([0x82, 5]) + b"12345" + bytes([0x82, 20]) + b"y" * 20 + bytes([0x82, 1]) + b"z"
    rc = lib.wsfast_decode(d, small.s, data, len(data))
    assert rc == 1 + lib.WSFAST_AGAIN and small.payloads(1) == [b"12345"]
    assert small.s.flags == lib.WSFAST_F_MARSHAL  # the space was not empty: stop, read, call again
    rc = lib.wsfast_decode(d, small.s, data, len(data))
    assert rc == lib.WSFAST_AGAIN and small.s.flags == lib.WSFAST_F_WANT_SPACE and small.s.want == room(20)
    rc = lib.wsfast_decode(d, large.s, data, len(data))
    assert rc == 2 and large.payloads(2) == [b"y" * 20, b"z"]
    assert small.intact() and large.intact()


def test_the_space_is_a_marshal_tuple_of_its_payloads():
    """The space's framing: marshal.loads over it gives the batch's payloads, whole text
    messages as str when the decoder asks for str (what Decoder(decode_text=True) reads), every
    other payload as bytes."""
    import marshal

    from wsfast._wsfast import lib  # type: ignore[import-not-found]

    texts = ["", "a", "ünï", "x" * 125, "€" * 300, "y" * 70000]
    data = b"".join(server_frame(1, t.encode()) for t in texts)
    for flags, want in ((lib.WSFAST_STR_TEXT, texts), (0, [t.encode() for t in texts])):
        d, s = new_decoder(), Scratch(room(*(len(t.encode()) for t in texts)))
        d.flags |= flags
        assert lib.wsfast_decode(d, s.s, data, len(data)) == len(texts)
        assert s.s.flags == lib.WSFAST_F_MARSHAL and s.intact()
        space = memoryview(s.block)[s.size - s.s.capacity :]
        assert marshal.loads(space) == tuple(want)
        assert s.payloads(len(texts)) == [t.encode() for t in texts]

    data = (server_frame(1, b"text") + server_frame(2, b"bin") + server_frame(9, b"p")
            + server_frame(1, "pa".encode(), fin=False) + server_frame(0, "rt".encode()))
    d, s = new_decoder(), Scratch(200)
    d.flags |= lib.WSFAST_STR_TEXT
    assert lib.wsfast_decode(d, s.s, data, len(data)) == 5
    assert s.s.flags == lib.WSFAST_F_MARSHAL
    assert marshal.loads(memoryview(s.block)[s.size - s.s.capacity :]) == (
        "text", b"bin", b"p", b"pa", b"rt"
    )


@pytest.mark.parametrize(
    "data, rc",
    [
        (server_frame(1, b"one text"), "ONE_TEXT"),
        (server_frame(2, b"one binary"), "ONE_BINARY"),
        (server_frame(1, b"x" * 300), "ONE_TEXT"),
        (server_frame(1, b"text") + server_frame(2, b"x")[:1], "ONE_TEXT"),  # a header begun
        (server_frame(1, b"a") + server_frame(1, b"b"), 2),
        (server_frame(9, b"ping"), 1),
        (server_frame(1, b"part", fin=False) + server_frame(0, b"s"), 2),
        (server_frame(1, b"x" * 100), 1),  # with a 64-byte space: AGAIN first, then a larger one
    ],
)
def test_one_whole_message_is_told_by_the_result_code(data, rc):
    from wsfast._wsfast import lib  # type: ignore[import-not-found]

    d = new_decoder()
    d.flags |= lib.WSFAST_ONE_CODES
    s = Scratch(64 if rc == 1 and len(data) > 100 else 1000)
    got = lib.wsfast_decode(d, s.s, data, len(data))
    if got >= lib.WSFAST_AGAIN and s.s.flags & lib.WSFAST_F_WANT_SPACE:
        s = Scratch(s.s.want)
        got = lib.wsfast_decode(d, s.s, data, len(data))
        rc = 1 + lib.WSFAST_ONE_TEXT  # the repeated call completes it alone
    elif isinstance(rc, str):
        rc = 1 + getattr(lib, f"WSFAST_{rc}")
    assert got == rc
    plain = new_decoder()  # without the flag, the plain count
    assert lib.wsfast_decode(plain, Scratch(1000).s, data, len(data)) == (
        1 if rc > lib.WSFAST_AGAIN else rc
    )


def test_a_partial_frame_waits_in_the_keep_buffer_it_asked_for_and_is_then_released():
    from wsfast._wsfast import ffi, lib  # type: ignore[import-not-found]

    d = new_decoder()
    s = Scratch(64)
    frame = bytes([0x81, 10]) + "añb€xyz".encode()  # 10 bytes of text
    first = frame[:5]
    rc = lib.wsfast_decode(d, s.s, first, len(first))
    assert rc == lib.WSFAST_AGAIN and s.s.flags == lib.WSFAST_F_WANT_ROOM and s.s.want == 3
    keep = canaried(3)
    assert lib.wsfast_keep(d, ffi.from_buffer(keep), 3) == 0
    assert lib.wsfast_decode(d, s.s, first, len(first)) == 0
    assert keep[:3] == frame[2:5]
    # more than the keep buffer holds: nothing consumed until it grows (its bytes move along)
    second = frame[5:9]
    assert lib.wsfast_decode(d, s.s, second, len(second)) == lib.WSFAST_AGAIN
    assert s.s.want == 7
    bigger = canaried(10)
    assert lib.wsfast_keep(d, ffi.from_buffer(bigger), 2) == -1  # too small: nothing changed
    assert lib.wsfast_keep(d, ffi.from_buffer(bigger), 10) == 0
    assert lib.wsfast_decode(d, s.s, second, len(second)) == 0
    rc = lib.wsfast_decode(d, s.s, frame[9:], 3)
    assert rc == 1 and s.payloads(1) == ["añb€xyz".encode()]
    assert s.s.flags == lib.WSFAST_F_RELEASED | lib.WSFAST_F_MARSHAL
    assert d.keep == ffi.NULL and d.keep_capacity == 0
    assert untouched(keep, 3) and untouched(bigger, 10) and s.intact()


def test_decoders_sharing_one_scratch_give_what_each_gives_alone():
    """Nothing in the scratch outlives a call: calls of two decoders on one scratch,
    interleaved read by read, give the payloads each gives with a scratch of its own."""
    from wsfast._wsfast import lib  # type: ignore[import-not-found]

    def frames(tag: bytes) -> bytes:
        out = b""
        for n in (3, 200, 0, 70, 1000, 5):
            out += bytes([0x82, n]) if n < 126 else bytes([0x82, 126]) + n.to_bytes(2, "big")
            out += (tag * n)[:n]
        return out

    keeps: list[bytearray] = []  # every keep buffer handed out lives to the end

    def run(d, s, data: bytes) -> list[bytes]:
        from wsfast._wsfast import ffi  # type: ignore[import-not-found]

        got = []
        while True:
            rc = lib.wsfast_decode(d, s.s, data, len(data))
            assert rc >= 0, d.error
            got += s.payloads(rc % lib.WSFAST_AGAIN)
            if rc < lib.WSFAST_AGAIN:
                return got
            if s.s.flags & lib.WSFAST_F_WANT_ROOM:
                keeps.append(canaried(d.frame_length))
                lib.wsfast_keep(d, ffi.from_buffer(keeps[-1]), d.frame_length)

    streams = {tag: frames(tag) for tag in (b"a", b"b")}
    reads = {
        tag: [data[i : i + 97] for i in range(0, len(data), 97)] for tag, data in streams.items()
    }
    alone = {}
    for tag in streams:
        d, s = new_decoder(), Scratch(1500)
        alone[tag] = [p for chunk in reads[tag] for p in run(d, s, chunk)]
    shared = Scratch(1500)
    decoders = {tag: new_decoder() for tag in streams}
    together: dict[bytes, list[bytes]] = {tag: [] for tag in streams}
    for pair in zip(*reads.values()):
        for tag, chunk in zip(streams, pair):
            together[tag] += run(decoders[tag], shared, chunk)
    assert together == alone
    assert shared.intact() and all(untouched(k, len(k) - EXTRA) for k in keeps)
    assert alone[b"a"] == [b"a" * n for n in (3, 200, 0, 70, 1000, 5)]


def test_an_interrupted_feed_stops_the_decoder(monkeypatch):
    """An exception between a call that stopped early and its repeat (here a sink that cannot
    be allocated) loses the bytes the call had not consumed: later feeds must refuse to go on
    with the bytes after them, with a clear error, instead of decoding a stream with a hole."""
    import wsfast
    from wsfast import _cbackend

    d = wsfast.Decoder()
    big = bytes([0x82, 0xFF]) + (200_000).to_bytes(8, "big") + b"abcd" + b"\0" * 1000

    def no_memory(_ptr, _size):
        raise MemoryError

    monkeypatch.setattr(_cbackend, "_bytes_new", no_memory)
    with pytest.raises(MemoryError):
        d.feed(big)
    monkeypatch.undo()
    for _ in range(2):
        with pytest.raises(wsfast.ProtocolError, match="interrupted") as e:
            d.feed(b"\0" * 100)
        assert e.value.code == 1011


def test_an_exception_while_the_batch_is_read_stops_the_decoder(monkeypatch):
    """C has consumed the frames of a call whose batch Python then fails to read (here the
    layout cannot be compiled): the message they belong to must not be delivered without
    them, so the decoder refuses further bytes (found in review: it used to deliver the
    message's last fragment alone)."""
    import wsfast
    from wsfast import _cbackend

    d = wsfast.Decoder()
    first = client_frame(1, b"AAAA", fin=False) + client_frame(9, b"ping")

    def broken(_fmt):
        raise KeyboardInterrupt

    monkeypatch.setattr(_cbackend, "_layout", broken)
    with pytest.raises(KeyboardInterrupt):
        d.feed(first)
    monkeypatch.undo()
    with pytest.raises(wsfast.ProtocolError, match="interrupted") as e:
        d.feed(client_frame(0, b"BBBB"))
    assert e.value.code == 1011
