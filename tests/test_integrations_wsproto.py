"""wsproto patched gives the same events as unpatched: server and client connections over
conversations cut every way, its masker's key phase, permessage-deflate connections."""

from __future__ import annotations

import pytest

from .integration_traffic import (
    BIG,
    KEY,
    TEXT,
    chunkings,
    compare,
    compressed_conversations,
    conversations,
    needs,
)


def wsproto_events(data_chunks: list[bytes], client: bool) -> list[str]:
    from wsproto.connection import Connection, ConnectionType

    conn = Connection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
    out = []
    for chunk in data_chunks:
        conn.receive_data(chunk)
        # repr shows every field, with its type (bytes, bytearray, str)
        out += [repr(e) for e in conn.events()]
        out.append(repr(conn.state))
    return out


@needs("wsproto")
@pytest.mark.parametrize("side", ["server", "client"])
def test_wsproto_gives_the_same_events(patching, side):
    key = None if side == "client" else KEY
    runs = {
        (conv, cut): chunks
        for conv, data in conversations(key).items()
        for cut, chunks in chunkings(data).items()
    }

    def run() -> dict:
        return {
            k: wsproto_events(chunks, side == "client") for k, chunks in runs.items()
        }

    events = compare(run, patching, "wsproto", "mask" if key else None)
    # the traffic reached the cases it is there for
    closes = {k[0]: v[-2] for k, v in events.items() if k[1] == "whole"}
    assert (
        "code=<CloseReason.NORMAL_CLOSURE: 1000>, reason='bye 👋'" in closes["messages"]
    )
    assert "INVALID_FRAME_PAYLOAD_DATA: 1007" in closes["invalid-utf8"]
    assert "INVALID_FRAME_PAYLOAD_DATA: 1007" in closes["invalid-utf8-in-fragment"]
    assert "PROTOCOL_ERROR: 1002" in closes["reserved-opcode"]


@needs("wsproto")
def test_wsproto_masker_keeps_the_key_phase_across_calls(patching):
    from wsproto import frame_protocol as fp

    pieces = [b"a", b"bcd", b"", b"efghij", BIG[:1001], b"k" * 7]

    def run() -> list[bytes]:
        masker = fp.XorMaskerSimple(b"\x01\x02\x03\x04")
        return [
            bytes(masker.process(p))
            + b"|"
            + type(masker.process(b"")).__name__.encode()
            for p in pieces
        ]

    out = compare(run, patching, "wsproto", "apply_mask_inplace")
    assert out[0] == b"`|bytearray"  # a ^ 1


@needs("wsproto")
@pytest.mark.parametrize("takeover", [True, False], ids=["context-takeover", "no-takeover"])
def test_wsproto_with_permessage_deflate_gives_the_same_events(patching, takeover):
    from wsproto.connection import Connection, ConnectionType
    from wsproto.extensions import PerMessageDeflate

    convs = compressed_conversations(KEY, takeover)
    offer = "permessage-deflate" + ("" if takeover else "; client_no_context_takeover")

    def run() -> dict:
        out = {}
        for conv, data in convs.items():
            for cut, chunks in chunkings(data).items():
                ext = PerMessageDeflate()  # a fresh compression context per connection
                ext.accept(offer)
                assert ext.client_no_context_takeover is not takeover
                conn = Connection(ConnectionType.SERVER, extensions=[ext])
                events = []
                for chunk in chunks:
                    conn.receive_data(chunk)
                    events += [repr(e) for e in conn.events()]
                out[conv, cut] = events
        return out

    out = compare(run, patching, "wsproto", "mask")
    events = out["messages", "whole"]
    assert repr((TEXT * 30).decode())[1:60] in "".join(events)
    assert "code=<CloseReason.NORMAL_CLOSURE: 1000>" in events[-1]
    assert "INVALID_FRAME_PAYLOAD_DATA" in out["bad-deflate-data", "whole"][-1]
    assert "PROTOCOL_ERROR" in out["compressed-ping", "whole"][-1]


@needs("wsproto")
def test_wsproto_patched_decoder_is_wsfasts_with_an_extension_too(patching):
    from wsproto import frame_protocol as fp
    from wsproto.connection import Connection, ConnectionType
    from wsproto.extensions import PerMessageDeflate

    patching("wsproto")
    ext = PerMessageDeflate()
    ext.accept("permessage-deflate")
    conn = Connection(ConnectionType.SERVER, extensions=[ext])
    # wsfast's decoder (a subclass of wsproto's), not wsproto's own
    decoder = conn._proto._frame_decoder
    assert type(decoder) is fp.FrameDecoder
    assert type(decoder).__module__ != "wsproto.frame_protocol"
    assert type(decoder).__mro__[1].__module__ == "wsproto.frame_protocol"
