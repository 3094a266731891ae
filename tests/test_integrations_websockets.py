"""websockets patched gives the same frames and errors as unpatched: its sans-I/O Protocol,
its legacy Frame.read (uvicorn's ws="websockets"), permessage-deflate connections, its
asyncio and legacy servers over a socket, and the pure-Python mask where speedups is missing."""

from __future__ import annotations

import asyncio
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
@pytest.mark.parametrize("large", ["default", "all-sizes"])
def test_websockets_server_handshake_then_frames_and_a_failure_mid_payload(
    patching, monkeypatch, large
):
    # ServerProtocol: the handshake and the first frames in one read, a big frame cut short by
    # the application failing the connection, then more input and the end of the stream.  The
    # big frame is websockets' own to read by default (over LARGE); with every size taken over
    # (as where its compiled mask is missing), wsfast unmasks it as it arrives.
    from websockets.http11 import Request

    if large == "all-sizes":
        monkeypatch.setattr(integrations.websockets, "LARGE", 1 << 30)
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
@pytest.mark.parametrize("large", ["default", "all-sizes"])
def test_websockets_headers_cut_inside_their_length_give_the_same_frames(
    patching, monkeypatch, large
):
    # every cut inside the header of a 16-bit and a 64-bit length frame: the patch waits for
    # the rest exactly as websockets does (or leaves the frame to it)
    from websockets.protocol import Protocol, Side, State

    if large == "all-sizes":
        monkeypatch.setattr(integrations.websockets, "LARGE", 1 << 30)
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
