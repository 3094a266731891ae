"""wsfast.patch(): every library it accelerates behaves, patched, exactly as it does unpatched.

Each test runs a library twice over the same traffic, first as installed and then patched
with the backend under test, and compares everything the library lets its user see: events,
frames, messages, errors with their messages and close codes, bytes it sends.  The expected
results are the unpatched library's own; the patch must also have been in place and used
(the backend's functions are wrapped to count calls).

The sans-I/O libraries (wsproto, websockets, aiohttp's pure-Python reader and writer) are fed
byte streams cut several ways, so payloads arrive in pieces and maskers must carry the key
phase across calls.  The others (tornado, autobahn, websockets' asyncio server, ws4py) run as
echo servers over a socket, talked to by a raw client.
"""

from __future__ import annotations

import asyncio
import collections
import importlib.util
import random
import socket
import struct
import sys
import threading
import types
import zlib
from collections.abc import Callable
from typing import Any

import pytest

import wsfast
from wsfast import integrations

from .conftest import NO_C


def installed(name: str) -> bool:
    """By import name, or by the library name patch() takes (websocket-client: websocket)."""
    module = getattr(integrations.INTEGRATIONS.get(name), "MODULE", name)
    return importlib.util.find_spec(module) is not None


def needs(name: str):
    """Skip, saying why, when a peer is missing (``pip install -e .[test,peers]`` has them)."""
    return pytest.mark.skipif(
        not installed(name),
        reason=f"{name} is not installed (pip install -e '.[test,peers]')",
    )


# ---------------------------------------------------------------------------------------------
# Traffic, built here with struct (not with the code under test)

KEY = b"\x37\xfa\x21\x3d"


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes | None = KEY,
) -> bytes:
    n = len(payload)
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    bit = 0x80 if key is not None else 0
    if n < 126:
        head = struct.pack("!BB", first, bit | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, bit | 127, n)
    if key is None:
        return head + payload
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


TEXT = "κόσμε, wsfast! ".encode() * 20  # 2-byte code points, 340 bytes
BIG = bytes(range(256)) * 273 + b"xyz"  # 69 891 bytes: a 64-bit length, an odd size


def messages(key: bytes | None) -> bytes:
    """A conversation every library accepts, ending in a normal close."""
    k = {"key": key}
    cut = TEXT.index("ό".encode()) + 1  # inside a code point
    return b"".join(
        [
            frame(1, b"hello", **k),
            frame(1, b"", **k),
            frame(2, b"\x00\xff" * 62 + b"!", **k),  # 125 bytes
            frame(1, TEXT[:126], **k),  # 16-bit length
            frame(2, BIG[:3001], **k),  # over 2 KiB, under 4 KiB
            frame(2, BIG, **k),
            frame(1, TEXT[:cut], fin=False, **k),
            frame(9, b"are you there?", **k),
            frame(0, TEXT[cut:200], fin=False, **k),
            frame(10, b"", **k),
            frame(0, TEXT[200:], **k),
            frame(1, "𝄞 ∀x∈ℝ".encode() * 500, **k),  # 4-byte code points, 6 000 bytes
            frame(8, close_payload(1000, "bye 👋".encode()), **k),
        ]
    )


def conversations(key: bytes | None) -> dict[str, bytes]:
    """Name -> bytes: the good conversation, and ones each ending in a violation."""
    k = {"key": key}
    ok = messages(key)
    last_close = len(frame(8, close_payload(1000, "bye 👋".encode()), **k))
    good = ok[:-last_close]  # everything but the close
    return {
        "messages": ok,
        "invalid-utf8": good + frame(1, b"caf\xc3\xa9 \xc3\x28 x", **k),
        "invalid-utf8-in-fragment": good
        + frame(1, "déjà ".encode(), fin=False, **k)
        + frame(0, b"vu \xed\xa0\x80", **k),
        "truncated-code-point": good + frame(1, "€".encode()[:2], **k),
        "invalid-utf8-big": frame(1, b"a" * 70000 + b"\xff" + b"b" * 100, **k),
        "close-reason-invalid-utf8": good
        + frame(8, close_payload(1000, b"\xc0\xaf"), **k),
        "close-code-reserved": good + frame(8, close_payload(1005), **k),
        "close-one-byte": good + frame(8, b"\x03", **k),
        "rsv1-without-extension": good + frame(1, b"x", rsv=4, **k),
        "reserved-opcode": good + frame(3, b"x", **k),
        "fragmented-ping": good + frame(9, b"x", fin=False, **k),
        "long-ping": good + frame(9, b"p" * 126, **k),
        "continuation-first": good + frame(0, b"x", **k),
        "text-inside-fragmented": good
        + frame(1, b"a", fin=False, **k)
        + frame(1, b"b", **k),
        "wrong-masking": good + frame(1, b"x", key=None if key else KEY),
    }


def chunkings(data: bytes) -> dict[str, list[bytes]]:
    """The same stream delivered whole, in odd pieces, and (when small) a byte at a time."""
    sizes = [1, 2, 3, 5, 7, 11, 13, 64, 1000, 4099, 65536]
    pieces, at, i = [], 0, 0
    while at < len(data):
        pieces.append(data[at : at + sizes[i % len(sizes)]])
        at += sizes[i % len(sizes)]
        i += 1
    rng = random.Random(len(data))
    cuts = sorted(rng.sample(range(1, len(data)), min(40, len(data) - 1)))
    out = {
        "whole": [data],
        "odd-pieces": pieces,
        "random-pieces": [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])],
    }
    if len(data) <= 3000:
        out["bytes"] = [data[i : i + 1] for i in range(len(data))]
    return out


# ---------------------------------------------------------------------------------------------
# Patching with the backend under test, through a spy that counts the calls into it


def spy_on(api: Any) -> types.SimpleNamespace:
    calls: collections.Counter[str] = collections.Counter()
    spy = types.SimpleNamespace(**vars(api))

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return call

    spy.apply_mask = counted("apply_mask", api.apply_mask)
    spy.apply_mask_inplace = counted("apply_mask_inplace", api.apply_mask_inplace)
    spy.validate_utf8 = counted("validate_utf8", api.validate_utf8)
    # the integrations also call the C backend's masking kernel directly
    spy.backend = types.SimpleNamespace(**vars(api.backend))
    if hasattr(api.backend, "lib"):
        real = api.backend.lib

        class Lib:
            wsfast_mask = staticmethod(counted("c_mask", real.wsfast_mask))

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        spy.backend.lib = Lib()

    class Utf8Validator(api.Utf8Validator):
        def feed(self, data: Any) -> None:
            calls["utf8"] += 1
            return super().feed(data)

    spy.Utf8Validator = Utf8Validator
    spy.calls = calls
    return spy


@pytest.fixture
def patching(api):
    """``patching(*names)`` patches with ``api``'s backend; ``patching.calls`` counts its use.
    Every test starts and ends unpatched."""
    integrations.unpatch()
    spy = spy_on(api)

    def patch(*names: str) -> list[str]:
        done = integrations._patch(spy, names)
        integrations.check_patched(*names)
        return done

    patch.calls = spy.calls  # type: ignore[attr-defined]
    yield patch
    integrations.unpatch()


def compare(
    run: Callable[[], Any], patch: Callable[..., Any], name: str, used: str | None
) -> Any:
    """Run unpatched, then patched: the same result, and the backend's ``used`` function
    was called (None: the traffic needs no call, e.g. unmasked frames)."""
    assert integrations.patched() == []
    before = run()
    patch(name)
    after = run()
    assert after == before
    if used == "mask":  # any of wsfast's ways to mask
        assert sum(
            patch.calls[k] for k in ("apply_mask", "apply_mask_inplace", "c_mask")
        ), name
    elif used:
        assert patch.calls[used] > 0, f"patched {name} never called wsfast's {used}"
    return before


# ---------------------------------------------------------------------------------------------
# wsproto


def wsproto_events(data_chunks: list[bytes], client: bool) -> list[str]:
    from wsproto.connection import Connection, ConnectionType

    conn = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
    out = []
    for chunk in data_chunks:
        conn.receive_data(chunk)
        # repr shows every field, with its type (bytes, bytearray, str)
        out += [repr(e) for e in conn.events()]
        out.append(repr(conn.state))
    return out


@needs("wsproto")
@pytest.mark.parametrize("side", ["server", "client"])
def test_wsproto_gives_the_same_events(patching, side):
    key = None if side == "client" else KEY
    runs = {
        (conv, cut): chunks
        for conv, data in conversations(key).items()
        for cut, chunks in chunkings(data).items()
    }

    def run() -> dict:
        return {
            k: wsproto_events(chunks, side == "client") for k, chunks in runs.items()
        }

    events = compare(run, patching, "wsproto", "mask" if key else None)
    # the traffic reached the cases it is there for
    closes = {k[0]: v[-2] for k, v in events.items() if k[1] == "whole"}
    assert (
        "code=<CloseReason.NORMAL_CLOSURE: 1000>, reason='bye 👋'" in closes["messages"]
    )
    assert "INVALID_FRAME_PAYLOAD_DATA: 1007" in closes["invalid-utf8"]
    assert "INVALID_FRAME_PAYLOAD_DATA: 1007" in closes["invalid-utf8-in-fragment"]
    assert "PROTOCOL_ERROR: 1002" in closes["reserved-opcode"]


@needs("wsproto")
def test_wsproto_masker_keeps_the_key_phase_across_calls(patching):
    from wsproto import frame_protocol as fp

    pieces = [b"a", b"bcd", b"", b"efghij", BIG[:1001], b"k" * 7]

    def run() -> list[bytes]:
        masker = fp.XorMaskerSimple(b"\x01\x02\x03\x04")
        return [
            bytes(masker.process(p))
            + b"|"
            + type(masker.process(b"")).__name__.encode()
            for p in pieces
        ]

    out = compare(run, patching, "wsproto", "apply_mask_inplace")
    assert out[0] == b"`|bytearray"  # a ^ 1


def deflated(text: str) -> bytes:
    """A permessage-deflate payload (RFC 7692 7.2.1), compressed by zlib, not by the peers."""
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def compressed_conversations(key: bytes | None, takeover: bool) -> dict[str, bytes]:
    """Name -> bytes on a permessage-deflate connection (compressed here by zlib, 15-bit
    window, the context kept across messages unless not ``takeover``): good messages, then
    each way of getting it wrong."""
    k = {"key": key}
    z = [zlib.compressobj(wbits=-15)]

    def deflate(data: bytes) -> bytes:
        if not takeover:
            z[0] = zlib.compressobj(wbits=-15)
        out = z[0].compress(data) + z[0].flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    long_text = TEXT * 30
    whole = deflate(long_text)
    good = b"".join(
        [
            frame(1, deflate(b"hello"), rsv=4, **k),
            frame(2, deflate(random.Random(7).randbytes(5000)), rsv=4, **k),  # incompressible
            frame(1, b"plain", **k),  # a message sent uncompressed
            frame(2, deflate(BIG), rsv=4, **k),
            frame(9, b"are you there?", **k),
            frame(1, whole[:7], fin=False, rsv=4, **k),  # compressed, in three fragments
            frame(0, whole[7:500], fin=False, **k),
            frame(0, whole[500:], **k),
            frame(1, deflate(b""), rsv=4, **k),
            frame(1, deflate("€ ".encode() * 3000), rsv=4, **k),
        ]
    )
    base = z[0].copy()
    out = {"messages": good + frame(8, close_payload(1000), **k)}

    def then(name: str, tail: Callable[[], bytes]) -> None:
        z[0] = base.copy()  # each violation continues the good conversation's context
        out[name] = good + tail()

    then("bad-deflate-data", lambda: frame(1, b"\x07\xff\xff\xffgarbage", rsv=4, **k))
    then("compressed-ping", lambda: frame(9, deflate(b"x"), rsv=4, **k))
    part = deflate(b"split message")
    then(
        "rsv1-on-continuation",
        lambda: frame(1, part[:3], fin=False, rsv=4, **k) + frame(0, part[3:], rsv=4, **k),
    )
    then("rsv2", lambda: frame(1, b"x", rsv=2, **k))
    # wsproto forgets the message is compressed after a control frame between its fragments
    then(
        "ping-between-compressed-fragments",
        lambda: frame(1, part[:3], fin=False, rsv=4, **k)
        + frame(9, b"ping", **k)
        + frame(0, part[3:], **k),
    )
    then("invalid-utf8-compressed", lambda: frame(1, deflate(b"caf\xc3\x28 x"), rsv=4, **k))
    then("inflates-past-1-mib", lambda: frame(2, deflate(bytes(3 << 20)), rsv=4, **k))
    then("wrong-masking", lambda: frame(1, deflate(b"x"), rsv=4, key=None if key else KEY))
    return out


@needs("wsproto")
@pytest.mark.parametrize("takeover", [True, False], ids=["context-takeover", "no-takeover"])
def test_wsproto_with_permessage_deflate_gives_the_same_events(patching, takeover):
    from wsproto.connection import Connection, ConnectionType
    from wsproto.extensions import PerMessageDeflate

    convs = compressed_conversations(KEY, takeover)
    offer = "permessage-deflate" + ("" if takeover else "; client_no_context_takeover")

    def run() -> dict:
        out = {}
        for conv, data in convs.items():
            for cut, chunks in chunkings(data).items():
                ext = PerMessageDeflate()  # a fresh compression context per connection
                ext.accept(offer)
                assert ext.client_no_context_takeover is not takeover
                conn = Connection(ConnectionType.SERVER, extensions=[ext])
                events = []
                for chunk in chunks:
                    conn.receive_data(chunk)
                    events += [repr(e) for e in conn.events()]
                out[conv, cut] = events
        return out

    out = compare(run, patching, "wsproto", "mask")
    events = out["messages", "whole"]
    assert repr((TEXT * 30).decode())[1:60] in "".join(events)
    assert "code=<CloseReason.NORMAL_CLOSURE: 1000>" in events[-1]
    assert "INVALID_FRAME_PAYLOAD_DATA" in out["bad-deflate-data", "whole"][-1]
    assert "PROTOCOL_ERROR" in out["compressed-ping", "whole"][-1]


@needs("wsproto")
def test_wsproto_patched_decoder_is_wsfasts_with_an_extension_too(patching):
    from wsproto import frame_protocol as fp
    from wsproto.connection import Connection, ConnectionType
    from wsproto.extensions import PerMessageDeflate

    patching("wsproto")
    ext = PerMessageDeflate()
    ext.accept("permessage-deflate")
    conn = Connection(ConnectionType.SERVER, extensions=[ext])
    # wsfast's decoder (a subclass of wsproto's), not wsproto's own
    decoder = conn._proto._frame_decoder
    assert type(decoder) is fp.FrameDecoder
    assert type(decoder).__module__ != "wsproto.frame_protocol"
    assert type(decoder).__mro__[1].__module__ == "wsproto.frame_protocol"


# ---------------------------------------------------------------------------------------------
# websockets (sans-I/O Protocol)


def websockets_run(
    data_chunks: list[bytes], client: bool, max_size: int | None
) -> list[Any]:
    from websockets.protocol import Protocol, Side, State

    p = Protocol(
        Side.CLIENT if client else Side.SERVER, state=State.OPEN, max_size=max_size
    )
    out: list[Any] = []
    for chunk in data_chunks:
        p.receive_data(chunk)
        for f in p.events_received():
            out.append((f.opcode, type(f.data).__name__, bytes(f.data), f.fin, f.rsv1))
        out.append([server_frames(d) if d else d for d in p.data_to_send()])
    out.append((repr(p.parser_exc), p.state, p.close_rcvd, p.close_sent))
    p.receive_eof()
    sent = [server_frames(d) if d else d for d in p.data_to_send()]
    out.append((sent, p.state, repr(p.parser_exc), repr(p.close_exc)))
    try:  # after the end of the stream, more data is refused
        p.receive_data(frame(1, b"late", key=None if client else KEY))
    except Exception as exc:  # noqa: BLE001 - whichever it is, the same on both runs
        out.append(repr(exc))
    return out


@needs("websockets")
@pytest.mark.parametrize("side", ["server", "client"])
@pytest.mark.parametrize("max_size", [None, 4096])
def test_websockets_gives_the_same_frames_and_errors(patching, side, max_size):
    key = None if side == "client" else KEY
    runs = {
        (conv, cut): chunks
        for conv, data in conversations(key).items()
        for cut, chunks in chunkings(data).items()
        if cut != "bytes" or conv == "messages"
    }
    # a header that stops at every point, then its payload
    runs["split-headers", "bytes"] = [
        b
        for f in [frame(1, b"x" * 300, key=key), frame(2, BIG, key=key)]
        for b in [f[:1], f[1:3], f[3:5], f[5:9], f[9:13], f[13:]]
    ]
    runs["eof-in-payload", "odd-pieces"] = [frame(2, b"y" * 1000, key=key)[:500]]
    # bytes and bytearray reads mixed (only bytes reach the parser directly)
    for conv in ("messages", "invalid-utf8-big"):
        pieces = chunkings(conversations(key)[conv])["odd-pieces"]
        runs[conv, "mixed-types"] = [
            bytearray(c) if i % 3 == 1 else c for i, c in enumerate(pieces)
        ]
    # data after a close frame, in the same read and in later ones
    tail = frame(8, close_payload(1000), key=key) + frame(1, b"after close", key=key)
    runs["data-after-close", "whole"] = [
        messages(key)[:200],
        tail + frame(2, BIG, key=key)[:9],
    ]

    def run() -> dict:
        return {
            k: websockets_run(chunks, side == "client", max_size)
            for k, chunks in runs.items()
        }

    out = compare(run, patching, "websockets", "mask" if key else None)
    if max_size:
        assert "PayloadTooBig" in repr(out["messages", "whole"][-2])
    else:
        assert "'bye 👋'" in repr(out["messages", "whole"][-2])
    assert "EOFError('stream ends after" in repr(out["eof-in-payload", "odd-pieces"])


@needs("websockets")
def test_websockets_server_handshake_then_frames_and_a_failure_mid_payload(patching):
    # ServerProtocol: the handshake and the first frames in one read, a big frame cut short by
    # the application failing the connection, then more input and the end of the stream.
    from websockets.http11 import Request
    from websockets.server import ServerProtocol

    def run() -> list:
        out = []
        for fail_at in (None, 3):
            p = ServerProtocol()
            reads = [REQUEST + frame(1, b"hi") + frame(2, BIG)[:30000]]
            reads += [
                frame(2, BIG)[30000:50000],
                frame(2, BIG)[50000:] + frame(1, TEXT),
            ]
            for i, data in enumerate(reads):
                p.receive_data(data)
                if fail_at == i + 1:
                    p.fail(1001, "going")
                events = p.events_received()
                for e in events:
                    if isinstance(e, Request):
                        p.send_response(p.accept(e))
                out.append(
                    [
                        e.path if isinstance(e, Request) else (e.opcode, bytes(e.data))
                        for e in events
                    ]
                )
                out.append(
                    [
                        server_frames(d) if d[:4] != b"HTTP" else d[:12]
                        for d in p.data_to_send()
                    ]
                )
            p.receive_eof()
            out.append((p.state, repr(p.parser_exc), p.close_code, p.data_to_send()))
        return out

    out = compare(run, patching, "websockets", "mask")
    assert ["/", (1, b"hi")] in out
    assert [(2, BIG), (1, TEXT)] in out  # not failed: the big frame and the next one
    assert "(8, True, b'\\x03\\xe9going')" in repr(out)  # the application's close frame


@needs("websockets")
def test_websockets_frames_still_parse_from_other_readers(patching):
    # Frame.parse from a read_exact that is not a StreamReader's: the original code runs.
    from websockets.frames import Frame, Opcode

    data = frame(1, b"hello", key=KEY)

    def run() -> list:
        buf = bytearray(data)

        def read_exact(n: int):
            out = bytes(buf[:n])
            del buf[:n]
            return out
            yield

        parser = Frame.parse(read_exact, mask=True)
        try:
            next(parser)
        except StopIteration as stop:
            return [stop.value]
        return []

    assert integrations.patched() == []
    before = run()
    patching("websockets")
    assert run() == before == [Frame(Opcode.TEXT, b"hello")]


def websockets_deflate(takeover: bool) -> list:
    from websockets.extensions.permessage_deflate import PerMessageDeflate

    # what a server agreed to: the client's context kept or not, 15-bit windows
    return [PerMessageDeflate(not takeover, False, 15, 15)]


@needs("websockets")
@pytest.mark.parametrize("takeover", [True, False], ids=["context-takeover", "no-takeover"])
@pytest.mark.parametrize("max_size", [2**20, None], ids=["1MiB", "unlimited"])
def test_websockets_with_permessage_deflate_gives_the_same_frames(patching, takeover, max_size):
    from websockets.protocol import Protocol, Side, State

    convs = compressed_conversations(KEY, takeover)

    def run() -> dict:
        out = {}
        for conv, data in convs.items():
            for cut, chunks in chunkings(data).items():
                p = Protocol(Side.SERVER, state=State.OPEN, max_size=max_size)
                p.extensions = websockets_deflate(takeover)
                frames = []
                for chunk in chunks:
                    p.receive_data(chunk)
                    frames += [
                        (f.opcode, bytes(f.data), f.fin, f.rsv1) for f in p.events_received()
                    ]
                frames.append(repr(p.parser_exc))
                out[conv, cut] = frames
        return out

    out = compare(run, patching, "websockets", "mask")
    frames = out["messages", "whole"]
    assert (2, BIG, True, False) in frames
    assert "ProtocolError" in out["bad-deflate-data", "whole"][-1]
    over = out["inflates-past-1-mib", "whole"][-1]
    assert ("PayloadTooBig" in over) is (max_size is not None)


def legacy_frames(data_chunks: list[bytes], max_size: int | None, extensions: list) -> list:
    """What websockets' legacy Frame.read makes of a stream arriving in pieces on an asyncio
    StreamReader: every frame, then the error that stopped it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.framing import Frame

    async def main() -> list:
        reader = asyncio.StreamReader()

        async def feed() -> None:
            for chunk in data_chunks:
                reader.feed_data(chunk)
                await asyncio.sleep(0)
            reader.feed_eof()

        feeding = asyncio.ensure_future(feed())
        out: list = []
        try:
            while True:
                f = await Frame.read(
                    reader.readexactly, mask=True, max_size=max_size, extensions=extensions
                )
                out.append((f.fin, f.opcode, bytes(f.data), f.rsv1, f.rsv2, f.rsv3))
        except Exception as exc:  # noqa: BLE001 - the error is part of the behaviour
            out.append(repr(exc))
        await feeding
        return out

    return asyncio.run(main())


@needs("websockets")
@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "permessage-deflate"])
@pytest.mark.parametrize("max_size", [2**20, 2**16])
def test_websockets_legacy_frame_read_gives_the_same_frames(patching, deflate, max_size):
    convs = compressed_conversations(KEY, True) if deflate else conversations(KEY)

    def run() -> dict:
        return {
            (conv, cut): legacy_frames(chunks, max_size, websockets_deflate(True) if deflate else [])
            for conv, data in convs.items()
            for cut, chunks in chunkings(data).items()
        }

    out = compare(run, patching, "websockets", "mask")
    assert any("PayloadTooBig" in str(x) for x in out["messages", "whole"]) is (
        max_size < len(BIG)
    )


@needs("websockets")
def test_websockets_without_speedups_gives_the_same_frames(monkeypatch, patching):
    # a websockets built without its C extension: payloads up to 2 KiB are masked by wsfast too
    monkeypatch.setitem(sys.modules, "websockets.speedups", None)
    assert integrations.websockets._small_mask() is None
    runs = chunkings(conversations(KEY)["messages"])

    def run() -> dict:
        return {
            cut: websockets_run(chunks, False, None) for cut, chunks in runs.items()
        }

    compare(run, patching, "websockets", "mask")


@needs("websockets")
@pytest.mark.parametrize("legacy_too", [False, True])
def test_websockets_pure_python_mask_is_replaced_where_it_is_bound(
    monkeypatch, patching, legacy_too
):
    import warnings

    import websockets.utils
    from websockets import frames

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy import framing

    pure = websockets.utils.apply_mask
    compiled = framing.apply_mask
    # as where websockets.speedups was not built: its modules bound the pure-Python mask
    monkeypatch.setattr(frames, "apply_mask", pure)
    if legacy_too:
        monkeypatch.setattr(framing, "apply_mask", pure)
    patching("websockets")
    assert frames.apply_mask is not pure
    # legacy's own binding is replaced only where it was the pure-Python one
    assert (framing.apply_mask is compiled) is not legacy_too
    assert frames.apply_mask(BIG, KEY) == pure(BIG, KEY)
    assert patching.calls["apply_mask"] > 0
    if legacy_too:
        assert framing.apply_mask(b"abcdefg", KEY) == pure(b"abcdefg", KEY)
    integrations.unpatch()
    assert frames.apply_mask is pure


# ---------------------------------------------------------------------------------------------
# aiohttp: the pure-Python reader and the writer


def aiohttp_read(data_chunks: list[bytes], max_size: int) -> list[Any]:
    from aiohttp._websocket.reader_py import WebSocketDataQueue, WebSocketReader

    class Protocol:
        _reading_paused = False

        def pause_reading(self) -> None:
            pass

        def resume_reading(self) -> None:
            pass

    queue = WebSocketDataQueue(Protocol(), 2**30, loop=None)
    reader = WebSocketReader(queue, max_size, compress=False, decode_text=True)
    out = []
    for chunk in data_chunks:
        out.append(reader.feed_data(chunk))
        exc = queue.exception()
        out.append(
            (type(exc).__name__, getattr(exc, "code", None), str(exc)) if exc else None
        )
    out += [(repr(msg), size) for msg, size in queue._buffer]
    return out


@needs("aiohttp")
@pytest.mark.parametrize("max_size", [0, 4096])
def test_aiohttp_pure_reader_gives_the_same_messages_and_errors(patching, max_size):
    runs = {
        (conv, cut): chunks
        for conv, data in conversations(KEY).items()
        for cut, chunks in chunkings(data).items()
        if cut != "bytes" or conv == "messages"
    }

    def run() -> dict:
        return {k: aiohttp_read(chunks, max_size) for k, chunks in runs.items()}

    out = compare(run, patching, "aiohttp", "apply_mask_inplace")
    if max_size:
        assert "MESSAGE_TOO_BIG: 1009" in repr(out["messages", "whole"])
    else:
        assert "INVALID_TEXT: 1007" in repr(out["invalid-utf8", "whole"])


@needs("aiohttp")
def test_aiohttp_writer_masks_the_same_bytes(monkeypatch, patching):
    from aiohttp._websocket import helpers
    from aiohttp._websocket import writer as writer_module

    # as with AIOHTTP_NO_EXTENSIONS=1: the writer on aiohttp's pure-Python mask, which the
    # patch replaces (its compiled mask, where built, is left alone)
    monkeypatch.setattr(writer_module, "websocket_mask", helpers._websocket_mask_python)

    class Transport:
        def __init__(self) -> None:
            self.sent: list[bytes] = []

        def write(self, data: Any) -> None:
            self.sent.append(bytes(data))

        def writelines(self, data: Any) -> None:
            self.sent.append(b"".join(data))

        def is_closing(self) -> bool:
            return False

    class Protocol:
        _paused = False

    async def send_all() -> list[bytes]:
        transport = Transport()
        w = writer_module.WebSocketWriter(
            Protocol(), transport, use_mask=True, random=random.Random(5)
        )
        for payload, opcode in [(b"hi", 1), (TEXT, 1), (BIG, 2), (b"", 9)]:
            await w.send_frame(payload, opcode)
        return transport.sent

    def run() -> list[bytes]:
        return asyncio.run(send_all())

    before = compare(run, patching, "aiohttp", "apply_mask_inplace")
    assert len(before) == 4
    integrations.unpatch()


# ---------------------------------------------------------------------------------------------
# Servers over a socket: tornado, autobahn, websockets (asyncio), ws4py


REQUEST = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def server_frames(data: bytes) -> list[tuple[int, bool, bytes]]:
    """(opcode, fin, payload) of the frames a server sent (a client's, with their random keys,
    unmasked)."""
    out, at = [], 0
    while at + 2 <= len(data):
        b0, b1 = data[at], data[at + 1]
        n, at = b1 & 0x7F, at + 2
        if n == 126:
            (n,), at = struct.unpack_from("!H", data, at), at + 2
        elif n == 127:
            (n,), at = struct.unpack_from("!Q", data, at), at + 8
        key = None
        if b1 & 0x80:
            key, at = data[at : at + 4], at + 4
        payload = data[at : at + n]
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        out.append((b0 & 0x0F, bool(b0 & 0x80), payload))
        at += n
    return out


def talk(sock: socket.socket, traffic: bytes, handshake: bool) -> list:
    """Send ``traffic`` in pieces, read what the server sends until it closes or stops."""
    sock.settimeout(10)
    received = b""
    if handshake:
        sock.sendall(REQUEST)
        while b"\r\n\r\n" not in received:
            more = sock.recv(65536)
            assert more, received
            received += more
        head, received = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
    at, sizes = 0, [7, 1, 3000, 2, 65536, 13]
    for i in range(len(traffic)):
        if at >= len(traffic):
            break
        sock.sendall(traffic[at : at + sizes[i % len(sizes)]])
        at += sizes[i % len(sizes)]
    sock.settimeout(3)
    try:
        while True:
            more = sock.recv(65536)
            if not more:
                received += b"<EOF>"
                break
            received += more
            frames = server_frames(received)
            if frames and frames[-1][0] == 8:
                break
    except TimeoutError:
        received += b"<timeout>"
    except ConnectionResetError:
        received += b"<reset>"
    end = None
    for marker in (b"<EOF>", b"<timeout>", b"<reset>"):
        if received.endswith(marker):
            received, end = received[: -len(marker)], marker[1:-1]
    return [*server_frames(received), end]


SOCKET_CONVERSATIONS = [
    "messages",
    "invalid-utf8",
    "invalid-utf8-in-fragment",
    "truncated-code-point",
    "close-reason-invalid-utf8",
]


def run_asyncio_server(start: Callable[[], Any], traffic: bytes) -> list:
    """Start a server in a fresh event loop (``start() -> (stop, port[, finished])``, with
    ``finished`` an asyncio.Event its handler sets), talk to it from a thread, return what it
    sent."""

    async def main() -> list:
        stop, port, *finished = await start()
        try:
            loop = asyncio.get_running_loop()
            sock = socket.create_connection(("127.0.0.1", port))
            try:
                sent = await loop.run_in_executor(None, talk, sock, traffic, True)
            finally:
                sock.close()
            if (
                finished
            ):  # the handler's own end, awaited so that what it saw is complete
                await asyncio.wait_for(finished[0].wait(), 10)
            return sent
        finally:
            stop()

    return asyncio.run(main())


def over_socket(
    start: Callable[[], Any],
    patch: Callable[..., Any],
    name: str,
    closes: list | None = None,
    names: list[str] = SOCKET_CONVERSATIONS,
) -> dict:
    """Each socket conversation (``names``), unpatched then patched: what the server sent, and
    what its handler saw when the connection closed (``closes``, filled by the handler)."""

    def run() -> dict:
        out = {}
        for conv in names:
            sent = run_asyncio_server(start, conversations(KEY)[conv])
            out[conv] = sent, list(closes or ())
            if closes:
                closes.clear()
        return out

    return {k: v[0] + v[1] for k, v in compare(run, patch, name, "mask").items()}


def echoed(out: list) -> list[bytes]:
    return [x[2] for x in out if type(x) is tuple and len(x) == 3 and x[0] in (1, 2)]


@needs("tornado")
def test_tornado_echo_server(patching):
    import tornado.httpserver
    import tornado.testing
    import tornado.web
    import tornado.websocket

    closes: list = []

    class Echo(tornado.websocket.WebSocketHandler):
        def on_message(self, message: Any) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

        def on_close(self) -> None:
            closes.append(("closed", self.close_code, self.close_reason))

    async def start() -> tuple:
        sock, port = tornado.testing.bind_unused_port()
        server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Echo)]))
        server.add_sockets([sock])
        return server.stop, port

    out = over_socket(start, patching, "tornado", closes)
    assert echoed(out["messages"])[:2] == [b"hello", b""]
    assert BIG in echoed(out["messages"])


@needs("autobahn")
def test_autobahn_echo_server(patching):
    from autobahn.asyncio.websocket import (
        WebSocketServerFactory,
        WebSocketServerProtocol,
    )

    closes: list = []

    class Echo(WebSocketServerProtocol):
        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            self.sendMessage(payload, isBinary)

        def onClose(self, wasClean: bool, code: int, reason: str) -> None:
            closes.append(("closed", wasClean, code, self.wasNotCleanReason))

    async def start() -> tuple:
        factory = WebSocketServerFactory("ws://127.0.0.1")
        factory.protocol = Echo
        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        return server.close, server.sockets[0].getsockname()[1]

    out = over_socket(start, patching, "autobahn", closes)
    assert BIG in echoed(out["messages"])
    # autobahn fails fast on invalid text and drops the connection (failByDrop)
    assert out["invalid-utf8"][-2] == b"EOF"
    assert (
        "encountered invalid UTF-8 while processing text message at payload octet index 7"
        in (out["invalid-utf8"][-1][3])
    )
    assert patching.calls["utf8"] > 0


@needs("websockets")
def test_websockets_asyncio_server(patching):
    # The handler records what it receives instead of echoing it: the connection answers a
    # close frame at once, so echoes racing with it would make the output vary from run to run.
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    closes: list = []

    async def start() -> tuple:
        finished = asyncio.Event()

        async def handler(ws: Any) -> None:
            try:
                async for message in ws:  # text arrives decoded: its UTF-8 check
                    closes.append(message)
            except ConnectionClosed as exc:
                closes.append(repr(exc))
            finally:
                closes.append(("closed", ws.close_code, ws.close_reason))
                finished.set()

        server = await serve(handler, "127.0.0.1", 0, max_size=2**20)
        return server.close, server.sockets[0].getsockname()[1], finished

    out = over_socket(start, patching, "websockets", closes)
    assert BIG in out["messages"]
    assert ("closed", 1000, "bye 👋") in out["messages"]
    # its close frame: 1007 and the decoder's complaint
    assert (8, True, b"\x03\xefinvalid continuation byte at position 6") in out[
        "invalid-utf8"
    ]


@needs("websockets")
@pytest.mark.parametrize("max_size", [2**20, 2**16])
def test_websockets_legacy_server(patching, max_size):
    # the legacy protocol, which uvicorn runs with ws="websockets": its Frame.read is patched;
    # every conversation, the violations too (they go to its own code, for its own errors)
    import warnings

    from websockets.exceptions import ConnectionClosed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.server import serve

    closes: list = []

    async def start() -> tuple:
        finished = asyncio.Event()

        async def handler(ws: Any) -> None:
            try:
                async for message in ws:
                    closes.append(message)
            except ConnectionClosed as exc:
                closes.append(repr(exc))
            finally:
                closes.append(("closed", ws.close_code, ws.close_reason))
                finished.set()

        # a short close_timeout: the raw client never answers a close frame
        server = await serve(handler, "127.0.0.1", 0, max_size=max_size, close_timeout=0.5)
        return server.close, server.sockets[0].getsockname()[1], finished

    if max_size > len(BIG):
        names = [*SOCKET_CONVERSATIONS, "reserved-opcode", "long-ping", "wrong-masking"]
        out = over_socket(start, patching, "websockets", closes, names)
        assert BIG in out["messages"]
        assert ("closed", 1000, "bye 👋") in out["messages"]
        # a violation: websockets' own error, closing with 1002
        assert any("PROTOCOL_ERROR: 1002" in str(x) for x in out["reserved-opcode"])
    else:  # BIG over the limit: websockets' own PayloadTooBig, closing with 1009
        out = over_socket(start, patching, "websockets", closes, ["messages"])
        assert out["messages"][0] == (8, True, b"\x03\xf1")  # 1009 on the wire
        assert "MESSAGE_TOO_BIG: 1009" in out["messages"][-2]
        assert BIG[:3001] in out["messages"]


@needs("ws4py")
def test_ws4py_echo_over_a_socket_pair(patching):
    from ws4py.websocket import WebSocket

    class Echo(WebSocket):
        def received_message(self, message: Any) -> None:
            self.send(message.data, message.is_binary)

    def exchange(traffic: bytes) -> list:
        server_sock, client_sock = socket.socketpair()
        ws = Echo(server_sock)
        thread = threading.Thread(target=ws.run, daemon=True)
        thread.start()
        try:
            return talk(client_sock, traffic, handshake=False)
        finally:
            client_sock.close()
            thread.join(10)

    def run() -> dict:
        return {
            conv: exchange(conversations(KEY)[conv]) for conv in SOCKET_CONVERSATIONS
        }

    out = compare(run, patching, "ws4py", "apply_mask_inplace")
    assert BIG in echoed(out["messages"])
    assert out["invalid-utf8"][-2][2][:2] == struct.pack("!H", 1007)
    assert patching.calls["utf8"] > 0


# ---------------------------------------------------------------------------------------------
# patch() and unpatch() themselves


def test_patch_uses_the_backend_under_test(patching, api):
    lib = next((n for n in ("tornado", "wsproto", "ws4py") if installed(n)), None)
    if lib is None:
        pytest.skip("none of tornado, wsproto, ws4py is installed")
    patching(lib)
    assert integrations._patched[lib][0].backend.__name__ == api.backend.__name__


def test_wsfast_patch_uses_the_backend_wsfast_runs_on():
    names = [n for n in integrations.LIBRARIES if installed(n)]
    if not names:
        pytest.skip("no library wsfast can patch is installed")
    integrations.unpatch()
    try:
        assert wsfast.patch(names[0]) == [names[0]]
        backend = integrations._patched[names[0]][0].backend
        assert backend.__name__ == ("wsfast._pure" if NO_C else "wsfast._cbackend")
        assert (wsfast.BACKEND == "c") == (backend.__name__ == "wsfast._cbackend")
    finally:
        wsfast.unpatch()


def originals() -> dict[str, Any]:
    """Every name a patch may rebind, as the installed libraries have it now."""
    out: dict[str, Any] = {}
    for name in integrations.LIBRARIES:
        if not installed(name):
            continue
        bindings: list = []
        integrations.INTEGRATIONS[name].enable(bindings, wsfast._api)
        integrations._restore(bindings)
        for owner, attr, original, _ in bindings:
            where = (
                f"{owner.__module__}.{owner.__qualname__}"
                if isinstance(owner, type)
                else owner.__name__
            )
            out[f"{where}.{attr}"] = (owner, attr, original)
    return out


def test_unpatch_restores_every_original_object(patching):
    before = originals()
    if not before:
        pytest.skip("no library wsfast can patch is installed")
    names = patching()
    assert names == [n for n in integrations.LIBRARIES if installed(n)]
    changed = [
        k
        for k, (owner, attr, orig) in before.items()
        if integrations.current(owner, attr) is not orig
    ]
    assert sorted(changed) == sorted(before)  # each one rebound
    integrations.unpatch()
    assert integrations.patched() == []
    for key, (owner, attr, orig) in before.items():
        assert integrations.current(owner, attr) is orig, key


def test_patching_twice_changes_nothing(patching):
    names = [n for n in integrations.LIBRARIES if installed(n)]
    if not names:
        pytest.skip("no library wsfast can patch is installed")
    assert patching(*names) == names
    first = {
        n: [
            (o, a, integrations.current(o, a))
            for o, a, _, _ in integrations._patched[n][1]
        ]
        for n in names
    }
    assert patching(*names, names[0]) == names
    assert patching() == names
    for n in names:
        for owner, attr, value in first[n]:
            assert integrations.current(owner, attr) is value
    integrations.unpatch()
    integrations.unpatch()  # nothing left to restore: no error
    assert integrations.patched() == []


def test_unknown_library_is_refused_by_name():
    with pytest.raises(
        ValueError, match=r"unknown library 'wsaccel' \(wsfast can patch wsproto"
    ):
        wsfast.patch("wsaccel")
    assert integrations.patched() == []


def test_missing_library_raises_library_not_installed(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "ws4py" else real(n, *a)
    )
    with pytest.raises(
        integrations.LibraryNotInstalled, match="library 'ws4py' is not installed"
    ):
        wsfast.patch("ws4py")
    assert issubclass(integrations.LibraryNotInstalled, ImportError)
    assert "ws4py" not in integrations.patched()
    # with no names, only the installed ones are patched, without an error
    try:
        assert "ws4py" not in wsfast.patch()
    finally:
        wsfast.unpatch()


@needs("tornado")
def test_a_version_without_the_expected_name_is_refused_and_left_as_it_was(monkeypatch):
    from tornado import util, websocket

    original = util._websocket_mask
    monkeypatch.delattr(websocket, "_websocket_mask")
    with pytest.raises(
        integrations.UnsupportedVersion, match=r"tornado .* has no .*_websocket_mask"
    ):
        wsfast.patch("tornado")
    assert util._websocket_mask is original
    assert integrations.patched() == []


@needs("aiohttp")
def test_an_aiohttp_without_its_python_mask_is_refused(monkeypatch):
    from aiohttp._websocket import helpers

    monkeypatch.delattr(helpers, "_websocket_mask_python")
    with pytest.raises(
        integrations.UnsupportedVersion,
        match=r"aiohttp .* has no _websocket\._websocket_mask_py",
    ):
        wsfast.patch("aiohttp")
    assert integrations.patched() == []


def test_check_patched_notices_a_rebound_name(patching):
    if not installed("tornado"):
        pytest.skip("tornado is not installed")
    from tornado import websocket

    with pytest.raises(RuntimeError, match="tornado is not patched"):
        integrations.check_patched("tornado")
    patching("tornado")
    ours = websocket._websocket_mask
    try:
        websocket._websocket_mask = lambda mask, data: data
        with pytest.raises(
            RuntimeError, match=r"tornado: tornado.websocket._websocket_mask no"
        ):
            integrations.check_patched("tornado")
    finally:
        websocket._websocket_mask = ours


def test_patch_and_unpatch_are_exported():
    assert wsfast.patch is integrations.patch
    assert wsfast.unpatch is integrations.unpatch
    assert {"patch", "unpatch"} <= set(wsfast.__all__)
    assert sys.modules["wsfast.integrations"].LIBRARIES == (
        "wsproto",
        "websockets",
        "tornado",
        "autobahn",
        "ws4py",
        "aiohttp",
        "websocket-client",
    )


def test_patched_peers_bench_checks_and_times_every_workload():
    # bench/patched_peers.py checks both modes' messages against what was sent before timing;
    # one round here proves the script still runs (its ratios are for a quiet machine).
    import os
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "bench" / "patched_peers.py"
    if not script.exists():
        pytest.skip(f"{script} is missing: the benchmarks run from a checkout")
    if not (installed("wsproto") and installed("websockets")):
        pytest.skip(
            "wsproto and websockets are needed (pip install -e '.[test,peers]')"
        )
    env = dict(os.environ)
    package_root = str(Path(wsfast.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [package_root, env.get("PYTHONPATH")])
    )
    proc = subprocess.run(
        [sys.executable, str(script), "--rounds", "1", "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), (
        proc.stderr
    )  # 1: a target missed in this one round
    out = proc.stdout
    assert f"{wsfast.BACKEND} backend" in out
    for line in (
        "125 B ascii text",
        "64 KiB ascii text",
        "64 KiB frames only",
        "ceiling",
    ):
        assert line in out, out
