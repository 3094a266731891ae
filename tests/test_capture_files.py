"""``python -m wsfast inspect`` on captures built here byte by byte (tests/pcap_files.py):
what each frame shows, TCP reassembly's rules, and damaged or odd files, which must end in a
problem line and exit status 1, never an exception or a hang.  Needs only the capture extra
(scapy), not tcpdump or tshark.

Expected values are the bytes the test put in: payloads, masking keys, RFC 6455 frame layout.
"""

from __future__ import annotations

import builtins
import io
import json
import random
import re
import struct
import sys
import zlib
from pathlib import Path

import pytest

from wsfast import _inspect
from wsfast.capture import tcp

from . import pcap_files
from .pcap_files import Flow, frame

pytest.importorskip("scapy", reason="scapy is not installed: pip install 'wsfast[capture]'")

KEY = bytes.fromhex("37fa213d")


def run(path: Path, *options: str) -> tuple[int, list[dict]]:
    out = io.StringIO()
    status = _inspect.main([str(path), "--json", *options], out=out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def text_run(path: Path, *options: str) -> tuple[int, str]:
    out = io.StringIO()
    return _inspect.main([str(path), *options], out=out), out.getvalue()


def frames(records: list[dict]) -> list[dict]:
    return [r for r in records if r["kind"] == "frame"]


def problems(records: list[dict]) -> list[str]:
    return [p for r in records for p in r.get("problems", ())]


def write(tmp_path: Path, *flows: Flow, name: str = "built.pcap") -> Path:
    packets = sorted((p for f in flows for p in f.packets), key=lambda p: (p.seconds, p.fraction))
    path = tmp_path / name
    pcap_files.write(path, pcap_files.Pcap(pcap_files.ETHERNET, False, packets))
    return path


def conversation(port: int = 40000, **options) -> Flow:
    flow = Flow(port, 8080, **options).open().upgrade()
    flow.send("client", frame(1, "h\u00e9llo \U0001f600".encode(), key=KEY))
    flow.send("server", frame(1, b"Hel", fin=False) + frame(0, b"lo"))
    flow.send("client", frame(2, bytes(range(256)) * 40, key=KEY))  # 10 KB, 8 segments
    flow.send("server", frame(9, b"ping"))
    flow.send("client", frame(10, b"ping", key=KEY))
    flow.send("client", frame(8, b"\x03\xe8bye", key=KEY))
    flow.send("server", frame(8, b"\x03\xe8"))
    return flow.close()


# what a frame shows


def test_each_frame_of_a_built_conversation(tmp_path):
    status, records = run(write(tmp_path, conversation()))
    assert status == 0, problems(records)
    shown = [
        (f["direction"], f["opcode"], f["fin"], f["masked"], f["mask"], f["length"], f["text"])
        for f in frames(records)
    ]
    assert shown == [
        ("client", 1, True, True, "37fa213d", 11, "h\u00e9llo \U0001f600"),
        ("server", 1, False, False, None, 3, None),
        ("server", 0, True, False, None, 2, "Hello"),
        ("client", 2, True, True, "37fa213d", 10240, None),
        ("server", 9, True, False, None, 4, None),
        ("client", 10, True, True, "37fa213d", 4, None),
        ("client", 8, True, True, "37fa213d", 5, None),
        ("server", 8, True, False, None, 2, None),
    ]
    binary = frames(records)[3]
    assert binary["payload"] == (bytes(range(256)) * 40).hex()  # unmasked
    assert binary["message_length"] == 10240
    assert all(f["stream"] == 0 and f["problems"] == [] for f in frames(records))
    packets = [f["packet"] for f in frames(records)]
    assert packets == sorted(packets) and packets[0] == 6  # SYN, SYN-ACK, ACK, request, response


def test_the_tree_names_the_stream_the_packet_and_the_time(tmp_path):
    status, output = text_run(write(tmp_path, conversation()))
    assert status == 0
    assert "Stream 0: client 127.0.0.1:40000, server 127.0.0.1:8080" in output
    assert "[Sec-WebSocket-Accept check: OK]" in output
    assert "Frame 1: client -> server, 17 bytes (stream 0, packet 6, 0.000050 s)" in output
    assert "Text: h\u00e9llo \U0001f600" in output
    assert output.rstrip().endswith("streams: 1 WebSocket of 1 TCP, frames: 8, problems: 0")


def test_connections_are_numbered_in_order_of_their_first_packet(tmp_path):
    flows = [conversation(40000 + i, start=1_700_000_000.0 + i * 0.000_005) for i in range(3)]
    status, records = run(write(tmp_path, *flows))
    assert status == 0
    connections = [r for r in records if r["kind"] == "connection"]
    assert [(r["stream"], r["client"]) for r in connections] == [
        (i, f"127.0.0.1:{40000 + i}") for i in range(3)
    ]
    assert len(frames(records)) == 24
    only = frames(run(write(tmp_path, *flows), "--stream", "1")[1])
    assert len(only) == 8 and {f["stream"] for f in only} == {1}


def test_vlan_tagged_ethernet_is_read(tmp_path):
    flow = conversation()
    for packet in flow.packets:  # an 802.1Q tag (VLAN 5) between the addresses and the type
        packet.data = packet.data[:12] + b"\x81\x00\x00\x05" + packet.data[12:]
        packet.wire_length += 4
    status, records = run(write(tmp_path, flow))
    assert status == 0
    assert len(frames(records)) == 8


@pytest.mark.parametrize(
    "linktype",
    [pcap_files.NULL, pcap_files.LOOP, pcap_files.RAW, pcap_files.LINUX_SLL, pcap_files.LINUX_SLL2],
)
def test_every_link_layer_gives_the_same_frames(tmp_path, linktype):
    built = write(tmp_path, conversation())
    path = tmp_path / f"link-{linktype}.pcap"
    pcap_files.write(path, pcap_files.relinked(pcap_files.read(built), linktype))
    status, records = run(path)
    assert status == 0
    assert frames(records) == frames(run(built)[1])


def test_a_port_used_again_is_a_new_stream(tmp_path):
    first = conversation()
    second = conversation(start=first.time + 1)
    status, records = run(write(tmp_path, first, second))
    assert status == 0
    assert [r["stream"] for r in records if r["kind"] == "connection"] == [0, 1]


def test_a_compressed_message_is_inflated_with_the_agreed_parameters(tmp_path):
    flow = (
        Flow(40000, 8080).open().upgrade(extensions="permessage-deflate; client_max_window_bits=10")
    )
    compressor = zlib.compressobj(wbits=-10)
    body = "compressed \u20ac".encode() * 50
    data = compressor.compress(body) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    flow.send("client", frame(1, data[:-4], key=KEY, rsv1=True))
    status, records = run(write(tmp_path, flow.close()))
    assert status == 0, problems(records)
    (only,) = frames(records)
    assert only["rsv1"] and only["text"] == body.decode() and only["message_length"] == len(body)
    response = [r for r in records if r["kind"] == "handshake"][1]
    assert response["deflate"]["client_max_window_bits"] == 10


@pytest.mark.parametrize("takeover", [True, False])
def test_compressed_messages_after_a_gap_inflate_from_an_empty_context(tmp_path, takeover):
    # the client sends the same text three times; with context takeover the third refers back
    # to the second, whose bytes a gap loses: it must fail to inflate, never show wrong text
    extensions = "permessage-deflate" + ("" if takeover else "; client_no_context_takeover")
    flow = Flow(40000, 8080, segment=64).open().upgrade(extensions=extensions)
    body = bytes(random.Random(5).choice(b"abcdefgh") for _ in range(400))
    compressor = zlib.compressobj(wbits=-15)
    for _ in range(3):
        if not takeover:
            compressor = zlib.compressobj(wbits=-15)
        data = compressor.compress(body) + compressor.flush(zlib.Z_SYNC_FLUSH)
        flow.send("client", frame(1, data[:-4], key=KEY, rsv1=True))
        flow.send("server", frame(10, b"ack"))
    sent = [i for i, p in enumerate(flow.packets) if pcap_files.tcp_payload_length(p.data)]
    second = [i for i in sent if pcap_files.tcp_ports(flow.packets[i].data)[0] == 40000][-2]
    del flow.packets[second]  # inside the client's second message
    status, records = run(write(tmp_path, flow.close()))
    assert status == 1
    texts = [f["text"] for f in frames(records) if f["direction"] == "client" and f["opcode"] == 1]
    assert texts[0] == body.decode()
    assert all(t in (None, body.decode()) for t in texts)  # nothing inflated wrong
    lost = [p for p in problems(records) if "a gap lost" in p]
    if takeover:
        assert texts[-1] is None and lost, problems(records)
    else:
        assert texts[-1] == body.decode() and not lost


def test_rsv1_without_an_agreed_extension_is_a_problem(tmp_path):
    flow = Flow(40000, 8080).open().upgrade()
    flow.send("server", frame(1, b"abc", rsv1=True))
    status, records = run(write(tmp_path, flow.close()))
    assert status == 1
    assert "rsv1 set but permessage-deflate was not agreed (RFC 6455 5.2)" in problems(records)


def test_a_wrong_accept_and_a_refused_upgrade_are_problems(tmp_path):
    flow = Flow(40000, 8080).open()
    flow.send("client", b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Key: AAAA\r\n\r\n")
    flow.send("server", b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: xyz=\r\n\r\n")
    refused = Flow(40001, 8080).open()
    refused.send("client", b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
    refused.send("server", b"HTTP/1.1 403 Forbidden\r\n\r\n")
    status, records = run(write(tmp_path, flow.close(), refused.close()))
    assert status == 1
    found = problems(records)
    assert any(p.startswith("Sec-WebSocket-Accept xyz= is not ") for p in found)
    assert "the server refused the upgrade: HTTP/1.1 403 Forbidden" in found


def test_plain_http_is_not_taken_for_websocket(tmp_path):
    flow = Flow(40000, 8080).open()
    flow.send("client", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    flow.send("server", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\x81\x00")
    status, records = run(write(tmp_path, flow.close()))
    assert status == 0 and records == []


# TCP reassembly


def test_retransmitted_and_overlapping_segments_are_used_once():
    half = tcp.HalfStream()
    half.syn(99)
    assert half.add(100, b"abcd") == [b"abcd"]
    assert half.add(100, b"abcd") == []  # retransmitted
    assert half.add(102, b"cdef") == [b"ef"]  # overlaps the end of what came before
    assert half.delivered == 6


def test_out_of_order_segments_are_put_in_place():
    half = tcp.HalfStream()
    half.syn(0)
    assert half.add(6, b"fgh") == []
    assert half.add(4, b"de") == []
    assert half.add(1, b"abc") == [b"abc", b"de", b"fgh"]
    assert half.add(3, b"cdefghi") == [b"i"]  # only its last byte is new


def test_sequence_numbers_wrap_around():
    half = tcp.HalfStream()
    half.syn(2**32 - 3)
    assert half.add(2**32 - 2, b"ab") == [b"ab"]
    assert half.add(0, b"cd") == [b"cd"]
    assert half.add(2**32 - 1, b"bc") == []  # bytes 2**32 - 1 and 0: both delivered
    assert half.add(1, b"dxy") == [b"xy"]


def test_a_hole_the_receiver_acknowledged_past_is_a_gap():
    half = tcp.HalfStream()
    half.syn(0)
    assert half.add(1, b"ab") == [b"ab"]
    assert half.add(6, b"fg") == []  # 3-5 not (yet) seen
    assert half.acknowledged(4) == []  # the receiver has not passed the held segment
    assert half.acknowledged(8) == [tcp.Gap(3), b"fg"]


def test_a_hole_with_too_much_held_behind_it_is_a_gap(monkeypatch):
    monkeypatch.setattr(tcp, "HELD_LIMIT", 10)
    half = tcp.HalfStream()
    half.syn(0)
    assert half.add(11, b"x" * 8) == []
    assert half.add(19, b"y" * 8) == [tcp.Gap(10), b"x" * 8, b"y" * 8]


def test_what_is_held_at_the_end_comes_out_after_its_gap():
    half = tcp.HalfStream()
    half.syn(0)
    half.add(4, b"d")
    assert half.finish() == [tcp.Gap(3), b"d"]


def test_a_lost_segment_inside_a_frame_is_a_gap_and_later_frames_are_found(tmp_path):
    flow = conversation()
    # the 8th data packet from the client: inside the 10 KB binary frame
    lost = [i for i, p in enumerate(flow.packets) if pcap_files.tcp_payload_length(p.data)][6]
    del flow.packets[lost]
    status, records = run(write(tmp_path, flow))
    assert status == 1
    assert problems(records) == [
        "1448 bytes of the client's stream are missing (lost or not captured); 2896 bytes of "
        "the frame they were in are dropped"
    ]
    shown = [(f["direction"], f["opcode"]) for f in frames(records)]
    assert shown == [
        ("client", 1),
        ("server", 1),
        ("server", 0),
        ("server", 9),
        ("client", 10),
        ("client", 8),
        ("server", 8),
    ]


def test_a_capture_that_joins_an_open_connection_finds_the_frames(tmp_path):
    flow = conversation()
    del flow.packets[:5]  # the TCP and HTTP handshakes
    status, records = run(write(tmp_path, flow))
    assert status == 1
    assert "the capture starts after the connection opened: no handshake" in problems(records)
    assert len(frames(records)) == 8
    assert frames(records)[0]["text"] == "h\u00e9llo \U0001f600"


def test_packets_cut_by_a_snap_length_are_a_gap(tmp_path):
    flow = conversation()
    for packet in flow.packets:
        packet.data = packet.data[:600]  # wire_length keeps the size sent
    status, records = run(write(tmp_path, flow))
    assert status == 1
    assert any("bytes of the client's stream are missing" in p for p in problems(records))
    assert frames(records)[0]["text"] == "h\u00e9llo \U0001f600"


# damaged files


def test_every_cut_of_the_file_ends_in_a_problem_not_an_exception(tmp_path):
    raw = write(tmp_path, conversation()).read_bytes()
    path = tmp_path / "cut.pcap"
    whole = run(tmp_path / "built.pcap")[1]
    for end in range(24, len(raw), 7):
        path.write_bytes(raw[:end])
        status, records = run(path)
        assert status in (0, 1)
        if status == 0:  # only a cut between two records, after the last frame's packet
            assert frames(records) == frames(whole)[: len(frames(records))]


def test_random_damage_never_raises(tmp_path):
    raw = bytearray(write(tmp_path, conversation()).read_bytes())
    path = tmp_path / "damaged.pcap"
    chance = random.Random(15)
    for _ in range(150):
        damaged = bytearray(raw)
        for _ in range(chance.randint(1, 8)):
            damaged[chance.randrange(24, len(damaged))] = chance.randrange(256)
        path.write_bytes(bytes(damaged))
        assert run(path)[0] in (0, 1)


def test_a_pcap_with_an_unknown_link_type_says_so(tmp_path):
    path = tmp_path / "usb.pcap"
    pcap_files.write(path, pcap_files.Pcap(189, False, [pcap_files.Packet(1, 0, b"\x00" * 40, 40)]))
    status, records = run(path)
    assert status == 1
    assert problems(records) == ["link type 189 is not supported: its packets are skipped"]


def test_a_fragmented_ip_packet_is_a_problem(tmp_path):
    flow = conversation()
    data = bytearray(flow.packets[5].data)
    data[14 + 6 : 14 + 8] = struct.pack(">H", 0x2000)  # more fragments
    flow.packets[5].data = bytes(data)
    status, records = run(write(tmp_path, flow))
    assert status == 1
    assert "packet 6: fragmented IPv4 packet (not reassembled)" in problems(records)


def test_an_ipv4_total_length_of_0_is_a_segment_captured_before_offload(tmp_path):
    # TCP segmentation offload: the sender's capture sees one large segment whose IPv4 length
    # the NIC fills in later, 0 in the file; it runs to the end of the packet
    flow = conversation()
    offloaded = {i for i, p in enumerate(flow.packets) if pcap_files.tcp_payload_length(p.data) > 0}
    for i in offloaded:
        data = bytearray(flow.packets[i].data)
        data[14 + 2 : 14 + 4] = b"\x00\x00"
        flow.packets[i].data = bytes(data)
    status, records = run(write(tmp_path, flow))
    assert status == 0, problems(records)
    want = run(write(tmp_path, conversation(), name="plain.pcap"))[1]
    assert frames(records) == frames(want) and len(frames(records)) == 8


def test_a_pcapng_block_cut_short_is_a_problem(tmp_path):
    # section header, interface description (Ethernet), then an enhanced packet block whose
    # stated length runs past the end of the file
    shb = struct.pack("<IIIHHq", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1) + struct.pack("<I", 28)
    idb = struct.pack("<IIHHI", 1, 20, 1, 0, 65535) + struct.pack("<I", 20)
    epb = struct.pack("<IIIIIII", 6, 132, 0, 0, 0, 100, 100) + b"\x00" * 40
    path = tmp_path / "cut.pcapng"
    path.write_bytes(shb + idb + epb)
    status, records = run(path)
    assert status == 1
    assert problems(records)


def test_without_scapy_a_capture_names_the_extra(tmp_path, monkeypatch, capsys):
    path = write(tmp_path, conversation())
    real_import = builtins.__import__

    def no_scapy(name, *args, **kwargs):
        if name.startswith("scapy"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scapy)
    for module in [m for m in sys.modules if m.startswith("scapy")]:
        monkeypatch.delitem(sys.modules, module)
    assert _inspect.main([str(path)], out=io.StringIO()) == 1
    error = capsys.readouterr().err
    assert error == "reading pcap and pcapng files needs scapy: pip install 'wsfast[capture]'\n"


# raw input: --deflate and --json


def test_deflate_parameters_given_for_raw_input_inflate_its_frames(tmp_path):
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(b"raw and compressed") + compressor.flush(zlib.Z_SYNC_FLUSH)
    path = tmp_path / "server.bin"
    path.write_bytes(frame(1, data[:-4], rsv1=True))
    status, output = text_run(path, "--server", "--deflate", "permessage-deflate")
    assert status == 0
    assert "Text: raw and compressed" in output
    status, output = text_run(path, "--server")
    assert status == 1
    assert "[expert: rsv1 set but permessage-deflate was not agreed (RFC 6455 5.2)]" in output


def test_invalid_deflate_parameters_are_refused(tmp_path, capsys):
    path = tmp_path / "server.bin"
    path.write_bytes(frame(1, b"x"))
    assert (
        _inspect.main([str(path), "--deflate", "permessage-deflate; server_max_window_bits=20"])
        == 2
    )
    assert "invalid --deflate" in capsys.readouterr().err


def test_json_for_raw_input_has_the_spec_fields(tmp_path):
    path = tmp_path / "client.bin"
    path.write_bytes(frame(1, b"Hello", key=KEY))
    status, records = run(path)
    assert status == 0
    (record,) = records
    assert record == {
        "stream": 0,
        "packet": None,
        "time": None,
        "kind": "frame",
        "frame": 1,
        "direction": "client",
        "fin": True,
        "rsv1": False,
        "rsv2": False,
        "rsv3": False,
        "opcode": 1,
        "masked": True,
        "mask": "37fa213d",
        "length": 5,
        "payload": b"Hello".hex(),
        "text": "Hello",
        "message_length": 5,
        "problems": [],
    }


# the capture README shows


def test_the_readme_capture_dissects_as_shown(tmp_path):
    path = Path(__file__).resolve().parent.parent / "docs" / "capture.pcapng"
    status, output = text_run(path)
    assert status == 0
    assert output.rstrip().endswith("streams: 1 WebSocket of 1 TCP, frames: 8, problems: 0")
    assert "[Extensions: permessage-deflate, client: window 12 bits, context kept" in output
    assert "[Compressed: 26 bytes inflate to 23]" in output
    assert output.count("Text: Hello, wsfast \u00e9\u20ac\U0001f600") == 2
    records = frames(run(path)[1])
    assert [(f["opcode"], f["rsv1"]) for f in records] == [
        (1, True),
        (1, False),
        (2, True),
        (2, False),
        (9, False),
        (10, False),
        (8, False),
        (8, False),
    ]


# odd handshakes, frames and packets


def answered(extensions: str, *frames_sent: tuple[str, bytes]) -> Flow:
    flow = Flow(40000, 8080).open()
    flow.send("client", b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
    flow.send(
        "server",
        f"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Extensions: {extensions}\r\n\r\n".encode(),
    )
    for side, data in frames_sent:
        flow.send(side, data)
    return flow


@pytest.mark.parametrize(
    "extensions, problem",
    [
        (
            "permessage-deflate; server_max_window_bits=99",
            "invalid permessage-deflate parameters in",
        ),
        ("permessage-deflate; =", "malformed sec-websocket-extensions"),
        ("permessage-deflate, permessage-deflate", "permessage-deflate agreed twice"),
    ],
)
def test_an_extension_answer_that_cannot_hold_is_a_problem(tmp_path, extensions, problem):
    status, records = run(write(tmp_path, answered(extensions)))
    assert status == 1
    (found,) = problems(records)
    assert found.startswith(f"Sec-WebSocket-Extensions: {problem}")


def test_an_extension_wsfast_does_not_know_is_read_not_inflated(tmp_path):
    status, records = run(
        write(tmp_path, answered("x-webkit-deflate-frame", ("server", frame(1, b"ok"))))
    )
    assert status == 0
    response = [r for r in records if r["kind"] == "handshake"][1]
    assert response["extensions"] == "x-webkit-deflate-frame" and "deflate" not in response


def test_reserved_bits_where_no_extension_allows_them_are_problems(tmp_path):
    flow = answered(
        "permessage-deflate",
        ("server", bytes([0xA1, 0x01]) + b"a"),  # RSV2
        ("server", bytes([0x91, 0x01]) + b"a"),  # RSV3
        ("server", frame(9, b"", rsv1=True)),
        ("server", frame(2, b"", fin=False) + frame(0, b"", rsv1=True)),
    )
    status, records = run(write(tmp_path, flow))
    assert status == 1
    assert problems(records) == [
        "rsv2 set but no extension defines it (RFC 6455 5.2)",
        "rsv3 set but no extension defines it (RFC 6455 5.2)",
        "rsv1 set on a ping frame (RFC 7692 6.1)",
        "rsv1 set on a continuation frame (RFC 7692 6.1)",
    ]


def test_invalid_compressed_data_is_one_problem_per_message(tmp_path):
    flow = answered(
        "permessage-deflate",
        ("server", frame(1, b"\xff\xff\xff", fin=False, rsv1=True) + frame(0, b"\x00")),
        ("server", frame(1, b"\xff", rsv1=True)),
    )
    status, records = run(write(tmp_path, flow))
    assert status == 1
    found = problems(records)  # the continuation of the first message adds none
    assert len(found) == 2 and all(p.startswith("invalid compressed data") for p in found)
    assert [f["text"] for f in frames(records)] == [None, None, None]


def test_a_text_message_that_is_not_utf8_is_a_problem(tmp_path):
    status, records = run(write(tmp_path, answered("", ("server", frame(1, b"ab\xff")))))
    assert status == 1
    assert problems(records) == ["text message is not valid utf-8 at byte 2"]


def test_invalid_utf8_is_reported_where_the_decoder_fails_it(tmp_path):
    # E2 28: the lead byte starts a valid sequence; the 28 after it is what breaks it (byte 3,
    # where wsfast's decoder fails, not 2, where Python's UnicodeDecodeError starts)
    status, records = run(write(tmp_path, answered("", ("server", frame(1, b"ab\xe2\x28z")))))
    assert status == 1
    assert problems(records) == ["text message is not valid utf-8 at byte 3"]


def test_a_frame_longer_than_kept_is_a_problem_and_the_next_frame_is_found(tmp_path):
    flow = answered("", ("server", bytes([0x82, 0x7F]) + (2**40).to_bytes(8, "big") + b"x" * 100))
    flow.send("server", frame(1, b"after"))
    status, records = run(write(tmp_path, flow))
    assert status == 1
    assert (
        problems(records)[0]
        == f"a frame of {2**40} bytes is more than this tool keeps ({64 * 2**20})"
    )
    assert [f["text"] for f in frames(records)] == ["after"]


def test_a_malformed_header_is_reported_at_once_and_the_next_frame_is_found(tmp_path):
    # a reserved opcode, then 200 bytes of its claimed 300: shown as soon as it arrives
    flow = answered("", ("server", bytes([0x83, 0x7E, 0x01, 0x2C]) + b"z" * 200))
    flow.send("server", frame(1, b"next"))
    status, records = run(write(tmp_path, flow))
    assert status == 1
    assert problems(records) == ["malformed frame: reserved opcode 0x3"]
    assert [f["text"] for f in frames(records)] == ["next"]


def test_frames_right_after_a_malformed_header_are_found(tmp_path):
    flow = answered("", ("server", b"\x8b\x00" + frame(1, b"one") + frame(1, b"two")))
    status, records = run(write(tmp_path, flow))
    assert status == 1
    assert [f["text"] for f in frames(records)] == ["one", "two"]


def test_a_stream_that_ends_inside_a_frame_is_a_problem(tmp_path):
    flow = answered("", ("server", frame(2, b"q" * 50)[:30]))
    status, records = run(write(tmp_path, flow))
    assert status == 1
    assert problems(records) == ["the stream ends inside a frame: 30 of 52 bytes"]


def test_a_capture_that_starts_at_the_upgrade_request_needs_no_tcp_handshake(tmp_path):
    flow = conversation()
    del flow.packets[:3]
    status, records = run(write(tmp_path, flow))
    assert status == 0
    assert len(frames(records)) == 8


def test_a_response_without_a_request_is_not_websocket(tmp_path):
    flow = Flow(40000, 8080).open()
    flow.send("server", b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + frame(1, b"x"))
    status, records = run(write(tmp_path, flow.close()))
    assert status == 0 and records == []


def test_a_new_syn_on_an_open_connection_starts_a_new_stream(tmp_path):
    first = Flow(40000, 8080).open().upgrade()
    first.send("client", frame(1, b"one", key=KEY))
    second = conversation(start=first.time + 1)
    status, records = run(write(tmp_path, first, second))
    assert status == 0
    assert [r["stream"] for r in records if r["kind"] == "connection"] == [0, 1]
    assert [f["stream"] for f in frames(records)] == [0] + [1] * 8


def test_old_closed_connections_are_forgotten(tmp_path, monkeypatch):
    from wsfast.capture import connections

    monkeypatch.setattr(connections, "_CLOSED_KEPT", 2)
    flows = [conversation(40000 + i, start=1_700_000_000.0 + i) for i in range(3)]
    status, records = run(write(tmp_path, *flows))
    assert status == 0 and len(frames(records)) == 24


def test_a_gap_in_the_tree_view_says_where_the_frames_resume(tmp_path):
    flow = conversation()
    lost = [i for i, p in enumerate(flow.packets) if pcap_files.tcp_payload_length(p.data)][6]
    del flow.packets[lost]
    status, output = text_run(write(tmp_path, flow))
    assert status == 1
    assert "Problem: client -> server: 1448 bytes of the client's stream are missing" in output
    # the rest of the 10 248-byte frame: 10 248 - 2 x 1448 before the hole - 1448 lost
    assert "[client -> server: 5904 bytes skipped to the next frame boundary]" in output


def test_a_damaged_packet_is_a_problem_line_in_the_tree(tmp_path):
    flow = conversation()
    data = bytearray(flow.packets[5].data)
    data[14 + 6 : 14 + 8] = struct.pack(">H", 0x2000)
    flow.packets[5].data = bytes(data)
    status, output = text_run(write(tmp_path, flow))
    assert status == 1
    assert (
        "Problem: packet 6: fragmented IPv4 packet (not reassembled) (stream 0, packet 6)" in output
    )


def test_junk_after_a_gap_is_dropped_as_it_is_scanned(tmp_path, monkeypatch):
    from wsfast.capture import connections

    monkeypatch.setattr(connections, "RESYNC_WAIT", 3000)
    flow = Flow(40000, 8080).open().upgrade()
    flow.send("server", frame(2, bytes(20000)))  # zeros: no frame header starts in them
    flow.send("server", frame(1, b"found"))
    lost = [i for i, p in enumerate(flow.packets) if pcap_files.tcp_payload_length(p.data)][3]
    del flow.packets[lost]
    status, records = run(write(tmp_path, flow.close()))
    assert status == 1
    assert [f["text"] for f in frames(records)] == ["found"]


def test_a_last_frame_after_a_gap_is_found_at_the_end(tmp_path):
    flow = Flow(40000, 8080).open().upgrade()
    flow.send("server", frame(2, bytes(5000)))
    flow.send("server", b"zz" + frame(1, b"last"))  # not at a segment start, nothing after it
    lost = [i for i, p in enumerate(flow.packets) if pcap_files.tcp_payload_length(p.data)][3]
    del flow.packets[lost]
    status, records = run(write(tmp_path, flow.close()))
    assert status == 1
    assert [f["text"] for f in frames(records)] == ["last"]


def test_a_frame_whose_follower_is_cut_between_segments_is_found(tmp_path):
    flow = Flow(40000, 8080).open().upgrade()
    flow.send("server", frame(2, bytes(5000)))
    flow.send("server", b"zz" + frame(1, b"mid") + b"\x81")  # the next header's first byte
    flow.send("server", b"\x03end")
    lost = [i for i, p in enumerate(flow.packets) if pcap_files.tcp_payload_length(p.data)][3]
    del flow.packets[lost]
    status, records = run(write(tmp_path, flow.close()))
    assert status == 1
    assert [f["text"] for f in frames(records)] == ["mid", "end"]


def test_a_gap_before_the_servers_answer_leaves_the_client_looking_for_frames(tmp_path):
    flow = Flow(40000, 8080).open()
    flow.send("client", b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
    flow.send("client", frame(1, b"early", key=KEY))
    flow.send("server", b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    flow.send("client", frame(1, b"later", key=KEY))
    del flow.packets[4]  # the early frame
    status, records = run(write(tmp_path, flow.close()))
    assert status == 1
    assert [f["text"] for f in frames(records)] == ["later"]


def test_an_endless_request_head_is_not_websocket(tmp_path):
    flow = Flow(40000, 8080).open()
    flow.send("client", b"GET /" + b"a" * 70000)
    status, records = run(write(tmp_path, flow.close()))
    assert status == 0 and records == []


def test_a_capture_from_standard_input(tmp_path, monkeypatch):
    raw = write(tmp_path, conversation()).read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    status, records = run(Path("-"))
    assert status == 0 and len(frames(records)) == 8


def test_a_file_with_a_capture_magic_but_no_capture_is_a_problem(tmp_path):
    path = tmp_path / "bad.pcapng"
    path.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\x00" * 40)
    status, records = run(path)
    assert status == 1
    assert any(p.startswith("not a capture file scapy can read") for p in problems(records))


# packets: links.segment on headers built here


def _ipv6(next_header: int, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (
        struct.pack(
            ">IHBB16s16s", 0x6000_0000, size, next_header, 64, bytes(16), bytes(15) + b"\x01"
        )
        + body
    )


TCP_HEADER = struct.pack(">HHIIBBHHH", 1, 2, 100, 0, 5 << 4, 0x18, 0, 0, 0)


@pytest.mark.parametrize(
    "linktype, packet, expected",
    [
        (pcap_files.RAW, _ipv6(6, TCP_HEADER + b"hi"), b"hi"),
        (
            pcap_files.RAW,
            _ipv6(0, bytes([6, 0]) + bytes(6) + TCP_HEADER + b"hop"),
            b"hop",
        ),  # hop-by-hop
        (pcap_files.RAW, _ipv6(17, bytes(8)), None),  # UDP
        (pcap_files.RAW, _ipv6(6, b"")[:30], "IPv6 header cut short"),
        (pcap_files.RAW, _ipv6(0, bytes(4)), "IPv6 extension header cut short"),
        (pcap_files.RAW, _ipv6(44, bytes(8)), "fragmented IPv6 packet (not reassembled)"),
        (
            pcap_files.RAW,
            _ipv6(6, TCP_HEADER[:12] + bytes([15 << 4]) + TCP_HEADER[13:]),
            "TCP header longer than the packet",
        ),
        (pcap_files.RAW, b"\x45" + bytes(10), "IPv4 header cut short"),
        (pcap_files.RAW, b"\x10" * 30, None),  # neither IPv4 nor IPv6
        (pcap_files.LINUX_SLL, bytes(10), None),
        (pcap_files.LINUX_SLL2, bytes(10), None),
        (pcap_files.ETHERNET, bytes(12) + b"\x08\x06" + bytes(28), None),  # ARP
    ],
)
def test_link_and_ip_headers(linktype, packet, expected):
    from wsfast.capture import links

    if isinstance(expected, str):
        with pytest.raises(links.Damaged, match=re.escape(expected)):
            links.segment(linktype, packet, len(packet))
        return
    found = links.segment(linktype, packet, len(packet))
    assert (found.payload if found is not None else None) == expected


def test_a_retransmitted_syn_and_held_segment_change_nothing():
    half = tcp.HalfStream()
    half.syn(0)
    half.syn(0)
    assert half.add(5, b"ef") == []
    assert half.add(5, b"ef") == []
    assert half.held_bytes == 2
    assert half.add(1, b"abcd") == [b"abcd", b"ef"]


def test_a_held_segment_overlapped_up_to_its_cut_part_gives_only_the_gap():
    half = tcp.HalfStream()
    half.syn(0)
    assert half.add(5, b"e", missing=3) == []  # 5 kept, 6-8 cut
    assert half.add(1, b"abcdef") == [b"abcdef", tcp.Gap(2)]  # 7-8 still missing


@pytest.mark.parametrize(
    "header, length",
    [
        (bytes([0x82, 0x7E, 0x00, 0x7D]), 0),  # 16-bit length below 126: not minimal
        (bytes([0x82, 0x7E, 0x01, 0x00]), 4 + 256),
        (bytes([0x82, 0x7F]) + (65535).to_bytes(8, "big"), 0),  # 64-bit length below 65536
        (bytes([0x82, 0x7F]) + (70000).to_bytes(8, "big"), 10 + 70000),
        (bytes([0x82, 0x7F]) + (2**21).to_bytes(8, "big"), 0),  # longer than RESYNC_WAIT
        (bytes([0x82, 0x7F, 0x00]), None),  # not enough bytes to tell
        (bytes([0x89, 0x7E, 0x01, 0x00]), 0),  # a control frame over 125
        (bytes([0x09, 0x00]), 0),  # a control frame without FIN
        (bytes([0xC1, 0x01]), 0),  # RSV1 when nothing was agreed
        (bytes([0x81, 0x81]), 0),  # masked, from the server
        (bytes([0x80, 0x00]), 0),  # empty continuation: zeros look like this
    ],
)
def test_what_counts_as_a_frame_boundary_after_a_gap(header, length):
    from wsfast.capture.connections import _plausible

    assert _plausible(bytearray(header), 0, False, False) == length
    half = tcp.HalfStream()
    half.syn(0)
    assert half.add(5, b"ef", missing=2) == []  # held: 5-6 kept, 7-8 cut
    assert half.add(1, b"abcd") == [b"abcd", b"ef", tcp.Gap(2)]
    assert half.add(3, b"cdefg", missing=3) == [tcp.Gap(2)]  # only 9-10 are new, and cut


def test_connections_reset_are_over_whether_shown_or_not(tmp_path):
    flows = []
    for i in range(3):
        flow = Flow(40000 + i, 8080, start=1_700_000_000.0 + i).open().upgrade()
        flow.send("client", frame(1, f"m{i}".encode(), key=KEY))
        flow._add(pcap_files.tcp_packet(flow.client, flow.server, flow.seq["client"], 0, pcap_files.RST))
        flows.append(flow)
    path = write(tmp_path, *flows)
    assert [f["text"] for f in frames(run(path)[1])] == ["m0", "m1", "m2"]
    status, records = run(path, "--stream", "1")
    assert status == 0
    assert [(f["stream"], f["text"]) for f in frames(records)] == [(1, "m1")]
