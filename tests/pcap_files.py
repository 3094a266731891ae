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
