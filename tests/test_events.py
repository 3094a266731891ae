"""Events are plain values: they compare, pickle and copy as what they hold."""

from __future__ import annotations

import copy
import pickle

import pytest

from wsfast import Close, Message, Ping, Pong


@pytest.mark.parametrize(
    "event",
    [
        Message(b"binary \x00\xff", False),
        Message("t\u00eaxt".encode(), True),
        Ping(b"p"),
        Pong(b""),
        Close(1000, "bye"),
        Close(None, ""),
    ],
)
def test_events_survive_pickle_and_copy(event):
    for clone in (pickle.loads(pickle.dumps(event)), copy.copy(event), copy.deepcopy(event)):
        assert clone == event
        assert type(clone) is type(event)


def test_a_pickled_text_message_still_decodes():
    clone = pickle.loads(pickle.dumps(Message("caf\u00e9".encode(), True)))
    assert clone.is_text and clone.text == "caf\u00e9"


def test_message_is_built_like_its_signature_says():
    assert Message(b"x") == (b"x", False)
    assert Message(data=b"x", is_text=True) == (b"x", True)
    assert type(Message(b"x")) is Message
    with pytest.raises(TypeError):
        Message()
    with pytest.raises(TypeError):
        Message(b"x", True, "extra")


def test_decoded_messages_are_messages_of_every_path():
    # whole-message batches (one C-level map) and mixed batches (the per-record loop) both
    # make real Message objects with working properties
    from wsfast import Decoder, Encoder

    enc = Encoder(client=True)
    wire = enc.message("h\u00e9") + enc.message(b"\x00") + enc.ping(b"p") + enc.message("z")
    for stream in (enc.message("a") + enc.message("b"), wire):
        events = Decoder().feed(stream)
        for e in events:
            assert type(e) in (Message, Ping)
        texts = [e.text for e in events if type(e) is Message and e.is_text]
        assert texts == (["a", "b"] if len(events) == 2 else ["h\u00e9", "z"])
