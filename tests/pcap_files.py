"""Classic pcap files read and written by hand, for the tests that change a recorded capture
(another byte order or timestamp unit, another link layer, a packet duplicated, swapped, lost
or cut).  Independent of the code under test: struct and the pcap file format only."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC_MICRO, MAGIC_NANO = 0xA1B2C3D4, 0xA1B23C4D
ETHERNET, NULL, RAW, LOOP, LINUX_SLL, LINUX_SLL2 = 1, 0, 101, 108, 113, 276


@dataclass
class Packet:
    seconds: int
    fraction: int  # micro- or nanoseconds, as the file says
    data: bytes
    wire_length: int


@dataclass
class Pcap:
    linktype: int
    nano: bool = False
    packets: list[Packet] = field(default_factory=list)


def read(path: Path) -> Pcap:
    raw = path.read_bytes()
    for endian in "<>":
        magic = struct.unpack_from(endian + "I", raw)[0]
        if magic in (MAGIC_MICRO, MAGIC_NANO):
            break
    else:
        raise ValueError(f"{path} is not a pcap file")
    linktype = struct.unpack_from(endian + "I", raw, 20)[0]
    capture = Pcap(linktype, magic == MAGIC_NANO)
    offset = 24
    while offset + 16 <= len(raw):
        seconds, fraction, kept, wire = struct.unpack_from(endian + "IIII", raw, offset)
        capture.packets.append(Packet(seconds, fraction, raw[offset + 16 : offset + 16 + kept], wire))
        offset += 16 + kept
    return capture


def write(path: Path, capture: Pcap, endian: str = "<") -> None:
    magic = MAGIC_NANO if capture.nano else MAGIC_MICRO
    parts = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, capture.linktype)]
    for packet in capture.packets:
        parts.append(
            struct.pack(endian + "IIII", packet.seconds, packet.fraction, len(packet.data), packet.wire_length)
        )
        parts.append(packet.data)
    path.write_bytes(b"".join(parts))


def nanoseconds(capture: Pcap) -> Pcap:
    assert not capture.nano
    return Pcap(
        capture.linktype,
        True,
        [Packet(p.seconds, p.fraction * 1000 + 123, p.data, p.wire_length) for p in capture.packets],
    )


def relinked(capture: Pcap, linktype: int) -> Pcap:
    """The same IP packets under another link layer (from Ethernet)."""
    assert capture.linktype == ETHERNET
    packets = []
    for packet in capture.packets:
        ethertype = packet.data[12:14]
        ip = packet.data[14:]
        ipv6 = ethertype == b"\x86\xdd"
        if linktype == NULL:  # host byte order (little-endian here), BSD's AF_INET6 is 24/28/30
            head = struct.pack("<I", 30 if ipv6 else 2)
        elif linktype == LOOP:
            head = struct.pack(">I", 30 if ipv6 else 2)
        elif linktype == RAW:
            head = b""
        elif linktype == LINUX_SLL:  # packet type, ARPHRD_LOOPBACK, address length, address, protocol
            head = struct.pack(">HHH8s", 0, 772, 6, bytes(8)) + ethertype
        elif linktype == LINUX_SLL2:  # protocol, reserved, ifindex, ARPHRD, type, address length, address
            head = ethertype + struct.pack(">HIHBB8s", 0, 1, 772, 0, 6, bytes(8))
        else:
            raise ValueError(linktype)
        packets.append(Packet(packet.seconds, packet.fraction, head + ip, packet.wire_length - 14 + len(head)))
    return Pcap(linktype, capture.nano, packets)


def tcp_payload_length(packet: bytes) -> int:
    """The TCP payload length of an Ethernet / IPv4 or IPv6 packet (0 for anything else)."""
    if packet[12:14] == b"\x08\x00":
        ip = packet[14:]
        if ip[9] != 6:
            return 0
        total, header = struct.unpack_from(">H", ip, 2)[0], (ip[0] & 15) * 4
        return total - header - (ip[header + 12] >> 4) * 4
    if packet[12:14] == b"\x86\xdd":
        ip = packet[14:]
        if ip[6] != 6:
            return 0
        return struct.unpack_from(">H", ip, 4)[0] - (ip[40 + 12] >> 4) * 4
    return 0


def tcp_ports(packet: bytes) -> tuple[int, int]:
    ip = packet[14:]
    start = 40 if packet[12:14] == b"\x86\xdd" else (ip[0] & 15) * 4
    return struct.unpack_from(">HH", ip, start)


# building captures from scratch: Ethernet, IPv4, TCP (checksums left zero: no reader here
# checks them)

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def tcp_packet(
    source: tuple[bytes, int], destination: tuple[bytes, int], seq: int, ack: int, flags: int, payload: bytes = b""
) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", source[1], destination[1], seq % 2**32, ack % 2**32, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack(
        ">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0, source[0], destination[0]
    )
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload


def masked(payload: bytes, key: bytes) -> bytes:
    """RFC 6455 5.3, by whole-number XOR (no per-byte loop, nothing from wsfast)."""
    stream = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(payload), "big")


def frame(opcode: int, payload: bytes, *, fin: bool = True, key: bytes | None = None, rsv1: bool = False) -> bytes:
    """RFC 6455 5.2, minimal length encoding."""
    first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    bit = 0x80 if key is not None else 0
    n = len(payload)
    if n < 126:
        head = struct.pack(">BB", first, bit | n)
    elif n < 65536:
        head = struct.pack(">BBH", first, bit | 126, n)
    else:
        head = struct.pack(">BBQ", first, bit | 127, n)
    if key is None:
        return head + payload
    return head + key + masked(payload, key)


class Flow:
    """One TCP connection's packets: a handshake, then what each side sends, segmented."""

    def __init__(self, client_port: int, server_port: int, *, start: float = 1_700_000_000.0, segment: int = 1448):
        self.client = (bytes([127, 0, 0, 1]), client_port)
        self.server = (bytes([127, 0, 0, 1]), server_port)
        self.seq = {"client": 1000, "server": 5000}
        self.time = start
        self.segment = segment
        self.packets: list[Packet] = []

    def _add(self, data: bytes) -> None:
        self.time += 0.000_01
        seconds = int(self.time)
        self.packets.append(Packet(seconds, int((self.time - seconds) * 1e6), data, len(data)))

    def _ends(self, side: str) -> tuple:
        return (self.client, self.server) if side == "client" else (self.server, self.client)

    def open(self) -> Flow:
        self._add(tcp_packet(self.client, self.server, self.seq["client"] - 1, 0, SYN))
        self._add(tcp_packet(self.server, self.client, self.seq["server"] - 1, self.seq["client"], SYN | ACK))
        self._add(tcp_packet(self.client, self.server, self.seq["client"], self.seq["server"], ACK))
        return self

    def send(self, side: str, data: bytes) -> Flow:
        other = "server" if side == "client" else "client"
        source, destination = self._ends(side)
        for start in range(0, len(data), self.segment):
            piece = data[start : start + self.segment]
            self._add(tcp_packet(source, destination, self.seq[side], self.seq[other], PSH | ACK, piece))
            self.seq[side] += len(piece)
        return self

    def upgrade(self, key: str = "dGhlIHNhbXBsZSBub25jZQ==", extensions: str | None = None) -> Flow:
        import base64
        import hashlib

        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        extra = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else ""
        self.send(
            "client",
            (
                "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
            ).encode(),
        )
        self.send(
            "server",
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
            ).encode(),
        )
        return self

    def close(self) -> Flow:
        for side in ("client", "server"):
            other = "server" if side == "client" else "client"
            source, destination = self._ends(side)
            self._add(tcp_packet(source, destination, self.seq[side], self.seq[other], FIN | ACK))
            self.seq[side] += 1
        return self
