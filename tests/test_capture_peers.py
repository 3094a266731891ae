"""Captures of real peers, recorded with tcpdump on loopback, dissected by wsfast and by
Wireshark's tshark: every frame must agree (packet, TCP stream, direction, opcode, FIN, RSV1,
masking key, payload length) and so must the text of every complete text message, inflated
when compressed.  The messages themselves are also checked against what the clients sent.

The same holds for the capture in other forms (pcapng, several interfaces and link types in one
pcapng, big-endian and nanosecond pcap, BSD null / loopback, raw IP, Linux cooked v1 and v2) and
for copies damaged on purpose (a segment duplicated, two swapped, one lost, the file cut inside
a frame).  Recorded once per module: the whole file runs in seconds.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from wsfast import _inspect

from . import pcap_files
from .echo_process import start_echo_server

TRAFFIC = Path(__file__).resolve().parent / "capture_traffic.py"
TOOLS = ("tcpdump", "tshark", "editcap", "mergecap")
FRAME_FIELDS = ("packet", "stream", "direction", "opcode", "fin", "rsv1", "mask", "length")


def _missing() -> str | None:
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed (.ci/run installs Debian's tcpdump and tshark)"
    try:
        import scapy  # noqa: F401
    except ImportError:
        return "scapy is not installed: pip install 'wsfast[capture]'"
    # the peers whose traffic is recorded (tests/capture_traffic.py)
    for peer, module in (("websockets", "websockets"), ("aiohttp", "aiohttp"),
                         ("websocket-client", "websocket")):
        try:
            __import__(module)
        except ImportError:
            return f"{peer} is not installed: pip install -e '.[test,peers]'"
    return None


@dataclass
class Recording:
    directory: Path
    pcap: Path
    ports: dict[str, int]
    conversations: list[dict]

    def variant(self, name: str) -> Path:
        return self.directory / name


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    reason = _missing()
    if reason is not None:
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("capture")
    echo, echo_port = start_echo_server()
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(TRAFFIC.parent.parent), os.environ.get("PYTHONPATH")])
        ),
    )
    traffic = subprocess.Popen(
        [sys.executable, str(TRAFFIC), str(echo_port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    dump = None
    try:
        ports = json.loads(traffic.stdout.readline())
        pcap = directory / "peers.pcap"
        wanted = "tcp and (" + " or ".join(f"port {port}" for port in ports.values()) + ")"
        privileges = ["-Z", "root"] if os.geteuid() == 0 else []
        dump = subprocess.Popen(
            [
                "tcpdump",
                "-i",
                "lo",
                "-B",
                "16384",
                "-U",
                "-s",
                "0",
                *privileges,
                "-w",
                str(pcap),
                wanted,
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        started = dump.stderr.readline()
        if "listening on" not in started:
            pytest.skip(f"tcpdump cannot capture on lo: {started.strip()}")
        traffic.stdin.write("go\n")
        traffic.stdin.flush()
        out, _ = traffic.communicate(timeout=120)
        assert traffic.returncode == 0, out
        # libpcap hands packets over in blocks, at the latest after a second; tcpdump stopped
        # before then leaves the last block out (and --immediate-mode drops packets instead)
        time.sleep(1.5)
    finally:
        if dump is not None:
            dump.terminate()
            stats = dump.communicate(timeout=30)[1]
        traffic.kill()
        echo.terminate()
        echo.wait(timeout=30)
    assert "\n0 packets dropped by kernel" in stats, stats
    conversations = [json.loads(line) for line in out.splitlines()]
    return Recording(directory, pcap, ports, conversations)


def tshark(recording: Recording, path: Path) -> list[dict]:
    """tshark's WebSocket frames, and the text of each complete text message it can tell."""
    decode = [arg for port in recording.ports.values() for arg in ("-d", f"tcp.port=={port},http")]
    done = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            *decode,
            "-o",
            "tcp.reassemble_out_of_order:TRUE",
            "-Y",
            "websocket",
            "-T",
            "json",
            "--no-duplicate-keys",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout, done.stderr
    servers = set(recording.ports.values())
    frames = []
    for packet in json.loads(done.stdout):
        layers = packet["_source"]["layers"]
        websocket = layers["websocket"]
        for layer in websocket if isinstance(websocket, list) else [websocket]:
            payload = layer.get("websocket.payload")
            text = payload.get("websocket.payload.text") if isinstance(payload, dict) else None
            frames.append(
                {
                    "packet": int(layers["frame"]["frame.number"]),
                    "stream": int(layers["tcp"]["tcp.stream"]),
                    "direction": (
                        "server" if int(layers["tcp"]["tcp.srcport"]) in servers else "client"
                    ),
                    "opcode": int(layer["websocket.opcode"]),
                    "fin": layer["websocket.fin"] == "1",
                    "rsv1": bool(int(layer["websocket.rsv"], 16) & 4),
                    "mask": layer.get("websocket.masking_key", "").replace(":", "") or None,
                    # the 7-bit field; 126 and 127 say an extended length follows (RFC 6455 5.2)
                    "length": int(
                        layer.get("websocket.payload_length_ext_64")
                        or layer.get("websocket.payload_length_ext_16")
                        or layer["websocket.payload_length"]
                    ),
                    "frame_text": text,
                }
            )
    _message_texts(frames)
    return frames


def _message_texts(frames: list[dict]) -> None:
    """tshark shows each frame's text; a complete message's text is that of its only frame
    (inflated by tshark when compressed), or its uncompressed fragments' texts joined.  It does
    not reassemble compressed fragments: those messages are checked against what was sent."""
    open_messages: dict[tuple, dict] = {}
    for frame in frames:
        frame["message_text"] = None
        if frame["opcode"] >= 8:
            continue
        key = (frame["stream"], frame["direction"])
        if frame["opcode"] != 0:
            open_messages[key] = {"kind": frame["opcode"], "compressed": frame["rsv1"], "texts": []}
        message = open_messages.get(key)
        if message is None:
            continue
        text = frame["frame_text"]
        if text is None and frame["length"] == 0 and not message["compressed"]:
            text = ""
        message["texts"].append(text)
        if frame["fin"]:
            del open_messages[key]
            texts = message["texts"]
            if (
                message["kind"] == 1
                and None not in texts
                and (len(texts) == 1 or not message["compressed"])
            ):
                frame["message_text"] = "".join(texts)


def wsfast(path: Path, *options: str) -> tuple[int, list[dict]]:
    out = io.StringIO()
    status = _inspect.main([str(path), "--json", *options], out=out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def frames_of(records: list[dict]) -> list[dict]:
    return [record for record in records if record["kind"] == "frame"]


def assert_agree(ours: list[dict], theirs: list[dict]) -> int:
    """Every frame the same; every text tshark can tell the same.  The texts compared."""
    assert [tuple(f[k] for k in FRAME_FIELDS) for f in ours] == [
        tuple(f[k] for k in FRAME_FIELDS) for f in theirs
    ]
    compared = 0
    for mine, reference in zip(ours, theirs):
        if reference["message_text"] is not None:
            assert mine["text"] == reference["message_text"], (mine["packet"], mine["stream"])
            compared += 1
    return compared


# the capture as tcpdump wrote it


def test_every_frame_agrees_with_tshark(recording):
    status, records = wsfast(recording.pcap)
    assert status == 0, [r for r in records if r.get("problems")]
    ours = frames_of(records)
    assert len(ours) > 150
    compared = assert_agree(ours, tshark(recording, recording.pcap))
    assert compared > 60


def test_every_peer_and_message_kind_is_in_the_capture(recording):
    ours = frames_of(wsfast(recording.pcap)[1])
    opcodes = {frame["opcode"] for frame in ours}
    assert opcodes == {0, 1, 2, 8, 9, 10}
    assert any(frame["rsv1"] for frame in ours)
    assert any(frame["length"] > 65535 for frame in ours)  # 64-bit lengths
    assert any(frame["length"] == 0 and frame["opcode"] == 1 for frame in ours)
    names = {c["name"] for c in recording.conversations}
    assert {"websockets", "websockets-deflate", "websockets-tuned", "aiohttp", "echo"} <= names


def _streams(records: list[dict]) -> dict[int, dict]:
    return {r["stream"]: r for r in records if r["kind"] == "connection"}


def test_messages_are_what_the_clients_sent_and_the_servers_echoed(recording):
    records = wsfast(recording.pcap)[1]
    by_port = {
        int(r["server"].rsplit(":", 1)[1]): stream for stream, r in _streams(records).items()
    }
    for conversation in recording.conversations:
        stream = by_port[conversation["port"]]
        for direction in ("client", "server"):
            complete = [
                f
                for f in frames_of(records)
                if f["stream"] == stream
                and f["direction"] == direction
                and f["fin"]
                and f["opcode"] in (0, 1, 2)
            ]
            assert len(complete) == len(conversation["sent"]), (conversation["name"], direction)
            for frame, sent in zip(complete, conversation["sent"]):
                if sent["kind"] == "text":
                    assert frame["text"] == sent["text"], (conversation["name"], direction)
                else:
                    assert frame["text"] is None
                    assert frame["message_length"] == len(sent["hex"]) // 2


def test_handshakes_are_paired_and_checked(recording):
    records = wsfast(recording.pcap)[1]
    streams = _streams(records)
    responses = {
        r["stream"]: r for r in records if r["kind"] == "handshake" and r["direction"] == "server"
    }
    assert set(responses) == set(streams)
    for conversation in recording.conversations:
        stream = next(
            s for s, r in streams.items() if r["server"].endswith(f":{conversation['port']}")
        )
        response = responses[stream]
        assert response["accept_ok"] is True
        assert response["start"].startswith("HTTP/1.1 101")
        assert ("deflate" in response) == conversation["compressed"]
    tuned = next(
        s
        for s, r in streams.items()
        if r["server"].endswith(f":{recording.ports['websockets-tuned']}")
    )
    assert responses[tuned]["deflate"] == {
        "server_no_context_takeover": False,
        "client_no_context_takeover": True,
        "server_max_window_bits": 10,
        "client_max_window_bits": 9,
    }


def test_ipv6_connections_are_dissected(recording):
    if "websockets-ipv6" not in recording.ports:
        pytest.skip("no IPv6 loopback on this machine")
    streams = _streams(wsfast(recording.pcap)[1])
    assert any(
        r["server"] == f"[::1]:{recording.ports['websockets-ipv6']}" for r in streams.values()
    )


def test_the_tree_view_of_one_stream(recording):
    stream = 1  # websockets with its default permessage-deflate
    out = io.StringIO()
    assert _inspect.main([str(recording.pcap), "--stream", str(stream)], out=out) == 0
    text = out.getvalue()
    assert f"Stream {stream}: client 127.0.0.1:" in text
    assert f"server 127.0.0.1:{recording.ports['websockets-deflate']}" in text
    assert "[Sec-WebSocket-Accept check: OK]" in text
    assert "[Extensions: permessage-deflate" in text
    assert "Text: \u00e9t\u00e9" in text
    assert "Stream 0:" not in text and "Stream 2:" not in text
    assert text.rstrip().endswith("problems: 0")
    only = io.StringIO()
    assert (
        _inspect.main([str(recording.pcap), "--stream", str(stream), "--frames-only"], out=only)
        == 0
    )
    assert "HTTP request" not in only.getvalue() and "Stream 1:" not in only.getvalue()
    assert only.getvalue().count("\nFrame ") == text.count("\nFrame ")


# the same capture in other forms


def _converted(recording: Recording, name: str) -> Path:
    path = recording.variant(name)
    if path.exists():
        return path
    original = pcap_files.read(recording.pcap)
    if name == "peers.pcapng":
        subprocess.run(["editcap", "-F", "pcapng", str(recording.pcap), str(path)], check=True)
    elif name == "big-endian.pcap":
        pcap_files.write(path, original, ">")
    elif name == "nanoseconds.pcap":
        pcap_files.write(path, pcap_files.nanoseconds(original))
    elif name == "nanoseconds-big-endian.pcap":
        pcap_files.write(path, pcap_files.nanoseconds(original), ">")
    elif name.startswith("link-"):
        linktype = int(name.split("-")[1].split(".")[0])
        pcap_files.write(path, pcap_files.relinked(original, linktype))
    elif name == "interfaces.pcapng":
        # each connection on an interface of its own, with its own link type, merged by time
        parts = []
        linktypes = [
            pcap_files.ETHERNET,
            pcap_files.LINUX_SLL2,
            pcap_files.LINUX_SLL,
            pcap_files.RAW,
            pcap_files.NULL,
        ]
        ports = sorted(recording.ports.values())
        for index, linktype in enumerate(linktypes):
            mine = set(ports[index :: len(linktypes)])
            subset = pcap_files.Pcap(
                original.linktype,
                original.nano,
                [p for p in original.packets if set(pcap_files.tcp_ports(p.data)) & mine],
            )
            part = recording.variant(f"part-{index}.pcap")
            pcap_files.write(
                part,
                (
                    subset
                    if linktype == pcap_files.ETHERNET
                    else pcap_files.relinked(subset, linktype)
                ),
            )
            parts.append(str(part))
        subprocess.run(["mergecap", "-F", "pcapng", "-w", str(path), *parts], check=True)
    else:
        raise ValueError(name)
    return path


@pytest.mark.parametrize(
    "name",
    [
        "peers.pcapng",
        "interfaces.pcapng",
        "big-endian.pcap",
        "nanoseconds.pcap",
        "nanoseconds-big-endian.pcap",
        "link-0.pcap",  # BSD null
        "link-108.pcap",  # OpenBSD loopback
        "link-101.pcap",  # raw IP
        "link-113.pcap",  # Linux cooked
        "link-276.pcap",  # Linux cooked v2
    ],
)
def test_every_form_of_the_capture_agrees_with_tshark(recording, name):
    path = _converted(recording, name)
    status, records = wsfast(path)
    assert status == 0, [r for r in records if r.get("problems")]
    ours = frames_of(records)
    assert assert_agree(ours, tshark(recording, path)) > 60
    if name != "interfaces.pcapng":  # the same frames as the original, at the same times
        original = frames_of(wsfast(recording.pcap)[1])
        assert [(f["packet"], f["payload"]) for f in ours] == [
            (f["packet"], f["payload"]) for f in original
        ]
        factor = 1 if "nanoseconds" not in name else 1
        assert [round(f["time"], 6) for f in ours] == [
            round(f["time"] * factor, 6) for f in original
        ]


def test_the_pcapng_has_several_interfaces_and_link_types(recording):
    path = _converted(recording, "interfaces.pcapng")
    done = subprocess.run(
        ["capinfos", "-E", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        assert (
            "Per-packet" in done.stdout
            or "Multiple" in done.stdout
            or "encapsulation" in done.stdout.lower()
        )
    streams = _streams(wsfast(path)[1])
    assert len(streams) == len(recording.conversations)


# damaged copies


def _inside_a_big_message(capture: pcap_files.Pcap, port: int) -> int:
    """The index of a packet from the server on ``port`` that carries the middle of a 100 KB
    message and is followed, next in the file, by another packet of that message."""
    sent = [
        i
        for i, p in enumerate(capture.packets)
        if pcap_files.tcp_payload_length(p.data) > 2000 and pcap_files.tcp_ports(p.data)[0] == port
    ]
    pairs = [i for i in sent if i + 1 in sent]
    assert pairs, f"no two packets of a big message in a row from port {port}"
    return pairs[len(pairs) // 2]


def _damaged(recording: Recording, name: str, change) -> Path:
    capture = pcap_files.read(recording.pcap)
    change(capture)
    path = recording.variant(name)
    pcap_files.write(path, capture)
    return path


def test_a_duplicated_segment_is_used_once(recording):
    def duplicate(capture):
        index = _inside_a_big_message(capture, recording.ports["websockets"])
        capture.packets.insert(index + 1, capture.packets[index])

    path = _damaged(recording, "duplicated.pcap", duplicate)
    status, records = wsfast(path)
    assert status == 0
    ours = frames_of(records)
    assert assert_agree(ours, tshark(recording, path)) > 60
    assert len(ours) == len(frames_of(wsfast(recording.pcap)[1]))


def test_two_swapped_segments_are_put_back_in_order(recording):
    def swap(capture):
        index = _inside_a_big_message(capture, recording.ports["websockets"])
        capture.packets[index], capture.packets[index + 1] = (
            capture.packets[index + 1],
            capture.packets[index],
        )

    path = _damaged(recording, "swapped.pcap", swap)
    status, records = wsfast(path)
    assert status == 0
    ours = frames_of(records)
    assert assert_agree(ours, tshark(recording, path)) > 60
    original = frames_of(wsfast(recording.pcap)[1])
    assert [f["payload"] for f in ours] == [f["payload"] for f in original]


def test_a_lost_segment_is_a_gap_and_the_next_frames_are_found_again(recording):
    port = recording.ports["websockets"]
    lost = []

    def drop(capture):
        index = _inside_a_big_message(capture, port)
        lost.append(index + 1)
        del capture.packets[index]

    path = _damaged(recording, "lost.pcap", drop)
    status, records = wsfast(path)
    assert status == 1
    problems = [r for r in records if r["kind"] == "problem"]
    assert any("bytes of the server's stream are missing" in p["problems"][0] for p in problems)
    # every frame that starts after the hole is there, as in the whole capture
    original = frames_of(wsfast(recording.pcap)[1])
    after = [f for f in original if f["packet"] > lost[0] + 5]
    ours = [f for f in frames_of(records) if f["packet"] + 1 > lost[0] + 5]
    key = lambda f: (
        f["stream"],
        f["direction"],
        f["opcode"],
        f["fin"],
        f["mask"],
        f["length"],
        f["payload"],
    )  # noqa: E731
    assert [key(f) for f in ours] == [key(f) for f in after]
    stream = next(f["stream"] for f in ours if f["packet"] + 1 > lost[0])
    assert any(f["stream"] == stream for f in after)  # the stream that lost it goes on


def test_a_file_cut_inside_a_frame_is_a_problem_and_the_frames_before_agree(recording):
    capture = pcap_files.read(recording.pcap)
    index = _inside_a_big_message(capture, recording.ports["websockets"])
    raw = recording.pcap.read_bytes()
    offset = 24 + sum(16 + len(p.data) for p in capture.packets[:index]) + 16 + 100
    path = recording.variant("cut.pcap")
    path.write_bytes(raw[:offset])
    status, records = wsfast(path)
    assert status == 1
    problems = [p for r in records if r["kind"] == "problem" for p in r["problems"]]
    assert any("ends inside a record" in p for p in problems)
    ours = frames_of(records)
    theirs = tshark(recording, path)
    assert assert_agree(ours, theirs) > 10
