"""Opening handshake helpers (RFC 6455 section 4), on header lists.

Headers are a list of ``(name, value)`` pairs as any HTTP library yields them (str, or bytes
decoded as Latin-1); names compare case-insensitively and repeated headers are combined as
HTTP/1.1 combines comma-separated lists.  Reading and writing the HTTP messages themselves is
left to the caller: there is no HTTP parser here.

Server side::

    response = accept_request(method, http_version, headers, subprotocols=["chat"])
    # send "HTTP/1.1 101 Switching Protocols" with response.headers

Client side::

    request = build_request("example.com", subprotocols=["chat"])
    # send "GET /path HTTP/1.1" with request.headers, read the response
    response = check_response(request, status, response_headers)

Both sides negotiate permessage-deflate (RFC 7692) when given ``extensions=[PerMessageDeflate()]``:
``response.extensions`` holds the agreed parameters, for ``Decoder(extensions=...)`` and
``Encoder(extensions=...)``.  Every failure raises :class:`~wsfast.errors.HandshakeError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .deflate import NAME as _DEFLATE
from .deflate import PerMessageDeflate, checked, parse_extensions
from .errors import HandshakeError

__all__ = [
    "HandshakeRequest",
    "HandshakeResponse",
    "PerMessageDeflate",
    "accept_key",
    "accept_request",
    "build_request",
    "check_response",
    "generate_key",
]

# RFC 6455 1.3: the GUID appended to the key before hashing.
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# RFC 7230 3.2.6: a token (subprotocol names are tokens, RFC 6455 4.1 item 10).
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HTTP_VERSION = re.compile(r"HTTP/(\d+)\.(\d+)")

Header = tuple[str | bytes, str | bytes]
Headers = Iterable[Header]


class HandshakeRequest(NamedTuple):
    """A client's upgrade request: the headers to send, the key they carry and the offered
    subprotocols and extensions (needed again to check the response)."""

    headers: list[tuple[str, str]]
    key: str
    subprotocols: tuple[str, ...]
    extensions: tuple[PerMessageDeflate, ...] = ()


class HandshakeResponse(NamedTuple):
    """A handshake's outcome: the headers of the 101 response (built by the server, received by
    the client), the selected subprotocol and the agreed extensions (empty when none was)."""

    headers: list[tuple[str, str]]
    subprotocol: str | None
    extensions: tuple[PerMessageDeflate, ...] = ()


def accept_key(key: str | bytes) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 1.3 and 4.2.2 item 5.4)."""
    if isinstance(key, (bytes, bytearray)):
        key = bytes(key).decode("ascii")
    return base64.b64encode(hashlib.sha1((key + _GUID).encode("ascii")).digest()).decode("ascii")


def generate_key() -> str:
    """A fresh Sec-WebSocket-Key: 16 random bytes, base64-encoded (RFC 6455 4.1 item 7)."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_request(
    method: str,
    http_version: str,
    headers: Headers,
    *,
    subprotocols: Sequence[str] = (),
    extensions: Sequence[PerMessageDeflate] = (),
    extra_headers: Headers = (),
) -> HandshakeResponse:
    """Check a client's opening handshake (RFC 6455 4.2.1) and build the 101 response headers.

    ``http_version`` is the request line's version, such as ``"HTTP/1.1"``.  ``subprotocols``
    lists the server's subprotocols in order of preference: the first one the client also
    offered is selected; when there is none, the response names no subprotocol (the client
    decides whether to go on).  ``extensions`` lists the server's PerMessageDeflate policies:
    the client's first offer one of them accepts is agreed (RFC 7692 5: offers with unknown,
    duplicated or invalid parameters are skipped, never a failure).  ``extra_headers`` are
    appended to the response as given.
    """
    policies = checked(extensions)
    if method != "GET":
        raise HandshakeError(f"unsupported method {method!r} (expected GET)")
    _check_http_version(http_version)
    fields = _fields(headers)
    if not fields.get("host"):
        raise HandshakeError("missing host header")
    _check_upgrade(fields)
    _check_connection(fields)
    version = _single(fields, "sec-websocket-version")
    if version != "13":
        raise HandshakeError(f"unsupported sec-websocket-version {version!r} (expected 13)")
    key = _single(fields, "sec-websocket-key")
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise HandshakeError(f"invalid sec-websocket-key {key!r} (not base64)") from None
    if len(raw) != 16:
        raise HandshakeError(
            f"invalid sec-websocket-key {key!r} (decodes to {len(raw)} bytes, expected 16)"
        )

    offered = _tokens(fields, "sec-websocket-protocol")
    selected = next((p for p in subprotocols if p in offered), None)
    response = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept_key(key)),
    ]
    if selected is not None:
        response.append(("Sec-WebSocket-Protocol", selected))
    agreed = _agree(policies, fields.get("sec-websocket-extensions", ()))
    if agreed is not None:
        response.append(("Sec-WebSocket-Extensions", agreed[1]))
    response.extend((_text(name), _text(value)) for name, value in extra_headers)
    return HandshakeResponse(response, selected, () if agreed is None else (agreed[0],))


def _agree(
    policies: tuple[PerMessageDeflate, ...], values: Sequence[str]
) -> tuple[PerMessageDeflate, str] | None:
    """The first offer in the client's header that a policy accepts (RFC 7692 5): the agreed
    parameters and the answer to send."""
    if not policies or not values:
        return None
    try:
        offers = parse_extensions(values)
    except ValueError:
        return None  # a header that cannot be read offers nothing we can accept
    for name, params in offers:
        if name.lower() != _DEFLATE:
            continue
        for policy in policies:
            agreed = policy.accept(params)
            if agreed is not None:
                return agreed
    return None


def build_request(
    host: str,
    *,
    subprotocols: Sequence[str] = (),
    extensions: Sequence[PerMessageDeflate] = (),
    origin: str | None = None,
    extra_headers: Headers = (),
) -> HandshakeRequest:
    """The headers of a client's opening handshake (RFC 6455 4.1), with a fresh key.

    ``host`` is the Host header (``"example.com"`` or ``"example.com:8080"``); the caller
    writes the request line ``GET <resource> HTTP/1.1`` itself.  ``extensions``:
    PerMessageDeflate policies to offer, in order of preference.
    """
    policies = checked(extensions)
    offered = tuple(subprotocols)
    for name in offered:
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid subprotocol {name!r}: it must be an HTTP token")
    key = generate_key()
    headers = [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if offered:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(offered)))
    if policies:
        headers.append(("Sec-WebSocket-Extensions", ", ".join(p.offer() for p in policies)))
    if origin is not None:
        headers.append(("Origin", origin))
    headers.extend((_text(name), _text(value)) for name, value in extra_headers)
    return HandshakeRequest(headers, key, offered, policies)


def check_response(request: HandshakeRequest, status: int, headers: Headers) -> HandshakeResponse:
    """Check the server's answer to ``request`` (RFC 6455 4.1, the client's checks 1-6; RFC
    7692 for permessage-deflate) and return the headers received, the subprotocol selected (or
    None) and the extensions agreed."""
    received = [(_text(name), _text(value)) for name, value in headers]
    if status != 101:
        raise HandshakeError(f"unexpected status {status} (expected 101)")
    fields = _fields(received)
    _check_upgrade(fields)
    _check_connection(fields)
    accept = _single(fields, "sec-websocket-accept")
    expected = accept_key(request.key)
    if accept != expected:
        raise HandshakeError(f"wrong sec-websocket-accept {accept!r} (expected {expected!r})")
    agreed = _check_extensions(request, fields.get("sec-websocket-extensions", []))
    selected = _tokens(fields, "sec-websocket-protocol")
    if not selected:
        return HandshakeResponse(received, None, agreed)
    if len(selected) > 1:
        raise HandshakeError(
            f"several subprotocols selected {', '.join(selected)!r} (at most one is allowed)"
        )
    if selected[0] not in request.subprotocols:
        raise HandshakeError(f"unexpected subprotocol {selected[0]!r} (not offered)")
    return HandshakeResponse(received, selected[0], agreed)


def _check_extensions(
    request: HandshakeRequest, values: list[str]
) -> tuple[PerMessageDeflate, ...]:
    """4.1 item 5: every extension in use must have been offered; RFC 7692 7.1: the answer must
    fit one of the offers."""
    try:
        answered = parse_extensions(values)
    except ValueError as exc:
        raise HandshakeError(str(exc)) from None
    if not answered:
        return ()
    name, params = answered[0]
    if name.lower() != _DEFLATE or not request.extensions:
        raise HandshakeError(f"unexpected sec-websocket-extensions {name!r} (not offered)")
    if len(answered) > 1:
        raise HandshakeError(f"several extensions in use {', '.join(values)!r} (one was offered)")
    # The answer accepts one of the offers: the first it fits is the one the server took.
    error: HandshakeError | None = None
    for policy in request.extensions:
        try:
            return (policy.check(params),)
        except HandshakeError as exc:
            error = error or exc
    assert error is not None
    raise error


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else value


def _fields(headers: Headers) -> dict[str, list[str]]:
    """Header values by lowercase name, in order, surrounding whitespace removed."""
    fields: dict[str, list[str]] = {}
    for name, value in headers:
        fields.setdefault(_text(name).strip().lower(), []).append(_text(value).strip())
    return fields


def _single(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name)
    if not values:
        raise HandshakeError(f"missing {name} header")
    if len(values) > 1:
        raise HandshakeError(f"several {name} headers {', '.join(values)!r} (one is allowed)")
    return values[0]


def _tokens(fields: dict[str, list[str]], name: str) -> list[str]:
    """The comma-separated elements of every ``name`` header, empty elements skipped
    (RFC 7230 7: a recipient accepts and ignores them)."""
    return [
        item.strip() for value in fields.get(name, ()) for item in value.split(",") if item.strip()
    ]


def _check_http_version(http_version: str) -> None:
    match = _HTTP_VERSION.fullmatch(http_version.strip())
    if match is None or (int(match[1]), int(match[2])) < (1, 1):
        raise HandshakeError(f"unsupported http version {http_version!r} (expected 1.1 or later)")


def _check_upgrade(fields: dict[str, list[str]]) -> None:
    # 4.2.1 item 3 and 4.1 item 2: Upgrade includes "websocket", case-insensitively
    if not _has_token(fields, "upgrade", "websocket"):
        raise HandshakeError(f"invalid upgrade header {', '.join(fields['upgrade'])!r}")


def _check_connection(fields: dict[str, list[str]]) -> None:
    # 4.2.1 item 4 and 4.1 item 3: Connection includes the "Upgrade" option
    if not _has_token(fields, "connection", "upgrade"):
        joined = ", ".join(fields["connection"])
        raise HandshakeError(f"connection header {joined!r} lacks the upgrade option")


def _has_token(fields: dict[str, list[str]], name: str, token: str) -> bool:
    """Whether header ``name`` lists ``token`` (ASCII case-insensitive); missing: an error."""
    if name not in fields:
        raise HandshakeError(f"missing {name} header")
    return any(item.lower() == token for item in _tokens(fields, name))
