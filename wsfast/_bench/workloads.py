"""The workloads of each group (mask, utf8, decode, encode), each library's entry for it and
the check its result must pass before it is timed."""

from __future__ import annotations

import random
from itertools import accumulate
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import wsfast

from .inputs import (
    KEY,
    LIMIT,
    TEXT_KINDS,
    KiB,
    MiB,
    make_text,
    masked_frame,
    parse_frames,
    reference_mask,
    size_label,
)
from .peers import Peers


@dataclass
class Entry:
    """One library's way to do a workload: ``fn(*args)`` is one timed operation; ``check()``
    returns None when the result is right, else why it is not."""

    library: str
    fn: Callable[..., Any]
    args: tuple
    check: Callable[[], str | None]


@dataclass
class Workload:
    group: str
    name: str
    unit: str  # "GB/s" or "msg/s"
    amount: int  # bytes (GB/s) or messages (msg/s) per operation
    entries: list[Entry] = field(default_factory=list)
    note: str = ""


def _expect(got: Any, want: Any, what: str) -> str | None:
    if got == want:
        return None
    return f"{what} differs from the reference"


def mask_workloads(
    sizes: Sequence[int], peers: Peers, rng: random.Random
) -> list[Workload]:
    out = []
    for n in sizes:
        data = rng.randbytes(n)
        want = reference_mask(data, KEY)
        source = bytearray(data)

        w = Workload("mask", f"copy {size_label(n)}", "GB/s", n)
        w.entries.append(
            Entry(
                "wsfast",
                wsfast.apply_mask,
                (data, KEY),
                lambda d=data, want=want: _expect(
                    wsfast.apply_mask(d, KEY), want, "apply_mask"
                ),
            )
        )
        ws = peers.get("websockets")
        if ws:
            am = ws["apply_mask"]
            w.entries.append(
                Entry(
                    "websockets",
                    am,
                    (data, KEY),
                    lambda am=am, d=data, want=want: _expect(
                        am(d, KEY), want, "speedups.apply_mask"
                    ),
                )
            )
        acc = peers.get("wsaccel")
        if acc:
            Masker = acc["XorMaskerSimple"]

            def wsaccel_mask(d: bytes, m: bytes, Masker: Any = Masker) -> bytes:
                return Masker(m).process(
                    d
                )  # one masker per frame, as wsaccel's users do

            w.entries.append(
                Entry(
                    "wsaccel",
                    wsaccel_mask,
                    (data, KEY),
                    lambda f=wsaccel_mask, d=data, want=want: _expect(
                        bytes(f(d, KEY)), want, "XorMaskerSimple"
                    ),
                )
            )
        nvx = peers.get("autobahn-nvx")
        if nvx:
            create = nvx["create_xor_masker"]

            def nvx_mask(d: bytes, m: bytes, create: Any = create) -> bytes:
                return create(m, len(d)).process(
                    d
                )  # autobahn makes one masker per frame

            w.entries.append(
                Entry(
                    "autobahn-nvx",
                    nvx_mask,
                    (data, KEY),
                    lambda f=nvx_mask, d=data, want=want: _expect(
                        bytes(f(d, KEY)), want, "create_xor_masker"
                    ),
                )
            )
        w.entries.append(
            Entry(
                "copy",
                bytes,
                (source,),
                lambda s=source, d=data: _expect(bytes(s), d, "bytes(bytearray)"),
            )
        )
        w.note = (
            "copy = bytes(bytearray), the memory-speed limit; wsaccel and autobahn-nvx make one"
            " masker per frame, as their users do"
        )
        out.append(w)

    for n in sizes:
        data = rng.randbytes(n)
        want = reference_mask(data, KEY)
        w = Workload("mask", f"in place {size_label(n)}", "GB/s", n)

        def check_inplace(
            f: Callable[[bytearray], None],
            what: str,
            d: bytes = data,
            want: bytes = want,
        ) -> str | None:
            buf = bytearray(d)
            f(buf)
            return _expect(bytes(buf), want, what)

        w.entries.append(
            Entry(
                "wsfast",
                wsfast.apply_mask_inplace,
                (bytearray(data), KEY),
                lambda c=check_inplace: c(
                    lambda b: wsfast.apply_mask_inplace(b, KEY), "apply_mask_inplace"
                ),
            )
        )
        aio = peers.get("aiohttp")
        if aio:
            wm = aio["mask"]
            w.entries.append(
                Entry(
                    "aiohttp",
                    wm,
                    (KEY, bytearray(data)),
                    lambda c=check_inplace, wm=wm: c(
                        lambda b: wm(KEY, b), "websocket_mask"
                    ),
                )
            )
        out.append(w)
    return out


def utf8_workloads(
    sizes: Sequence[int], peers: Peers, rng: random.Random
) -> list[Workload]:
    out = []
    acc = peers.get("wsaccel")
    nvx = peers.get("autobahn-nvx")
    for kind in TEXT_KINDS:
        for n in sizes:
            data = make_text(kind, n, rng)
            # an invalid copy: 0xFF (never valid in UTF-8) in the middle must be rejected
            bad = data[: n // 2] + b"\xff" + data[n // 2 + 1 :]
            w = Workload("utf8", f"{kind} {size_label(n)}", "GB/s", n)

            def check(
                valid: Callable[[bytes], bool], d: bytes = data, bad: bytes = bad
            ) -> str | None:
                if valid(d) is not True:
                    return "valid text rejected"
                if valid(bad) is not False:
                    return "invalid text accepted"
                return None

            w.entries.append(
                Entry(
                    "wsfast",
                    wsfast.validate_utf8,
                    (data,),
                    lambda c=check: c(wsfast.validate_utf8),
                )
            )

            def decodes(d: bytes) -> bool:
                try:
                    d.decode("utf-8")
                except UnicodeDecodeError:
                    return False
                return True

            w.entries.append(
                Entry(
                    "bytes.decode",
                    bytes.decode,
                    (data, "utf-8"),
                    lambda c=check: c(decodes),
                )
            )
            for name, peer in (("wsaccel", acc), ("autobahn-nvx", nvx)):
                if not peer:
                    continue
                Validator = peer["Utf8Validator"]

                def fresh_valid(d: bytes, V: Any = Validator) -> bool:
                    return bool(V().validate(d)[0])

                # one validator kept across calls: on complete valid text it returns to its
                # start state, as it does between the messages of a connection
                timed = Validator()
                w.entries.append(
                    Entry(
                        name,
                        timed.validate,
                        (data,),
                        lambda c=check, f=fresh_valid: c(f),
                    )
                )
            out.append(w)
    return out


def _decode_stream(
    kind: str, msg_size: int, count: int, rng: random.Random
) -> tuple[list[bytes], list[bytes], int]:
    """(originals, frames, opcode): ``count`` masked messages of ``msg_size`` bytes."""
    opcode = 2 if kind == "binary" else 1
    if kind == "binary":
        msgs = [rng.randbytes(msg_size) for _ in range(count)]
    else:
        msgs = [make_text(kind, msg_size, rng) for _ in range(count)]
    frames = [masked_frame(opcode, m, rng.randbytes(4)) for m in msgs]
    return msgs, frames, opcode


class _Protocol:
    """The transport-side protocol aiohttp's queue and writer expect; never paused."""

    _reading_paused = False
    _paused = False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class _Transport:
    def __init__(self, keep: bool) -> None:
        self.written: list[bytes] = []
        self.write = self.written.append if keep else self._drop

    @staticmethod
    def _drop(data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False


def _as_bytes(x: Any) -> bytes:
    return x.encode("utf-8") if isinstance(x, str) else bytes(x)


Runner = tuple[str, Callable[..., Any], Callable[[Any], list[Any]]]


def decode_runners(peers: Peers) -> list[Runner]:
    """(library, run, extract): ``run(stream, reads)`` decodes one stream, read in the pieces
    ``reads`` bounds (64 KiB, or one frame per read), each a fresh bytes object as a socket
    hands them over, the way the library's users get
    validated messages: str for text (the headline entries) or bytes (the "bytes" entries);
    ``extract`` turns its result into payloads, outside the timing."""

    def wsfast_run(stream: bytes, reads: Any) -> list[Any]:
        # decode_text=True: each text message's str is made as it is delivered, inside the
        # timed run; reading it afterwards (``.text``) is an item read, as aiohttp's ``.data``
        feed = wsfast.Decoder(client=False, max_message_size=LIMIT, decode_text=True).feed
        events: list[Any] = []
        for i, j in reads:
            events += feed(stream[i:j])
        return events

    def wsfast_extract(events: list[Any]) -> list[Any]:
        return [m.text if m.is_text else m.data for m in events]

    def wsfast_bytes_run(stream: bytes, reads: Any) -> list[Any]:
        feed = wsfast.Decoder(client=False, max_message_size=LIMIT).feed
        events: list[Any] = []
        for i, j in reads:
            events += feed(stream[i:j])
        return events

    def wsfast_bytes_extract(events: list[Any]) -> list[Any]:
        return [m.data for m in events]

    runners: list[Runner] = [
        ("wsfast", wsfast_run, wsfast_extract),
        ("wsfast bytes", wsfast_bytes_run, wsfast_bytes_extract),
    ]

    ws = peers.get("websockets")
    if ws:
        Protocol, Side, State, TEXT = (
            ws["Protocol"],
            ws["Side"],
            ws["State"],
            ws["Opcode"].TEXT,
        )

        def websockets_run(stream: bytes, reads: Any) -> list[Any]:
            p = Protocol(Side.SERVER, state=State.OPEN, max_size=LIMIT)
            out: list[Any] = []
            for i, j in reads:
                p.receive_data(stream[i:j])
                for f in p.events_received():
                    # its connection layer decodes text frames; that is its UTF-8 check
                    out.append(f.data.decode("utf-8") if f.opcode is TEXT else f.data)
            if p.parser_exc is not None:
                raise p.parser_exc
            return out

        runners.append(("websockets", websockets_run, list))

    aio = peers.get("aiohttp")
    if aio:
        Queue, Reader = aio["Queue"], aio["Reader"]

        def aiohttp_run(stream: bytes, reads: Any, decode_text: bool = True) -> Any:
            queue = Queue(_Protocol(), 2**30, loop=None)
            feed = Reader(queue, LIMIT, compress=False, decode_text=decode_text).feed_data
            for i, j in reads:
                feed(stream[i:j])
            if queue.exception() is not None:
                raise queue.exception()
            return queue._buffer

        def aiohttp_bytes_run(stream: bytes, reads: Any) -> Any:
            return aiohttp_run(stream, reads, False)

        def aiohttp_extract(buffer: Any) -> list[Any]:
            return [msg.data for msg, _size in buffer]

        runners.append(("aiohttp", aiohttp_run, aiohttp_extract))
        runners.append(("aiohttp bytes", aiohttp_bytes_run, aiohttp_extract))

    wp = peers.get("wsproto")
    if wp:
        FrameProtocol = wp["FrameProtocol"]

        def wsproto_run(stream: bytes, reads: Any) -> list[Any]:
            p = FrameProtocol(client=False, extensions=[])
            frames: list[Any] = []
            for i, j in reads:
                p.receive_bytes(stream[i:j])
                frames.extend(p.received_frames())
            return frames

        def wsproto_extract(frames: list[Any]) -> list[Any]:
            out, parts = [], []
            for f in frames:
                parts.append(f.payload)
                if f.message_finished:
                    out.append(parts[0][:0].join(parts))
                    parts = []
            return out

        runners.append(("wsproto", wsproto_run, wsproto_extract))
    return runners


CHUNK = 64 * KiB


def decode_workloads(quick: bool, peers: Peers, rng: random.Random) -> list[Workload]:
    small_total = 6 * KiB if quick else 256 * KiB
    big = 4 * KiB if quick else MiB
    big_count = 2 if quick else 4
    one_count = 50 if quick else 2000
    specs = [
        # kind, message size, messages, one message per read (else 64 KiB reads)
        ("ascii", 16, small_total // 22, False),
        ("ascii", 125, small_total // 131, False),
        ("ascii", 1000, small_total // 1008, False),
        ("ascii", 16, one_count, True),
        ("ascii", 125, one_count, True),
        ("ascii", 1000, one_count, True),
        ("ascii", big, big_count, False),
        ("cjk", big, big_count, False),
        ("binary", big, big_count, False),
    ]
    runners = decode_runners(peers)
    out = []
    for kind, msg_size, count, one_per_read in specs:
        msgs, frames, opcode = _decode_stream(kind, msg_size, count, rng)
        stream = b"".join(frames)
        if one_per_read:
            # the usual read on a live connection: each frame a read of its own
            ends = list(accumulate(map(len, frames)))
            reads: list[tuple[int, int]] = list(zip([0, *ends[:-1]], ends))
        else:
            reads = [(i, i + CHUNK) for i in range(0, len(stream), CHUNK)]
        small = msg_size <= 4096
        what = "binary" if kind == "binary" else f"{kind} text"
        name = f"{len(msgs)} x {size_label(msg_size)} {what}" + (
            ", one per read" if one_per_read else ""
        )
        amount = len(msgs) if small else len(msgs) * msg_size
        w = Workload("decode", name, "msg/s" if small else "GB/s", amount)
        w.note = (
            f"masked client frames fed to a server-side decoder in {size_label(CHUNK)} reads"
            " (or one frame per read), each a fresh bytes object; text as str: wsfast decode_text=True and .text,"
            " websockets Frame + decode as its connection does, aiohttp decode_text=True,"
            " wsproto str; the 'bytes' columns: text as validated bytes (wsfast Message.data,"
            " aiohttp decode_text=False), their ratio held to wsfast's bytes"
        )

        def check(
            run: Callable[..., Any],
            extract: Callable[[Any], list[Any]],
            msgs: list[bytes] = msgs,
            stream: bytes = stream,
            reads: list[tuple[int, int]] = reads,
            text: bool = opcode == 1,
            as_str: bool = True,
        ) -> str | None:
            raw = extract(run(stream, reads))
            if text and any(type(x) is not (str if as_str else bytes) for x in raw):
                return f"text not delivered as {'str' if as_str else 'bytes'}"
            got = [_as_bytes(x) for x in raw]
            if len(got) != len(msgs):
                return f"{len(got)} messages instead of {len(msgs)}"
            return _expect(got, msgs, "decoded payloads")

        for library, run, extract in runners:
            if library.endswith(" bytes") and opcode != 1:
                continue  # binary messages are bytes in every entry
            as_str = not library.endswith(" bytes")
            w.entries.append(
                Entry(
                    library,
                    run,
                    (stream, reads),
                    lambda c=check, r=run, e=extract, s=as_str: c(r, e, as_str=s),
                )
            )
        out.append(w)
    return out


def encode_workloads(quick: bool, peers: Peers, rng: random.Random) -> list[Workload]:
    big = 4 * KiB if quick else MiB
    specs = [
        ("server", "ascii", 16),
        ("server", "ascii", 125),
        ("server", "cjk", 1000),
        ("server", "cjk", 64 * KiB),
        ("server", "binary", 64 * KiB),
        ("client", "binary", 125),
        ("client", "binary", big),
    ]
    out = []
    for side, kind, n in specs:
        client = side == "client"
        if kind == "binary":
            payload: Any = rng.randbytes(n)
            opcode = 2
        else:
            payload = make_text(kind, n, rng).decode("utf-8")
            opcode = 1
        want = [(opcode, _as_bytes(payload))]
        what = ("binary, masked" if client else "binary") if kind == "binary" else f"{kind} text"
        w = Workload("encode", f"{side} {size_label(n)} {what}", "GB/s", n)
        w.note = (
            "one message in one frame; client frames get a fresh random key; wsfast parts:"
            " Encoder.message_parts (header and payload apart, for writelines), aiohttp's"
            " writer hands its transport the same"
        )

        def check(
            frame: Callable[[], Any],
            want: list[tuple[int, bytes]] = want,
            client: bool = client,
        ) -> str | None:
            data = bytes(frame())
            if bool(data[1] & 0x80) != client:
                return "masking bit wrong for this side"
            return _expect(parse_frames(data), want, "encoded frame")

        enc = wsfast.Encoder(client=client)
        w.entries.append(
            Entry(
                "wsfast",
                enc.message,
                (payload,),
                lambda c=check, e=enc, p=payload: c(lambda: e.message(p)),
            )
        )
        if not client:
            # header and payload apart, for writelines / sendmsg: a bytes payload is not copied
            w.entries.append(
                Entry(
                    "wsfast parts",
                    enc.message_parts,
                    (payload,),
                    lambda c=check, e=enc, p=payload: c(lambda: b"".join(e.message_parts(p))),
                )
            )

        ws = peers.get("websockets")
        if ws:
            Frame, Opcode = ws["Frame"], ws["Opcode"]
            op = Opcode(opcode)

            def websockets_frame(
                p: Any, Frame: Any = Frame, op: Any = op, client: bool = client
            ) -> bytes:
                data = p.encode("utf-8") if type(p) is str else p
                return Frame(op, data).serialize(mask=client)

            w.entries.append(
                Entry(
                    "websockets",
                    websockets_frame,
                    (payload,),
                    lambda c=check, f=websockets_frame, p=payload: c(lambda: f(p)),
                )
            )

        aio = peers.get("aiohttp")
        if aio:
            Writer = aio["Writer"]
            writer = Writer(_Protocol(), _Transport(keep=False), use_mask=client)

            def aiohttp_frame(
                p: Any, write: Any = writer._write_websocket_frame, op: int = opcode
            ) -> None:
                # what send_str / send_bytes do before their (here never needed) drain
                write(p.encode("utf-8") if type(p) is str else p, op, 0)

            def aiohttp_check_frame(
                p: Any = payload,
                client: bool = client,
                Writer: Any = Writer,
                op: int = opcode,
            ) -> bytes:
                transport = _Transport(keep=True)
                Writer(_Protocol(), transport, use_mask=client)._write_websocket_frame(
                    _as_bytes(p), op, 0
                )
                return b"".join(transport.written)

            w.entries.append(
                Entry(
                    "aiohttp",
                    aiohttp_frame,
                    (payload,),
                    lambda c=check, f=aiohttp_check_frame: c(f),
                )
            )

        wp = peers.get("wsproto")
        if wp:
            proto = wp["FrameProtocol"](client=client, extensions=[])
            w.entries.append(
                Entry(
                    "wsproto",
                    proto.send_data,
                    (payload,),
                    lambda c=check, s=proto.send_data, p=payload: c(lambda: s(p)),
                )
            )
        out.append(w)
    return out
