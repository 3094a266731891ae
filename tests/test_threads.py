"""Decoders fed from several threads at once, as a threaded server feeds one per connection.

The C backend's decoders share scratch space (the records, the batch layout, the room complete
frames are unmasked into): a pool from which each feed takes one and returns it, so that no two
calls running at once (the GIL is released inside every C call) use the same.  Each test decodes
the same connections once in one thread, then again with the connections spread over several
threads, each thread interleaving its connections' reads, and requires the same events, the same
errors, read for read.
"""

from __future__ import annotations

import gc
import random
import sys
import threading

import pytest

from wsfast import ProtocolError

from .framing import frame

THREADS = 4
CONNECTIONS = 12  # spread over the threads, several each: their reads interleave


def conversation(rng: random.Random) -> bytes:
    """Masked client frames covering every path of the decoder: many small messages in one
    read, text split inside code points across reads and fragments, control frames between
    fragments, frames that wait for the next read in their keep buffer, large frames that go
    into their own buffer (sinks), and a close."""
    out = []
    for i in range(60):
        kind = rng.randrange(6)
        if kind == 0:
            out.append(frame(1, ("né€𝄞" * rng.randrange(1, 40)).encode()))
        elif kind == 1:
            out.append(frame(2, rng.randbytes(rng.randrange(0, 300))))
        elif kind == 2:
            text = ("ü€x" * rng.randrange(30, 900)).encode()
            cut = rng.randrange(1, len(text))
            out.append(frame(1, text[:cut], fin=False))
            out.append(frame(9, b"ping %d" % i))
            out.append(frame(0, text[cut:]))
        elif kind == 3:
            out.append(frame(2, rng.randbytes(rng.choice((70_000, 130_000)))))  # sinks
        elif kind == 4:
            out.append(frame(10, rng.randbytes(rng.randrange(0, 126))))
        else:
            out.append(frame(2, rng.randbytes(rng.randrange(1000, 60_000))))  # kept across reads
    out.append(frame(8, (1000).to_bytes(2, "big") + "au revoir".encode()))
    return b"".join(out)


def reads(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` cut the way sockets hand it over: mostly large reads, some tiny ones."""
    out, at = [], 0
    while at < len(data):
        n = rng.choice((1, 7, 100, 1460, 4096, 65536, 65536))
        out.append(data[at : at + n])
        at += n
    return out


def feed_all(decoder, chunks: list[bytes]) -> list:
    """What each read gives: its events, or the error it raised (type, code, position, the
    events before it)."""
    out = []
    for chunk in chunks:
        try:
            out.append(decoder.feed(chunk))
        except ProtocolError as e:
            out.append((type(e), e.code, getattr(e, "position", None), e.events))
            break
    return out


def connections(seed: int, broken: bool = False) -> list[list[bytes]]:
    rng = random.Random(seed)
    out = []
    for n in range(CONNECTIONS):
        data = conversation(rng)
        if broken and n % 3 == 0:
            # invalid UTF-8 (a surrogate) deep inside a large text frame
            bad = "a" * 5000 + "\udc80" + "b" * 5000
            at = len(data) // 2
            data = data[:at] + frame(1, bad.encode("utf-8", "surrogatepass")) + data[at:]
            data = data.replace(frame(8, (1000).to_bytes(2, "big") + b"au revoir"), b"")
        out.append(reads(data, rng))
    return out


def run_threads(api, streams: list[list[bytes]]) -> list[list]:
    """Every connection decoded, THREADS threads each serving every THREADS-th connection and
    interleaving their reads; the results in connection order."""
    results: list[list] = [[] for _ in streams]
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def serve(mine: list[int]) -> None:
        try:
            decoders = {n: api.Decoder(max_message_size=None) for n in mine}
            stopped: set[int] = set()
            start.wait()
            step = 0
            while len(stopped) < len(mine):
                for n in mine:
                    if n in stopped:
                        continue
                    if step >= len(streams[n]):
                        stopped.add(n)
                        continue
                    got = feed_all(decoders[n], [streams[n][step]])
                    results[n] += got
                    if got and isinstance(got[-1], tuple) and isinstance(got[-1][0], type):
                        stopped.add(n)
                step += 1
        except BaseException as e:  # noqa: BLE001 - reported by the test
            failures.append(e)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, inside feed's Python code too
    try:
        threads = [
            threading.Thread(target=serve, args=(list(range(t, len(streams), THREADS)),))
            for t in range(THREADS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert not failures, failures
    return results


@pytest.mark.parametrize("broken", [False, True], ids=["valid", "with-errors"])
def test_threads_give_the_events_of_one_thread(api, broken):
    streams = connections(16, broken)
    alone = [feed_all(api.Decoder(max_message_size=None), chunks) for chunks in streams]
    # the traffic reaches every path it is meant to
    events = [e for result in alone for batch in result if isinstance(batch, list) for e in batch]
    assert any(type(e).__name__ == "Ping" for e in events)
    assert any(len(getattr(e, "data", b"")) >= 70_000 for e in events)
    assert (
        sum(1 for result in alone if result and isinstance(result[-1], tuple)) == 4
        if broken
        else all(type(result[-1][-1]).__name__ == "Close" for result in alone)
    )
    for _ in range(3):
        assert run_threads(api, streams) == alone


def test_a_feed_inside_a_feed_gets_its_own_scratch(api):
    """A decoder fed from inside another's feed on the same thread, between its C call and its
    reading of the results (here from a garbage-collection callback, as a finalizer or a signal
    handler could), must neither see the outer call's scratch nor spoil it."""
    outer, inner = api.Decoder(), api.Decoder()
    inner_data = frame(1, "inner €".encode() * 50) * 3
    outer_data = b"".join(frame(2, bytes([n]) * (n + 1)) for n in range(256)) * 2
    nested: list = []
    busy = False

    def collecting(phase: str, info: dict) -> None:
        nonlocal busy
        if phase == "start" and not busy and len(nested) < 50:
            busy = True
            try:
                nested.append(inner.feed(inner_data))
            finally:
                busy = False

    threshold = gc.get_threshold()
    gc.callbacks.append(collecting)
    gc.set_threshold(1)  # a collection at (almost) every allocation of a container
    try:
        got = outer.feed(outer_data)
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(collecting)
    assert nested, "no collection ran inside the feed"
    assert [m.data for m in got] == [bytes([n]) * (n + 1) for n in range(256)] * 2
    assert all([m.text for m in events] == ["inner €" * 50] * 3 for events in nested)
