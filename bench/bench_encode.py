"""Encoder: one message per frame, text of each kind from a server, binary from a client (a
fresh random key per frame)."""

from __future__ import annotations

import pytest
from conftest import SIZE_IDS, SIZES, TEXT_KINDS

from wsfast._bench import make_text, parse_frames


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("kind", TEXT_KINDS)
def bench_encoder_text_from_server(api, record, rng, kind, size):
    text = make_text(kind, size, rng).decode("utf-8")
    encoder = api.Encoder(client=False)
    assert parse_frames(encoder.message(text)) == [(1, text.encode("utf-8"))]
    record(f"encode: server text {kind}", kind=kind, size=size, bytes=size)(
        encoder.message, text
    )


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def bench_encoder_binary_from_client(api, record, rng, size):
    payload = rng.randbytes(size)
    encoder = api.Encoder(client=True)
    assert parse_frames(encoder.message(payload)) == [(2, payload)]
    record("encode: client binary (masked)", size=size, bytes=size)(
        encoder.message, payload
    )
