"""websockets patched gives the same frames and errors as unpatched: its sans-I/O Protocol,
its legacy Frame.read (uvicorn's ws="websockets"), permessage-deflate connections, its
asyncio and legacy servers over a socket, and the pure-Python mask where speedups is missing."""

from __future__ import annotations

import asyncio
import functools
import sys
from typing import Any

import pytest

from wsfast import integrations

from .integration_traffic import (
    BIG,
    KEY,
    REQUEST,
    SOCKET_CONVERSATIONS,
    TEXT,
    chunkings,
    close_payload,
    compare,
    compressed_conversations,
    conversations,
    frame,
    messages,
    needs,
    over_socket,
    server_frames,
    websockets_server,
)


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


@pytest.fixture(params=["default", "all-sizes"])
def large(request, monkeypatch):
    """The patch's size bound as shipped (frames over LARGE are websockets' own to read), or
    every size taken over, as where websockets' compiled mask is missing."""
    if request.param == "all-sizes":
        monkeypatch.setattr(integrations.websockets, "LARGE", 1 << 30)
    return request.param


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
def test_websockets_server_handshake_then_frames_and_a_failure_mid_payload(patching, large):
    # ServerProtocol: the handshake and the first frames in one read, a big frame cut short by
    # the application failing the connection, then more input and the end of the stream.  The
    # big frame is websockets' own to read by default (over LARGE); with every size taken over
    # (as where its compiled mask is missing), wsfast unmasks it as it arrives.
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

    out = compare(run, patching, "websockets", "mask" if large == "all-sizes" else None)
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


def legacy_frames(
    data_chunks: list[bytes],
    max_size: int | None,
    extensions: list,
    mask: bool = True,
    fail_after: int | None = None,
) -> list:
    """What websockets' legacy Frame.read makes of a stream arriving in pieces on an asyncio
    StreamReader: every frame, then the error that stopped it."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.framing import Frame

    async def main() -> list:
        reader = asyncio.StreamReader()

        async def feed() -> None:
            for i, chunk in enumerate(data_chunks):
                reader.feed_data(chunk)
                if i == fail_after:  # the transport's error, with data still buffered
                    reader.set_exception(ConnectionResetError("reset by the test"))
                    return
                await asyncio.sleep(0)
            reader.feed_eof()

        if fail_after is not None:  # all of it there before the first read
            await feed()
        feeding = asyncio.ensure_future(asyncio.sleep(0) if fail_after is not None else feed())
        out: list = []
        try:
            while True:
                f = await Frame.read(
                    reader.readexactly, mask=mask, max_size=max_size, extensions=extensions
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
def test_websockets_legacy_frame_read_client_side_and_a_transport_error(patching):
    # the client side (unmasked frames from the server), and an error the transport set
    # while frames were still buffered (readexactly raises it before reading any)
    def run() -> dict:
        out = {
            (conv, cut): legacy_frames(chunks, 2**20, [], mask=False)
            for conv, data in conversations(None).items()
            for cut, chunks in chunkings(data).items()
        }
        data = conversations(KEY)["messages"]
        out["reset"] = legacy_frames([data[:100], data[100:]], 2**20, [], fail_after=0)
        # a reader that is not a StreamReader's readexactly: websockets' own code reads
        pieces = iter([data[:2], data[2:6], data[6:11]])

        async def read_next(n: int) -> bytes:
            return next(pieces)

        async def other() -> Any:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                from websockets.legacy.framing import Frame

            f = await Frame.read(read_next, mask=True)
            return f.opcode, f.data

        out["other-reader"] = asyncio.run(other())
        return out

    out = compare(run, patching, "websockets", None)
    assert (True, 1, b"hello", False, False, False) in out["messages", "whole"]
    assert out["reset"] == ["ConnectionResetError('reset by the test')"]
    assert out["other-reader"][1] == b"hello"


@needs("websockets")
def test_websockets_headers_cut_inside_their_length_give_the_same_frames(patching, large):
    # every cut inside the header of a 16-bit and a 64-bit length frame: the patch waits for
    # the rest exactly as websockets does (or leaves the frame to it)
    from websockets.protocol import Protocol, Side, State

    streams = [frame(1, TEXT[:200]), frame(2, BIG)]

    def run() -> list:
        out = []
        for data in streams:
            for cut in range(1, 15):
                p = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
                got = []
                for chunk in (data[:cut], data[cut:]):
                    p.receive_data(chunk)
                    got += [(f.opcode, bytes(f.data)) for f in p.events_received()]
                out.append((cut, got, repr(p.parser_exc)))
        return out

    out = compare(run, patching, "websockets", "mask" if large == "all-sizes" else None)
    assert all(len(got) == 1 for _, got, _ in out)


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


@needs("websockets")
def test_websockets_asyncio_server(patching):
    # The handler records what it receives instead of echoing it: the connection answers a
    # close frame at once, so echoes racing with it would make the output vary from run to run.
    from websockets.asyncio.server import serve

    closes: list = []
    start = websockets_server(serve, closes, max_size=2**20)
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

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.server import serve

    closes: list = []
    # a short close_timeout: the raw client never answers a close frame
    start = websockets_server(serve, closes, max_size=max_size, close_timeout=0.5)
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


# --- Protocol.parse, the loop over whole frames ------------------------------------------


@needs("websockets")
@pytest.mark.parametrize(
    "max_size",
    [(4096, 1000), (None, 300), (70000, None), (2**20, 2**20)],
    ids=["message-and-fragment", "fragment-only", "message-only", "both-large"],
)
def test_websockets_protocol_parse_with_message_and_fragment_limits(patching, max_size):
    # max_size as a (message, fragment) pair: the loop over whole frames computes each
    # frame's limit as the original does (the message so far counts), so a fragmented
    # message stops at the same frame with the same PayloadTooBig and current size
    from websockets.protocol import Protocol, Side, State

    k = {"key": KEY}
    fragmented = b"".join(
        [
            frame(1, b"a" * 250, fin=False, **k),
            frame(0, b"b" * 250, fin=False, **k),
            frame(0, b"c" * 900, fin=False, **k),
            frame(0, b"d" * 2000, fin=False, **k),
            frame(0, b"e" * 1000, **k),
        ]
    )
    convs = {
        "messages": messages(KEY),
        "fragmented": frame(1, b"x" * 200, **k) + fragmented + frame(2, BIG[:999], **k),
        "whole-over": frame(2, b"y" * 100, **k) + frame(2, BIG, **k),
    }

    def run() -> dict:
        out = {}
        for conv, data in convs.items():
            for cut, chunks in chunkings(data).items():
                p = Protocol(Side.SERVER, state=State.OPEN, max_size=max_size)
                got: list = []
                for chunk in chunks:
                    p.receive_data(chunk)
                    got += [(f.opcode, bytes(f.data), f.fin) for f in p.events_received()]
                got.append((repr(p.parser_exc), str(p.parser_exc), p.current_size))
                out[conv, cut] = got
        return out

    out = compare(run, patching, "websockets", "mask")
    limits = {repr(v[-1][0])[:20] for v in out.values()}
    if max_size in ((4096, 1000), (None, 300)):
        assert any("PayloadTooBig" in x for x in limits), limits


@needs("websockets")
def test_websockets_protocol_parse_logs_the_same_frames_when_debugging(patching):
    # with a logger at DEBUG level, every frame read is logged ("< %s") as the original does,
    # in the same order, between the same other records
    import logging

    from websockets.protocol import Protocol, Side, State

    class Records(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.DEBUG)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    def run() -> dict:
        out = {}
        for conv in ("messages", "invalid-utf8", "reserved-opcode"):
            for cut, chunks in chunkings(conversations(KEY)[conv]).items():
                logger = logging.getLogger(f"wsfast-test-debug-{conv}-{cut}")
                logger.setLevel(logging.DEBUG)
                logger.propagate = False
                records = Records()
                logger.handlers[:] = [records]
                p = Protocol(Side.SERVER, state=State.OPEN, max_size=2**20, logger=logger)
                assert p.debug
                for chunk in chunks:
                    p.receive_data(chunk)
                    p.events_received()
                    p.data_to_send()
                out[conv, cut] = records.lines
        return out

    out = compare(run, patching, "websockets", "mask")
    assert any(line.startswith("< TEXT 'hello'") for line in out["messages", "whole"])


def legacy_messages(
    data_chunks: list[bytes],
    max_size: int | None,
    extensions: list,
    debug: bool,
    prefed: bool = False,
    through: str = "reader",
) -> list:
    """What websockets' legacy ``read_message`` (uvicorn's ws="websockets") returns for data
    frames arriving in pieces on its StreamReader (the first already there when ``prefed``):
    every message, then the error that stopped it.  ``through="data_received"``: the pieces
    come as a transport gives them, through the protocol's ``data_received`` and
    ``eof_received`` (two at a time now and then), onto a transport the reader pauses and
    resumes; whether it is paused at the end is part of the result.  (When it pauses and
    resumes in between is not: the original buffers a payload whole before reading it, the
    patched one reads it as it comes, so they hold different amounts meanwhile.)"""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.protocol import WebSocketCommonProtocol

    async def main() -> list:
        logger = logging.getLogger("wsfast-test-legacy")
        logger.setLevel(logging.DEBUG if debug else logging.WARNING)
        proto = WebSocketCommonProtocol(max_size=max_size, logger=logger, read_limit=8192)
        assert proto.debug is debug
        proto.is_client = False
        proto.extensions = extensions
        reader = proto.reader
        out: list = []

        class Transport(asyncio.Transport):
            def pause_reading(self) -> None:
                pass

            def resume_reading(self) -> None:
                pass

        async def feed() -> None:
            chunks = data_chunks[1:] if prefed else data_chunks
            if through == "reader":
                for chunk in chunks:
                    reader.feed_data(chunk)
                    await asyncio.sleep(0)
                reader.feed_eof()
                return
            reader.set_transport(Transport())
            for i, chunk in enumerate(chunks):
                proto.data_received(chunk)
                if i % 3 != 1:
                    await asyncio.sleep(0)
            proto.eof_received()

        if prefed:
            reader.feed_data(data_chunks[0])
        feeding = asyncio.ensure_future(feed())
        try:
            while True:
                message = await proto.read_message()
                out.append((type(message).__name__, message))
        except Exception as exc:  # noqa: BLE001 - the error is part of the behaviour
            out.append(repr(exc))
        await feeding
        if through != "reader":
            out.append(("paused at the end", reader._paused))
        return out

    return asyncio.run(main())


def legacy_data_conversations(deflate: bool) -> dict[str, bytes]:
    """Data frames only (the legacy protocol answers control frames over its transport):
    whole messages of every length class, fragmented ones, and each way of getting a data
    frame wrong; compressed (each message on its own, no context takeover) when ``deflate``."""
    import zlib

    k = {"key": KEY}

    def squeezed(data: bytes) -> bytes:
        z = zlib.compressobj(wbits=-15)
        out = z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4]  # without the 00 00 ff ff every message ends with (RFC 7692 7.2.1)

    def text(data: bytes, **kw: Any) -> bytes:
        if deflate:
            return frame(1, squeezed(data), rsv=4, **kw)
        return frame(1, data, **kw)

    def binary(data: bytes) -> bytes:
        if deflate:
            return frame(2, squeezed(data), rsv=4, **k)
        return frame(2, data, **k)

    good = b"".join(
        [
            text(b"hello", **k),
            text(b"", **k),
            binary(b"\x00\xff" * 62 + b"!"),
            text(TEXT[:126], **k),
            binary(BIG[:3001]),
            binary(__import__("random").Random(7).randbytes(3000)),  # 3 KB compressed too
            text("𝄞 ∀x∈ℝ".encode() * 800, **k),  # 9 600 bytes: over LARGE
            binary(BIG),
            frame(1, TEXT[:7], fin=False, **k),
            frame(0, TEXT[7:200], fin=False, **k),
            frame(0, TEXT[200:], **k),
            frame(2, b"\x01" * 10, fin=False, **k),
            frame(0, b"\x02" * 10, **k),
        ]
    )
    return {
        "messages": good,
        "invalid-utf8": good + text(b"caf\xc3\xa9 \xc3\x28 x", **k),
        "invalid-utf8-in-fragment": good
        + frame(1, "déjà ".encode(), fin=False, **k)
        + frame(0, b"vu \xed\xa0\x80", **k),
        "rsv1-unagreed": good + frame(1, b"x", rsv=4, **k),
        "rsv2": good + frame(1, b"x", rsv=2, **k),
        "reserved-opcode": good + frame(3, b"x", **k),
        "continuation-first": good + frame(0, b"x", **k),
        "text-inside-fragmented": good + frame(1, b"a", fin=False, **k) + frame(1, b"b", **k),
        "wrong-masking": good + frame(1, b"x", key=None),
        "over-max-size": frame(2, b"z" * 10, **k) + frame(2, bytes(80000), **k),
        "cut-short": good + frame(1, b"q" * 300, **k)[:150],
    }


@needs("websockets")
@pytest.mark.parametrize("deflate", [False, True], ids=["plain", "permessage-deflate"])
@pytest.mark.parametrize("max_size", [2**20, 72 * 1024])  # BIG passes, 80 000 bytes do not
@pytest.mark.parametrize("debug", [False, True], ids=["quiet", "debug"])
@pytest.mark.parametrize("through", ["reader", "data_received"])
def test_websockets_legacy_read_message_gives_the_same_messages(
    patching, deflate, max_size, debug, through
):
    # read_message's one step for a whole data message (read where it was received when the
    # bytes come through data_received), and everything else through the original: the same
    # messages, types, UnicodeDecodeError, ProtocolError, PayloadTooBig and
    # IncompleteReadError, and the same pauses and resumes of the transport, whatever the
    # chunking
    convs = legacy_data_conversations(deflate)

    def run() -> dict:
        return {
            (conv, cut): legacy_messages(
                chunks,
                max_size,
                websockets_deflate(False) if deflate else [],
                debug,
                through=through,
            )
            for conv, data in convs.items()
            for cut, chunks in chunkings(data).items()
        }

    out = compare(run, patching, "websockets", "mask")
    error = -1 if through == "reader" else -2  # before the transport's state
    whole = out["messages", "whole"]
    assert ("str", "hello") in whole and ("bytes", BIG) in whole
    assert "IncompleteReadError" in whole[error]
    assert "UnicodeDecodeError" in out["invalid-utf8", "whole"][error]
    assert ("PayloadTooBig" in out["over-max-size", "whole"][error]) is (max_size < 80000)
    assert "ProtocolError" in out["rsv2", "odd-pieces"][error]


@needs("websockets")
def test_websockets_legacy_data_received_hands_a_read_to_a_waiting_read_message(
    patching, monkeypatch
):
    # patched, a read that comes while read_message waits is read where it was received: none
    # of it goes to the StreamReader's buffer but the start of a frame still arriving
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.protocol import WebSocketCommonProtocol

    fed: list[int] = []
    feed_data0 = asyncio.StreamReader.feed_data

    def feed_data(self: Any, data: Any) -> None:
        fed.append(len(data))
        feed_data0(self, data)

    frames = b"".join(frame(1, b"m%d" % i, key=KEY) for i in range(20))
    last = frame(2, b"z" * 70000, key=KEY)  # 16 bytes of header, then its payload in pieces

    def run() -> tuple[list, list]:
        async def main() -> list:
            proto = WebSocketCommonProtocol()
            proto.is_client = False
            out = []

            async def feed() -> None:
                for chunk in (frames + last[:1000], last[1000:30000], last[30000:]):
                    await asyncio.sleep(0)
                    proto.data_received(chunk)
                proto.eof_received()

            feeding = asyncio.ensure_future(feed())
            for _ in range(21):
                message = await proto.read_message()
                out.append(message if type(message) is str else len(message))
            await feeding
            return out

        fed.clear()
        return asyncio.run(main()), list(fed)

    monkeypatch.setattr(asyncio.StreamReader, "feed_data", feed_data)
    before, unpatched_fed = run()
    patching("websockets")
    after, patched_fed = run()
    assert after == before == [f"m{i}" for i in range(20)] + [70000]
    assert unpatched_fed == [len(frames) + 1000, 29000, len(last) - 30000]
    assert patched_fed == []  # the last frame's 1000 bytes went to the buffer without it


@needs("websockets")
def test_websockets_legacy_read_message_takes_whole_messages_in_one_step(patching):
    # the patched read_message does not go through read_data_frame for a whole message that
    # is already buffered (and does for the rest): the step is taken, not only correct
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.protocol import WebSocketCommonProtocol

    patching("websockets")
    calls: list[str] = []
    read_data_frame0 = WebSocketCommonProtocol.read_data_frame

    async def read_data_frame(self: Any, max_size: int | None) -> Any:
        calls.append("read_data_frame")
        return await read_data_frame0(self, max_size)

    WebSocketCommonProtocol.read_data_frame = read_data_frame  # type: ignore[method-assign]
    try:
        data = frame(1, b"one", key=KEY) + frame(1, b"tw", fin=False, key=KEY)
        out = legacy_messages([data, frame(0, b"o", key=KEY)], 2**20, [], False, True)
    finally:
        WebSocketCommonProtocol.read_data_frame = read_data_frame0  # type: ignore[method-assign]
    assert out[:2] == [("str", "one"), ("str", "two")]
    assert calls == ["read_data_frame"] * 3  # the fragmented message's two, the EOF's one


@needs("websockets")
def test_websockets_protocol_parse_reads_whole_frames_without_a_generator_each(
    patching, monkeypatch
):
    # patched, the frames of a read are read in one loop where they were received: no at_eof
    # (nor Frame.parse) generator per frame, and nothing buffered
    from websockets import streams
    from websockets.protocol import Protocol, Side, State

    calls: list[tuple[str, int]] = []
    at_eof0, feed_data0 = streams.StreamReader.at_eof, streams.StreamReader.feed_data

    def at_eof(self: Any) -> Any:
        calls.append(("at_eof", 0))
        return (yield from at_eof0(self))

    def feed_data(self: Any, data: Any) -> None:
        calls.append(("feed_data", len(data)))
        feed_data0(self, data)

    frames = b"".join(frame(1, b"m%d" % i, key=KEY) for i in range(50))
    last = frame(2, b"z" * 300, key=KEY)
    head, tail = frames + last[:100], last[100:]

    def run() -> tuple[list, list]:
        out = []
        for data in (frames, head, tail):
            calls.clear()
            p = Protocol(Side.SERVER, state=State.OPEN)
            if data is tail:
                p.receive_data(head)
                calls.clear()
            p.receive_data(data)
            out.append([bytes(f.data) for f in p.events_received()])
            out.append(list(calls))
        return out[0::2], out[1::2]

    monkeypatch.setattr(streams.StreamReader, "at_eof", at_eof)
    monkeypatch.setattr(streams.StreamReader, "feed_data", feed_data)
    before, unpatched_calls = run()
    patching("websockets")
    after, patched_calls = run()
    assert after == before
    assert [len(events) for events in before] == [50, 50, 51]
    # unpatched: at_eof waiting from the start, the whole read buffered, then at_eof again
    # after every frame
    assert unpatched_calls[0] == [("at_eof", 0), ("feed_data", len(frames))] + [("at_eof", 0)] * 50
    # patched: nothing buffered, neither a read of whole frames nor the start of a frame
    # whose header is all there (its payload is unmasked as it comes)
    assert patched_calls == [[], [], []]


@needs("websockets")
def test_websockets_assembler_get_gives_the_same_messages_and_errors(patching):
    # the asyncio Assembler (what recv() awaits): one-frame messages taken in one step, the
    # rest through the original; the same values, types, decode overrides and errors
    from websockets.asyncio.messages import Assembler
    from websockets.frames import Frame, Opcode

    TEXT_, BINARY_, CONT_ = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
    cases: list[tuple[list[Any], Any]] = [
        ([Frame(TEXT_, "héllo".encode())], None),
        ([Frame(TEXT_, bytearray(b"from a bytearray"))], None),
        ([Frame(BINARY_, memoryview(b"a view"))], None),
        ([Frame(BINARY_, b"\xff\x00")], None),
        ([Frame(BINARY_, b"bin as text")], True),
        ([Frame(TEXT_, b"text as bytes")], False),
        ([Frame(TEXT_, b"caf\xc3\x28")], None),  # invalid UTF-8
        ([Frame(BINARY_, b"\xc3\x28")], True),
        ([Frame(TEXT_, b"x" * 70000)], None),  # 64 KiB and more, as Protocol.parse reads
        (
            [
                Frame(TEXT_, b"frag", fin=False),
                Frame(CONT_, b"ment", fin=False),
                Frame(CONT_, b"ed"),
            ],
            None,
        ),
    ]

    def run() -> list:
        async def main() -> list:
            out: list = []
            for frames, decode in cases:
                paused: list[str] = []
                a = Assembler(
                    high=2,
                    low=1,
                    pause=functools.partial(paused.append, "p"),
                    resume=functools.partial(paused.append, "r"),
                )
                for f in frames:
                    a.put(f)
                try:
                    got = await a.get(decode)
                    out.append((type(got).__name__, got))
                except Exception as exc:  # noqa: BLE001 - the error is part of the behaviour
                    out.append(repr(exc))
                out.append((paused, len(a.frames), a.get_in_progress))
            # waiting on an empty queue, then a frame arrives
            a = Assembler()
            waiting = asyncio.ensure_future(a.get())
            await asyncio.sleep(0)
            # a second get while the first waits
            try:
                await a.get()
            except Exception as exc:  # noqa: BLE001
                out.append(repr(exc))
            a.put(Frame(TEXT_, b"late"))
            out.append(await waiting)
            # frames still queued when the stream closed, then the end
            a = Assembler()
            a.put(Frame(BINARY_, b"queued"))
            a.close()
            out.append(await a.get())
            try:
                await a.get()
            except Exception as exc:  # noqa: BLE001
                out.append(repr(exc))
            return out

        return asyncio.run(main())

    before = run()
    patching("websockets")
    assert run() == before
    assert ("str", "héllo") in before and ("bytes", b"a view") in before
    assert any("UnicodeDecodeError" in str(x) for x in before)
    assert "late" in before and b"queued" in before


def announced(length: int) -> bytes:
    """A masked binary frame's header announcing ``length`` bytes, and three of them."""
    return bytes([0x82, 0x80 | 127]) + length.to_bytes(8, "big") + KEY + b"abc"


@needs("websockets")
def test_websockets_a_huge_announced_payload_is_waited_for_not_allocated(patching):
    # with no max_size a header may announce 2**62 bytes: unpatched websockets waits for them
    # (buffering what comes); patched, a payload over ARRIVING is not allocated up front
    from websockets.protocol import Protocol, Side, State

    def run() -> list:
        out = []
        for length in (2**24 + 1, 2**40, 2**62):
            p = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
            p.receive_data(announced(length))
            p.receive_data(b"more")
            out.append((length, repr(p.parser_exc), p.state.name, len(p.reader.buffer)))
        return out

    out = compare(run, patching, "websockets", None)
    assert all(exc == "None" and state == "OPEN" for _, exc, state, _ in out)


@needs("websockets")
def test_websockets_legacy_a_huge_announced_payload_is_waited_for(patching):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.protocol import WebSocketCommonProtocol

    def run() -> list:
        async def main(length: int) -> str:
            proto = WebSocketCommonProtocol(max_size=None)
            proto.is_client = False
            task = asyncio.ensure_future(proto.read_message())
            await asyncio.sleep(0)
            proto.data_received(announced(length))
            await asyncio.sleep(0.01)
            if task.done():
                return repr(task.exception())
            task.cancel()
            return "waiting"

        return [asyncio.run(main(length)) for length in (2**24 + 1, 2**40, 2**62)]

    assert compare(run, patching, "websockets", None) == ["waiting"] * 3


@needs("websockets")
def test_websockets_a_frame_arriving_keeps_the_extensions_of_its_header(patching):
    # the client's compressed frame starts in the read of its request; the server agrees to
    # permessage-deflate before the rest comes: as unpatched, the frame is read with the
    # extensions of when its header came (none), so its RSV1 is a protocol error
    import base64
    import zlib

    from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
    from websockets.server import ServerProtocol

    request = (
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + base64.b64encode(b"0123456789abcdef") + b"\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
    )
    z = zlib.compressobj(wbits=-15)
    data = frame(1, (z.compress(b"hello " * 50) + z.flush(zlib.Z_SYNC_FLUSH))[:-4], rsv=4)

    def run() -> list:
        p = ServerProtocol(extensions=[ServerPerMessageDeflateFactory()])
        p.receive_data(request + data[:10])
        for event in p.events_received():
            p.send_response(p.accept(event))
        agreed = [type(e).__name__ for e in p.extensions]
        p.receive_data(data[10:])
        frames = [(f.opcode.name, bytes(f.data), f.rsv1) for f in p.events_received()]
        return [agreed, frames, repr(p.parser_exc), str(p.close_sent)]

    out = compare(run, patching, "websockets", None)  # small pieces: websockets' own mask
    assert out[0] == ["PerMessageDeflate"] and "ProtocolError" in out[2]
