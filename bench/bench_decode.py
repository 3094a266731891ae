"""Decoder: a server fed masked client frames in 64 KiB chunks, from streams of small messages
to single 1 MiB messages, text of each kind and binary."""

from __future__ import annotations

import pytest
from conftest import SIZE_IDS, SIZES, TEXT_KINDS, KiB

from wsfast._bench import make_text, masked_frame

CHUNK = 64 * KiB
STREAM = 256 * KiB  # bytes of small messages per stream


def stream_of(kind, size, rng):
    count = max(1, STREAM // size)
    if kind == "binary":
        messages = [rng.randbytes(size) for _ in range(count)]
    else:
        messages = [make_text(kind, size, rng) for _ in range(count)]
    opcode = 2 if kind == "binary" else 1
    data = b"".join(masked_frame(opcode, m, rng.randbytes(4)) for m in messages)
    return messages, [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("kind", [*TEXT_KINDS, "binary"])
def bench_decoder_feed(api, record, rng, kind, size):
    messages, chunks = stream_of(kind, size, rng)

    def decode():
        decoder = api.Decoder(client=False)
        events = []
        for chunk in chunks:
            events += decoder.feed(chunk)
        return events

    assert [(m.data, m.is_text) for m in decode()] == [
        (m, kind != "binary") for m in messages
    ]
    record(
        f"decode: {kind}",
        kind=kind,
        size=size,
        messages=len(messages),
        bytes=len(messages) * size,
    )(decode)
