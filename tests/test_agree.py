"""The two backends agree on random input (issue: same results, errors and positions)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from wsfast import ProtocolError


def outcome(call, *args, **kwargs):
    try:
        return ("ok", call(*args, **kwargs))
    except Exception as exc:  # the type, message, code and position must all agree
        return (
            type(exc).__name__,
            str(exc),
            getattr(exc, "code", None),
            getattr(exc, "position", None),
        )


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.binary(min_size=4, max_size=4), st.integers(0, 7))
def test_masking_agrees(both, data, key, offset):
    c, py = both
    assert c.apply_mask(data, key, offset) == py.apply_mask(data, key, offset)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_utf8_agrees(both, data):
    c, py = both
    assert c.validate_utf8(data) == py.validate_utf8(data)
    vc, vp = c.Utf8Validator(), py.Utf8Validator()
    assert outcome(vc.feed, data) == outcome(vp.feed, data)
    assert outcome(vc.finish) == outcome(vp.finish)


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=16), st.booleans())
def test_parse_header_agrees(both, data, strict):
    c, py = both
    assert outcome(c.parse_header, data, strict=strict) == outcome(
        py.parse_header, data, strict=strict
    )


def decode(api, data, cuts, **options):
    d = api.Decoder(**options)
    events, prev = [], 0
    try:
        for cut in sorted(cuts) + [len(data)]:
            events += d.feed(data[prev:cut])
            prev = max(prev, cut)
    except ProtocolError as exc:
        error = (type(exc).__name__, str(exc), exc.code, getattr(exc, "position", None))
        return events + exc.events, error
    return events, None


frames = st.builds(
    lambda op, payload, fin, mask: (
        bytes([(0x80 if fin else 0) | op, (0x80 if mask else 0) | len(payload)])
        + (b"\x11\x22\x33\x44" if mask else b"")
        + payload
    ),
    st.sampled_from([0, 1, 2, 8, 9, 10, 3]),
    st.binary(max_size=20),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(frames, max_size=6).map(b"".join) | st.binary(max_size=60),
    st.lists(st.integers(0, 80), max_size=5),
    st.booleans(),
    st.sampled_from([None, 0, 5, 30]),
)
def test_decoder_agrees(both, data, cuts, client, limit):
    c, py = both
    options = dict(client=client, max_frame_size=limit, max_message_size=limit)
    assert decode(c, data, cuts, **options) == decode(py, data, cuts, **options)


def test_both_fixture_compares_two_different_backends(both):
    c, py = both
    assert c.backend is not py.backend
    assert c.backend.__name__.endswith("_cbackend") and py.backend.__name__.endswith("_pure")


@settings(max_examples=300, deadline=None)
@given(
    st.booleans(),
    st.sampled_from([0, 0x40, 0x20, 0x10, 0x70]),
    st.integers(0, 15),
    st.integers(0, 2**63 - 1) | st.integers(0, 70000),
    st.none() | st.binary(min_size=4, max_size=4),
)
def test_header_building_agrees(both, fin, rsv, opcode, length, key):
    c, py = both
    built = c.backend.build_header(fin, rsv, opcode, length, key)
    assert built == py.backend.build_header(fin, rsv, opcode, length, key)
