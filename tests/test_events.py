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
