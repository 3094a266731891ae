"""``python -m wsfast FILE``: what the dissector says about unusual or broken captures, and the
hex dumps it declines to read.

Every expected line is worked out by hand from RFC 6455 (frame layout, 5.4 fragmentation, 5.5.1
close payloads, 7.4 close code ranges) and the RFC's own handshake example (1.3).
"""

from __future__ import annotations

import io
import sys

import wsfast.__main__
import wsfast.deflate
from wsfast import _inspect

from .test_inspect import SERVER_STREAM, capture, frames, run

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def dissect(*streams: tuple[str, bytes]) -> tuple[_inspect.Dissector, str]:
    """Both directions of a conversation through one dissector, as ``main`` cannot do."""
    out = io.StringIO()
    dissector = _inspect.Dissector(out)
    for sender, data in streams:
        dissector.stream(sender, data)
    return dissector, out.getvalue()


def request(*headers: str) -> bytes:
    return ("GET /chat HTTP/1.1\r\nHost: example.com\r\n" + "".join(headers) + "\r\n").encode()


def response(*headers: str) -> bytes:
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" + "".join(headers) + "\r\n"
    ).encode()


# the handshake


def test_a_request_without_a_key_shows_no_expected_accept():
    dissector, output = dissect((_inspect.CLIENT, request()))
    assert "HTTP request: client -> server" in output
    assert "Host: example.com" in output
    assert "Sec-WebSocket-Accept" not in output
    assert dissector.errors == 0


def test_the_servers_accept_is_checked_against_the_clients_key():
    _, output = dissect(
        (_inspect.CLIENT, request(f"Sec-WebSocket-Key: {RFC_KEY}\r\n")),
        (_inspect.SERVER, response(f"Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n")),
    )
    assert "[Sec-WebSocket-Accept check: OK]" in output


def test_a_wrong_accept_is_a_problem_that_names_the_right_value():
    dissector, output = dissect(
        (_inspect.CLIENT, request(f"Sec-WebSocket-Key: {RFC_KEY}\r\n")),
        (_inspect.SERVER, response("Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n")),
    )
    assert f"[Sec-WebSocket-Accept check: WRONG, expected {RFC_ACCEPT}]" in output
    assert dissector.errors == 1


def test_a_response_alone_cannot_be_checked_and_is_not_a_problem(tmp_path):
    status, output = run(capture(tmp_path, response(f"Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n")))
    assert status == 0
    assert "HTTP response: server -> client" in output
    assert "check" not in output


# frames


def test_a_header_cut_short_is_reported_with_its_bytes(tmp_path):
    status, output = run(capture(tmp_path, bytes.fromhex("81 7e 01")), "--server")
    assert status == 1
    assert "Truncated frame header: server -> client: 81 7e 01" in output
    assert "frames: 0, problems: 1" in output


def test_a_new_message_inside_a_fragmented_one_is_flagged(tmp_path):
    # text "Hel" without FIN, then a new text frame "lo" instead of a continuation (5.4)
    status, output = run(capture(tmp_path, bytes.fromhex("01 03 48 65 6c 81 02 6c 6f")), "--server")
    assert status == 1
    assert "new data frame while a fragmented message is open (5.4)" in output


def test_a_character_split_between_fragments_is_shown_reassembled(tmp_path):
    # "é" is C3 A9: the first fragment ends after C3, the continuation carries A9
    data = bytes.fromhex("01 01 c3 80 01 a9")
    status, output = run(capture(tmp_path, data), "--server")
    assert status == 0
    shown = frames(output)
    assert "[not complete UTF-8 on its own]" in shown[0]
    assert "[not complete UTF-8 on its own]" in shown[1]
    assert "[Reassembled message, 2 frames, 2 bytes]" in shown[1]
    assert "Text: \u00e9" in shown[1]


def test_an_empty_binary_frame_says_so(tmp_path):
    status, output = run(capture(tmp_path, bytes.fromhex("82 00")), "--server")
    assert status == 0
    assert "Data: (empty)" in output


def test_a_close_frame_without_a_payload_has_no_status_code(tmp_path):
    status, output = run(capture(tmp_path, bytes.fromhex("88 00")), "--server")
    assert status == 0
    assert "Close: (no status code)" in output


def test_a_one_byte_close_payload_is_malformed(tmp_path):
    # 5.5.1: a close body, if any, starts with a 2-byte code
    status, output = run(capture(tmp_path, bytes.fromhex("88 01 03")), "--server")
    assert status == 1
    assert "[malformed close payload: 1 byte 03]" in output


def test_close_codes_are_named_by_their_range(tmp_path):
    # 7.4.2: 3000-3999 registered with IANA for libraries and frameworks; 2000 is reserved
    _, output = run(capture(tmp_path, bytes.fromhex("88 02 0b b8")), "--server")  # 3000
    assert "Close: Registered (libraries, frameworks) (3000)" in output
    _, output = run(capture(tmp_path, bytes.fromhex("88 02 07 d0")), "--server")  # 2000
    assert "Close: Unknown (2000)" in output


# input


def test_standard_input_is_read_for_a_dash(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SERVER_STREAM)))
    status, from_stdin = run("-", "--server")
    assert status == 0
    from_file = run(capture(tmp_path, SERVER_STREAM), "--server")[1]
    assert from_stdin.replace("-: ", "X: ") == from_file.replace(f"{tmp_path / 'capture'}: ", "X: ")


def test_the_module_entry_point_dissects_a_file(tmp_path, capsys):
    assert wsfast.__main__.main([capture(tmp_path, SERVER_STREAM), "--server"]) == 0
    output = capsys.readouterr().out
    assert "frames: 4, problems: 0" in output


# hex dumps


def test_blank_lines_in_a_hex_dump_are_skipped():
    dump = "00000000: 8105 4865\n\n00000004: 6c6c 6f\n"
    assert _inspect.parse_hex_dump(dump) == bytes.fromhex("81 05 48 65 6c 6c 6f")


def test_an_offset_line_before_the_bytes_is_ignored():
    assert _inspect.parse_hex_dump("00000000\n00000000 81 05\n00000002\n") == b"\x81\x05"


def test_blank_text_is_not_a_hex_dump():
    assert _inspect.parse_hex_dump("\n   \n") is None


def test_a_dump_that_does_not_start_at_offset_zero_is_not_read():
    assert _inspect.parse_hex_dump("00000010: 8105 4865\n") is None


def test_offsets_that_fit_neither_hex_nor_octal_are_not_a_dump():
    # in hex the second row would start 0x18 = 24 bytes in, after a row of 16: not a dump; in
    # octal "18" is not a number
    dump = "0000000 81 05 48 65 6c 6c 6f 01 03 48 65 6c 80 02 6c 6f\n0000018 89 05\n"
    assert _inspect.parse_hex_dump(dump) is None


def test_rsv1_with_nothing_agreed_is_one_problem_not_a_utf8_one_too():
    # found in review: the still-compressed bytes were also reported as invalid UTF-8
    _, out = dissect(("server", bytes([0xC1, 0x03]) + b"\xf2\x48\x05"))
    assert "rsv1" in out.lower()
    assert "not valid utf-8" not in out


def test_a_handshake_that_agrees_nothing_ends_what_deflate_said():
    # a --deflate agreement applies until a handshake says otherwise
    out = io.StringIO()
    agreed = wsfast.deflate.agreed_from_response("permessage-deflate")
    dissector = _inspect.Dissector(out, agreed=agreed)
    dissector.stream("server", response(f"Sec-WebSocket-Accept: {RFC_ACCEPT}\r\n"))
    dissector.stream("server", bytes([0xC1, 0x03]) + b"\xf2\x48\x05")
    assert "[Compressed:" not in out.getvalue()


def test_json_without_a_file_prints_records_only():
    import json

    printed = io.StringIO()
    _inspect.main(["--json"], out=printed)
    lines = printed.getvalue().splitlines()
    assert lines
    records = [json.loads(line) for line in lines]  # no banner or heading lines among them
    assert any(r.get("opcode") == 1 for r in records)
