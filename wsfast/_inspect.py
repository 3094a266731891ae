"""``python -m wsfast [inspect] [FILE] [--client | --server]``: what runs, and frames dissected.

Prints the version, the backend and the CPU kernels in use, then dissects WebSocket traffic the
way Wireshark shows it: per frame FIN, RSV, opcode, MASK, payload length, masking key and the
unmasked payload (text as text, binary as hex, close as code and reason).  Without FILE it
dissects an embedded sample conversation: the RFC 6455 1.2/1.3 opening handshake and the 5.7
example frames.  FILE holds the bytes one side sent (``-`` reads standard input), raw or as a
hex dump (offset, hex and optional ASCII columns, as xxd, hexdump -C, od -Ax -tx1 and
Wireshark's "Copy as Hex Dump" print them).

Only the public API does the work: parse_header, apply_mask, Opcode, CloseCode, accept_key.
"""

from __future__ import annotations

import argparse
import http.client
import io
import re
import sys
from collections.abc import Sequence
from typing import TextIO

import wsfast
from wsfast import CloseCode, Opcode, ProtocolError, accept_key, apply_mask, parse_header

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


class Dissector:
    """Writes what it sees; keeps per-direction state (an open fragmented message, a key)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.frames = 0
        self.errors = 0
        self.fragments: dict[str, tuple[Opcode, list[bytes]] | None] = {CLIENT: None, SERVER: None}
        self.key: str | None = None

    def line(self, text: str = "", indent: int = 0) -> None:
        self.out.write("    " * indent + text + "\n")

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

    def handshake(self, sender: str, head: bytes) -> None:
        kind = "request" if sender == CLIENT else "response"
        self.line(f"HTTP {kind}: {_arrow(sender)}, {len(head)} bytes")
        start, _, rest = head.partition(b"\r\n")
        self.line(start.decode("latin-1"), 1)
        headers = http.client.parse_headers(io.BytesIO(rest))
        for name, value in headers.items():
            self.line(f"{name}: {value}", 1)
        if sender == CLIENT:
            self.key = headers.get("Sec-WebSocket-Key")
            if self.key is not None:
                self.line(f"[expected Sec-WebSocket-Accept: {accept_key(self.key.strip())}]", 1)
            self.line()
            return
        accept = headers.get("Sec-WebSocket-Accept")
        if accept is not None and self.key is not None:
            expected = accept_key(self.key.strip())
            verdict = "OK" if accept.strip() == expected else f"WRONG, expected {expected}"
            self.line(f"[Sec-WebSocket-Accept check: {verdict}]", 1)
            if verdict != "OK":
                self.errors += 1
        self.line()

    def frame(self, sender: str, data: memoryview) -> int:
        """Dissect the frame at the start of ``data``; the bytes it used (0 to stop)."""
        try:
            header = parse_header(data, strict=False)
        except ProtocolError as exc:
            self.errors += 1
            self.line(f"Malformed frame: {_arrow(sender)}: {exc}")
            self.line(_hex(bytes(data[:14])), 1)
            return 0
        if header is None:
            self.errors += 1
            self.line(f"Truncated frame header: {_arrow(sender)}: {_hex(bytes(data))}")
            return 0
        self.frames += 1
        end = header.size + header.length
        raw = bytes(data[header.size : end])
        self.line(f"Frame {self.frames}: {_arrow(sender)}, {min(end, len(data))} bytes")
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
        if header.masked and header.mask is not None:
            self.line(f"Masking-Key: {header.mask.hex()}", 2)
            self.line(f"Masked payload: {_short_hex(raw)}", 2)
            payload = apply_mask(raw, header.mask)
        else:
            payload = raw
        if len(raw) < header.length:
            self.errors += 1
            self.line(f"[truncated: {len(raw)} of {header.length} payload bytes]", 2)
        self.expert(sender, header.masked)
        self.payload(sender, header.opcode, header.fin, payload)
        self.line()
        return end if end <= len(data) else 0

    def expert(self, sender: str, masked: bool) -> None:
        # RFC 6455 5.1: a client masks every frame, a server none
        if masked != (sender == CLIENT):
            rule = "must be masked" if sender == CLIENT else "must not be masked"
            self.problem(f"frames from the {sender} {rule} (RFC 6455 5.1)")

    def problem(self, text: str) -> None:
        self.errors += 1
        self.line(f"[expert: {text}]", 2)

    def payload(self, sender: str, opcode: Opcode, fin: bool, payload: bytes) -> None:
        self.line("Payload", 1)
        if opcode == Opcode.CLOSE:
            self.close(payload)
        elif opcode in (Opcode.PING, Opcode.PONG):
            text = payload.decode("ascii", "replace") if payload.isascii() else None
            shown = payload.hex() + (f" ({text!r})" if text and text.isprintable() else "")
            self.line(f"{_name(opcode)}: {shown or '(empty)'}", 2)
        else:
            open_message = self.fragments[sender]
            if opcode == Opcode.CONTINUATION:
                kind = open_message[0] if open_message is not None else None
                if open_message is None:
                    self.problem("continuation frame with no message open (RFC 6455 5.4)")
            else:
                kind = opcode
                if open_message is not None:
                    self.problem("new data frame while a fragmented message is open (5.4)")
                open_message = (opcode, []) if not fin else None
            self.data(kind, payload)
            if open_message is not None:
                open_message[1].append(payload)
                if fin:
                    whole = b"".join(open_message[1])
                    self.line(
                        f"[Reassembled message, {len(open_message[1])} frames, {len(whole)} bytes]",
                        1,
                    )
                    self.data(open_message[0], whole, 2)
                    open_message = None
            self.fragments[sender] = open_message

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
            self.errors += 1
            self.line(f"[malformed close payload: 1 byte {payload.hex()}]", 2)
            return
        code = int.from_bytes(payload[:2], "big")
        self.line(f"Close: {_close_name(code)} ({code})", 2)
        reason = payload[2:]
        if reason:
            self.line(f"Reason: {reason.decode('utf-8', 'replace')}", 2)


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
        "file", nargs="?", help="bytes one side sent: raw or a hex dump; - reads standard input"
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
    options = parser.parse_args(args)

    raw = b""
    if options.file is not None:
        try:
            if options.file == "-":
                raw = sys.stdin.buffer.read()
            else:
                with open(options.file, "rb") as file:
                    raw = file.read()
        except OSError as exc:
            print(f"cannot read {options.file}: {exc.strerror}", file=sys.stderr)
            return 2

    banner(out)
    dissector = Dissector(out)
    if options.file is None:
        out.write("Sample conversation (RFC 6455 1.2, 1.3 and 5.7)\n\n")
        for sender, data in SAMPLE:
            dissector.stream(sender, data)
    else:
        data = load(raw)
        dumped = " (from a hex dump)" if data is not raw else ""
        out.write(f"{options.file}: {len(data)} bytes{dumped}\n\n")
        dissector.stream(options.sender, data)
    out.write(f"frames: {dissector.frames}, problems: {dissector.errors}\n")
    return 1 if dissector.errors else 0
