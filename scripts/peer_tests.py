"""Run the peers' own test suites with ``wsfast.patch(...)`` applied.

    python scripts/peer_tests.py                 # every peer whose tests can be obtained
    python scripts/peer_tests.py wsproto tornado # some of them
    python scripts/peer_tests.py --unpatched ... # the same suites without wsfast, for comparison

Suites come from where each peer publishes them:
- wsproto: ``tests/`` of its sdist, for the installed version
  (``pip download --no-deps --no-binary :all: wsproto==X``), unpacked into ``.peer-tests/``
  (gitignored) and reused on later runs;
- tornado: ``tornado.test.websocket_test``, shipped in the package, run through tornado's own
  runner (plain unittest trips over its log checks);
- autobahn: ``autobahn.websocket.test``, shipped in the package, under pytest with asyncio;
- websocket-client: ``websocket.tests``, shipped in the package, under pytest, with its local
  echo server (``websocket/tests/echo-server.py``, on a free loopback port given to both in
  ``LOCAL_WS_SERVER_PORT``) started for the tests that need one; its internet tests skip.
websockets, aiohttp and ws4py do not publish theirs on PyPI in a runnable form; the project's
tests/test_integrations*.py drive them end to end instead.

Each suite runs in a subprocess that patches first and checks that the patch took (the names
wsfast rebinds point at wsfast) before any test module is imported; under pytest, the
pytest plugin it writes, ``wsfast_peer_plugin``, does so (for the library in ``WSFAST_PATCH``).
Exit status: 0 when every selected suite passed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".peer-tests"
SUITES = ("wsproto", "tornado", "autobahn", "websocket-client")

# Run in the child before the suite: patch, then prove the patch is in place.
PATCH_AND_CHECK = """
import os, wsfast
from wsfast import integrations
names = [n for n in os.environ.get("WSFAST_PATCH", "").split(",") if n]
if names:
    done = integrations.patch(*names)
    assert done == names, done
    integrations.check_patched(*names)
    print(f"wsfast {wsfast.__version__} ({wsfast.BACKEND} backend) patched {', '.join(done)}")
else:
    print("wsfast not applied: the library runs unpatched")
"""




def plugin_dir() -> Path:
    """A directory holding the pytest plugin ``wsfast_peer_plugin`` that patches first."""
    where = CACHE / "plugin"
    where.mkdir(parents=True, exist_ok=True)
    code = f"def pytest_configure(config):\n    exec({PATCH_AND_CHECK!r}, {{}})\n"
    plugin = where / "wsfast_peer_plugin.py"
    if not plugin.exists() or plugin.read_text() != code:
        plugin.write_text(code)
    return where


# --- the runner side ------------------------------------------------------------------------


def sdist_tests(name: str) -> Path:
    """The unpacked sdist of the installed version of ``name`` (downloaded once)."""
    ver = version(name)
    target = CACHE / f"{name}-{ver}"
    if not (target / "tests").is_dir():
        CACHE.mkdir(exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary",
             ":all:", f"{name}=={ver}", "-d", str(CACHE)],
            check=True,
        )
        archive = next(CACHE.glob(f"{name}-{ver}.tar.gz"))
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    return target


def command(name: str) -> tuple[list[str], Path]:
    py = sys.executable
    if name == "wsproto":
        where = sdist_tests("wsproto")
        return [py, "-m", "pytest", "-q", "-p", "wsfast_peer_plugin", "-p", "no:cacheprovider",
                "tests"], where
    if name == "tornado":
        code = PATCH_AND_CHECK + (
            "import runpy, sys\n"
            "sys.argv = ['tornado.test.runtests', 'tornado.test.websocket_test']\n"
            "runpy.run_module('tornado.test.runtests', run_name='__main__')\n"
        )
        return [py, "-c", code], ROOT
    if name == "autobahn":
        return [py, "-m", "pytest", "-q", "-p", "wsfast_peer_plugin", "-p", "no:cacheprovider",
                "--pyargs", "autobahn.websocket.test"], ROOT
    if name == "websocket-client":
        return [py, "-m", "pytest", "-q", "-p", "wsfast_peer_plugin", "-p", "no:cacheprovider",
                "--pyargs", "websocket.tests"], ROOT
    raise ValueError(f"no published test suite for {name!r}")


@contextlib.contextmanager
def echo_server(env: dict[str, str]) -> Iterator[None]:
    """websocket-client's own echo server, on a free loopback port put in ``env``
    (``LOCAL_WS_SERVER_PORT``), for as long as its suite runs."""
    spec = importlib.util.find_spec("websocket")
    assert spec is not None and spec.submodule_search_locations
    script = Path(next(iter(spec.submodule_search_locations))) / "tests" / "echo-server.py"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env["LOCAL_WS_SERVER_PORT"] = str(port)
    server = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        for _ in range(200):  # up to 10 s for it to listen
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.05):
                break
            if server.poll() is not None:
                raise RuntimeError(f"{script} exited with status {server.returncode}")
            time.sleep(0.05)
        yield
    finally:
        server.terminate()
        server.wait(10)


def run(name: str, patched: bool) -> int:
    try:
        version(name)
    except PackageNotFoundError:
        print(f"== {name}: not installed, skipped")
        return 0
    argv, cwd = command(name)
    env = dict(os.environ)
    env["WSFAST_PATCH"] = name if patched else ""
    env["PYTHONPATH"] = os.pathsep.join(
        [str(plugin_dir()), env.get("PYTHONPATH", "")]
    )
    if name == "autobahn":
        env.setdefault("USE_ASYNCIO", "1")
    print(f"== {name} {version(name)} ({'patched' if patched else 'unpatched'})", flush=True)
    server = echo_server(env) if name == "websocket-client" else contextlib.nullcontext()
    with server:
        return subprocess.run(argv, cwd=cwd, env=env).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"suites to run: {' '.join(SUITES)} (default: all)")
    parser.add_argument("--unpatched", action="store_true", help="run without wsfast")
    args = parser.parse_args(argv)
    for name in args.names:
        if name not in SUITES:
            parser.error(f"no published test suite for {name!r} (choose from {', '.join(SUITES)})")
    failed = [n for n in (args.names or SUITES) if run(n, not args.unpatched) != 0]
    if failed:
        print(f"failed: {' '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
