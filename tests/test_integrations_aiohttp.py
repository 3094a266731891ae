"""aiohttp patched gives the same messages and errors as unpatched: its pure-Python reader
and its writer's mask."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from wsfast import integrations

from .integration_traffic import (
    BIG,
    KEY,
    TEXT,
    chunkings,
    compare,
    conversations,
    needs,
)


def aiohttp_read(data_chunks: list[bytes], max_size: int) -> list[Any]:
    from aiohttp._websocket.reader_py import WebSocketDataQueue, WebSocketReader

    class Protocol:
        _reading_paused = False

        def pause_reading(self) -> None:
            pass

        def resume_reading(self) -> None:
            pass

    queue = WebSocketDataQueue(Protocol(), 2**30, loop=None)
    reader = WebSocketReader(queue, max_size, compress=False, decode_text=True)
    out = []
    for chunk in data_chunks:
        out.append(reader.feed_data(chunk))
        exc = queue.exception()
        out.append(
            (type(exc).__name__, getattr(exc, "code", None), str(exc)) if exc else None
        )
    out += [(repr(msg), size) for msg, size in queue._buffer]
    return out


@needs("aiohttp")
@pytest.mark.parametrize("max_size", [0, 4096])
def test_aiohttp_pure_reader_gives_the_same_messages_and_errors(patching, max_size):
    runs = {
        (conv, cut): chunks
        for conv, data in conversations(KEY).items()
        for cut, chunks in chunkings(data).items()
        if cut != "bytes" or conv == "messages"
    }

    def run() -> dict:
        return {k: aiohttp_read(chunks, max_size) for k, chunks in runs.items()}

    out = compare(run, patching, "aiohttp", "apply_mask_inplace")
    if max_size:
        assert "MESSAGE_TOO_BIG: 1009" in repr(out["messages", "whole"])
    else:
        assert "INVALID_TEXT: 1007" in repr(out["invalid-utf8", "whole"])


@needs("aiohttp")
def test_aiohttp_writer_masks_the_same_bytes(monkeypatch, patching):
    from aiohttp._websocket import helpers
    from aiohttp._websocket import writer as writer_module

    # as with AIOHTTP_NO_EXTENSIONS=1: the writer on aiohttp's pure-Python mask, which the
    # patch replaces (its compiled mask, where built, is left alone)
    monkeypatch.setattr(writer_module, "websocket_mask", helpers._websocket_mask_python)

    class Transport:
        def __init__(self) -> None:
            self.sent: list[bytes] = []

        def write(self, data: Any) -> None:
            self.sent.append(bytes(data))

        def writelines(self, data: Any) -> None:
            self.sent.append(b"".join(data))

        def is_closing(self) -> bool:
            return False

    class Protocol:
        _paused = False

    async def send_all() -> list[bytes]:
        transport = Transport()
        w = writer_module.WebSocketWriter(
            Protocol(), transport, use_mask=True, random=random.Random(5)
        )
        for payload, opcode in [(b"hi", 1), (TEXT, 1), (BIG, 2), (b"", 9)]:
            await w.send_frame(payload, opcode)
        return transport.sent

    def run() -> list[bytes]:
        return asyncio.run(send_all())

    before = compare(run, patching, "aiohttp", "apply_mask_inplace")
    assert len(before) == 4
    integrations.unpatch()
