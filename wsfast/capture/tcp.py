"""TCP reassembly: one direction of a connection put back in sequence-number order.

Segments retransmitted or overlapping what was already delivered are used once (the first copy
wins, as the receiver saw it); a segment that arrives ahead of a hole waits for the hole to
fill.  A hole that never fills (lost by the capture, or a capture that started mid-connection)
is reported as a :class:`Gap` when the other side acknowledges bytes beyond it, when the data
waiting behind it passes :data:`HELD_LIMIT`, or when the connection ends.  Sequence numbers are
compared modulo 2**32 (RFC 9293 3.4).
"""

from __future__ import annotations

from typing import NamedTuple

HELD_LIMIT = 4 * 2**20  # out-of-order bytes held per direction before a hole is called lost
_MOD = 2**32


class Gap(NamedTuple):
    missing: int  # bytes the stream lacks at this point


def _after(a: int, b: int) -> int:
    """How far sequence number ``a`` is after ``b`` (negative: before), modulo 2**32."""
    return (a - b + 2**31) % _MOD - 2**31


class HalfStream:
    """Bytes one side sent, delivered in order as pieces: ``bytes`` or a :class:`Gap`."""

    __slots__ = ("next_seq", "held", "held_bytes", "delivered")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        # out-of-order segments by sequence number: (payload, bytes a snap length cut off it)
        self.held: dict[int, tuple[bytes, int]] = {}
        self.held_bytes = 0
        self.delivered = 0  # stream offset of the next byte

    def syn(self, seq: int) -> None:
        """The SYN's sequence number: data starts after it (RFC 9293 3.4.1)."""
        if self.next_seq is None:
            self.next_seq = (seq + 1) % _MOD

    def add(self, seq: int, data: bytes, missing: int = 0) -> list[bytes | Gap]:
        """One segment's payload (``missing`` bytes more of it were cut by a snap length)."""
        out: list[bytes | Gap] = []
        if self.next_seq is None:
            self.next_seq = seq
        ahead = _after(seq, self.next_seq)
        if ahead > 0:
            if data or missing:
                self.hold(seq, data, missing)
                if self.held_bytes > HELD_LIMIT:
                    self.skip_to_held(out)
            return out
        if -ahead >= len(data) + missing:
            return out  # a retransmission of what was delivered
        if -ahead > len(data):
            self.deliver(b"", len(data) + missing + ahead, out)
        else:
            self.deliver(data[-ahead:] if ahead else data, missing, out)
        self.release(out)
        return out

    def hold(self, seq: int, data: bytes, missing: int) -> None:
        held = self.held.get(seq)
        if held is None or len(held[0]) + held[1] < len(data) + missing:
            self.held_bytes += len(data) - (len(held[0]) if held else 0)
            self.held[seq] = (data, missing)

    def deliver(self, data: bytes, missing: int, out: list[bytes | Gap]) -> None:
        assert self.next_seq is not None
        if data:
            out.append(data)
            self.delivered += len(data)
        if missing:
            out.append(Gap(missing))
            self.delivered += missing
        self.next_seq = (self.next_seq + len(data) + missing) % _MOD

    def release(self, out: list[bytes | Gap]) -> None:
        """Deliver the held segments the stream has reached."""
        while self.held:
            assert self.next_seq is not None
            ready = [seq for seq in self.held if _after(seq, self.next_seq) <= 0]
            if not ready:
                return
            for seq in sorted(ready, key=lambda seq: _after(seq, self.next_seq or 0)):
                data, missing = self.held.pop(seq)
                self.held_bytes -= len(data)
                overlap = -_after(seq, self.next_seq)
                if overlap < len(data):
                    self.deliver(data[overlap:], missing, out)
                elif overlap < len(data) + missing:
                    self.deliver(b"", len(data) + missing - overlap, out)

    def skip_to_held(self, out: list[bytes | Gap]) -> None:
        """Give up on the hole before the first held segment: a gap, then what follows."""
        assert self.next_seq is not None
        first = min(self.held, key=lambda seq: _after(seq, self.next_seq or 0))
        missing = _after(first, self.next_seq)
        out.append(Gap(missing))
        self.delivered += missing
        self.next_seq = first
        self.release(out)

    def acknowledged(self, ack: int) -> list[bytes | Gap]:
        """The receiver acknowledged up to ``ack``: a hole before held data it covers is lost."""
        out: list[bytes | Gap] = []
        while (
            self.held
            and self.next_seq is not None
            and any(
                _after(ack, seq) >= len(data) and _after(seq, self.next_seq) > 0
                for seq, (data, _) in self.held.items()
            )
        ):
            self.skip_to_held(out)
        return out

    def finish(self) -> list[bytes | Gap]:
        """The connection ended: whatever is held comes out, with the holes before it."""
        out: list[bytes | Gap] = []
        while self.held:
            self.skip_to_held(out)
        return out
