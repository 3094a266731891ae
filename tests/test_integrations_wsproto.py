"""wsproto patched gives the same events as unpatched: server and client connections over
conversations cut every way, its masker's key phase, permessage-deflate connections."""

from __future__ import annotations

from typing import Any

import pytest

from .integration_traffic import (
    BIG,
    KEY,
    TEXT,
    chunkings,
    compare,
    compressed_conversations,
    conversations,
    frame,
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
                    # and the state the extension's calls leave behind for the next frame
                    events.append(
                        repr({k: v for k, v in vars(ext).items() if k.startswith("_inbound")})
                    )
                out[conv, cut] = events
        return out

    out = compare(run, patching, "wsproto", "mask")
    events = out["messages", "whole"]
    assert repr((TEXT * 30).decode())[1:60] in "".join(events)
    # read whole, each ends in its close event, then the extension's state
    assert "code=<CloseReason.NORMAL_CLOSURE: 1000>" in events[-2]
    assert "INVALID_FRAME_PAYLOAD_DATA" in out["bad-deflate-data", "whole"][-2]
    assert "PROTOCOL_ERROR" in out["compressed-ping", "whole"][-2]


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


# --- Connection.events, whole messages in one loop -----------------------------------------


def wsproto_events_stopping(
    data_chunks: list[bytes], every: int, extensions: Any = None
) -> list[str]:
    """Like wsproto_events, but the reader stops iterating ``events()`` after ``every``
    events and starts a new iteration (hypercorn breaks out of its loop on a message too
    big): the events and states seen, and those of the proto's own ``received_frames`` after
    the end (nothing more, once a close or an error ended the parser)."""
    from wsproto.connection import Connection, ConnectionType

    conn = Connection(ConnectionType.SERVER, extensions=extensions)
    out = []
    for chunk in data_chunks:
        conn.receive_data(chunk) if conn.state.name != "CLOSED" else None
        while True:
            got = []
            for event in conn.events():
                got.append(repr(event))
                if len(got) == every:
                    break
            out += got
            out.append(repr(conn.state))
            if len(got) < every:
                break
    out.append(repr(list(conn._proto.received_frames())))
    return out


@needs("wsproto")
@pytest.mark.parametrize("every", [1, 2, 1000])
def test_wsproto_events_when_the_reader_stops_early_and_after_the_end(patching, every):
    # frames after a close frame and after a violation, in the same read and later ones,
    # go nowhere (wsproto's parser has ended), whether or not the reader broke off
    k = {"key": KEY}
    tail = frame(1, b"after", **k) + frame(2, b"the end", **k)
    runs = {}
    for conv, data in conversations(KEY).items():
        for cut, chunks in chunkings(data + tail).items():
            runs[conv, cut] = [*chunks, tail]

    def run() -> dict:
        return {key: wsproto_events_stopping(chunks, every) for key, chunks in runs.items()}

    out = compare(run, patching, "wsproto", "mask")
    assert "'after'" not in repr(out["messages", "whole"])
    assert "reason='bye 👋'" in repr(out["messages", "whole"])
    assert out["reserved-opcode", "odd-pieces"][-1] == "[]"


@needs("wsproto")
def test_wsproto_events_with_an_extension_disabled_after_the_connection_was_made(patching):
    # wsproto's parser filters its extensions again when it first runs: one that was
    # disabled in between is dropped from the protocol's list then (its frame decoder keeps
    # its own and still inflates), patched too
    from wsproto.connection import Connection, ConnectionType
    from wsproto.extensions import PerMessageDeflate

    from .integration_traffic import deflated

    data = frame(1, b"plain", key=KEY) + frame(1, deflated("squeezed"), rsv=4, key=KEY)

    def run() -> list:
        out = []
        for disable in (False, True):
            ext = PerMessageDeflate()
            ext.accept("permessage-deflate")
            conn = Connection(ConnectionType.SERVER, extensions=[ext])
            if disable:
                ext._enabled = False
            conn.receive_data(data)
            out.append([repr(e) for e in conn.events()])
            out.append(len(conn._proto.extensions))
        return out

    out = compare(run, patching, "wsproto", None)
    assert "squeezed" in repr(out[0]) and out[0] == out[2]
    assert out[1] == 1 and out[3] == 0


@needs("wsproto")
def test_wsproto_events_are_its_own_dataclasses(patching):
    # the events built without the frozen dataclass __init__ are wsproto's, field for field
    import dataclasses

    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import BytesMessage, TextMessage

    patching("wsproto")
    conn = Connection(ConnectionType.SERVER)
    conn.receive_data(frame(1, "héllo".encode(), key=KEY) + frame(2, b"\x00\x01", key=KEY))
    text, binary = list(conn.events())
    assert type(text) is TextMessage and type(binary) is BytesMessage
    assert text == TextMessage(data="héllo") and binary == BytesMessage(data=b"\x00\x01")
    assert list(vars(text).items()) == list(vars(TextMessage(data="héllo")).items())
    assert hash(text) == hash(TextMessage(data="héllo"))
    assert repr(binary) == repr(BytesMessage(data=b"\x00\x01"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        text.data = "changed"  # type: ignore[misc]


def test_event_builder_falls_back_to_the_constructor():
    # a dataclass that is not plain (a __post_init__, slots, other fields) is built by its
    # own constructor, so it stays what it would be
    import dataclasses

    from wsfast.integrations.wsproto import _builder

    fields = ("data", "frame_finished", "message_finished")

    @dataclasses.dataclass(frozen=True)
    class Plain:
        data: Any
        frame_finished: bool = True
        message_finished: bool = True

    @dataclasses.dataclass(frozen=True)
    class Checked(Plain):
        def __post_init__(self) -> None:
            object.__setattr__(self, "data", ("checked", self.data))

    @dataclasses.dataclass(frozen=True, slots=True)
    class Slotted:
        data: Any
        frame_finished: bool = True
        message_finished: bool = True

    for cls in (Plain, Checked, Slotted):
        made = _builder(cls, fields)("x", True, False)
        assert type(made) is cls and made == cls("x", True, False)
    assert _builder(Plain, fields).__name__ == "build3"
    assert _builder(Checked, fields).__name__ == "call"
    assert _builder(Slotted, fields).__name__ == "call"
    assert _builder(Plain, ("data",)).__name__ == "call"  # other fields than the class's
