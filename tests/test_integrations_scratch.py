"""The pooled-buffer text decode the integrations use for large masked text payloads
(``_shared.scratch_decoder``): the str of what unmasking and decoding would give, None for
anything it does not take (invalid UTF-8, sizes outside its range) so that the caller's own
decode raises as before, and correct when threads decode at once."""

from __future__ import annotations

import os
import threading

import pytest

from wsfast import _backend, _pure
from wsfast.integrations import _shared

from .conftest import BACKENDS, FORCED, NO_C
from .framing import KEY, frame

# the tests below take the C backend's decoder (the pure backend has none: the first test)
c_only = pytest.mark.skipif(NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test")


def masked(text: bytes, lead: bytes = b"") -> tuple[bytes, int]:
    """``lead`` + a masked text frame of ``text``, and where its payload starts."""
    data = lead + frame(1, text, mask=KEY)
    return data, len(data) - len(text)


def texts() -> dict[str, bytes]:
    return {
        "ascii 8 KiB": b"x" * _shared.SCRATCH_FROM,
        "mixed, an odd size": ("κόσμε 𝄞 ∀x∈ℝ ascii ".encode() * 3000)[:70001],
        "largest": "é".encode() * (_shared.SCRATCH_UP_TO // 2),
    }


def test_scratch_decoder_is_the_c_backends_only(api):
    decode = _shared.scratch_decoder(api)
    if api.backend is _pure:
        assert decode is None
    else:
        assert callable(decode)


@pytest.fixture(params=[b for b in BACKENDS if b != "python"])
def decode(request):
    """The scratch decoder of the C backend, on each of its masking kernels in turn."""
    c = _backend.load_c()
    c.use_kernel(request.param[2:])
    try:
        made = _shared.scratch_decoder(_backend.bind(c))
        assert made is not None
        yield made
    finally:
        c.use_kernel(FORCED)


@c_only
def test_gives_the_str_of_unmasking_then_decoding(decode):
    for name, text in texts().items():
        text = text.decode("utf-8", "ignore").encode()  # whole code points only
        for lead in (b"", b"\x81\x00" * 3):
            data, start = masked(text, lead)
            assert decode(data, start, len(text), KEY) == text.decode(), name
            assert decode(bytearray(data), start, len(text), KEY) == text.decode(), name


@c_only
def test_gives_none_for_what_the_callers_decode_must_reject(decode):
    good = "ασδφ".encode() * 3000
    for bad in (
        good + b"\xff",  # invalid byte at the end
        b"\xc3\x28" + good,  # invalid at the start
        good + "€".encode()[:2],  # cut inside a code point
        good[:5001] + b"a" * 4000,  # a code point cut in the middle
    ):
        data, start = masked(bad)
        assert decode(data, start, len(bad), KEY) is None
        with pytest.raises(UnicodeDecodeError):
            bad.decode("utf-8")


@c_only
def test_leaves_sizes_outside_its_range_to_the_caller(decode):
    for n in (0, 125, _shared.SCRATCH_FROM - 1, _shared.SCRATCH_UP_TO + 1):
        data, start = masked(b"a" * n)
        assert decode(data, start, n, KEY) is None


@c_only
def test_a_larger_payload_after_a_smaller_one(decode):
    # buffers are kept as large as the payload they were taken for: a longer one needs more
    for n in (_shared.SCRATCH_FROM, _shared.SCRATCH_UP_TO, _shared.SCRATCH_FROM + 1,
              _shared.SCRATCH_UP_TO):
        text = bytes(97 + i % 26 for i in range(n))
        data, start = masked(text)
        assert decode(data, start, n, KEY) == text.decode()


@c_only
def test_threads_decoding_at_once_each_get_their_own(decode):
    payloads = [bytes([97 + t]) * (20000 + 1000 * t) + "ü".encode() for t in range(6)]
    frames = [masked(p) for p in payloads]
    wrong: list[int] = []
    start_line = threading.Barrier(len(payloads))

    def work(t: int) -> None:
        data, start = frames[t]
        want = payloads[t].decode()
        start_line.wait()
        for _ in range(300):
            if decode(data, start, len(payloads[t]), KEY) != want:
                wrong.append(t)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(len(payloads))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not wrong


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_writes_into_its_own_copy_of_the_buffers():
    # a pool made before a fork (a server warmed up, then forking its workers) must not be
    # memory the two processes share: each would unmask into the other's message
    buffer = _shared.new_buffer(_shared.SCRATCH_FROM)
    buffer[:6] = b"parent"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        buffer[:6] = b"child!"
        os.write(write, bytes(buffer[:6]))
        os._exit(0)
    os.close(write)
    child_saw = os.read(read, 6)
    os.close(read)
    os.waitpid(pid, 0)
    assert child_saw == b"child!"
    assert bytes(buffer[:6]) == b"parent"


@c_only
def test_decoding_in_a_forked_child_and_its_parent_at_once(decode):
    # the pool filled before the fork, then both decode their own text for a while
    n = 200_000
    texts = {who: who * n for who in (b"p", b"c")}
    frames = {who: masked(text) for who, text in texts.items()}
    data, start = frames[b"p"]
    assert decode(data, start, n, KEY) == texts[b"p"].decode()
    read, write = os.pipe()
    pid = os.fork()
    who = b"c" if pid == 0 else b"p"
    data, start = frames[who]
    want = texts[who].decode()
    wrong = sum(decode(data, start, n, KEY) != want for _ in range(400))
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        os.write(write, str(wrong).encode())
        os._exit(0)
    os.close(write)
    child_wrong = int(os.read(read, 32))
    os.close(read)
    os.waitpid(pid, 0)
    assert (wrong, child_wrong) == (0, 0)
