"""What the integration tests share: traffic built with struct, the spy that counts calls into
the backend under test, the body of the ``patching`` fixture (tests/conftest.py), the
unpatched-then-patched comparison and
the socket helpers.

wsfast.patch(): every library it accelerates behaves, patched, exactly as it does unpatched.

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
import types
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from wsfast import integrations

from . import framing


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


KEY = framing.KEY


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes | None = KEY,
) -> bytes:
    """tests/framing.py's frame, with ``rsv`` as the three RSV bits (4 = RSV1) and ``key`` the
    masking key (None: unmasked), as the integration tests spell them."""
    return framing.frame(opcode, payload, fin=fin, rsv=rsv << 4, mask=key)


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
            frame(1, "κόσμε ∀x ".encode() * 1500, **k),  # 21 000 bytes: a large text message
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
        # what a reader does with data after the close, read with it (RFC 6455 1.4: discarded)
        "frames-after-close": ok + frame(1, b"after", **k) + frame(9, b"p", **k) + b"\x81",
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


def patching_with(api: Any) -> Any:
    """The ``patching`` fixture's body (tests/conftest.py): ``patching(*names)`` patches with
    ``api``'s backend; ``patching.calls`` counts its use.  Every test starts and ends
    unpatched."""
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
            frame(1, TEXT * 40, **k),  # a large one sent uncompressed (13 600 bytes)
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
    # a stored block's length, whose check fails only on the 00 00 ff ff appended at the end
    then("bad-deflate-at-the-end", lambda: frame(1, b"\x00\x05\x00", rsv=4, **k))
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


def websockets_server(serve: Callable[..., Any], closes: list, **options: Any) -> Callable:
    """``start`` for run_asyncio_server: a websockets server (``serve``, its new or its
    legacy one) whose handler records every message, the error that ends it and the close
    code and reason, in ``closes``."""
    from websockets.exceptions import ConnectionClosed

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

        server = await serve(handler, "127.0.0.1", 0, **options)
        return server.close, server.sockets[0].getsockname()[1], finished

    return start
