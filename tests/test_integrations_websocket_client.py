"""websocket-client patched behaves exactly as unpatched: a real client over loopback, talked
to by a raw server that sends each conversation of tests/integration_traffic.py (valid messages, invalid
UTF-8 in messages, fragments and close reasons, protocol violations), with and without
``skip_utf8_validation``; what the client returns, the errors it raises and the frames it sends
back are compared.  Its validator and mask are also compared call by call.
"""

from __future__ import annotations

import base64
import hashlib
import random
import socket
import sys
import threading
from array import array
from typing import Any

import pytest

from .integration_traffic import (
    BIG,
    KEY,
    TEXT,
    compare,
    conversations,
    needs,
    server_frames,
)

pytestmark = needs("websocket-client")

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def raw_server(traffic: bytes, out: list) -> int:
    """A one-connection server on loopback: answers the handshake, sends ``traffic`` in odd
    pieces and closes its side, then appends everything the client sent to ``out`` until it hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        listener.close()
        with conn:
            conn.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            at, sizes = 0, [5, 3000, 1, 65536, 17]
            i = 0
            while at < len(traffic):
                conn.sendall(traffic[at : at + sizes[i % len(sizes)]])
                at += sizes[i % len(sizes)]
                i += 1
            conn.shutdown(socket.SHUT_WR)  # the client reads to the end, then sees it closed
            got = b""
            try:
                while more := conn.recv(65536):
                    got += more
            except OSError:
                pass
            out.append(server_frames(got))

    threading.Thread(target=serve, daemon=True).start()
    return port


def client_run(traffic: bytes, skip: bool) -> list:
    """What a websocket-client connection makes of ``traffic``: every frame recv_data returns,
    the error that ends it, and what it sent to the server (a text and a binary message
    first, masked with its random keys)."""
    import websocket

    sent: list = []
    port = raw_server(traffic, sent)
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/", timeout=10, skip_utf8_validation=skip
    )
    ws.send(TEXT.decode() * 3)
    ws.send_binary(BIG)
    out: list[Any] = []
    try:
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            out.append((opcode, data))
            if opcode == 8:
                break
    except Exception as exc:  # noqa: BLE001 - the error is part of the behaviour compared
        out.append(f"{type(exc).__name__}: {exc}")
    ws.shutdown()
    for _ in range(100):
        if sent:
            break
        threading.Event().wait(0.05)
    return [out, sent]


CONVERSATIONS = {
    **{name: data for name, data in conversations(None).items()},
    # a server that masks (no server should): websocket-client unmasks it all the same
    "masked-by-server": conversations(KEY)["messages"],
}


@pytest.mark.parametrize("skip", [False, True], ids=["validating", "skip_utf8_validation"])
def test_websocket_client_receives_and_sends_the_same(patching, skip):
    def run() -> dict:
        return {name: client_run(data, skip) for name, data in CONVERSATIONS.items()}

    out = compare(run, patching, "websocket-client", "mask")
    if not skip:
        assert patching.calls["validate_utf8"] > 0
        assert "cannot decode" in out["invalid-utf8"][0][-1]
        assert "Invalid close frame" in out["close-reason-invalid-utf8"][0][-1]
    else:  # the check is skipped: the invalid bytes come through
        assert out["invalid-utf8"][0][-2] == (1, b"caf\xc3\xa9 \xc3\x28 x")
    # what the client sent reached the server intact
    sent = out["messages"][1][0]
    assert (1, True, TEXT * 3) in sent and (2, True, BIG) in sent


def utf8_inputs() -> list[Any]:
    rng = random.Random(3629)
    good = ["", "a", "é", "€", "𝄞", "κόσμε" * 50, "日本語" * 3000]
    out: list[Any] = [g.encode() for g in good]
    for g in good[1:]:
        data = g.encode()
        out += [data[:-1], data[1:], data + b"\x80", b"\xc0\xaf" + data, data + b"\xed\xa0\x80"]
        out += [data + b"\xf4\x90\x80\x80", data + b"\xff", data + b"\xe0\x80"]
    out += [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12))) for _ in range(400)]
    out += [b"a" * 70000 + b"\xc3", b"a" * 70000 + b"\xc3\x28", bytearray(b"caf\xc3\xa9")]
    # str, as its callers may pass: encoded with surrogatepass first, surrogates then fail
    out += ["plain", "κόσμε", "lone \udc80 surrogate", "\ud83d\ude00 pair"]
    return out


def test_websocket_client_validate_utf8_answers_as_its_own(patching):
    from websocket import _abnf, _utils

    inputs = utf8_inputs()
    before = [_utils.validate_utf8(x) for x in inputs]
    patching("websocket-client")
    assert _abnf.validate_utf8 is _utils.validate_utf8
    after = [_abnf.validate_utf8(x) for x in inputs]
    assert after == before
    # cut short inside a character is still accepted, as websocket-client's DFA does
    assert _abnf.validate_utf8("€".encode()[:2]) is True
    assert _abnf.validate_utf8(b"\xc3\x28") is False


def test_websocket_client_mask_gives_the_same_bytes(patching):
    from websocket import _abnf

    rng = random.Random(6455)
    cases: list[tuple[Any, Any]] = [(b"abcd", None), ("abcd", "text"), (b"\x00\x00\x00\x00", b"")]
    cases += [(rng.randbytes(4), rng.randbytes(n)) for n in (1, 3, 4, 125, 126, 4099, 70001)]
    cases += [("\xff\x01\x02\x03", "latin-1 \xe9"), (b"abc", b"short key"), (b"abcde", b"long")]
    # _mask itself, as websocket-client calls it (arrays), with 4-byte and odd keys
    arrays = [(array("B", k), array("B", d)) for k, d in [(b"abcd", b"12345"), (b"abc", b"1234")]]
    def masked(key: Any, data: Any) -> Any:
        try:
            return _abnf.ABNF.mask(key, data)
        except Exception as exc:  # noqa: BLE001 - a key that is not 4 bytes: its own answer
            return repr(exc)

    def masked_arrays() -> list:
        out = []
        for key, data in arrays:
            try:
                out.append(_abnf._mask(key, data))
            except Exception as exc:  # noqa: BLE001 - its own answer to an odd key
                out.append(repr(exc))
        return out

    before = [masked(k, d) for k, d in cases], masked_arrays()
    patching("websocket-client")
    after = [masked(k, d) for k, d in cases], masked_arrays()
    assert after == before
    assert patching.calls["apply_mask"] > 0


@pytest.mark.parametrize("missing", ["module", "mask"])
def test_a_websocket_client_without_its_names_is_refused(monkeypatch, missing):
    import wsfast
    from wsfast import integrations

    if missing == "module":  # another distribution's ``websocket``, without websocket._abnf
        import websocket

        monkeypatch.setitem(sys.modules, "websocket._abnf", None)
        monkeypatch.delattr(websocket, "_abnf")
        match = r"websocket-client .* has no websocket\._abnf"
    else:
        from websocket import _abnf

        monkeypatch.delattr(_abnf.ABNF, "mask")
        match = r"websocket-client .* has no static method ABNF\.mask"
    integrations.unpatch()
    with pytest.raises(integrations.UnsupportedVersion, match=match):
        wsfast.patch("websocket-client")
    assert integrations.patched() == []
