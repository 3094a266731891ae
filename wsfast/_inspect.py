"""``python -m wsfast [inspect] [FILE] [options]``: what runs, and frames dissected.

Prints the version, the backend and the CPU kernels in use, then dissects WebSocket traffic the
way Wireshark shows it: per frame FIN, RSV, opcode, MASK, payload length, masking key and the
unmasked payload (text as text, binary as hex, close as code and reason), compressed messages
inflated.  Without FILE it dissects an embedded sample conversation: the RFC 6455 1.2/1.3
opening handshake and the 5.7 example frames.  FILE is a pcap or pcapng capture (every
connection in it: see ``wsfast.capture``), or the bytes one side sent (``-`` reads standard
input), raw or as a hex dump (offset, hex and optional ASCII columns, as xxd, hexdump -C,
od -Ax -tx1 and Wireshark's "Copy as Hex Dump" print them).  ``--json`` prints one JSON object
per line instead of the tree.

Only the public API does the work: parse_header, apply_mask, Opcode, CloseCode, accept_key and
wsfast.deflate's Inflater.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json as _json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TextIO

import wsfast
from wsfast import (
    CloseCode,
    FrameHeader,
    Opcode,
    PerMessageDeflate,
    ProtocolError,
    accept_key,
    apply_mask,
    parse_header,
)
from wsfast import capture
from wsfast.capture import inflating

CLIENT, SERVER = "client", "server"

# RFC 6455 1.2 and 1.3: the sample opening handshake.
SAMPLE_REQUEST = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)
SAMPLE_RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    b"Sec-WebSocket-Protocol: chat\r\n"
    b"\r\n"
)

# (sender, bytes) in the order sent.  Frames from RFC 6455 5.7 (masking key 37 fa 21 3d), plus
# a closing handshake: code 1000 (03 e8) and reason "bye", masked by the client.
SAMPLE: list[tuple[str, bytes]] = [
    (CLIENT, SAMPLE_REQUEST),
    (SERVER, SAMPLE_RESPONSE),
    (CLIENT, bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")),  # masked text "Hello"
    (SERVER, bytes.fromhex("01 03 48 65 6c")),  # unmasked text "Hel", FIN clear
    (SERVER, bytes.fromhex("80 02 6c 6f")),  # continuation "lo", FIN set
    (SERVER, bytes.fromhex("89 05 48 65 6c 6c 6f")),  # unmasked ping "Hello"
    (CLIENT, bytes.fromhex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")),  # masked pong "Hello"
    (SERVER, bytes.fromhex("82 7e 01 00") + bytes(range(256))),  # 256 bytes, 16-bit length
    (CLIENT, bytes.fromhex("88 85 37 fa 21 3d 34 12 43 44 52")),  # masked close 1000 "bye"
    (SERVER, bytes.fromhex("88 05 03 e8 62 79 65")),  # close 1000 "bye"
]


MESSAGE_LIMIT = 64 * 2**20  # largest inflated message shown (bounds a decompression bomb)


@dataclass
class Where:
    """Where a frame or handshake was found in a capture (raw input has none of this)."""

    stream: int = 0
    packet: int | None = None  # the capture's packet number (1-based, as Wireshark counts)
    time: float | None = None  # seconds since the epoch
    relative: float | None = None  # seconds since the capture's first packet


class Conversation:
    """One connection's state: open fragmented messages, the client's key, inflaters."""

    def __init__(self, agreed: PerMessageDeflate | None = None) -> None:
        self.fragments: dict[str, _Message | None] = {CLIENT: None, SERVER: None}
        self.key: str | None = None
        self.agreed: PerMessageDeflate | None = None
        self.inflaters: dict[str, inflating.Inflater] = {}
        # the sides whose compression context (kept from message to message) a gap cut
        self.history_lost: set[str] = set()
        if agreed is not None:
            self.agree(agreed)

    def agree(self, agreed: PerMessageDeflate) -> None:
        self.agreed = agreed
        self.inflaters = {side: inflating.inflater(agreed, side) for side in (CLIENT, SERVER)}
        self.history_lost = set()

    def lost_bytes(self, sender: str) -> None:
        """Bytes of ``sender``'s stream are missing: its inflater starts again, empty (a message
        that refers back to what was lost then fails to inflate, never inflates wrong)."""
        if self.agreed is not None and sender in self.inflaters:
            self.inflaters[sender] = inflating.inflater(self.agreed, sender)
            if not self.agreed.sending(client=sender == CLIENT)[1]:
                self.history_lost.add(sender)


class _Message:
    """A fragmented message being reassembled: its kind, parts (inflated) and frame count."""

    __slots__ = ("kind", "parts", "compressed", "frames", "broken")

    def __init__(self, kind: Opcode, compressed: bool) -> None:
        self.kind = kind
        self.parts: list[bytes] = []
        self.compressed = compressed
        self.frames = 0
        self.broken = False  # inflating failed: the text is unknown


def _invalid_at(data: bytes) -> int:
    """Where UTF-8 ``data`` fails, as the decoder reports it (SPEC: the first byte after which
    it can no longer be valid, e.g. 1 for b"\\xe2\\x28", where Python's decoder says 0)."""
    validator = wsfast.Utf8Validator()
    try:
        validator.feed(data)
        validator.finish()
    except ProtocolError as exc:
        return getattr(exc, "position", len(data))
    return len(data)  # pragma: no cover - only called on data that failed to decode


class Dissector:
    """Writes what it sees, as a Wireshark-style tree or (``json=True``) one JSON object per
    frame; per-connection state lives in ``conversation``."""

    def __init__(
        self, out: TextIO, *, json: bool = False, agreed: PerMessageDeflate | None = None
    ) -> None:
        self.out = out
        self.json = json
        self.frames = 0
        self.errors = 0
        self.conversation = Conversation(agreed)
        self.where: Where | None = None
        self.quiet = False  # handshakes parsed but not shown (--frames-only)
        self.notes: list[str] = []  # the problems of the frame being dissected
        self.text: str | None = None  # the complete text message the frame ends
        self.size: int | None = None  # the size of the (inflated) data message the frame ends

    def line(self, text: str = "", indent: int = 0) -> None:
        if not (self.json or self.quiet):
            self.out.write("    " * indent + text + "\n")

    def record(self, fields: dict[str, object], payload: bytes | None = None) -> None:
        """One JSON line; ``payload`` goes last, as hex written straight out (for a large
        frame, no second copy of it inside one big string)."""
        where = self.where or Where()
        head = _json.dumps(
            {"stream": where.stream, "packet": where.packet, "time": where.time, **fields}
        )
        if payload is None:
            self.out.write(head + "\n")
            return
        self.out.write(head[:-1] + ', "payload": "')
        self.out.write(payload.hex())
        self.out.write('"}\n')

    def stream(self, sender: str | None, data: bytes) -> None:
        """Everything one side sent in ``data``: an HTTP head if it starts with one, frames."""
        view = memoryview(data)
        position = 0
        if data[:4] == b"GET " or data[:5] == b"HTTP/":
            end = data.find(b"\r\n\r\n")
            end = len(data) if end < 0 else end + 4
            sender = sender or (CLIENT if data[:4] == b"GET " else SERVER)
            self.handshake(sender, data[:end])
            position = end
        while position < len(data):
            if sender is None:  # no hint: the mask bit says who sent it (RFC 6455 5.1)
                sender = (
                    CLIENT if len(data) > position + 1 and data[position + 1] & 0x80 else SERVER
                )
            used = self.frame(sender, view[position:])
            if used == 0:
                return
            position += used

    def handshake(self, sender: str, head: bytes) -> http.client.HTTPMessage:
        """Show one side's HTTP head; the response's checks; the parsed headers."""
        kind = "request" if sender == CLIENT else "response"
        start, _, rest = head.partition(b"\r\n")
        headers = http.client.parse_headers(io.BytesIO(rest))
        self.notes = []
        title = f"HTTP {kind}: {_arrow(sender)}, {len(head)} bytes"
        self.line(title + _located(self.where))
        self.line(start.decode("latin-1"), 1)
        for name, value in headers.items():
            self.line(f"{name}: {value}", 1)
        conversation = self.conversation
        fields: dict[str, object] = {}
        if sender == CLIENT:
            conversation.key = headers.get("Sec-WebSocket-Key")
            if conversation.key is not None:
                expected = accept_key(conversation.key.strip())
                self.line(f"[expected Sec-WebSocket-Accept: {expected}]", 1)
        else:
            fields = self.response_checks(start, headers)
        if self.json:
            self.record(
                {
                    "kind": "handshake",
                    "direction": sender,
                    "start": start.decode("latin-1"),
                    "headers": [[name, value] for name, value in headers.items()],
                    **fields,
                    "problems": self.notes,
                }
            )
        self.line()
        return headers

    def response_checks(self, start: bytes, headers: http.client.HTTPMessage) -> dict[str, object]:
        fields: dict[str, object] = {}
        key = self.conversation.key
        accept = headers.get("Sec-WebSocket-Accept")
        if accept is not None and key is not None:
            expected = accept_key(key.strip())
            verdict = "OK" if accept.strip() == expected else f"WRONG, expected {expected}"
            fields["accept_ok"] = verdict == "OK"
            if verdict == "OK":
                self.line(f"[Sec-WebSocket-Accept check: {verdict}]", 1)
            else:
                self.problem(
                    f"Sec-WebSocket-Accept {accept.strip()} is not {expected}",
                    f"[Sec-WebSocket-Accept check: {verdict}]",
                    1,
                )
        protocol = headers.get("Sec-WebSocket-Protocol")
        if protocol is not None:
            fields["subprotocol"] = protocol.strip()
            self.line(f"[Subprotocol: {protocol.strip()}]", 1)
        value = ", ".join(headers.get_all("Sec-WebSocket-Extensions") or ())
        if not value:
            # nothing agreed in this handshake: what --deflate or an earlier one said is over
            self.conversation.agreed = None
            self.conversation.inflaters = {}
        if value:
            agreed, problems = inflating.parse_extensions(value)
            for problem in problems:
                self.problem(f"Sec-WebSocket-Extensions: {problem}", indent=1)
            fields["extensions"] = value
            if agreed is not None:
                self.conversation.agree(agreed)
                fields["deflate"] = inflating.fields(agreed)
                self.line(f"[Extensions: {inflating.describe(agreed)}]", 1)
        return fields

    def frame(self, sender: str, data: memoryview) -> int:
        """Dissect the frame at the start of ``data``; the bytes it used (0 to stop)."""
        self.notes = []
        self.text = self.size = None
        try:
            header = parse_header(data, strict=False)
        except ProtocolError as exc:
            self.broken(sender, f"malformed frame: {exc}", bytes(data[:14]))
            self.line(f"Malformed frame: {_arrow(sender)}: {exc}{_located(self.where)}")
            self.line(_hex(bytes(data[:14])), 1)
            return 0
        if header is None:
            self.broken(sender, f"truncated frame header: {_hex(bytes(data))}", bytes(data))
            self.line(
                f"Truncated frame header: {_arrow(sender)}: {_hex(bytes(data))}"
                + _located(self.where)
            )
            return 0
        self.frames += 1
        end = header.size + header.length
        raw = bytes(data[header.size : end])
        payload = apply_mask(raw, header.mask) if header.mask is not None else raw
        if not self.json:
            self.tree(sender, header, data, raw, end)
        if len(raw) < header.length:
            self.problem(
                f"truncated: {len(raw)} of {header.length} payload bytes",
                f"[truncated: {len(raw)} of {header.length} payload bytes]",
            )
        self.expert(sender, header)
        self.payload(sender, header, payload)
        if self.json:
            self.record(
                {
                    "kind": "frame",
                    "frame": self.frames,
                    "direction": sender,
                    "fin": header.fin,
                    "rsv1": header.rsv1,
                    "rsv2": header.rsv2,
                    "rsv3": header.rsv3,
                    "opcode": int(header.opcode),
                    "masked": header.masked,
                    "mask": None if header.mask is None else header.mask.hex(),
                    "length": header.length,
                    "message_length": self.size,
                    "problems": self.notes,
                    "text": self.text,
                },
                payload,
            )
        self.line()
        return end if end <= len(data) else 0

    def lost(self, sender: str | None, problem: str) -> None:
        """A problem outside any frame (bytes missing from a stream, a damaged packet)."""
        self.errors += 1
        if self.json:
            self.record({"kind": "problem", "direction": sender, "problems": [problem]})
        else:
            arrow = f"{_arrow(sender)}: " if sender else ""
            self.out.write(f"Problem: {arrow}{problem}{_located(self.where)}\n\n")

    def broken(self, sender: str, problem: str, data: bytes) -> None:
        """A frame that cannot be read: counted as a problem, a JSON record of its own."""
        self.errors += 1
        if self.json:
            self.record(
                {"kind": "problem", "direction": sender, "data": data.hex(), "problems": [problem]}
            )

    def tree(
        self, sender: str, header: FrameHeader, data: memoryview, raw: bytes, end: int
    ) -> None:
        self.line(
            f"Frame {self.frames}: {_arrow(sender)}, {min(end, len(data))} bytes"
            + _located(self.where)
        )
        self.line(_hex(bytes(data[: header.size])) + ("  ..." if header.length else ""), 1)
        self.line("WebSocket", 1)
        first, second = data[0], data[1]
        self.line(f"{_bits(first, 0x80)} = Fin: {header.fin}", 2)
        self.line(f"{_bits(first, 0x70)} = Reserved: {(first & 0x70) >> 4:#x}", 2)
        self.line(
            f"{_bits(first, 0x0F)} = Opcode: {_name(header.opcode)} ({int(header.opcode)})", 2
        )
        self.line(f"{_bits(second, 0x80)} = Mask: {header.masked}", 2)
        code = second & 0x7F
        if code < 126:
            self.line(f"{_bits(second, 0x7F)} = Payload length: {code}", 2)
        else:
            bits = 16 if code == 126 else 64
            self.line(
                f"{_bits(second, 0x7F)} = Payload length: {code} "
                f"Extended Payload Length ({bits} bits)",
                2,
            )
            self.line(f"Extended Payload length ({bits} bits): {header.length}", 2)
        if header.mask is not None:
            self.line(f"Masking-Key: {header.mask.hex()}", 2)
            self.line(f"Masked payload: {_short_hex(raw)}", 2)

    def expert(self, sender: str, header: FrameHeader) -> None:
        # RFC 6455 5.1: a client masks every frame, a server none
        if header.masked != (sender == CLIENT):
            rule = "must be masked" if sender == CLIENT else "must not be masked"
            self.problem(f"frames from the {sender} {rule} (RFC 6455 5.1)")
        # RFC 6455 5.2: reserved bits need an extension that defines them; RFC 7692 6: RSV1
        # marks the first frame of a compressed data message, and nothing else
        if header.rsv2 or header.rsv3:
            bits = "rsv2" if header.rsv2 else "rsv3"
            self.problem(f"{bits} set but no extension defines it (RFC 6455 5.2)")
        if header.rsv1:
            if self.conversation.agreed is None:
                self.problem("rsv1 set but permessage-deflate was not agreed (RFC 6455 5.2)")
            elif header.opcode not in (Opcode.TEXT, Opcode.BINARY):
                self.problem(f"rsv1 set on a {_name(header.opcode).lower()} frame (RFC 7692 6.1)")

    def problem(self, text: str, shown: str | None = None, indent: int = 2) -> None:
        self.errors += 1
        self.notes.append(text)
        self.line(shown or f"[expert: {text}]", indent)

    def payload(self, sender: str, header: FrameHeader, payload: bytes) -> None:
        opcode, fin = header.opcode, header.fin
        self.line("Payload", 1)
        if opcode == Opcode.CLOSE:
            self.close(payload)
            return
        if opcode in (Opcode.PING, Opcode.PONG):
            if not self.json:
                text = payload.decode("ascii", "replace") if payload.isascii() else None
                shown = payload.hex() + (f" ({text!r})" if text and text.isprintable() else "")
                self.line(f"{_name(opcode)}: {shown or '(empty)'}", 2)
            return
        conversation = self.conversation
        message = conversation.fragments[sender]
        if opcode == Opcode.CONTINUATION:
            if message is None:
                self.problem("continuation frame with no message open (RFC 6455 5.4)")
        else:
            if message is not None:
                self.problem("new data frame while a fragmented message is open (5.4)")
            compressed = header.rsv1 and sender in conversation.inflaters
            message = _Message(opcode, compressed)
            # RSV1 with nothing agreed to inflate by: the text is unknown, not invalid UTF-8
            message.broken = header.rsv1 and not compressed
        data = payload
        if message is not None and message.compressed:
            data = self.inflate(sender, message, payload, fin)
            self.line(f"[Compressed: {len(payload)} bytes inflate to {len(data)}]", 2)
        kind = message.kind if message is not None else None
        if not self.json:
            self.data(kind, data)
        if message is None:
            return
        message.frames += 1
        message.parts.append(data)
        if not fin:
            conversation.fragments[sender] = message
            return
        conversation.fragments[sender] = None
        self.size = len(data) if message.frames == 1 else sum(map(len, message.parts))
        if message.frames > 1 or message.kind == Opcode.TEXT:
            whole = b"".join(message.parts) if message.frames > 1 else data
            if message.frames > 1:
                self.line(f"[Reassembled message, {message.frames} frames, {len(whole)} bytes]", 1)
                if not self.json:
                    self.data(message.kind, whole, 2)
            if message.kind == Opcode.TEXT and not message.broken:
                try:
                    self.text = whole.decode("utf-8")
                except UnicodeDecodeError:
                    self.problem(f"text message is not valid utf-8 at byte {_invalid_at(whole)}")

    def inflate(self, sender: str, message: _Message, payload: bytes, fin: bool) -> bytes:
        if message.broken:
            return b""
        try:
            return self.conversation.inflaters[sender].inflate(payload, fin, MESSAGE_LIMIT)
        except ProtocolError as exc:
            message.broken = True
            lost = sender in self.conversation.history_lost
            self.problem(f"{exc}{' (it may refer to what a gap lost)' if lost else ''}")
            return b""

    def data(self, kind: Opcode | None, payload: bytes, indent: int = 2) -> None:
        if kind == Opcode.TEXT:
            try:
                self.line(f"Text: {payload.decode('utf-8')}", indent)
                return
            except UnicodeDecodeError:
                self.line("[not complete UTF-8 on its own]", indent)
        if not payload:
            self.line("Data: (empty)", indent)
        for row in _hex_rows(payload):
            self.line(row, indent)

    def close(self, payload: bytes) -> None:
        if not payload:
            self.line("Close: (no status code)", 2)
            return
        if len(payload) == 1:
            self.problem(
                f"malformed close payload: 1 byte {payload.hex()}",
                f"[malformed close payload: 1 byte {payload.hex()}]",
            )
            return
        code = int.from_bytes(payload[:2], "big")
        self.line(f"Close: {_close_name(code)} ({code})", 2)
        reason = payload[2:]
        if reason:
            self.line(f"Reason: {reason.decode('utf-8', 'replace')}", 2)


def _located(where: Where | None) -> str:
    if where is None or where.packet is None:
        return ""
    shown = f" (stream {where.stream}, packet {where.packet}"
    if where.relative is not None:
        shown += f", {where.relative:.6f} s"
    return shown + ")"


def _arrow(sender: str) -> str:
    return "client -> server" if sender == CLIENT else "server -> client"


def _name(opcode: Opcode) -> str:
    return opcode.name.title()


def _close_name(code: int) -> str:
    try:
        return CloseCode(code).name.replace("_", " ").title()
    except ValueError:
        pass
    if 3000 <= code <= 3999:
        return "Registered (libraries, frameworks)"
    if 4000 <= code <= 4999:
        return "Private use"
    return "Unknown"


def _bits(byte: int, field: int) -> str:
    """Wireshark's bit view: ``1... ....`` shows the bits of ``field`` in ``byte``."""
    chars = [
        "." if not field & bit else "1" if byte & bit else "0"
        for bit in (0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02, 0x01)
    ]
    return "".join(chars[:4]) + " " + "".join(chars[4:])


def _hex(data: bytes) -> str:
    return data.hex(" ")


def _short_hex(data: bytes, limit: int = 32) -> str:
    return _hex(data[:limit]) + (f" ... ({len(data)} bytes)" if len(data) > limit else "")


def _hex_rows(data: bytes) -> list[str]:
    rows = []
    for offset in range(0, len(data), 16):
        row = data[offset : offset + 16]
        ascii_ = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in row)
        rows.append(f"{offset:04x}  {row.hex(' '):<47}  {ascii_}")
    return rows


# Hex dumps: an offset, then byte groups, then an optional ASCII column.
_OFFSET = re.compile(r"\s*([0-9A-Fa-f]+):?(?=\s|$)")
_GROUP = re.compile(r"\S+")


def parse_hex_dump(text: str) -> bytes | None:
    """The bytes of a hex dump, or None when ``text`` is not one.  Offsets are hexadecimal,
    or octal (od's default) when they only make sense that way."""
    for base in (16, 8):
        data = _parse_dump(text, base)
        if data is not None:
            return data
    return None


def _parse_dump(text: str, base: int) -> bytes | None:
    rows: list[tuple[int, list[tuple[int, int]]]] = []  # (offset, [(byte, end column)])
    for line in text.splitlines():
        if not line.strip():
            continue
        line = line.split("|", 1)[0]  # hexdump -C puts its ASCII column between bars
        match = _OFFSET.match(line)
        if match is None:
            return None
        try:
            offset = int(match[1], base)
        except ValueError:
            return None
        cells: list[tuple[int, int]] = []
        width = 0
        previous_end = None
        for group in _GROUP.finditer(line, match.end()):
            digits = group[0]
            if (
                len(digits) % 2
                or len(digits) > 8
                or not all(c in "0123456789abcdefABCDEF" for c in digits)
                or (width and len(digits) > width)
            ):
                break  # the ASCII column
            # Groups are one space apart; two or more start the ASCII column, except
            # hexdump -C's two spaces after the eighth byte.
            gap = 1 if previous_end is None else group.start() - previous_end
            if gap > 2 or (gap == 2 and len(cells) != 8):
                break
            previous_end = group.end()
            width = width or len(digits)
            for i in range(0, len(digits), 2):
                cells.append((int(digits[i : i + 2], 16), group.start() + i + 2))
        rows.append((offset, cells))
    if not rows:
        return None
    data = bytearray()
    last_column = 0
    for index, (offset, cells) in enumerate(rows):
        if offset != len(data):
            return None
        if index + 1 < len(rows):
            count = rows[index + 1][0] - offset  # the next offset says how many bytes this row has
            if count < 0 or count > len(cells):
                return None
            cells = cells[:count]
            if cells:
                last_column = max(last_column, cells[-1][1])
        elif last_column:
            cells = [cell for cell in cells if cell[1] <= last_column]  # drop an ASCII column
        data.extend(byte for byte, _ in cells)
    return bytes(data) if data else None


def load(raw: bytes) -> bytes:
    """The bytes a capture file stands for: a hex dump decoded, anything else as it is."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return raw
    if text.startswith(("GET ", "HTTP/")):
        return raw
    dumped = parse_hex_dump(text)
    return raw if dumped is None else dumped


def banner(out: TextIO) -> None:
    out.write(f"wsfast {wsfast.__version__}\n")
    out.write(
        f"backend: {wsfast.BACKEND}"
        f"{'' if wsfast.HAS_C else ' (C extension not loaded: pure Python)'}\n"
    )
    kernels = getattr(wsfast, "KERNELS", None)
    shown = ", ".join(f"{op}={name}" for op, name in kernels.items()) if kernels else "n/a"
    out.write(f"kernels: {shown}\n\n")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["inspect"]:
        args = args[1:]
    parser = argparse.ArgumentParser(
        prog="python -m wsfast",
        description="Show the backend in use and dissect WebSocket "
        "frames (an embedded sample, or FILE).",
        epilog="python -m wsfast bench: benchmarks",
    )
    parser.add_argument(
        "file",
        nargs="?",
        help="a pcap or pcapng capture, or the bytes one side sent (raw or a hex dump); "
        "- reads standard input",
    )
    side = parser.add_mutually_exclusive_group()
    side.add_argument(
        "--client",
        action="store_const",
        const=CLIENT,
        dest="sender",
        help="FILE holds what the client sent",
    )
    side.add_argument(
        "--server",
        action="store_const",
        const=SERVER,
        dest="sender",
        help="FILE holds what the server sent",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per line: frames, handshakes, problems"
    )
    parser.add_argument(
        "--stream",
        type=int,
        metavar="N",
        help="only the capture's TCP stream N (as Wireshark numbers them)",
    )
    parser.add_argument(
        "--frames-only", action="store_true", help="frames only: no connection or handshake lines"
    )
    parser.add_argument(
        "--deflate",
        metavar="EXTENSIONS",
        help="the Sec-WebSocket-Extensions a server answered, e.g. 'permessage-deflate; "
        "client_max_window_bits=10': how to inflate compressed frames when the input has no "
        "handshake",
    )
    options = parser.parse_args(args)
    agreed = None
    if options.deflate is not None:
        agreed, problems = inflating.parse_extensions(options.deflate)
        if agreed is None or problems:
            reason = "; ".join(problems) or "no permessage-deflate in it"
            print(f"invalid --deflate {options.deflate!r}: {reason}", file=sys.stderr)
            return 2

    file: IO[bytes] | None = None
    if options.file is not None:
        try:
            file = sys.stdin.buffer if options.file == "-" else open(options.file, "rb")
        except OSError as exc:
            print(f"cannot read {options.file}: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        return _run(options, file, agreed, out)
    finally:
        if file is not None and file is not sys.stdin.buffer:
            file.close()


def _run(
    options: argparse.Namespace,
    file: IO[bytes] | None,
    agreed: PerMessageDeflate | None,
    out: TextIO,
) -> int:
    dissector = Dissector(out, json=options.json, agreed=agreed)
    if file is None:
        if not options.json:  # --json prints records only, as for a file
            banner(out)
            out.write("Sample conversation (RFC 6455 1.2, 1.3 and 5.7)\n\n")
        for sender, data in SAMPLE:
            dissector.stream(sender, data)
        return _summary(dissector, out, "")
    head = file.read(4)
    if capture.kind(head) is not None:
        source: IO[bytes] = file
        if file is sys.stdin.buffer:  # the reader wants to know where each record starts
            source = io.BytesIO(head + file.read())
        else:
            file.seek(0)
        if not options.json:
            banner(out)
            out.write(f"{options.file}: {capture.kind(head)} capture\n\n")
        try:
            websockets, streams = capture.dissect(
                source,
                dissector,
                stream=options.stream,
                frames_only=options.frames_only,
                agreed=agreed,
            )
        except capture.MissingExtra as exc:
            print(exc, file=sys.stderr)
            return 1
        return _summary(dissector, out, f"streams: {websockets} WebSocket of {streams} TCP, ")
    raw = head + file.read()
    data = load(raw)
    if not options.json:
        banner(out)
        dumped = " (from a hex dump)" if data is not raw else ""
        out.write(f"{options.file}: {len(data)} bytes{dumped}\n\n")
    dissector.stream(options.sender, data)
    return _summary(dissector, out, "")


def _summary(dissector: Dissector, out: TextIO, streams: str) -> int:
    if not dissector.json:
        out.write(f"{streams}frames: {dissector.frames}, problems: {dissector.errors}\n")
    return 1 if dissector.errors else 0
