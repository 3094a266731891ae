"""``Decoder(decode_text=True)``: every text message's str made as it is delivered, with the same
events, errors and positions as the default decoder, on both backends and every kernel.

The C backend reads a batch of whole text messages as one marshal tuple of str (wsfast.h, the
space's framing); batches it cannot read that way (a sink frame, mixed kinds, fragments,
compressed messages) take other paths, each covered here.
"""

from __future__ import annotations

import copy
import pickle
import random
import zlib

import pytest

from wsfast import Message, PerMessageDeflate, ProtocolError

from .conftest import NO_C
from .framing import client_frame, server_frame
from .test_decoder import CONVERSATION, chunkings, feed_all

TEXTS = ["", "a", "Hello", "ünïcödé", "日本語" * 50, "x" * 125, "y" * 126, "€" * 2000, "z" * 70_000]


def both_ways(api, data, chunks=(), **kw):
    """(events, error) of the default decoder and of decode_text=True on the same input."""
    plain = feed_all(api.Decoder(**kw), data, chunks)
    decoded = feed_all(api.Decoder(decode_text=True, **kw), data, chunks)
    return plain, decoded


def check_same(plain, decoded):
    (events, error), (text_events, text_error) = plain, decoded
    assert text_events == events and events == text_events  # either way round
    assert [type(e) for e in text_events if not isinstance(e, Message)] == [
        type(e) for e in events if not isinstance(e, Message)
    ]
    for got, want in zip(text_events, events):
        if isinstance(want, Message):
            assert isinstance(got, Message)
            assert type(got.data) is bytes and got.data == want.data
            assert got.is_text is want.is_text
            if want.is_text:
                assert type(got.text) is str and got.text == want.data.decode("utf-8")
                assert got.text is got.text  # made once, not per access
    assert (None if text_error is None else (type(text_error), str(text_error), text_error.code)) == (
        None if error is None else (type(error), str(error), error.code)
    )


def test_the_conversation_gives_the_same_events_under_every_chunking(api):
    rng = random.Random(17)
    for chunks in chunkings(len(CONVERSATION), rng):
        check_same(*both_ways(api, CONVERSATION, chunks))


def test_many_whole_text_messages_in_one_read(api):
    # more than one record array's worth (256): several batches in one feed
    data = b"".join(client_frame(1, TEXTS[i % len(TEXTS)].encode()) for i in range(700))
    plain, decoded = both_ways(api, data)
    check_same(plain, decoded)
    assert [m.text for m in decoded[0]] == [TEXTS[i % len(TEXTS)] for i in range(700)]


def test_on_the_client_side_too(api):
    data = b"".join(server_frame(1, t.encode()) for t in TEXTS)
    check_same(*both_ways(api, data, client=True))


def test_a_large_text_message_arriving_in_pieces_then_small_ones_in_the_same_read(api):
    # the large one completes in its sink (C) in the read that also brings the small ones
    big = ("ö" * 100_000).encode()
    data = client_frame(1, big) + b"".join(client_frame(1, t.encode()) for t in TEXTS)
    for cut in (50, 70_000, len(data) - 1):
        check_same(*both_ways(api, data, [cut]))


def test_text_between_other_kinds_and_fragments(api):
    data = (
        client_frame(1, b"one")
        + client_frame(2, b"\xff\x00")
        + client_frame(1, "tw".encode(), fin=False)
        + client_frame(9, b"p")
        + client_frame(0, "o ☃".encode())
        + client_frame(1, b"three")
    )
    plain, decoded = both_ways(api, data)
    check_same(plain, decoded)
    assert [m.text for m in decoded[0] if getattr(m, "is_text", False)] == ["one", "two ☃", "three"]


@pytest.mark.parametrize("position", [0, 1, 5])
def test_invalid_text_in_a_batch_fails_at_the_same_byte_after_the_same_events(api, position):
    good = [client_frame(1, t.encode()) for t in TEXTS[:6]]
    bad = client_frame(1, b"ok \xc3\x28 no")
    data = b"".join(good[:position]) + bad + b"".join(good[position:])
    plain, decoded = both_ways(api, data)
    assert plain[1] is not None and plain[1].code == 1007
    check_same(plain, decoded)
    assert len(decoded[0]) == position


def test_a_message_behaves_as_the_message_it_stands_for(api):
    text = "héllo wörld"
    [m] = api.Decoder(decode_text=True).feed(client_frame(1, text.encode()))
    want = Message(text.encode(), True)
    assert m == want and want == m and not (m != want)
    assert m == (text.encode(), True) and (text.encode(), True) == m
    # a compressed text message of the default decoder is a (data, True, text) tuple
    agreed = PerMessageDeflate()
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = z.compress(text.encode()) + z.flush(zlib.Z_SYNC_FLUSH)
    [inflated] = api.Decoder(extensions=[agreed]).feed(client_frame(1, body[:-4], rsv=0x40))
    assert inflated == m and m == inflated and hash(inflated) == hash(m)
    assert m != Message(text.encode(), False) and m != Message(b"other", True) and m != "x"
    assert hash(m) == hash(want)
    assert repr(m) == repr(want)
    assert isinstance(m, Message) and len(m) == 2
    # as a tuple it is the (data, True) it stands for, except indexing, which reads the str it
    # stores (so that .text stays an item read)
    data, is_text = m
    assert data == text.encode() and is_text is True
    assert tuple(m) == (text.encode(), True) == want and list(m) == list(want)
    assert tuple(m) == m and m == tuple(m)
    assert text.encode() in m and "other" not in m
    assert m.count(text.encode()) == 1 and m.index(True) == 1
    assert m + (1,) == want + (1,) and (1,) + m == (1,) + want and m * 2 == want * 2
    assert sorted([m, Message(b"a", True), Message(b"\xff", True)]) == sorted(
        [want, Message(b"a", True), Message(b"\xff", True)]
    )
    assert m == (text.encode(), 1) and Message(text.encode(), 1) == m  # 1 == True, as tuples
    assert m[0] == text and m[1] is True
    for clone in (pickle.loads(pickle.dumps(m)), copy.copy(m), copy.deepcopy(m)):
        assert clone == want and clone.data == text.encode() and clone.text == text
    [again] = api.Decoder(decode_text=True).feed(client_frame(1, text.encode()))
    assert again == m and hash(again) == hash(m)
    assert m.data is m.data  # encoded once, then kept


def test_compressed_text_is_decoded_once_and_gives_the_same_events(api):
    agreed = PerMessageDeflate()
    texts = ["deflated " * 40, "ünï" * 100, "tiny"]
    frames = b""
    for t in texts:
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = z.compress(t.encode()) + z.flush(zlib.Z_SYNC_FLUSH)
        frames += client_frame(1, body[:-4], rsv=0x40)
    frames += client_frame(1, b"plain")
    plain, decoded = both_ways(api, frames, extensions=[agreed])
    check_same(plain, decoded)
    assert [m.text for m in decoded[0]] == texts + ["plain"]
    for chunks in ([1] * len(frames), [7] * (len(frames) // 7)):
        check_same(*both_ways(api, frames, chunks, extensions=[agreed]))


@pytest.mark.skipif(NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test")
def test_the_c_backend_makes_a_batch_of_whole_text_messages_in_one_marshal_call(monkeypatch):
    from wsfast import _backend

    c = _backend.load_c()
    assert c._MARSHAL_TEXT  # this Python's marshal reads the framing
    calls = []
    real = c._loads
    monkeypatch.setattr(c, "_loads", lambda view: calls.append(1) or real(view))
    Decoder = _backend.bind(c).Decoder
    data = b"".join(client_frame(1, t.encode()) for t in TEXTS)
    events = Decoder(decode_text=True).feed(data)
    assert [m.text for m in events] == TEXTS and calls == [1]
    assert Decoder().feed(data) == events and calls == [1]  # the default decoder makes bytes


@pytest.mark.skipif(NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test")
@pytest.mark.parametrize("decode_text", [True, False])
def test_where_marshal_cannot_read_the_framing_the_c_backend_decodes_bytes(monkeypatch, decode_text):
    from wsfast import _backend

    c = _backend.load_c()
    monkeypatch.setattr(c, "_MARSHAL_TEXT", False)
    monkeypatch.setattr(c, "_loads", None)  # never called
    Decoder = _backend.bind(c).Decoder
    for data in (client_frame(1, "ünï".encode()), client_frame(2, b"bin"),
                 b"".join(client_frame(1, t.encode()) for t in TEXTS)):
        got = Decoder(decode_text=decode_text).feed(data)
        assert got == _backend.bind(_backend._pure).Decoder().feed(data)
        for m in got:
            if m.is_text:
                assert type(m.text) is str and type(m.data) is bytes
