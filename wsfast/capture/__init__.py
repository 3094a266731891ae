"""``python -m wsfast inspect capture.pcapng``: the WebSocket connections in a capture file.

Parts, in the order a packet meets them:

- :mod:`.formats`: pcap / pcapng records (scapy's raw readers, the ``capture`` extra);
- :mod:`.links`: link layer, IPv4 / IPv6 and TCP headers, down to a segment;
- :mod:`.tcp`: each direction reassembled by sequence number, holes reported as gaps;
- :mod:`.connections`: connections paired with their HTTP upgrade, frames cut out of each
  direction and handed to ``wsfast._inspect.Dissector`` (the tree view and ``--json``);
- :mod:`.inflating`: permessage-deflate parameters and inflaters for compressed messages.
"""

from __future__ import annotations

from typing import IO

from .formats import MissingExtra, kind


def dissect(file: IO[bytes], dissector: object, **options: object) -> tuple[int, int]:
    """Dissect every connection in ``file``; (WebSocket connections, TCP connections)."""
    from .connections import Capture
    from .formats import records

    problems: list[str] = []
    capture = Capture(dissector, **options)  # type: ignore[arg-type]
    for record in records(file, problems):
        capture.record(record)
    capture.finish()
    for problem in problems:
        dissector.lost(None, problem)  # type: ignore[attr-defined]
    return capture.websockets, capture.streams


__all__ = ["MissingExtra", "dissect", "kind"]
