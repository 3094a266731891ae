"""Opening handshake helpers (RFC 6455 section 4).

Expected accept values come from the RFC (1.3) or from hashlib directly, never from the code
under test.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

import wsfast
from wsfast import (
    HandshakeError,
    HandshakeRequest,
    accept_key,
    accept_request,
    build_request,
    check_response,
    generate_key,
)

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def reference_accept(key: str) -> str:
    guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    return base64.b64encode(hashlib.sha1(key.encode() + guid).digest()).decode()


def changed(headers: dict[str, str], changes: dict[str, str | None]) -> list[tuple[str, str]]:
    """``headers`` with some replaced (a value) or removed (None); ``_`` in names stands for ``-``."""
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    return list(headers.items())


def client_headers(**changes: str | None) -> list[tuple[str, str]]:
    """The RFC 1.2 sample request's headers, with some replaced (value) or removed (None)."""
    headers = {
        "Host": "server.example.com",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": RFC_KEY,
        "Origin": "http://example.com",
        "Sec-WebSocket-Protocol": "chat, superchat",
        "Sec-WebSocket-Version": "13",
    }
    return changed(headers, changes)


def rejection(headers, method="GET", version="HTTP/1.1", **kwargs) -> str:
    with pytest.raises(HandshakeError) as info:
        accept_request(method, version, headers, **kwargs)
    return str(info.value)


# accept_key and generate_key


def test_accept_key_of_the_rfc_example():
    assert accept_key(RFC_KEY) == RFC_ACCEPT


def test_accept_key_takes_bytes_too():
    assert accept_key(RFC_KEY.encode()) == RFC_ACCEPT


def test_generated_keys_are_16_random_bytes_in_base64():
    keys = {generate_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert len(base64.b64decode(key, validate=True)) == 16


def test_public_names_are_exported_from_the_package():
    for name in wsfast.handshake.__all__:
        assert getattr(wsfast, name) is getattr(wsfast.handshake, name)


# server side: a valid request


def test_valid_request_gets_the_rfc_accept_value():
    response = accept_request("GET", "HTTP/1.1", client_headers())
    assert ("Sec-WebSocket-Accept", RFC_ACCEPT) in response.headers
    assert ("Upgrade", "websocket") in response.headers
    assert ("Connection", "Upgrade") in response.headers


def test_header_names_and_upgrade_values_compare_case_insensitively():
    headers = [(name.upper(), value) for name, value in client_headers()]
    headers = [
        (
            name,
            "WebSocket"
            if name == "UPGRADE"
            else "keep-alive, UPGRADE"
            if name == "CONNECTION"
            else value,
        )
        for name, value in headers
    ]
    response = accept_request("GET", "HTTP/1.1", headers)
    assert ("Sec-WebSocket-Accept", RFC_ACCEPT) in response.headers


def test_connection_upgrade_may_arrive_in_a_repeated_header():
    headers = client_headers(Connection="keep-alive") + [("Connection", "Upgrade")]
    accept_request("GET", "HTTP/1.1", headers)


def test_bytes_headers_are_accepted():
    headers = [(n.encode(), v.encode()) for n, v in client_headers()]
    response = accept_request("GET", "HTTP/1.1", headers)
    assert ("Sec-WebSocket-Accept", RFC_ACCEPT) in response.headers


def test_later_http_versions_are_accepted():
    accept_request("GET", "HTTP/2.0", client_headers())


def test_offered_extensions_are_declined_by_leaving_them_out():
    headers = client_headers() + [("Sec-WebSocket-Extensions", "permessage-deflate")]
    response = accept_request("GET", "HTTP/1.1", headers)
    assert all(name.lower() != "sec-websocket-extensions" for name, _ in response.headers)


def test_extra_headers_are_appended_to_the_response():
    response = accept_request(
        "GET", "HTTP/1.1", client_headers(), extra_headers=[("Server", "wsfast")]
    )
    assert response.headers[-1] == ("Server", "wsfast")


# server side: every rejection


@pytest.mark.parametrize("method", ["POST", "get", "HEAD"])
def test_a_method_other_than_get_is_rejected(method):
    assert rejection(client_headers(), method=method) == (
        f"unsupported method {method!r} (expected GET)"
    )


@pytest.mark.parametrize("version", ["HTTP/1.0", "HTTP/0.9", "HTTP/1", "SPDY/3"])
def test_http_versions_before_1_1_are_rejected(version):
    assert rejection(client_headers(), version=version) == (
        f"unsupported http version {version!r} (expected 1.1 or later)"
    )


def test_a_missing_host_is_rejected():
    assert rejection(client_headers(Host=None)) == "missing host header"


def test_a_missing_upgrade_is_rejected():
    assert rejection(client_headers(Upgrade=None)) == "missing upgrade header"


@pytest.mark.parametrize("value", ["h2c", "websockets", ""])
def test_an_upgrade_other_than_websocket_is_rejected(value):
    assert rejection(client_headers(Upgrade=value)) == f"invalid upgrade header {value!r}"


def test_a_missing_connection_is_rejected():
    assert rejection(client_headers(Connection=None)) == "missing connection header"


@pytest.mark.parametrize("value", ["keep-alive", "close", "upgraded", ""])
def test_a_connection_without_the_upgrade_option_is_rejected(value):
    assert rejection(client_headers(Connection=value)) == (
        f"connection header {value!r} lacks the upgrade option"
    )


def test_a_missing_version_is_rejected():
    assert rejection(client_headers(Sec_WebSocket_Version=None)) == (
        "missing sec-websocket-version header"
    )


@pytest.mark.parametrize("value", ["8", "12", "14", "13, 8", ""])
def test_a_version_other_than_13_is_rejected(value):
    assert rejection(client_headers(Sec_WebSocket_Version=value)) == (
        f"unsupported sec-websocket-version {value!r} (expected 13)"
    )


def test_a_missing_key_is_rejected():
    assert rejection(client_headers(Sec_WebSocket_Key=None)) == "missing sec-websocket-key header"


def test_a_repeated_key_is_rejected():
    headers = client_headers() + [("Sec-WebSocket-Key", RFC_KEY)]
    assert rejection(headers) == (
        f"several sec-websocket-key headers '{RFC_KEY}, {RFC_KEY}' (one is allowed)"
    )


@pytest.mark.parametrize("key", ["not base64!", "dGhlIHNhbXBsZSBub25jZQ", "dGhl IHNh", "é"])
def test_a_key_that_is_not_base64_is_rejected(key):
    assert rejection(client_headers(Sec_WebSocket_Key=key)) == (
        f"invalid sec-websocket-key {key!r} (not base64)"
    )


@pytest.mark.parametrize("size", [0, 1, 15, 17, 32])
def test_a_key_that_does_not_decode_to_16_bytes_is_rejected(size):
    key = base64.b64encode(bytes(range(size))).decode()
    assert rejection(client_headers(Sec_WebSocket_Key=key)) == (
        f"invalid sec-websocket-key {key!r} (decodes to {size} bytes, expected 16)"
    )


# server side: subprotocols


def test_the_servers_first_preference_the_client_offered_is_selected():
    response = accept_request(
        "GET", "HTTP/1.1", client_headers(), subprotocols=["superchat", "chat"]
    )
    assert response.subprotocol == "superchat"
    assert ("Sec-WebSocket-Protocol", "superchat") in response.headers


def test_subprotocols_offered_in_repeated_headers_are_all_considered():
    headers = client_headers(Sec_WebSocket_Protocol="chat") + [("Sec-WebSocket-Protocol", "v2")]
    response = accept_request("GET", "HTTP/1.1", headers, subprotocols=["v2"])
    assert response.subprotocol == "v2"


def test_no_common_subprotocol_selects_none_and_sends_no_header():
    response = accept_request("GET", "HTTP/1.1", client_headers(), subprotocols=["mqtt"])
    assert response.subprotocol is None
    assert all(name != "Sec-WebSocket-Protocol" for name, _ in response.headers)


def test_a_server_without_subprotocols_selects_none():
    assert accept_request("GET", "HTTP/1.1", client_headers()).subprotocol is None


def test_a_client_offering_no_subprotocol_gets_none():
    headers = client_headers(Sec_WebSocket_Protocol=None)
    assert accept_request("GET", "HTTP/1.1", headers, subprotocols=["chat"]).subprotocol is None


# client side


def test_a_built_request_carries_a_fresh_valid_key_and_the_required_headers():
    first, second = build_request("example.com:8080"), build_request("example.com:8080")
    assert first.key != second.key
    assert len(base64.b64decode(first.key, validate=True)) == 16
    headers = dict(first.headers)
    assert headers["Host"] == "example.com:8080"
    assert headers["Upgrade"] == "websocket"
    assert headers["Connection"] == "Upgrade"
    assert headers["Sec-WebSocket-Version"] == "13"
    assert headers["Sec-WebSocket-Key"] == first.key
    assert "Sec-WebSocket-Protocol" not in headers


def test_a_built_request_offers_subprotocols_and_origin():
    request = build_request("h", subprotocols=["chat", "superchat"], origin="http://h")
    headers = dict(request.headers)
    assert headers["Sec-WebSocket-Protocol"] == "chat, superchat"
    assert headers["Origin"] == "http://h"
    assert request.subprotocols == ("chat", "superchat")


@pytest.mark.parametrize("name", ["", "a b", "x,y", "é"])
def test_a_subprotocol_that_is_not_a_token_cannot_be_offered(name):
    with pytest.raises(ValueError, match="invalid subprotocol"):
        build_request("h", subprotocols=[name])


def rfc_request(subprotocols=()) -> HandshakeRequest:
    return HandshakeRequest([], RFC_KEY, tuple(subprotocols))


def server_headers(**changes: str | None) -> list[tuple[str, str]]:
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Accept": RFC_ACCEPT,
    }
    return changed(headers, changes)


def response_rejection(headers, status=101, subprotocols=()) -> str:
    with pytest.raises(HandshakeError) as info:
        check_response(rfc_request(subprotocols), status, headers)
    return str(info.value)


def test_the_rfc_response_is_accepted():
    response = check_response(rfc_request(), 101, server_headers())
    assert response.subprotocol is None and response.extensions == ()
    assert ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") in response.headers


@pytest.mark.parametrize("status", [200, 400, 426, 302])
def test_a_status_other_than_101_is_rejected(status):
    assert response_rejection(server_headers(), status=status) == (
        f"unexpected status {status} (expected 101)"
    )


def test_a_response_without_upgrade_websocket_is_rejected():
    assert response_rejection(server_headers(Upgrade=None)) == "missing upgrade header"
    assert response_rejection(server_headers(Upgrade="h2c")) == "invalid upgrade header 'h2c'"


def test_a_response_without_connection_upgrade_is_rejected():
    assert response_rejection(server_headers(Connection=None)) == "missing connection header"
    assert response_rejection(server_headers(Connection="close")) == (
        "connection header 'close' lacks the upgrade option"
    )


def test_a_missing_accept_is_rejected():
    assert response_rejection(server_headers(Sec_WebSocket_Accept=None)) == (
        "missing sec-websocket-accept header"
    )


def test_a_wrong_accept_is_rejected():
    wrong = reference_accept("x3JJHMbDL1EzLkh9GBhXDw==")
    assert response_rejection(server_headers(Sec_WebSocket_Accept=wrong)) == (
        f"wrong sec-websocket-accept {wrong!r} (expected {RFC_ACCEPT!r})"
    )


def test_an_extension_that_was_not_offered_is_rejected():
    headers = server_headers(Sec_WebSocket_Extensions="permessage-deflate")
    assert response_rejection(headers) == (
        "unexpected sec-websocket-extensions 'permessage-deflate' (not offered)"
    )


def test_an_offered_subprotocol_is_returned():
    headers = server_headers(Sec_WebSocket_Protocol="chat")
    assert check_response(rfc_request(["superchat", "chat"]), 101, headers).subprotocol == "chat"


def test_a_subprotocol_that_was_not_offered_is_rejected():
    headers = server_headers(Sec_WebSocket_Protocol="mqtt")
    assert response_rejection(headers, subprotocols=["chat"]) == (
        "unexpected subprotocol 'mqtt' (not offered)"
    )
    assert response_rejection(headers) == "unexpected subprotocol 'mqtt' (not offered)"


def test_several_selected_subprotocols_are_rejected():
    headers = server_headers(Sec_WebSocket_Protocol="chat, superchat")
    assert response_rejection(headers, subprotocols=["chat", "superchat"]) == (
        "several subprotocols selected 'chat, superchat' (at most one is allowed)"
    )


# both sides together


@pytest.mark.parametrize(
    ("offered", "supported", "selected"),
    [((), (), None), (("chat",), ("chat",), "chat"), (("a", "b"), ("c", "b"), "b")],
)
def test_client_request_server_response_client_check_round_trip(offered, supported, selected):
    request = build_request("localhost:9001", subprotocols=offered)
    response = accept_request("GET", "HTTP/1.1", request.headers, subprotocols=supported)
    assert dict(response.headers)["Sec-WebSocket-Accept"] == reference_accept(request.key)
    assert response.subprotocol == selected
    assert check_response(request, 101, response.headers).subprotocol == selected


def test_a_response_for_another_key_fails_the_clients_check():
    request, other = build_request("h"), build_request("h")
    response = accept_request("GET", "HTTP/1.1", other.headers)
    with pytest.raises(HandshakeError, match="wrong sec-websocket-accept"):
        check_response(request, 101, response.headers)
