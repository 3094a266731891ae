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


class Tagged(Message):
    """A user's subclass (pickle finds classes by module-level name)."""


def test_a_message_subclass_pickles_as_itself():
    clone = pickle.loads(pickle.dumps(Tagged(b"x", True)))
    assert type(clone) is Tagged and clone == (b"x", True)


def test_decoded_messages_are_messages_on_every_path():
    # a batch of whole text messages (one C-level map) and a mixed batch (the per-record loop)
    from wsfast import Decoder, Encoder

    enc = Encoder(client=True)
    whole = Decoder().feed(enc.message("a") + enc.message("b"))
    mixed = Decoder().feed(
        enc.message("h\u00e9") + enc.message(b"\x00") + enc.ping(b"p") + enc.message("z")
    )
    assert whole == [(b"a", True), (b"b", True)]
    assert mixed == [("h\u00e9".encode(), True), (b"\x00", False), Ping(b"p"), (b"z", True)]
    for event in whole + mixed:
        assert type(event) is (Ping if event == Ping(b"p") else Message)
    assert [whole[0].text, mixed[0].text, mixed[3].text] == ["a", "h\u00e9", "z"]
