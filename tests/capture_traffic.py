"""Real peers talking over loopback, for tests/test_capture_peers.py to record with tcpdump.

    python tests/capture_traffic.py ECHO_PORT

Binds its servers (websockets with and without compression, aiohttp with compression) on free
ports and prints them as one JSON line; on a line from standard input it runs every
conversation (the clients: websockets, aiohttp, websocket-client against wsfast's echo server
on ECHO_PORT), then prints one JSON line per conversation: the server port and every message
the client sent, in order, as the ground truth the dissections are checked against.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys

import aiohttp
import websocket
from aiohttp import web
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

MSS = 1400  # small segments, so that a 100 KB message spans many of them

TEXTS = ["hello", "\u00e9t\u00e9", "\u20ac uro", "\U0001f600 grin", "a\u00e9\u20ac\U0001f600" * 40]
BIG_TEXT = "".join(chr(0x20 + i % 90) for i in range(100_000))
BIG_BINARY = bytes(i * 7 % 256 for i in range(100_000))
BINARY = bytes(range(256))


def listening(family: int = socket.AF_INET, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)
    sock.bind((host, 0))
    sock.listen()
    sock.setblocking(False)
    return sock


async def echo(ws) -> None:
    async for message in ws:
        await ws.send(message)


def text(value: str) -> dict:
    return {"kind": "text", "text": value}


def binary(value: bytes) -> dict:
    return {"kind": "binary", "hex": value.hex()}


async def websockets_client(port: int, host: str = "127.0.0.1", **options) -> list[dict]:
    sent: list[dict] = []
    async with connect(f"ws://{host}:{port}/chat", max_size=2**22, **options) as ws:
        for value in [*TEXTS, "", BIG_TEXT]:
            await ws.send(value)
            sent.append(text(value))
            assert await ws.recv() == value
        for value in [BINARY, b"", BIG_BINARY]:
            await ws.send(value)
            sent.append(binary(value))
            assert await ws.recv() == value
        await ws.send(["frag", "men", "ted \u00e9"])  # a fragmented text message
        sent.append(text("fragmented \u00e9"))
        assert await ws.recv() == "fragmented \u00e9"
        await ws.send([b"\x01\x02", b"\x03"])
        sent.append(binary(b"\x01\x02\x03"))
        assert await ws.recv() == b"\x01\x02\x03"
        await (await ws.ping(b"are you there"))
        await ws.close(1000, "bye")
    return sent


async def aiohttp_echo(request: web.Request, **options: object) -> web.WebSocketResponse:
    """An aiohttp WebSocket handler that echoes every message; ``options`` go to its
    WebSocketResponse (compress=True for permessage-deflate)."""
    ws = web.WebSocketResponse(**options)  # type: ignore[arg-type]
    await ws.prepare(request)
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT:
            await ws.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


async def aiohttp_conversation(sock: socket.socket) -> list[dict]:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        return await aiohttp_echo(request, compress=True)

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    sent: list[dict] = []
    port = sock.getsockname()[1]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{port}/", compress=15) as ws:
                for value in [*TEXTS, "", BIG_TEXT]:
                    await ws.send_str(value)
                    sent.append(text(value))
                    assert (await ws.receive()).data == value
                for value in [BINARY, BIG_BINARY]:
                    await ws.send_bytes(value)
                    sent.append(binary(value))
                    assert (await ws.receive()).data == value
                await ws.ping(b"ping")
                await ws.close(code=1000, message=b"done")
    finally:
        await runner.cleanup()
    return sent


def websocket_client(port: int) -> list[dict]:
    sent: list[dict] = []
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/", sockopt=[(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)]
    )
    for value in [*TEXTS, "", BIG_TEXT]:
        ws.send(value)
        sent.append(text(value))
        assert ws.recv() == value
    for value in [BINARY, BIG_BINARY]:
        ws.send_binary(value)
        sent.append(binary(value))
        assert ws.recv() == value
    ws.send_frame(websocket.ABNF.create_frame("frag", websocket.ABNF.OPCODE_TEXT, 0))
    ws.ping("in between")  # a control frame between the fragments (RFC 6455 5.4)
    ws.send_frame(websocket.ABNF.create_frame("ment", websocket.ABNF.OPCODE_CONT, 1))
    sent.append(text("fragment"))
    assert ws.recv() == "fragment"
    ws.close(status=1000, reason=b"so long")
    return sent


async def main() -> None:
    echo_port = int(sys.argv[1])
    plain, deflate, tuned, aio = (listening() for _ in range(4))
    try:
        ipv6 = listening(socket.AF_INET6, "::1")
    except OSError:
        ipv6 = None
    servers = [
        await serve(echo, sock=plain, compression=None, max_size=2**22),
        await serve(echo, sock=deflate, max_size=2**22),
        await serve(echo, sock=tuned, max_size=2**22),
    ]
    if ipv6 is not None:
        servers.append(await serve(echo, sock=ipv6, compression=None, max_size=2**22))
    ports = {
        "websockets": plain.getsockname()[1],
        "websockets-deflate": deflate.getsockname()[1],
        "websockets-tuned": tuned.getsockname()[1],
        "aiohttp": aio.getsockname()[1],
        "echo": echo_port,
    }
    if ipv6 is not None:
        ports["websockets-ipv6"] = ipv6.getsockname()[1]
    print(json.dumps(ports), flush=True)
    await asyncio.to_thread(sys.stdin.readline)

    done = []
    done.append(
        ("websockets", await websockets_client(ports["websockets"], compression=None), False)
    )
    done.append(("websockets-deflate", await websockets_client(ports["websockets-deflate"]), True))
    tuned_offer = ClientPerMessageDeflateFactory(
        client_no_context_takeover=True, server_max_window_bits=10, client_max_window_bits=9
    )
    done.append(
        (
            "websockets-tuned",
            await websockets_client(
                ports["websockets-tuned"], compression=None, extensions=[tuned_offer]
            ),
            True,
        )
    )
    done.append(("aiohttp", await aiohttp_conversation(aio), True))
    done.append(("echo", await asyncio.to_thread(websocket_client, echo_port), False))
    if ipv6 is not None:
        done.append(
            (
                "websockets-ipv6",
                await websockets_client(ports["websockets-ipv6"], "[::1]", compression=None),
                False,
            )
        )
    for server in servers:
        server.close()
        await server.wait_closed()
    for name, sent, compressed in done:
        print(
            json.dumps({"name": name, "port": ports[name], "compressed": compressed, "sent": sent})
        )


if __name__ == "__main__":
    asyncio.run(main())
