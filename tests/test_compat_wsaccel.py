"""wsfast.compat.wsaccel answers as wsaccel does: the tuples, outputs and pointers recorded
from wsaccel itself by tests/data/make_wsaccel_vectors.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wsfast.compat import wsaccel

VECTORS = json.loads((Path(__file__).parent / "data" / "wsaccel_vectors.json").read_text())


def test_vectors_cover_valid_and_invalid_text_and_every_masker():
    verdicts = {case["results"][-1][0] for case in VECTORS["utf8"] if case["results"]}
    assert verdicts == {True, False}
    kinds = {case["kind"] for case in VECTORS["maskers"]}
    assert kinds == {"XorMaskerSimple", "createXorMasker", "XorMaskerNull"}


@pytest.mark.parametrize("case", VECTORS["utf8"], ids=lambda c: c["data"][:24] or "empty")
def test_utf8_validator_gives_wsaccels_tuple_for_every_piece(case):
    data = bytes.fromhex(case["data"])
    v = wsaccel.Utf8Validator()
    got, at = [], 0
    for size in case["pieces"]:
        got.append(list(v.validate(data[at : at + size])))
        at += size
    assert got == case["results"]


@pytest.mark.parametrize("case", VECTORS["maskers"], ids=lambda c: f"{c['kind']}-{len(c['data']) // 2}")
def test_masker_gives_wsaccels_output_and_pointer_across_calls(case):
    key, data = bytes.fromhex(case["key"]), bytes.fromhex(case["data"])
    if case["kind"] == "XorMaskerSimple":
        m = wsaccel.XorMaskerSimple(key)
    elif case["kind"] == "createXorMasker":
        m = wsaccel.createXorMasker(key, len(data))
    else:
        m = wsaccel.XorMaskerNull(key)
    outputs, pointers, at = [], [], 0
    for size in case["pieces"]:
        outputs.append(bytes(m.process(data[at : at + size])).hex())
        pointers.append(m.pointer())
        at += size
    assert outputs == case["outputs"]
    assert pointers == case["pointers"]
    m.reset()
    assert [bytes(m.process(data[:8])).hex(), m.pointer()] == case["after_reset"]


def test_validator_reset_accepts_again_after_a_rejection():
    v = wsaccel.Utf8Validator()
    assert v.validate(b"\xc0\xaf") == (False, False, 0, 0)
    v.reset()
    assert v.validate(b"\xc3\xa9") == (True, True, 2, 2)


def test_validator_takes_bytearray_and_memoryview():
    v = wsaccel.Utf8Validator()
    assert v.validate(bytearray(b"\xe2\x82")) == (True, False, 2, 2)
    assert v.validate(memoryview(b"\xacx")) == (True, True, 2, 4)


def test_masker_takes_bytearray_and_memoryview_and_returns_bytes():
    m = wsaccel.XorMaskerSimple(b"\x01\x02\x03\x04")
    assert m.process(bytearray(b"\x00\x00")) == b"\x01\x02"
    assert m.process(memoryview(b"\x00\x00\x00")) == b"\x03\x04\x01"
    assert type(m.process(b"ab")) is bytes


@pytest.mark.parametrize("mask", [b"", b"abc", b"abcde"])
def test_masker_refuses_a_mask_that_is_not_four_bytes(mask):
    with pytest.raises(ValueError, match="mask must contain 4 bytes"):
        wsaccel.XorMaskerSimple(mask)


def test_null_masker_returns_its_input_and_counts_it():
    m = wsaccel.XorMaskerNull()
    data = bytearray(b"abc")
    assert m.process(data) is data
    assert m.pointer() == 3


def test_text_is_refused_with_a_type_error():
    with pytest.raises(TypeError):
        wsaccel.Utf8Validator().validate("text")
    with pytest.raises(TypeError):
        wsaccel.XorMaskerSimple(b"abcd").process("text")
