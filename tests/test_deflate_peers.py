"""permessage-deflate with real peers over loopback, both ways.

- websockets' and aiohttp's clients against examples/echo_server.py (wsfast's Decoder and
  Encoder behind it), in several configurations: context takeover kept or dropped on either
  side, window bits 9 and 15.  Each client checks what it gets back, so wsfast's compressed
  frames are inflated by the peer's own code.
- wsfast as the client (its handshake, Encoder and Decoder over a socket) against websockets'
  and aiohttp's servers with compression on: the peers inflate what wsfast compressed.

The echo server runs on this test run's backend (the ``api`` fixture's name picks it).
"""

from __future__ import annotations

import asyncio
import http.client
import io
import os

import pytest

import wsfast

from .echo_process import SERVER, start_echo_server

websockets_client = pytest.importorskip("websockets.asyncio.client")
websockets_server = pytest.importorskip("websockets.asyncio.server")
permessage_deflate = pytest.importorskip("websockets.extensions.permessage_deflate")
aiohttp = pytest.importorskip("aiohttp")
aiohttp_web = pytest.importorskip("aiohttp.web")

MESSAGES = [
    "h\u00e9llo w\u00f6rld \u6f22\u5b57 \U0001f600 " * 40,
    b"\x00" * 10_000,
    os.urandom(3000),
    "",
    "short",
    "x" * 200_000,  # many frames and reads
    '{"id": 1, "items": [1, 2, 3]}' * 50,
]


@pytest.fixture(scope="module", params=["default", "python"])
def echo_port(request):
    if not SERVER.exists():
        pytest.skip(f"{SERVER} is missing: these tests do not run from a checkout")
    backend = None if request.param == "default" else "python"
    if backend is None and os.environ.get("WSFAST_NO_EXTENSIONS") == "1":
        backend = "python"
    process, port = start_echo_server(backend)
    yield port
    process.terminate()
    process.wait(10)


WEBSOCKETS_CONFIGS = {
    "default": {},
    "no context takeover, both": dict(
        server_no_context_takeover=True, client_no_context_takeover=True
    ),
    "window bits 9": dict(server_max_window_bits=9, client_max_window_bits=9),
    "window bits 15": dict(server_max_window_bits=15, client_max_window_bits=15),
    "client no context takeover, server window 10": dict(
        client_no_context_takeover=True, server_max_window_bits=10
    ),
}


@pytest.mark.parametrize("config", list(WEBSOCKETS_CONFIGS))
def test_websockets_client_talks_compressed_to_the_echo_server(echo_port, config):
    factory = permessage_deflate.ClientPerMessageDeflateFactory(
        compress_settings={"memLevel": 5}, **WEBSOCKETS_CONFIGS[config]
    )

    async def talk():
        async with websockets_client.connect(
            f"ws://127.0.0.1:{echo_port}/", extensions=[factory], compression=None,
            max_size=2**24,
        ) as ws:
            (extension,) = ws.protocol.extensions
            assert extension.name == "permessage-deflate"
            got = []
            for message in MESSAGES:
                await ws.send(message)
                got.append(await ws.recv())
            return got, extension

    got, extension = asyncio.run(talk())
    assert got == MESSAGES
    settings = WEBSOCKETS_CONFIGS[config]
    if "server_max_window_bits" in settings:
        assert extension.remote_max_window_bits <= settings["server_max_window_bits"]
    if settings.get("server_no_context_takeover"):
        assert extension.remote_no_context_takeover


def test_websockets_client_sends_fragmented_compressed_messages(echo_port):
    async def talk():
        async with websockets_client.connect(
            f"ws://127.0.0.1:{echo_port}/", max_size=2**24
        ) as ws:
            assert ws.protocol.extensions
            await ws.send(["fragment \u00e9 " * 100, "second ", "third"])  # one message
            return await ws.recv()

    assert asyncio.run(talk()) == "fragment \u00e9 " * 100 + "second third"


def test_aiohttp_client_with_compress_15_talks_to_the_echo_server(echo_port):
    async def talk():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                f"http://127.0.0.1:{echo_port}/", compress=15, max_msg_size=2**24
            ) as ws:
                assert ws.compress  # negotiated: the window bits it inflates with
                got = []
                for message in MESSAGES:
                    if isinstance(message, str):
                        await ws.send_str(message)
                    else:
                        await ws.send_bytes(message)
                    reply = await ws.receive()
                    got.append(reply.data)
                return got

    assert asyncio.run(talk()) == MESSAGES


# --- wsfast as the client ------------------------------------------------------------------------


async def wsfast_client(port: int, offer: wsfast.PerMessageDeflate, messages: list) -> tuple:
    """Connect with wsfast's handshake, send ``messages`` compressed (some fragmented), and
    collect the echoes: (agreed parameters, events, raw bytes received)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = wsfast.build_request(f"127.0.0.1:{port}", extensions=[offer])
    head = "GET / HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in request.headers)
    writer.write(head.encode() + b"\r\n")
    response_head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, rest = response_head.partition(b"\r\n")
    headers = http.client.parse_headers(io.BytesIO(rest))
    response = wsfast.check_response(request, int(status_line.split()[1]), headers.items())
    (agreed,) = response.extensions
    encoder = wsfast.Encoder(client=True, extensions=response.extensions)
    decoder = wsfast.Decoder(client=True, extensions=response.extensions)
    events: list = []
    raw = b""
    for i, message in enumerate(messages):
        writer.write(encoder.message(message, fragment_size=1000 if i % 2 else None))
        while len(replies(events)) <= i:
            chunk = await reader.read(65536)
            assert chunk, "server closed early"
            raw += chunk
            events += decoder.feed(chunk)
    writer.write(encoder.close())
    while chunk := await reader.read(65536):
        events += decoder.feed(chunk)
    writer.close()
    return agreed, events, raw


def replies(events: list) -> list:
    return [e.text if e.is_text else e.data for e in events if isinstance(e, wsfast.Message)]


@pytest.mark.parametrize(
    "offer",
    [
        wsfast.PerMessageDeflate(),
        wsfast.PerMessageDeflate(client_no_context_takeover=True, client_max_window_bits=9),
        wsfast.PerMessageDeflate(server_max_window_bits=10, threshold=0),
    ],
)
def test_wsfast_client_frames_into_websockets_server(offer):
    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async def main():
        async with websockets_server.serve(echo, "127.0.0.1", 0, max_size=2**24) as server:
            port = server.sockets[0].getsockname()[1]
            return await wsfast_client(port, offer, MESSAGES)

    agreed, events, raw = asyncio.run(main())
    assert replies(events) == MESSAGES
    assert isinstance(events[-1], wsfast.Close)
    # websockets' server compresses what it sends back: RSV1 set on the first frame
    assert raw[0] & 0x40
    if offer.server_max_window_bits == 10:
        assert agreed.server_max_window_bits <= 10


def test_wsfast_client_frames_into_aiohttp_server():
    pytest.importorskip("websocket")  # tests/capture_traffic.py, the echo handler's home, needs it
    from .capture_traffic import aiohttp_echo

    async def handler(request):
        return await aiohttp_echo(request, compress=True, max_msg_size=2**24)

    async def main():
        app = aiohttp_web.Application()
        app.router.add_get("/", handler)
        runner = aiohttp_web.AppRunner(app)
        await runner.setup()
        site = aiohttp_web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            return await wsfast_client(port, wsfast.PerMessageDeflate(), MESSAGES)
        finally:
            await runner.cleanup()

    agreed, events, raw = asyncio.run(main())
    assert replies(events) == MESSAGES
    assert raw[0] & 0x40
