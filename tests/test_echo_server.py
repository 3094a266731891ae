"""examples/echo_server.py over a real socket: handshake, echo, ping, closing handshake, errors.

Autobahn (tests/test_autobahn.py) covers the protocol in depth; these check the edges it does
not: refused handshakes, permessage-deflate accepted by default and declined with --no-deflate.
"""

from __future__ import annotations

import http.client
import os
import socket

import pytest

import wsfast

from .echo_process import SERVER, start_echo_server


@pytest.fixture(scope="module")
def port():
    if not SERVER.exists():
        pytest.skip(f"{SERVER} is missing: these tests do not run from a checkout")
    process, port = start_echo_server()
    yield port
    process.terminate()
    process.wait(10)


def connect(port: int, headers: list[tuple[str, str]], request_line: str = "GET / HTTP/1.1"):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = request_line + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n"
    sock.sendall(head.encode())
    reader = sock.makefile("rb")
    status = int(reader.readline().split()[1])
    return sock, reader, status, http.client.parse_headers(reader)


def receive_all(reader, decoder: wsfast.Decoder) -> list:
    events = []
    while chunk := reader.read1(65536):
        events += decoder.feed(chunk)
    return events


def test_messages_are_echoed_with_their_type_and_the_close_code_comes_back(port):
    request = wsfast.build_request(f"127.0.0.1:{port}")
    sock, reader, status, headers = connect(port, request.headers)
    assert wsfast.check_response(request, status, headers.items()).subprotocol is None
    encoder = wsfast.Encoder(client=True)
    text, binary = "h\u00e9llo \u6f22\u5b57 \U0001f600", os.urandom(70000)
    sock.sendall(
        encoder.message(text, fragment_size=5)
        + encoder.message(binary)
        + encoder.ping(b"are you there")
        + encoder.close(4321, "done")
    )
    events = receive_all(reader, wsfast.Decoder(client=True))
    assert events == [
        wsfast.Message(text.encode(), True),
        wsfast.Message(binary, False),
        wsfast.Pong(b"are you there"),
        wsfast.Close(4321, ""),
    ]
    sock.close()


def test_an_offered_permessage_deflate_is_accepted_and_messages_come_back_compressed(port):
    offer = wsfast.PerMessageDeflate(client_max_window_bits=10)
    request = wsfast.build_request(f"127.0.0.1:{port}", extensions=[offer])
    sock, reader, status, headers = connect(port, request.headers)
    response = wsfast.check_response(request, status, headers.items())
    (agreed,) = response.extensions
    assert agreed.client_max_window_bits == 10
    encoder = wsfast.Encoder(client=True, extensions=response.extensions)
    text = "compressed \u00e9\u6f22 " * 300
    sock.sendall(
        encoder.message(text, fragment_size=100)
        + encoder.message(b"\x00" * 5000)
        + encoder.message("tiny", compress=False)
        + encoder.close()
    )
    raw = b""
    decoder = wsfast.Decoder(client=True, extensions=response.extensions)
    events = []
    while chunk := reader.read1(65536):
        raw += chunk
        events += decoder.feed(chunk)
    assert [e.text if isinstance(e, wsfast.Message) and e.is_text else e for e in events] == [
        text,
        wsfast.Message(b"\x00" * 5000, False),
        "tiny",
        wsfast.Close(1000, ""),
    ]
    # the server compressed what it sent: RSV1 on its first frame, far fewer bytes on the wire
    assert raw[0] & 0x40 and len(raw) < len(text) // 4
    sock.close()


def test_with_no_deflate_an_offered_permessage_deflate_is_declined():
    process, port = start_echo_server(None, "--no-deflate")
    try:
        request = wsfast.build_request(
            f"127.0.0.1:{port}", extensions=[wsfast.PerMessageDeflate()]
        )
        sock, _, status, headers = connect(port, request.headers)
        assert status == 101
        assert headers.get("Sec-WebSocket-Extensions") is None
        assert wsfast.check_response(request, status, headers.items()).extensions == ()
        sock.close()
    finally:
        process.terminate()
        process.wait(10)


def test_a_protocol_error_is_answered_with_its_close_code(port):
    request = wsfast.build_request(f"127.0.0.1:{port}")
    sock, reader, status, _ = connect(port, request.headers)
    assert status == 101
    sock.sendall(bytes.fromhex("81 05 48 65 6c 6c 6f"))  # unmasked: clients must mask (5.1)
    assert receive_all(reader, wsfast.Decoder(client=True)) == [wsfast.Close(1002, "")]
    sock.close()


def test_a_request_without_upgrade_is_refused_with_the_reason(port):
    sock, reader, status, headers = connect(port, [("Host", "localhost")])
    assert status == 400
    assert headers["Sec-WebSocket-Version"] == "13"
    assert reader.read(int(headers["Content-Length"])) == b"missing upgrade header\n"
    sock.close()


def test_a_malformed_request_line_is_refused(port):
    sock, _, status, _ = connect(port, [("Host", "localhost")], request_line="NONSENSE")
    assert status == 400
    sock.close()
