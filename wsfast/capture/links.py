"""From a captured packet to its TCP segment: the link layer (Ethernet, Linux cooked v1 and v2,
BSD null/loopback, raw IP), IPv4 or IPv6, then TCP.  Everything else is not ours and yields
None; a packet that claims more than it holds raises :class:`Damaged`.

Parsed with ``struct`` straight from the packet's bytes: the capture reader's own layer classes
build an object per header, which costs more than everything else done per packet.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

# LINKTYPE_* values (https://www.tcpdump.org/linktypes.html)
NULL, ETHERNET, RAW, LOOP, LINUX_SLL, IPV4, IPV6, LINUX_SLL2 = 0, 1, 101, 108, 113, 228, 229, 276
# DLT_RAW as some systems number it in pcap files (12 on most BSDs, 14 on OpenBSD)
_RAW_ALIASES = (12, 14)

LINK_NAMES = {
    NULL: "BSD loopback",
    ETHERNET: "Ethernet",
    RAW: "raw IP",
    LOOP: "OpenBSD loopback",
    LINUX_SLL: "Linux cooked",
    IPV4: "raw IPv4",
    IPV6: "raw IPv6",
    LINUX_SLL2: "Linux cooked v2",
    12: "raw IP",
    14: "raw IP",
}

_ETHERTYPE_IPV4, _ETHERTYPE_IPV6 = 0x0800, 0x86DD
_VLAN_TAGS = (0x8100, 0x88A8, 0x9100)
_IPV6_SKIPPED = (0, 43, 60)  # hop-by-hop, routing and destination options headers
_TCP = 6

_H = struct.Struct("!H")
_IPV4 = struct.Struct("!BxHxxHxBxx4s4s")  # version/IHL, total length, flags/offset, protocol
_IPV6 = struct.Struct("!4xHBx16s16s")  # payload length, next header
_TCP_HEADER = struct.Struct("!HHIIBB")  # ports, seq, ack, data offset, flags

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


class Damaged(Exception):
    """A packet whose headers do not fit in it."""


class Segment(NamedTuple):
    source: bytes  # address bytes (4 or 16)
    source_port: int
    destination: bytes
    destination_port: int
    seq: int
    ack: int
    flags: int
    payload: bytes
    missing: int  # payload bytes the packet had on the wire but the capture did not keep


def known(linktype: int) -> bool:
    return linktype in LINK_NAMES


def segment(linktype: int, packet: bytes, wire_length: int) -> Segment | None:
    """The TCP segment in ``packet`` (``wire_length`` long before any snap length cut it)."""
    offset = _network_offset(linktype, packet)
    if offset is None or offset >= len(packet):
        return None
    version = packet[offset] >> 4
    cut = wire_length - len(packet)  # bytes the capture left off the end
    if version == 4:
        if len(packet) < offset + 20:
            raise Damaged("IPv4 header cut short")
        first, total, fragment, protocol, source, destination = _IPV4.unpack_from(packet, offset)
        if protocol != _TCP:
            return None
        if fragment & 0x3FFF:  # more fragments, or an offset: RFC 791 fragmentation
            raise Damaged("fragmented IPv4 packet (not reassembled)")
        start = offset + (first & 0x0F) * 4
        # 0: a segment captured before the NIC cut it up (TCP segmentation offload writes the
        # length in later; Wireshark assumes the same): it runs to the end of the packet
        end = offset + total if total else wire_length
    elif version == 6:
        if len(packet) < offset + 40:
            raise Damaged("IPv6 header cut short")
        length, protocol, source, destination = _IPV6.unpack_from(packet, offset)
        start = offset + 40
        end = start + length
        while protocol in _IPV6_SKIPPED:
            if len(packet) < start + 8:
                raise Damaged("IPv6 extension header cut short")
            protocol = packet[start]
            start += (packet[start + 1] + 1) * 8
        if protocol == 44:
            raise Damaged("fragmented IPv6 packet (not reassembled)")
        if protocol != _TCP:
            return None
    else:
        return None
    # the IP length says where the segment ends (Ethernet pads short frames); a snap length
    # may have cut it, and a damaged file may claim more than the packet ever held
    missing = max(0, end - len(packet))
    if missing > cut:
        raise Damaged(
            f"IP length {end - offset} is more than the {wire_length - offset} bytes sent"
        )
    end = min(end, len(packet))
    if end < start + 20:
        raise Damaged("TCP header cut short")
    source_port, destination_port, seq, ack, data_offset, flags = _TCP_HEADER.unpack_from(
        packet, start
    )
    payload_start = start + (data_offset >> 4) * 4
    if payload_start > end:
        raise Damaged("TCP header longer than the packet")
    return Segment(
        source,
        source_port,
        destination,
        destination_port,
        seq,
        ack,
        flags,
        packet[payload_start:end],
        missing,
    )


def _network_offset(linktype: int, packet: bytes) -> int | None:
    """Where the IP header starts, or None for a packet that carries no IP."""
    if linktype == ETHERNET:
        offset, ethertype = 12, None
        while len(packet) >= offset + 2:
            ethertype = _H.unpack_from(packet, offset)[0]
            if ethertype not in _VLAN_TAGS:
                break
            offset += 4  # 802.1Q / 802.1ad tag
        offset += 2
        return offset if ethertype in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6) else None
    if linktype == LINUX_SLL:
        if len(packet) < 16:
            return None
        return 16 if _H.unpack_from(packet, 14)[0] in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6) else None
    if linktype == LINUX_SLL2:
        if len(packet) < 20:
            return None
        return 20 if _H.unpack_from(packet, 0)[0] in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6) else None
    if linktype in (NULL, LOOP):
        # a 4-byte address family (host byte order for NULL, network for LOOP); the IP
        # version nibble after it says which it is
        return 4
    if linktype in (RAW, IPV4, IPV6) or linktype in _RAW_ALIASES:
        return 0
    return None
