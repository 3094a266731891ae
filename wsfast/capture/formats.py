"""Capture files: pcap (either byte order, micro- or nanosecond timestamps) and pcapng (any
number of sections and interfaces, each with its link type and timestamp resolution), told
apart by their first four bytes and read one record at a time.

The records come from scapy's raw readers (``pip install wsfast[capture]``), which turn file
blocks into bytes and metadata without building scapy's packet objects.  What they warn about
(a record cut short, a bad block length, an unknown interface) becomes a problem line here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import IO, Any, NamedTuple

EXTRA = "wsfast[capture]"

# the first four bytes of each format, as written in either byte order
_PCAP_MAGICS = {
    b"\xa1\xb2\xc3\xd4": "pcap",
    b"\xd4\xc3\xb2\xa1": "pcap",
    b"\xa1\xb2\x3c\x4d": "pcap (nanosecond)",
    b"\x4d\x3c\xb2\xa1": "pcap (nanosecond)",
    b"\x0a\x0d\x0d\x0a": "pcapng",
}

_LARGEST_RECORD = 2**20  # bytes kept of one packet (loopback packets reach 64 KiB and more)


class MissingExtra(Exception):
    """The capture reader is not installed."""


class Record(NamedTuple):
    number: int  # 1-based, as Wireshark numbers packets
    time: float  # seconds since the epoch
    linktype: int
    data: bytes
    wire_length: int  # the packet's length before a snap length cut it


def kind(head: bytes) -> str | None:
    """The capture format whose magic ``head`` starts with, or None."""
    return _PCAP_MAGICS.get(head[:4])


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class _Reads:
    """The file as scapy reads it, noting a read that found fewer bytes than it asked for but
    more than none: the file ends inside a record (a clean end reads nothing)."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.name = getattr(file, "name", "capture")
        self.short: int | None = None  # where a short read started

    def read(self, size: int = -1) -> bytes:
        data = self.file.read(size)
        if 0 < len(data) < size and self.short is None:
            self.short = self.file.tell() - len(data)
        return data


def _reader_class() -> Any:
    try:
        from scapy.utils import RawPcapReader
    except ImportError:
        raise MissingExtra(
            f"reading pcap and pcapng files needs scapy: pip install '{EXTRA}'"
        ) from None
    return RawPcapReader


def records(file: IO[bytes], problems: list[str]) -> Iterator[Record]:
    """Every packet record in ``file``; what is wrong with the file goes to ``problems``."""
    reader_class = _reader_class()
    logger = logging.getLogger("scapy.runtime")
    warnings = _Warnings()
    logger.addHandler(warnings)
    propagate, logger.propagate = logger.propagate, False
    try:
        reads = _Reads(file)
        try:
            reader = reader_class(reads)
        except Exception as exc:  # noqa: BLE001 - scapy's refusal, whatever its type
            problems.extend(warnings.messages)
            problems.append(f"not a capture file scapy can read: {exc}")
            return
        pcapng = hasattr(reader, "interfaces")
        divisor = 1e9 if getattr(reader, "nano", False) else 1e6
        number = 0
        while True:
            try:
                data, meta = reader._read_packet(size=_LARGEST_RECORD)
            except EOFError:
                break
            except Exception as exc:  # noqa: BLE001 - a damaged block scapy did not expect
                problems.append(f"the record after packet {number} cannot be read: {exc}")
                break
            number += 1
            if warnings.messages:
                problems.extend(f"packet {number}: {text}" for text in warnings.messages)
                warnings.messages.clear()
            if pcapng:
                time = ((meta.tshigh << 32) | meta.tslow) / meta.tsresol
                yield Record(number, time, meta.linktype, data, meta.wirelen)
            else:
                yield Record(
                    number, meta.sec + meta.usec / divisor, reader.linktype, data, meta.wirelen
                )
        problems.extend(warnings.messages)
        if reads.short is not None:
            problems.append(
                f"the capture ends inside a record (cut at byte {reads.short}, after packet "
                f"{number})"
            )
    finally:
        logger.removeHandler(warnings)
        logger.propagate = propagate
