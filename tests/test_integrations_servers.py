"""tornado, autobahn and ws4py patched answer as unpatched: echo servers over a socket,
talked to by a raw client."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from typing import Any

from .integration_traffic import (
    BIG,
    KEY,
    SOCKET_CONVERSATIONS,
    compare,
    conversations,
    echoed,
    needs,
    over_socket,
    talk,
)


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
