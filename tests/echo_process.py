"""examples/echo_server.py as a subprocess on a free port, for the tests that talk to it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import wsfast

SERVER = Path(__file__).resolve().parent.parent / "examples" / "echo_server.py"


def start_echo_server(
    backend: str | None = None, *options: str, log: bool = False
) -> tuple[subprocess.Popen, int]:
    """Start the echo server and return it with its port.  ``backend`` (a conftest BACKENDS
    name: "python", "c-avx2", ...) picks its backend and kernel; None leaves the environment's
    choice.  The server imports the same wsfast package as the tests.  ``log``: its stderr
    joins the stdout pipe, for a caller that reads the log (unread, a full pipe would stall
    the server); otherwise stderr goes where the tests' own goes."""
    env = dict(os.environ)
    package_root = str(Path(wsfast.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if backend == "python":
        env["WSFAST_NO_EXTENSIONS"] = "1"
        env.pop("WSFAST_REQUIRE_EXTENSIONS", None)  # set for the C runs (.ci/run, sanitize.sh)
    elif backend is not None:
        env.pop("WSFAST_NO_EXTENSIONS", None)
        env["WSFAST_REQUIRE_EXTENSIONS"] = "1"
        env["WSFAST_FORCE_KERNEL"] = backend[2:]
    server = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if log else None,
        text=True,
        env=env,
    )
    banner = server.stdout.readline()
    if not banner.startswith("listening on ws://127.0.0.1:"):
        try:
            rest = server.communicate(timeout=30)[0] or ""  # the traceback, if it failed
        except subprocess.TimeoutExpired:
            server.kill()
            rest = server.communicate()[0]
        raise AssertionError(banner + rest)
    if backend is not None:
        expected = "python" if backend == "python" else "c"
        assert f"backend {expected})" in banner, banner
    return server, int(banner.split()[2].rsplit(":", 1)[1])
