"""TCP connections in a capture, each direction reassembled, the HTTP upgrade paired, then the
WebSocket frames of both directions handed to the dissector in capture order.

Memory follows what is in flight, not the file: a direction keeps the bytes of the frame it is
in the middle of (and out-of-order segments up to ``tcp.HELD_LIMIT``), and a connection is
dropped once both sides have closed it.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Iterable

from wsfast import PerMessageDeflate
from wsfast._inspect import CLIENT, MESSAGE_LIMIT, SERVER, Conversation, Dissector, Where, _arrow

from . import links
from .formats import Record
from .links import ACK, FIN, RST, SYN
from .tcp import Gap, HalfStream

HEAD_LIMIT = 64 * 2**10  # an HTTP head longer than this is not an upgrade
FRAME_LIMIT = MESSAGE_LIMIT  # a longer frame is not buffered (a damaged length, most likely)
RESYNC_WAIT = 2**20  # after a gap, a frame longer than this does not count as a boundary
_CLOSED_KEPT = 2**16  # closed connections remembered, so their last ACKs start nothing new

# states of one direction
_HTTP, _WAIT, _FRAMES, _RESYNC, _IGNORE = range(5)


def endpoint(address: bytes, port: int) -> str:
    shown = str(ipaddress.ip_address(address))
    return f"[{shown}]:{port}" if ":" in shown else f"{shown}:{port}"


class Half:
    """One direction: its reassembly, the bytes not yet dissected, and what they are."""

    __slots__ = ("tcp", "buffer", "state", "need", "scanned", "skipped", "starts", "fin")

    def __init__(self) -> None:
        self.tcp = HalfStream()
        self.buffer = bytearray()
        self.state = _HTTP
        self.need = 0  # bytes the frame at the start of the buffer needs (0: unknown)
        self.scanned = 0  # resync: offsets before this were ruled out
        self.skipped = 0  # resync: bytes ruled out and dropped
        self.starts: set[int] = set()  # resync: buffer offsets where a segment's bytes begin
        self.fin = False


class Connection:
    def __init__(self, capture: Capture, index: int, segment: links.Segment) -> None:
        self.capture = capture
        self.index = index
        self.conversation = Conversation(capture.agreed)
        source = (segment.source, segment.source_port)
        destination = (segment.destination, segment.destination_port)
        flags, payload = segment.flags, segment.payload
        if flags & SYN:
            client_sent = not flags & ACK
        elif payload[:4] == b"GET " or payload[:5] == b"HTTP/":
            client_sent = payload[:4] == b"GET "
        else:  # joined mid-connection: guess that the lower port is the server's
            client_sent = segment.source_port > segment.destination_port
        self.client, self.server = (source, destination) if client_sent else (destination, source)
        self.halves = {CLIENT: Half(), SERVER: Half()}
        self.upgraded = False
        self.announced = False
        # False: the capture joined an open connection, after its upgrade request
        self.handshaken = bool(flags & SYN) or payload[:4] == b"GET "
        if not self.handshaken:
            for half in self.halves.values():
                half.state = _RESYNC

    def describe(self) -> str:
        return f"client {endpoint(*self.client)}, server {endpoint(*self.server)}"

    def announce(self) -> None:
        if self.announced:
            return
        self.announced = True
        self.capture.websockets += 1
        dissector = self.capture.dissector
        if dissector.json:
            dissector.record(
                {
                    "kind": "connection",
                    "client": endpoint(*self.client),
                    "server": endpoint(*self.server),
                    "handshake": self.handshaken,
                }
            )
        elif not self.capture.frames_only:
            dissector.out.write(f"Stream {self.index}: {self.describe()}\n\n")
        if not self.handshaken:
            dissector.lost(None, "the capture starts after the connection opened: no handshake")

    def segment(self, segment: links.Segment, where: Where) -> bool:
        """Take one segment; False once the connection is over."""
        sender = CLIENT if (segment.source, segment.source_port) == self.client else SERVER
        half, other = self.halves[sender], self.halves[SERVER if sender == CLIENT else CLIENT]
        flags = segment.flags
        if flags & SYN:
            half.tcp.syn(segment.seq)
        if flags & ACK and other.tcp.held:
            self.consume(
                SERVER if sender == CLIENT else CLIENT, other.tcp.acknowledged(segment.ack), where
            )
        seq = (segment.seq + 1) % 2**32 if flags & SYN else segment.seq
        if segment.payload or segment.missing:
            self.consume(sender, half.tcp.add(seq, segment.payload, segment.missing), where)
        if flags & RST:
            self.finish(where)
            return False
        if flags & FIN:
            half.fin = True
            self.consume(sender, half.tcp.finish(), where)
            if other.fin:
                self.finish(where)
                return False
        return True

    def consume(self, sender: str, pieces: Iterable[bytes | Gap], where: Where) -> None:
        half = self.halves[sender]
        dissector = self.capture.dissector
        dissector.where, dissector.conversation = where, self.conversation
        for piece in pieces:
            if half.state == _IGNORE:
                return
            if isinstance(piece, Gap):
                self.gap(sender, half, piece.missing, where)
                continue
            if half.state == _RESYNC:
                half.starts.add(len(half.buffer))
            half.buffer += piece
            self.advance(sender, half, where)

    def advance(self, sender: str, half: Half, where: Where) -> None:
        if half.state == _HTTP:
            self.http(sender, half, where)
        if half.state == _RESYNC:
            self.resync(sender, half, where)
        if half.state == _FRAMES:
            self.frames(sender, half, where)

    def http(self, sender: str, half: Half, where: Where) -> None:
        buffer = half.buffer
        start = b"GET " if sender == CLIENT else b"HTTP/"
        if buffer[: len(start)] != start[: len(buffer)]:
            self.not_websocket()
            return
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > HEAD_LIMIT:
                self.not_websocket()
            return
        head = bytes(buffer[: end + 4])
        if sender == CLIENT:
            if b"websocket" not in head.lower():
                self.not_websocket()
                return
            self.announce()
        elif not self.announced:  # a response to a request we never saw
            self.not_websocket()
            return
        del buffer[: end + 4]
        dissector = self.capture.dissector
        dissector.quiet = self.capture.frames_only
        try:
            dissector.handshake(sender, head)
        finally:
            dissector.quiet = False
        if sender == CLIENT:
            half.state = _WAIT  # frames only after the server's 101 (RFC 6455 4.1)
            return
        status = head.split(b" ", 2)[1:2]
        if status != [b"101"]:
            status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            dissector.lost(sender, f"the server refused the upgrade: {status_line}")
            self.not_websocket()
            return
        self.upgraded = True
        half.state = _FRAMES
        client = self.halves[CLIENT]  # waiting since its request (a gap shows only later)
        client.state = _FRAMES
        self.frames(CLIENT, client, where)

    def not_websocket(self) -> None:
        for half in self.halves.values():
            half.state = _IGNORE
            half.buffer = bytearray()

    def frames(self, sender: str, half: Half, where: Where) -> None:
        """Dissect every whole frame at the start of the buffer."""
        buffer = half.buffer
        available = len(buffer)
        if available < half.need or available < 2:
            return
        dissector = self.capture.dissector
        position = need = 0
        with memoryview(buffer) as view:
            while available - position >= 2:
                # RFC 6455 5.2: the frame's length, from its first 2-14 bytes
                first, second = buffer[position], buffer[position + 1]
                code = second & 0x7F
                size = (
                    2
                    + (4 if second & 0x80 else 0)
                    + (2 if code == 126 else 8 if code == 127 else 0)
                )
                if available - position < size:
                    break
                if code == 126:
                    length = int.from_bytes(view[position + 2 : position + 4], "big")
                elif code == 127:
                    length = int.from_bytes(view[position + 2 : position + 10], "big")
                else:
                    length = code
                total = size + length
                if available - position < total:
                    if _refused(first, code, length):  # malformed: say so now, not at the end
                        total = size
                    elif total > FRAME_LIMIT:
                        dissector.lost(
                            sender,
                            f"a frame of {length} bytes is more than this tool keeps ({FRAME_LIMIT})",
                        )
                        position += 1
                        half.state = _RESYNC
                        break
                    else:
                        need = total
                        break
                used = dissector.frame(sender, view[position : position + total])
                if used == 0:  # a header the dissector refused: look for the next frame
                    position += 1
                    half.state = _RESYNC
                    break
                position += used
        half.need = need
        if position >= available:
            half.buffer = bytearray()
        elif position:
            del buffer[:position]
        if half.state == _RESYNC:
            half.scanned = 0
            self.resync(sender, half, where)
            if half.state == _FRAMES:
                self.frames(sender, half, where)

    def gap(self, sender: str, half: Half, missing: int, where: Where) -> None:
        dissector = self.capture.dissector
        lost = f"{missing} bytes of the {sender}'s stream are missing (lost or not captured)"
        if half.buffer and half.state == _FRAMES:
            lost += f"; {len(half.buffer)} bytes of the frame they were in are dropped"
        dissector.lost(sender, lost)
        # a fragmented message that lost a piece cannot be put together again, and what the
        # sender compressed after the gap is inflated from an empty context
        self.conversation.fragments[sender] = None
        self.conversation.lost_bytes(sender)
        half.buffer = bytearray()
        half.need = 0
        half.scanned = half.skipped = 0
        half.starts = set()
        half.state = _RESYNC

    def resync(self, sender: str, half: Half, where: Where) -> None:
        """After a gap: find an offset where a valid frame header starts whose frame is
        followed by another valid header or ends exactly where the data so far ends."""
        buffer = half.buffer
        compressed = self.conversation.agreed is not None
        masked = sender == CLIENT
        position = half.scanned
        while True:
            verdict = _plausible(buffer, position, masked, compressed)
            if verdict is None:
                break  # need more bytes to judge this offset (always so at the end)
            if verdict:
                end = position + verdict
                if end >= len(buffer):
                    if position in half.starts:
                        # a segment starts with it: a frame it holds whole, or one that goes
                        # on in the next segments (at most RESYNC_WAIT bytes to wait for)
                        self.resume(sender, half, position, where)
                        return
                    if end == len(buffer):
                        break  # wait: the next segment confirms it or rules it out
                else:
                    follower = _plausible(buffer, end, masked, compressed)
                    if follower is None:
                        break
                    if follower:
                        self.resume(sender, half, position, where)
                        return
            position += 1
        half.scanned = position
        if position > RESYNC_WAIT:  # drop what was ruled out
            del buffer[:position]
            half.skipped += position
            half.scanned = 0
            half.starts = {start - position for start in half.starts if start >= position}

    def resume(self, sender: str, half: Half, position: int, where: Where) -> None:
        self.announce()
        del half.buffer[:position]
        half.state = _FRAMES
        half.need = 0
        half.starts = set()
        position, half.skipped = position + half.skipped, 0
        if position and not self.capture.dissector.json and not self.capture.frames_only:
            self.capture.dissector.out.write(
                f"[{_arrow(sender)}: {position} bytes skipped to the next frame boundary]\n\n"
            )

    def finish(self, where: Where) -> None:
        """The connection is over: what was held comes out; a frame cut short is a problem."""
        dissector = self.capture.dissector
        for sender, half in self.halves.items():
            if half.state == _IGNORE:
                continue
            self.consume(sender, half.tcp.finish(), where)
            if half.state == _RESYNC and half.buffer:
                # a candidate frame waiting for its confirmation: it was the last one
                self.resync_at_end(sender, half, where)
            if half.state == _FRAMES and half.buffer:
                dissector.where, dissector.conversation = where, self.conversation
                have = len(half.buffer)
                need = f" of {half.need}" if half.need else ""
                dissector.lost(sender, f"the stream ends inside a frame: {have}{need} bytes")
                half.buffer = bytearray()

    def resync_at_end(self, sender: str, half: Half, where: Where) -> None:
        """The stream is over: resume at the first offset from which valid frames follow one
        another exactly to its end."""
        buffer = half.buffer
        compressed = self.conversation.agreed is not None
        for position in range(half.scanned, len(buffer)):
            end = position
            while end < len(buffer):
                verdict = _plausible(buffer, end, sender == CLIENT, compressed)
                if not verdict:
                    break
                end += verdict
            if end == len(buffer) and end > position:
                self.resume(sender, half, position, where)
                self.frames(sender, half, where)
                return


def _refused(first: int, code: int, length: int) -> bool:
    """Whether the dissector will refuse this header (RFC 6455 5.2 and 5.5)."""
    opcode = first & 0x0F
    if opcode in (3, 4, 5, 6, 7) or opcode > 10 or length >= 2**63:
        return True
    return opcode >= 8 and (code > 125 or not first & 0x80)


def _plausible(buffer: bytearray, position: int, masked: bool, compressed: bool) -> int | None:
    """The length of the frame a header at ``position`` would start, 0 if no frame can start
    there, None if the bytes so far cannot tell."""
    if len(buffer) - position < 2:
        return None
    first, second = buffer[position], buffer[position + 1]
    opcode = first & 0x0F
    if opcode not in (0, 1, 2, 8, 9, 10) or bool(second & 0x80) != masked:
        return 0
    if first & 0x30 or (first & 0x40 and not (compressed and opcode in (1, 2))):
        return 0
    code = second & 0x7F
    if opcode >= 8 and (code > 125 or not first & 0x80):
        return 0
    size = 2 + (4 if masked else 0) + (2 if code == 126 else 8 if code == 127 else 0)
    if len(buffer) - position < size:
        return None
    if code == 126:
        length = int.from_bytes(buffer[position + 2 : position + 4], "big")
        if length < 126:
            return 0
    elif code == 127:
        length = int.from_bytes(buffer[position + 2 : position + 10], "big")
        if length < 65536 or length > RESYNC_WAIT:
            return 0
    else:
        length = code
    if length == 0 and (opcode == 0 or not first & 0x80):
        return 0  # an empty continuation or unfinished frame: what zeros look like, not a boundary
    return size + length


class _Skipped:
    """A connection ``--stream`` leaves out: only which sides have closed it."""

    __slots__ = ("fins",)

    def __init__(self) -> None:
        self.fins = 0


class Capture:
    """Every TCP connection of a capture, by 4-tuple; streams numbered as Wireshark does."""

    def __init__(
        self,
        dissector: Dissector,
        *,
        stream: int | None = None,
        frames_only: bool = False,
        agreed: PerMessageDeflate | None = None,
    ) -> None:
        self.dissector = dissector
        self.only = stream
        self.frames_only = frames_only
        self.agreed = agreed
        self.connections: dict[tuple[bytes, int, bytes, int], Connection | _Skipped] = {}
        self.closed: OrderedDict[tuple[bytes, int, bytes, int], None] = OrderedDict()
        self.streams = 0
        self.websockets = 0  # connections announced as WebSocket
        self.first_time: float | None = None
        self.unknown_links: set[int] = set()

    def record(self, record: Record) -> None:
        try:
            segment = links.segment(record.linktype, record.data, record.wire_length)
        except links.Damaged as exc:
            self.dissector.where = Where(packet=record.number, time=record.time)
            self.dissector.lost(None, f"packet {record.number}: {exc}")
            return
        if self.first_time is None:
            self.first_time = record.time
        if segment is None:
            if not links.known(record.linktype) and record.linktype not in self.unknown_links:
                self.unknown_links.add(record.linktype)
                self.dissector.lost(
                    None, f"link type {record.linktype} is not supported: its packets are skipped"
                )
            return
        key = (segment.source, segment.source_port, segment.destination, segment.destination_port)
        if key in self.connections:
            connection = self.connections[key]
            if isinstance(connection, _Skipped):
                connection.fins += bool(segment.flags & FIN)
                if segment.flags & RST or connection.fins >= 2:
                    self.forget(key)
                return
            opening = segment.flags & (SYN | ACK) == SYN
            if not opening or not connection.halves[CLIENT].tcp.delivered:
                self.feed(connection, key, segment, record)
                return
            self.end(connection, key, record)
        elif key in self.closed and segment.flags & (SYN | ACK) != SYN:
            return  # the last packets of a connection already over
        index = self.streams
        self.streams += 1
        reverse = (
            segment.destination,
            segment.destination_port,
            segment.source,
            segment.source_port,
        )
        if self.only is not None and self.only != index:
            self.connections[key] = self.connections[reverse] = _Skipped()
            return
        connection = Connection(self, index, segment)
        self.connections[key] = self.connections[reverse] = connection
        self.feed(connection, key, segment, record)

    def feed(
        self, connection: Connection, key: tuple, segment: links.Segment, record: Record
    ) -> None:
        where = Where(
            connection.index, record.number, record.time, record.time - (self.first_time or 0)
        )
        if not connection.segment(segment, where):
            self.forget(key)

    def end(self, connection: Connection, key: tuple, record: Record) -> None:
        """A new SYN on a connection never seen closing: the old one is over."""
        connection.finish(Where(connection.index, record.number, record.time))
        self.forget(key)

    def forget(self, key: tuple) -> None:
        reverse = (key[2], key[3], key[0], key[1])
        for each in (key, reverse):
            self.connections.pop(each, None)
            self.closed[each] = None
        while len(self.closed) > _CLOSED_KEPT:
            self.closed.popitem(last=False)

    def finish(self) -> None:
        seen = set()
        for connection in list(self.connections.values()):
            if isinstance(connection, Connection) and id(connection) not in seen:
                seen.add(id(connection))
                connection.finish(Where(connection.index))
        self.connections.clear()
