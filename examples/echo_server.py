"""An asyncio WebSocket echo server on wsfast's sans-I/O Decoder and Encoder.

    python examples/echo_server.py --host 127.0.0.1 --port 9001

It echoes every message (text stays text), answers pings, completes the closing handshake
and, when the peer breaks the protocol, sends the close code the error carries.  The HTTP
request is parsed by the standard library (``http.server``), the upgrade checked by
``wsfast.accept_request``.  ``--port 0`` picks a free port; the first line printed names it.
It accepts permessage-deflate (RFC 7692) when the client offers it, with wsfast's default
policy; ``--no-deflate`` declines every extension instead.  ``--verbose`` prints a line per
connection: the extensions offered and agreed, and how the connection ended.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import io
import sys

import wsfast

MAX_MESSAGE_SIZE = 64 * 2**20  # Autobahn sends messages up to 16 MiB
STREAM_LIMIT = 2**20  # largest request head; also the read buffer size
VERBOSE = False
# what the server accepts: permessage-deflate with the default policy, or nothing
EXTENSIONS: list[wsfast.PerMessageDeflate] = [wsfast.PerMessageDeflate()]


def _log(writer: asyncio.StreamWriter, what: str) -> None:
    if VERBOSE:
        print(f"{writer.get_extra_info('peername')}: {what}", flush=True)


class _RequestHead(http.server.BaseHTTPRequestHandler):
    """The standard library's request-line and header parser, without its socket server."""

    error: tuple[int, str] | None = None

    def __init__(
        self, head: bytes
    ) -> None:  # no super().__init__: that would serve a socket
        self.rfile = io.BytesIO(head)
        self.wfile = io.BytesIO()
        self.raw_requestline = self.rfile.readline(65537)
        self.parsed = self.parse_request()

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        self.error = (code, message or "")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _http_response(
    status: str, headers: list[tuple[str, str]], body: bytes = b""
) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _refusal(status: str, message: str) -> bytes:
    body = f"{message}\n".encode()
    headers = [
        ("Sec-WebSocket-Version", "13"),  # RFC 6455 4.4: the version this server speaks
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ]
    return _http_response(status, headers, body)


async def _handshake(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> wsfast.HandshakeResponse | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    request = _RequestHead(head)
    if not request.parsed:
        code, message = request.error or (400, "bad request")
        writer.write(_refusal(f"{code} {request.responses[code][0]}", message))
        return None
    try:
        response = wsfast.accept_request(
            request.command,
            request.request_version,
            request.headers.items(),
            extensions=EXTENSIONS,
        )
    except wsfast.HandshakeError as exc:
        writer.write(_refusal("400 Bad Request", str(exc)))
        return None
    writer.write(_http_response("101 Switching Protocols", response.headers))
    # an offer not accepted is declined by leaving it out of the response (RFC 6455 9.1)
    offered = ", ".join(request.headers.get_all("Sec-WebSocket-Extensions") or []) or "none"
    agreed = dict(response.headers).get("Sec-WebSocket-Extensions", "none")
    _log(writer, f"open {request.path}; extensions offered: {offered}; agreed: {agreed}")
    return response


async def _echo(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    response: wsfast.HandshakeResponse,
) -> None:
    decoder = wsfast.Decoder(
        client=False, max_message_size=MAX_MESSAGE_SIZE, extensions=response.extensions
    )
    encoder = wsfast.Encoder(client=False, extensions=response.extensions)
    while True:
        chunk = await reader.read(STREAM_LIMIT)
        if not chunk:
            return  # the peer went away without a closing handshake
        error = None
        try:
            events = decoder.feed(chunk)
        except wsfast.ProtocolError as exc:
            # events completed before the violation in the same chunk are still answered
            events, error = getattr(exc, "events", []), exc
        for event in events:
            if isinstance(event, wsfast.Message):
                # header and payload handed over apart (writelines): a large binary payload
                # is not copied into its frame
                writer.writelines(
                    encoder.message_parts(event.text if event.is_text else event.data)
                )
            elif isinstance(event, wsfast.Ping):
                writer.write(encoder.pong(event.payload))
            elif isinstance(event, wsfast.Close):
                # 5.5.1: echo the status code received (an empty close gets an empty one back)
                writer.write(encoder.close(event.code))
                await writer.drain()
                _log(writer, f"closing handshake, code {event.code} {event.reason!r}")
                return
        if error is not None:
            writer.write(encoder.close(error.code))
            _log(writer, f"protocol error, close code {error.code}: {error}")
            await writer.drain()
            return
        await writer.drain()


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        response = await _handshake(reader, writer)
        if response is not None:
            await _echo(reader, writer, response)
        else:
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        # 7.1.1: after the closing handshake the server closes the TCP connection first
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def main(host: str, port: int) -> None:
    server = await asyncio.start_server(
        serve_connection, host, port, limit=STREAM_LIMIT
    )
    bound = server.sockets[0].getsockname()
    print(
        f"listening on ws://{bound[0]}:{bound[1]} (wsfast {wsfast.__version__}, "
        f"backend {wsfast.BACKEND})",
        flush=True,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001, help="0 picks a free port")
    parser.add_argument(
        "--verbose", action="store_true", help="a line per connection event"
    )
    parser.add_argument(
        "--no-deflate", action="store_true", help="decline permessage-deflate offers"
    )
    args = parser.parse_args()
    VERBOSE = args.verbose
    if args.no_deflate:
        EXTENSIONS = []
    try:
        asyncio.run(main(args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)
