"""permessage-deflate negotiation (RFC 7692 5 and 7) on both sides of the handshake, held to
websockets' own client and server code as the peer that judges the answers."""

from __future__ import annotations

import itertools

import pytest

import wsfast
from wsfast import HandshakeError, PerMessageDeflate, accept_request, build_request, check_response

websockets_deflate = pytest.importorskip("websockets.extensions.permessage_deflate")
websockets_headers = pytest.importorskip("websockets.headers")


def request_headers(offer: str | None) -> list[tuple[str, str]]:
    headers = build_request("localhost").headers
    if offer is not None:
        headers.append(("Sec-WebSocket-Extensions", offer))
    return headers


def agree(offer: str | None, *policies: PerMessageDeflate) -> wsfast.HandshakeResponse:
    return accept_request(
        "GET", "HTTP/1.1", request_headers(offer), extensions=policies or [PerMessageDeflate()]
    )


def answer(response: wsfast.HandshakeResponse) -> str | None:
    return dict(response.headers).get("Sec-WebSocket-Extensions")


# --- server ------------------------------------------------------------------------------------


def test_a_browser_offer_is_accepted_with_the_default_windows():
    response = agree("permessage-deflate; client_max_window_bits")
    assert answer(response) == (
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"
    )
    (agreed,) = response.extensions
    assert (agreed.server_max_window_bits, agreed.client_max_window_bits) == (12, 12)
    assert not agreed.server_no_context_takeover and not agreed.client_no_context_takeover


def test_no_offer_or_no_policy_agrees_nothing():
    assert agree(None).extensions == () and answer(agree(None)) is None
    response = accept_request(
        "GET", "HTTP/1.1", request_headers("permessage-deflate"), extensions=()
    )
    assert response.extensions == () and answer(response) is None


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; foo",  # unknown parameter
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",  # takes no value
        "permessage-deflate; server_max_window_bits",  # needs a value
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=010",  # leading zero
        'permessage-deflate; client_max_window_bits="1 0"',
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=11",
        "x-webkit-deflate-frame",
        "permessage-deflate; ;",  # malformed
    ],
)
def test_an_offer_with_an_unknown_duplicated_or_invalid_parameter_is_declined(offer):
    response = agree(offer)
    assert response.extensions == () and answer(response) is None


def test_the_first_acceptable_offer_wins_after_declined_ones():
    # Autobahn 13.7 offers alternatives in one header
    response = agree(
        "permessage-deflate; foo=1, "
        "permessage-deflate; client_max_window_bits=9; server_max_window_bits=10, "
        "permessage-deflate"
    )
    assert answer(response) == (
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"
    )


def test_a_quoted_value_is_read_as_its_token():
    response = agree('permessage-deflate; server_max_window_bits="10"')
    assert response.extensions[0].server_max_window_bits == 10


def test_offered_parameters_are_honoured_and_policies_can_add_their_own():
    response = agree(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=15",
        PerMessageDeflate(server_max_window_bits=15),
    )
    (agreed,) = response.extensions
    assert agreed.server_no_context_takeover and agreed.client_no_context_takeover
    assert answer(response) == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=15"  # answered although 15: it was offered
    )
    # a server may always ask for no context takeover and limit its own window
    policy = PerMessageDeflate(
        server_no_context_takeover=True, client_no_context_takeover=True, server_max_window_bits=9
    )
    assert answer(agree("permessage-deflate", policy)) == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=9"
    )


def test_the_client_window_is_limited_only_when_the_client_offered_the_parameter():
    policy = PerMessageDeflate(client_max_window_bits=10)
    assert agree("permessage-deflate", policy).extensions[0].client_max_window_bits == 15
    assert agree("permessage-deflate; client_max_window_bits", policy).extensions[
        0
    ].client_max_window_bits == 10
    assert agree("permessage-deflate; client_max_window_bits=9", policy).extensions[
        0
    ].client_max_window_bits == 9
    assert agree("permessage-deflate; client_max_window_bits=14", policy).extensions[
        0
    ].client_max_window_bits == 10


def test_a_window_of_8_bits_is_agreed_when_offered():
    response = agree("permessage-deflate; server_max_window_bits=8; client_max_window_bits=8")
    assert answer(response) == (
        "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"
    )


# --- client ------------------------------------------------------------------------------------


def client_check(offer: PerMessageDeflate, answer_value: str | None):
    request = build_request("localhost", extensions=[offer])
    response = accept_request("GET", "HTTP/1.1", request.headers)
    headers = list(response.headers)
    if answer_value is not None:
        headers.append(("Sec-WebSocket-Extensions", answer_value))
    return check_response(request, 101, headers)


def test_the_offer_names_every_parameter_the_policy_sets():
    request = build_request(
        "h",
        extensions=[
            PerMessageDeflate(
                server_no_context_takeover=True,
                client_no_context_takeover=True,
                server_max_window_bits=10,
                client_max_window_bits=11,
            ),
            PerMessageDeflate(),
        ],
    )
    assert dict(request.headers)["Sec-WebSocket-Extensions"] == (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=10; client_max_window_bits=11, "
        "permessage-deflate; client_max_window_bits"
    )


def test_an_answer_within_the_offer_gives_the_agreed_parameters():
    response = client_check(
        PerMessageDeflate(client_max_window_bits=12),
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
    )
    (agreed,) = response.extensions
    assert (agreed.server_max_window_bits, agreed.client_max_window_bits) == (10, 9)
    assert client_check(PerMessageDeflate(), None).extensions == ()
    (agreed,) = client_check(PerMessageDeflate(), "permessage-deflate").extensions
    assert (agreed.server_max_window_bits, agreed.client_max_window_bits) == (15, 15)


@pytest.mark.parametrize(
    "offer, answer_value, message",
    [
        (PerMessageDeflate(), "permessage-deflate; foo", "invalid permessage-deflate parameters"),
        (PerMessageDeflate(), "permessage-deflate; server_max_window_bits=16", "invalid"),
        (PerMessageDeflate(), "x-other", "unexpected sec-websocket-extensions 'x-other'"),
        (PerMessageDeflate(), "permessage-deflate, permessage-deflate", "several extensions"),
        (PerMessageDeflate(), "permessage-deflate; client_max_window_bits", "without a value"),
        (
            PerMessageDeflate(client_max_window_bits=10),
            "permessage-deflate; client_max_window_bits=11",
            "client_max_window_bits=11 exceeds the offered 10",
        ),
        (
            PerMessageDeflate(server_max_window_bits=10),
            "permessage-deflate; server_max_window_bits=12",
            "server_max_window_bits=12 exceeds the offered 10",
        ),
        (
            PerMessageDeflate(server_max_window_bits=10),
            "permessage-deflate",
            "lacks server_max_window_bits",
        ),
        (
            PerMessageDeflate(server_no_context_takeover=True),
            "permessage-deflate",
            "lacks server_no_context_takeover",
        ),
        (PerMessageDeflate(), "permessage-deflate; ;", "malformed sec-websocket-extensions"),
    ],
)
def test_an_answer_that_breaks_the_offer_is_rejected(offer, answer_value, message):
    with pytest.raises(HandshakeError, match=message):
        client_check(offer, answer_value)


def test_an_extension_answered_when_none_was_offered_is_rejected():
    request = build_request("localhost")
    headers = list(accept_request("GET", "HTTP/1.1", request.headers).headers)
    headers.append(("Sec-WebSocket-Extensions", "permessage-deflate"))
    with pytest.raises(HandshakeError, match="not offered"):
        check_response(request, 101, headers)


# --- against websockets' strict negotiation code --------------------------------------------------

CLIENT_OFFERS = [
    dict(),
    dict(client_max_window_bits=None),
    dict(client_max_window_bits=9),
    dict(server_max_window_bits=9),
    dict(server_max_window_bits=15, client_max_window_bits=15),
    dict(server_no_context_takeover=True),
    dict(client_no_context_takeover=True),
    dict(server_no_context_takeover=True, client_no_context_takeover=True),
    dict(server_max_window_bits=8, client_max_window_bits=9),  # its client refuses 8 for itself
]
SERVER_POLICIES = [
    PerMessageDeflate(),
    PerMessageDeflate(server_max_window_bits=15, client_max_window_bits=15),
    PerMessageDeflate(server_no_context_takeover=True, client_no_context_takeover=True),
    PerMessageDeflate(server_max_window_bits=9, client_max_window_bits=10),
]


@pytest.mark.parametrize("offer, policy", list(itertools.product(CLIENT_OFFERS, SERVER_POLICIES)))
def test_websockets_client_accepts_every_answer_wsfast_gives(offer, policy):
    factory = websockets_deflate.ClientPerMessageDeflateFactory(**offer)
    offered = websockets_headers.build_extension([(factory.name, factory.get_request_params())])
    response = agree(offered, policy)
    (agreed,) = response.extensions
    [(name, params)] = websockets_headers.parse_extension(answer(response))
    extension = factory.process_response_params(params, [])  # raises NegotiationError if wrong
    # both sides agree on what each side sends
    assert extension.remote_no_context_takeover == agreed.server_no_context_takeover
    assert extension.local_no_context_takeover == agreed.client_no_context_takeover
    assert extension.remote_max_window_bits == agreed.server_max_window_bits
    assert extension.local_max_window_bits == agreed.client_max_window_bits


WEBSOCKETS_SERVERS = [
    dict(),
    dict(server_max_window_bits=12, client_max_window_bits=12),  # its serve() default
    dict(server_no_context_takeover=True, client_no_context_takeover=True),
    dict(server_max_window_bits=9),
]
WSFAST_OFFERS = [
    PerMessageDeflate(),
    PerMessageDeflate(client_max_window_bits=10, server_max_window_bits=11),
    PerMessageDeflate(server_no_context_takeover=True),
]


@pytest.mark.parametrize(
    "settings, offer", list(itertools.product(WEBSOCKETS_SERVERS, WSFAST_OFFERS))
)
def test_wsfast_client_accepts_what_websockets_server_answers(settings, offer):
    request = build_request("localhost", extensions=[offer])
    [(name, params)] = websockets_headers.parse_extension(
        dict(request.headers)["Sec-WebSocket-Extensions"]
    )
    factory = websockets_deflate.ServerPerMessageDeflateFactory(**settings)
    answer_params, extension = factory.process_request_params(params, [])
    headers = list(accept_request("GET", "HTTP/1.1", request.headers).headers)
    headers.append(
        ("Sec-WebSocket-Extensions", websockets_headers.build_extension([(name, answer_params)]))
    )
    (agreed,) = check_response(request, 101, headers).extensions
    assert agreed.server_no_context_takeover == extension.local_no_context_takeover
    assert agreed.client_no_context_takeover == extension.remote_no_context_takeover
    assert agreed.server_max_window_bits == extension.local_max_window_bits
    assert agreed.client_max_window_bits == extension.remote_max_window_bits
