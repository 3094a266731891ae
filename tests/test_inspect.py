"""``python -m wsfast``: the banner and the Wireshark-style dissection.

Expected values come from RFC 6455 (1.3 accept value, 5.7 example frames) or are worked out by
hand in the test, never from the code under test.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wsfast
from wsfast import _inspect

# RFC 6455 5.7
MASKED_HELLO = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
UNMASKED_HELLO = bytes.fromhex("81 05 48 65 6c 6c 6f")
FRAGMENTED_HELLO = bytes.fromhex("01 03 48 65 6c 80 02 6c 6f")
UNMASKED_PING = bytes.fromhex("89 05 48 65 6c 6c 6f")
MASKED_PONG = bytes.fromhex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")
BINARY_256 = bytes.fromhex("82 7e 01 00") + bytes(256)
SERVER_STREAM = UNMASKED_HELLO + FRAGMENTED_HELLO + UNMASKED_PING

# SERVER_STREAM as common tools print it (xxd, hexdump -C, od -Ax -tx1, od -tx1, Wireshark)
DUMPS = {
    "xxd": (
        "00000000: 8105 4865 6c6c 6f01 0348 656c 8002 6c6f  ..Hello..Hel..lo\n"
        "00000010: 8905 4865 6c6c 6f                        ..Hello\n"
    ),
    "hexdump -C": (
        "00000000  81 05 48 65 6c 6c 6f 01  03 48 65 6c 80 02 6c 6f  |..Hello..Hel..lo|\n"
        "00000010  89 05 48 65 6c 6c 6f                              |..Hello|\n"
        "00000017\n"
    ),
    "od -Ax -tx1": (
        "000000 81 05 48 65 6c 6c 6f 01 03 48 65 6c 80 02 6c 6f\n000010 89 05 48 65 6c 6c 6f\n000017\n"
    ),
    "od -tx1": (
        "0000000 81 05 48 65 6c 6c 6f 01 03 48 65 6c 80 02 6c 6f\n"
        "0000020 89 05 48 65 6c 6c 6f\n0000027\n"
    ),
    "wireshark": (
        "0000   81 05 48 65 6c 6c 6f 01 03 48 65 6c 80 02 6c 6f   ..Hello..Hel..lo\n"
        "0010   89 05 48 65 6c 6c 6f                              ..Hello\n"
    ),
}


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = _inspect.main(list(argv), out=out)
    return status, out.getvalue()


def frames(output: str) -> list[str]:
    """The output split into one block of text per frame."""
    return ["Frame" + block for block in output.split("\nFrame")[1:]]


def capture(tmp_path: Path, data: bytes | str, name: str = "capture") -> str:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return str(path)


# the banner


def test_banner_names_version_backend_and_kernels():
    status, output = run()
    lines = output.splitlines()
    assert status == 0
    assert lines[0] == f"wsfast {wsfast.__version__}"
    assert lines[1].startswith(f"backend: {wsfast.BACKEND}")
    kernels = getattr(wsfast, "KERNELS", None)
    if kernels:
        for operation, kernel in kernels.items():
            assert f"{operation}={kernel}" in lines[2]
    else:
        assert lines[2] == "kernels: n/a"


def test_the_pure_backend_is_never_silent(monkeypatch):
    monkeypatch.setattr(wsfast, "BACKEND", "python")
    monkeypatch.setattr(wsfast, "HAS_C", False)
    _, output = run()
    assert "backend: python (C extension not loaded: pure Python)" in output


def test_module_entry_point_prints_the_dissection():
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(Path(wsfast.__file__).parent.parent), os.environ.get("PYTHONPATH", "")]
        ),
    )
    done = subprocess.run(
        [sys.executable, "-m", "wsfast"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Sec-WebSocket-Accept check: OK" in done.stdout
    assert done.stdout.rstrip().endswith("frames: 8, problems: 0")


# the embedded sample


def test_sample_handshake_shows_the_rfc_accept_value_checked():
    _, output = run()
    assert "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" in output
    assert "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in output
    assert "[Sec-WebSocket-Accept check: OK]" in output


def test_sample_has_eight_frames_and_no_problem():
    status, output = run()
    assert status == 0
    assert len(frames(output)) == 8
    assert output.rstrip().endswith("frames: 8, problems: 0")


def test_sample_masked_text_frame_is_unmasked_to_hello():
    block = frames(run()[1])[0]
    assert "client -> server, 11 bytes" in block
    assert "1... .... = Fin: True" in block
    assert ".000 .... = Reserved: 0x0" in block
    assert ".... 0001 = Opcode: Text (1)" in block
    assert "1... .... = Mask: True" in block
    assert ".000 0101 = Payload length: 5" in block
    assert "Masking-Key: 37fa213d" in block
    assert "Masked payload: 7f 9f 4d 51 58" in block
    assert "Text: Hello" in block


def test_sample_fragments_are_shown_alone_and_reassembled():
    first, second = frames(run()[1])[1:3]
    assert "0... .... = Fin: False" in first
    assert ".... 0001 = Opcode: Text (1)" in first
    assert "0... .... = Mask: False" in first
    assert "Text: Hel" in first
    assert "1... .... = Fin: True" in second
    assert ".... 0000 = Opcode: Continuation (0)" in second
    assert "Text: lo" in second
    assert "[Reassembled message, 2 frames, 5 bytes]" in second
    assert second.count("Text: Hello") == 1


def test_sample_ping_and_its_masked_pong_carry_hello():
    ping, pong = frames(run()[1])[3:5]
    assert ".... 1001 = Opcode: Ping (9)" in ping
    assert "Ping: 48656c6c6f ('Hello')" in ping
    assert ".... 1010 = Opcode: Pong (10)" in pong
    assert "Masking-Key: 37fa213d" in pong
    assert "Pong: 48656c6c6f ('Hello')" in pong


def test_sample_binary_frame_has_a_16_bit_length_and_a_hex_payload():
    block = frames(run()[1])[5]
    assert ".... 0010 = Opcode: Binary (2)" in block
    assert ".111 1110 = Payload length: 126" in block
    assert "Extended Payload length (16 bits): 256" in block
    assert "0000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f" in block
    assert "00f0  f0 f1 f2 f3 f4 f5 f6 f7 f8 f9 fa fb fc fd fe ff" in block


def test_sample_close_frames_show_code_1000_and_the_reason():
    client, server = frames(run()[1])[6:8]
    for block in (client, server):
        assert ".... 1000 = Opcode: Close (8)" in block
        assert "Close: Normal Closure (1000)" in block
        assert "Reason: bye" in block
    assert "Masking-Key: 37fa213d" in client


def test_sample_masked_close_really_carries_1000_and_bye():
    # the embedded bytes, unmasked by hand: 1000 = 03 e8, then "bye"
    frame = {data[:2]: data for _, data in _inspect.SAMPLE}[b"\x88\x85"]
    key, masked = frame[2:6], frame[6:]
    assert bytes(b ^ key[i % 4] for i, b in enumerate(masked)) == b"\x03\xe8bye"


# captures from a file


def test_a_raw_capture_is_dissected(tmp_path):
    status, output = run(capture(tmp_path, SERVER_STREAM), "--server")
    assert status == 0
    assert len(frames(output)) == 4
    assert "frames: 4, problems: 0" in output
    assert output.count("Text: Hello") == 2  # the single frame and the reassembled message


def test_inspect_subcommand_word_is_accepted(tmp_path):
    assert (
        run("inspect", capture(tmp_path, SERVER_STREAM))[1]
        == run(capture(tmp_path, SERVER_STREAM))[1]
    )


@pytest.mark.parametrize("tool", sorted(DUMPS))
def test_a_hex_dump_gives_the_same_dissection_as_the_raw_bytes(tmp_path, tool):
    raw = run(capture(tmp_path, SERVER_STREAM, "raw"), "--server")[1]
    dumped = run(capture(tmp_path, DUMPS[tool], "dump"), "--server")[1]
    assert "(from a hex dump)" in dumped
    assert dumped.split("\n\n", 2)[2] == raw.split("\n\n", 2)[2]


def test_an_ascii_column_that_looks_like_hex_is_not_read_as_bytes():
    # xxd of b"abcd": the ASCII column "abcd" is valid hex but is not data
    dump = "00000000: 6162 6364                                abcd\n"
    assert _inspect.parse_hex_dump(dump) == b"abcd"


def test_text_that_is_not_a_hex_dump_is_left_alone():
    assert _inspect.parse_hex_dump("hello world\n") is None
    assert _inspect.load(b"GET / HTTP/1.1\r\n\r\n") == b"GET / HTTP/1.1\r\n\r\n"


def test_the_sender_is_taken_from_the_mask_bit_without_a_flag(tmp_path):
    _, output = run(capture(tmp_path, MASKED_HELLO + MASKED_PONG))
    assert output.count("client -> server") == 2
    assert "expert" not in output


def test_unmasked_frames_said_to_come_from_the_client_are_flagged(tmp_path):
    status, output = run(capture(tmp_path, UNMASKED_HELLO), "--client")
    assert status == 1
    assert "[expert: frames from the client must be masked (RFC 6455 5.1)]" in output


def test_masked_frames_said_to_come_from_the_server_are_flagged(tmp_path):
    status, output = run(capture(tmp_path, MASKED_HELLO), "--server")
    assert status == 1
    assert "[expert: frames from the server must not be masked (RFC 6455 5.1)]" in output


def test_a_handshake_request_in_a_capture_shows_the_expected_accept(tmp_path):
    request = b"GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    status, output = run(capture(tmp_path, request + MASKED_HELLO))
    assert status == 0
    assert "[expected Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=]" in output
    assert "Text: Hello" in output


def test_a_reserved_opcode_is_reported_as_malformed(tmp_path):
    status, output = run(capture(tmp_path, UNMASKED_HELLO + b"\x83\x00"))
    assert status == 1
    assert "Malformed frame: server -> client: reserved opcode 0x3" in output
    assert "frames: 1, problems: 1" in output


def test_a_truncated_payload_is_reported(tmp_path):
    status, output = run(capture(tmp_path, UNMASKED_HELLO[:-2]))
    assert status == 1
    assert "[truncated: 3 of 5 payload bytes]" in output


def test_a_continuation_with_no_message_open_is_flagged(tmp_path):
    status, output = run(capture(tmp_path, bytes.fromhex("80 02 6c 6f")))
    assert status == 1
    assert "continuation frame with no message open" in output


def test_a_close_code_outside_the_iana_names_is_described(tmp_path):
    _, output = run(capture(tmp_path, bytes.fromhex("88 02 0f a0")))  # 4000
    assert "Close: Private use (4000)" in output


def test_a_missing_file_is_an_error(tmp_path, capsys):
    status, output = run(str(tmp_path / "missing"))
    assert status == 2
    assert output == ""
    assert "cannot read" in capsys.readouterr().err
