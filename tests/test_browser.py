"""A real browser against examples/echo_server.py: headless Chromium sends, gets echoes, closes.

The test serves a page from localhost (a small ``http.server`` in this process) whose script
fetches the messages to send from that server (text with non-ASCII characters, binary of
several sizes, around the 7/16/64-bit length boundaries, up to 1 MiB), sends them all over one
WebSocket to the echo server, and posts back what came back (binary as base64), the negotiated
extensions and the close event.  The comparison with what was sent is made here, in Python.
Chromium offers permessage-deflate: the echo server accepts it by default (then every message
each way is compressed, and the page reports the agreed ``ws.extensions``), and declines it
with ``--no-deflate``; the test runs both ways.

The echo server runs on each backend and CPU kernel of this test run.  Skipped (with the
reason) only when no Chromium is installed: Debian's ``chromium`` package, or a browser named by
``WSFAST_CHROMIUM``.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading

import pytest

from .conftest import BACKENDS
from .echo_process import SERVER, start_echo_server

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CLOSE_CODE, CLOSE_REASON = 4321, "finished"
TIMEOUT = 90  # seconds for the whole exchange (1 MiB messages, a slow shared machine)

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>wsfast echo</title>
<script>
"use strict";
function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
function report(result) {
  return fetch("/result", {method: "POST", body: JSON.stringify(result)});
}
async function main() {
  const plan = await (await fetch("/plan.json")).json();
  const echoes = [];
  const ws = new WebSocket(plan.url);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    for (const m of plan.messages) {
      ws.send(m.kind === "text" ? m.data : fromBase64(m.data));
    }
  };
  ws.onmessage = (event) => {
    if (typeof event.data === "string") {
      echoes.push({kind: "text", data: event.data});
    } else {
      echoes.push({kind: "binary", data: toBase64(event.data)});
    }
    if (echoes.length === plan.messages.length) {
      ws.close(plan.code, plan.reason);
    }
  };
  ws.onerror = () => report({error: "websocket error", echoes: echoes.length});
  ws.onclose = (event) => report({
    echoes: echoes,
    extensions: ws.extensions,
    close: {code: event.code, reason: event.reason, wasClean: event.wasClean},
  });
}
main().catch((error) => report({error: String(error)}));
</script>
"""


def find_browser() -> str | None:
    named = os.environ.get("WSFAST_CHROMIUM")
    if named:
        return named
    return next(filter(None, map(shutil.which, BROWSERS)), None)


def messages() -> list[tuple[str, str | bytes]]:
    """What the page sends: text around each length boundary with 1-4 byte characters, binary."""
    rng = random.Random(6455)
    alphabet = "a~\u00e9\u00df\u03a9\u0416\u4e2d\u6f22\u3042\U0001f600\U00010348\ufffd"

    def text(size: int) -> str:  # about ``size`` UTF-8 bytes
        out, n = [], 0
        while n < size:
            ch = rng.choice(alphabet)
            out.append(ch)
            n += len(ch.encode())
        return "".join(out)

    texts = ["", "h\u00e9llo w\u00f6rld \u6f22\u5b57 \U0001f600"] + [
        text(n) for n in (125, 126, 127, 65535, 65536, 2**20)
    ]
    binaries = [rng.randbytes(n) for n in (0, 1, 125, 126, 65535, 65536, 2**20 + 3)]
    out: list[tuple[str, str | bytes]] = []
    for i in range(max(len(texts), len(binaries))):
        out += [("text", t) for t in texts[i : i + 1]]
        out += [("binary", b) for b in binaries[i : i + 1]]
    return out


def serve_page(
    plan: dict,
) -> tuple[http.server.ThreadingHTTPServer, dict, threading.Event]:
    result: dict = {}
    posted = threading.Event()
    body = json.dumps(
        plan
    ).encode()  # ensure_ascii: non-BMP characters as surrogate pairs

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/":
                self.reply(PAGE.encode(), "text/html; charset=utf-8")
            elif self.path == "/plan.json":
                self.reply(body, "application/json")
            else:
                self.send_error(404)

        def do_POST(self) -> None:
            data = self.rfile.read(int(self.headers["Content-Length"]))
            self.reply(b"{}", "application/json")
            result.update(json.loads(data))
            posted.set()

        def reply(self, data: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, result, posted


def browser_env() -> dict[str, str]:
    """The environment for Chromium: without the sanitizer runtimes scripts/sanitize.sh preloads
    for the extension (the browser is not under test, and does not start with ASan forced in)."""
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env.pop(name, None)
    return env



@pytest.mark.parametrize("deflate", [True, False], ids=["deflate", "no-deflate"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_headless_chromium_gets_every_message_back_and_closes_cleanly(
    backend, deflate, tmp_path
):
    if not SERVER.exists():
        pytest.skip(f"{SERVER} is missing: this test does not run from a checkout")
    browser = find_browser()
    if browser is None:
        pytest.skip(
            "no Chromium to run (apt-get install chromium, or set WSFAST_CHROMIUM to a browser)"
        )

    sent = messages()
    options = ("--verbose",) if deflate else ("--verbose", "--no-deflate")
    server, port = start_echo_server(backend, *options, log=True)
    plan = {
        "url": f"ws://127.0.0.1:{port}/browser-test",
        "code": CLOSE_CODE,
        "reason": CLOSE_REASON,
        "messages": [
            {
                "kind": kind,
                "data": data if kind == "text" else base64.b64encode(data).decode(),
            }
            for kind, data in sent
        ],
    }
    httpd, result, posted = serve_page(plan)
    log = tmp_path / "chromium.log"
    with tempfile.TemporaryDirectory() as profile, open(log, "w") as log_file:
        chromium = subprocess.Popen(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                f"--user-data-dir={profile}",
                f"http://127.0.0.1:{httpd.server_address[1]}/",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=browser_env(),
        )
        try:
            finished = posted.wait(TIMEOUT)
        finally:
            chromium.kill()
            chromium.wait(30)
            httpd.shutdown()
            httpd.server_close()
            server.terminate()
            server_log = server.communicate(timeout=30)[0]
    assert finished, (
        f"no result from the page in {TIMEOUT} s; chromium said:\n{log.read_text()}"
    )
    assert "error" not in result, (result, server_log)

    echoes = [
        (e["kind"], e["data"] if e["kind"] == "text" else base64.b64decode(e["data"]))
        for e in result["echoes"]
    ]
    assert len(echoes) == len(sent)
    for i, (got, want) in enumerate(zip(echoes, sent)):
        assert got == want, (
            f"message {i} ({want[0]}, {len(want[1])} long) came back changed"
        )
    # the browser offered permessage-deflate; it sees what the server agreed, or nothing
    opened = [line for line in server_log.splitlines() if "open /browser-test" in line]
    assert len(opened) == 1, server_log
    assert "extensions offered: permessage-deflate" in opened[0], server_log
    if deflate:
        assert result["extensions"].startswith("permessage-deflate"), result["extensions"]
        assert f"agreed: {result['extensions']}" in opened[0], server_log
    else:
        assert result["extensions"] == ""
        assert "agreed: none" in opened[0], server_log
    # the closing handshake: the server echoed the code (RFC 6455 5.5.1), then closed TCP
    assert f"closing handshake, code {CLOSE_CODE} {CLOSE_REASON!r}" in server_log, (
        server_log
    )
    assert result["close"] == {"code": CLOSE_CODE, "reason": "", "wasClean": True}
