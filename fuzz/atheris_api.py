"""atheris harness: the public Python API on the C backend, held to the pure-Python twin.

    WSFAST_REQUIRE_EXTENSIONS=1 python fuzz/atheris_api.py CORPUS_DIR [SEEDS_DIR] -runs=N
    (or: fuzz/run.sh run atheris N)

Input: byte 0 configures (bit 0 client, bit 1 strict, bits 2-3 max_frame_size, bits 4-5
max_message_size, bits 6-7 the chunking), the rest is the byte stream received; a quarter of
the inputs (chosen by the stream's CRC) are decoded with permessage-deflate agreed, so RSV1
frames are inflated (context kept, or reset per message, by the CRC too).  For every
input, on the C backend (under kernels chosen from the input: scalar, SSE2, AVX2 or NEON):
  - Decoder fed in chunks and fed whole give the same events and, on a violation, the same
    exception type, message, close code, UTF-8 position and events before it (``exc.events``);
    nothing but a ``ProtocolError`` may come out, and a failed decoder refuses further bytes;
  - every event is well formed (text messages decode, close codes are valid on the wire);
  - Utf8Validator fed in pieces agrees with validate_utf8, apply_mask_inplace with apply_mask,
    and parse_header returns a header, None or a ProtocolError.
With ``WSFAST_FUZZ_DIFF=1`` every result is also compared with the pure-Python backend (about
three times slower: the 10^7-execution runs use the default, the differential test in
tests/test_differential.py covers the comparison).
The wsfast package is instrumented for coverage feedback, except the pure twin unless compared;
the C extension is exercised through it (its own bugs are the libFuzzer harnesses' job, with
ASan).
"""

from __future__ import annotations

import os
import random
import sys
import zlib

import atheris

DIFF = os.environ.get("WSFAST_FUZZ_DIFF") == "1"

with atheris.instrument_imports(include=["wsfast"], exclude=[] if DIFF else ["wsfast._pure"]):
    import wsfast  # noqa: F401  (instrumented before the names below import from it)
    from wsfast import Close, Message, Ping, Pong, _backend, _pure
    from wsfast.errors import ProtocolError

CBACKEND = _backend.load_c()
C = _backend.bind(CBACKEND)
KERNELS = CBACKEND.available_kernels()  # every kernel this CPU runs, each fuzzed in turn
PY = _backend.bind(_pure)
FRAME_LIMITS = (None, 0, 125, 1000)
MESSAGE_LIMITS = (16 * 2**20, 0, 200, 70000)
CODES = {1002, 1007, 1009}
DEFLATE = (
    wsfast.PerMessageDeflate(server_max_window_bits=15, client_max_window_bits=15),
    wsfast.PerMessageDeflate(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=9,
        client_max_window_bits=9,
    ),
)


def describe(exc: BaseException) -> tuple:
    return (type(exc), str(exc), getattr(exc, "code", None), getattr(exc, "position", None))


def well_formed(event: object, max_message: int) -> None:
    if isinstance(event, Message):
        assert len(event.data) <= max_message
        if event.is_text:
            event.data.decode("utf-8")
    elif isinstance(event, Close):
        assert (
            event.code is None
            and event.reason == ""
            or (
                1000 <= event.code <= 1003
                or 1007 <= event.code <= 1014
                or 3000 <= event.code <= 4999
            )
        ), event
    else:
        assert isinstance(event, (Ping, Pong)) and len(event.payload) <= 125, event


def decode(api, stream: bytes, cuts: list[int], options: dict) -> tuple:
    d = api.Decoder(**options)
    events, prev = [], 0
    try:
        for cut in cuts + [len(stream)]:
            events += d.feed(stream[prev:cut])
            prev = cut
    except ProtocolError as exc:
        assert exc.code in CODES, exc
        before = list(exc.events)  # type: ignore[attr-defined]
        try:
            d.feed(b"\x00")
        except ProtocolError as again:
            assert again.code == exc.code, (again, exc)
        else:
            raise AssertionError("a decoder fed after an error did not refuse") from None
        return [*events, *before], describe(exc)
    return events, None


def outcome(call, *args, **kwargs) -> tuple:
    try:
        return ("ok", call(*args, **kwargs))
    except ProtocolError as exc:
        return describe(exc)


def validate_in_pieces(api, data: bytes, cuts: list[int]) -> tuple:
    v = api.Utf8Validator()
    prev, results = 0, []
    for cut in cuts + [len(data)]:
        results.append(outcome(v.feed, data[prev:cut]))
        results.append(v.complete)
        prev = cut
    results.append(outcome(v.finish))
    return tuple(results)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    config, stream = data[0], data[1:]
    chunking = config >> 6
    if chunking == 0:
        cuts = [len(stream) // 2]
    elif chunking == 1:
        cuts = list(range(1, min(len(stream), 64)))  # one byte at a time, then the rest
    else:
        rng = random.Random(config)
        cuts = sorted(rng.sample(range(len(stream) + 1), min(len(stream), 3 * chunking)))
    options = {
        "client": bool(config & 1),
        "strict": bool(config & 2),
        "max_frame_size": FRAME_LIMITS[(config >> 2) & 3],
        "max_message_size": MESSAGE_LIMITS[(config >> 4) & 3],
    }
    crc = zlib.crc32(stream)
    if crc & 3 == 0:
        options["extensions"] = [DEFLATE[(crc >> 2) & 1]]
    # half the inputs decode text as str as it is delivered (decode_text=True): held below to
    # the default decoder's events and errors
    options["decode_text"] = bool(crc & 16)
    # the chunked run and the whole run under two kernels picked by the input's length: every
    # SIMD kernel is held to the others (and to the pure twin with WSFAST_FUZZ_DIFF=1)
    CBACKEND.use_kernel(KERNELS[len(stream) % len(KERNELS)])
    chunked = decode(C, stream, cuts, options)
    CBACKEND.use_kernel(KERNELS[(len(stream) // 3) % len(KERNELS)])
    whole = decode(C, stream, [], options)
    assert chunked == whole, (chunked, whole)
    for event in whole[0]:
        well_formed(event, options["max_message_size"])
    if options["decode_text"]:
        default = decode(C, stream, cuts, {**options, "decode_text": False})
        assert default == whole, (default, whole)
        for made, plain in zip(whole[0], default[0]):
            if getattr(plain, "is_text", False):
                assert type(made.text) is str and made.text == plain.data.decode("utf-8")
                assert made.data == plain.data

    strict = bool(config & 2)
    header = outcome(C.parse_header, stream[:14], strict=strict)
    assert header[0] != "ok" or header[1] is None or header[1].size <= len(stream), header
    valid = C.validate_utf8(stream)
    pieces = validate_in_pieces(C, stream, cuts)
    assert (pieces[-1] == ("ok", None)) == valid, (pieces, valid)
    masked = None
    if len(stream) >= 4:
        key, payload = stream[:4], memoryview(stream)[4:]
        masked = C.apply_mask(payload, key, config)
        buf = bytearray(payload)
        C.apply_mask_inplace(buf, key, config)
        assert buf == masked
        assert C.apply_mask(masked, key, config) == payload

    if DIFF:
        assert whole == decode(PY, stream, cuts, options)
        assert header == outcome(PY.parse_header, stream[:14], strict=strict)
        assert valid == PY.validate_utf8(stream)
        assert pieces == validate_in_pieces(PY, stream, cuts)
        if masked is not None:
            assert masked == PY.apply_mask(stream[4:], stream[:4], config)


def main() -> None:
    if os.environ.get("WSFAST_NO_EXTENSIONS") == "1":
        sys.exit("the atheris harness fuzzes the C backend: unset WSFAST_NO_EXTENSIONS")
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
