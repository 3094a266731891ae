#!/usr/bin/env python3
"""Autobahn|Testsuite conformance run against examples/echo_server.py.

    python scripts/autobahn.py                         # every case, 12.* and 13.* included
    python scripts/autobahn.py --cases 6.4.*           # a few cases
    python scripts/autobahn.py --exclude 12.*,13.*     # all but permessage-deflate

Autobahn|Testsuite 0.8.2 runs on Python 2.7 (pyenv's 2.7.18 by default, or --python2 / the
AUTOBAHN_PYTHON2 environment variable).  It is installed once with ``pip install --target`` into
.autobahn/lib (gitignored; later runs reuse it) and started through a small launcher that calls
``site.addsitedir`` on that directory, so that zope's namespace package resolves.  The echo
server runs on the current Python with whatever backend it picks (WSFAST_NO_EXTENSIONS=1 is
passed through).

Prints the number of cases per behaviour and every case that is neither OK nor INFORMATIONAL.
Exits 1 when a case is NON-STRICT or FAILED (in its behaviour or its close behaviour) or a 9.*
case is not OK, 2 when the run itself could not be done.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".autobahn"
SERVER = ROOT / "examples" / "echo_server.py"
VERSION = "0.8.2"
AGENT = "wsfast"
BEHAVIORS = ("OK", "INFORMATIONAL", "NON-STRICT", "FAILED", "UNIMPLEMENTED")
BAD = {"NON-STRICT", "FAILED"}

# Runs under Python 2.7: keep it 2.7 syntax.
LAUNCHER = """\
import site
import sys

site.addsitedir(sys.argv.pop(1))  # processes .pth files: zope's namespace package resolves
from autobahntestsuite.wstest import run

sys.exit(run())
"""


class RunError(Exception):
    """The conformance run could not be carried out (as opposed to a case failing)."""


def find_python2() -> Path | None:
    """The Python 2.7 interpreter: $AUTOBAHN_PYTHON2, else pyenv's 2.7.18; None if missing."""
    explicit = os.environ.get("AUTOBAHN_PYTHON2")
    if explicit:
        return Path(explicit) if Path(explicit).exists() else None
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        root = out.stdout.strip()
    candidate = Path(root or Path.home() / ".pyenv") / "versions" / "2.7.18" / "bin" / "python"
    return candidate if candidate.exists() else None


def install(python2: Path, lib: Path) -> None:
    """pip install --target lib autobahntestsuite==VERSION, unless a previous run did."""
    marker = lib / f".installed-autobahntestsuite-{VERSION}"
    if marker.exists():
        return
    if lib.exists():
        shutil.rmtree(lib)  # a half-finished install
    print(f"installing autobahntestsuite {VERSION} into {lib} (once)", flush=True)
    command = [str(python2), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    command += ["--no-warn-script-location", "--target", str(lib), f"autobahntestsuite=={VERSION}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RunError(f"pip install failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    marker.write_text(f"{' '.join(command)}\n")


def server_environment() -> dict[str, str]:
    env = dict(os.environ)
    if importlib.util.find_spec("wsfast") is None:
        # not installed: run the checkout's package
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def start_server() -> tuple[subprocess.Popen[str], int, str]:
    """The echo server on a free port: (process, port, its banner)."""
    command = [sys.executable, str(SERVER), "--host", "127.0.0.1", "--port", "0"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=None, text=True, env=server_environment()
    )
    assert process.stdout is not None
    banner = process.stdout.readline().strip()  # "listening on ws://127.0.0.1:PORT (...)"
    if not banner.startswith("listening on ws://"):
        process.kill()
        raise RunError(f"echo server did not start: {banner!r}")
    port = int(banner.split("ws://", 1)[1].split()[0].rsplit(":", 1)[1])
    return process, port, banner


def run_wstest(
    python2: Path, lib: Path, port: int, cases: list[str], exclude: list[str], timeout: float
) -> dict:
    """Run the fuzzing client against ws://127.0.0.1:port; the parsed reports/index.json."""
    work = CACHE / "run"
    if work.exists():
        shutil.rmtree(work)
    (work / "reports").mkdir(parents=True)
    spec = {
        "outdir": str(work / "reports"),
        "servers": [{"agent": AGENT, "url": f"ws://127.0.0.1:{port}"}],
        "cases": cases,
        "exclude-cases": exclude,
        "exclude-agent-cases": {},
    }
    (work / "fuzzingclient.json").write_text(json.dumps(spec, indent=2))
    launcher = work / "wstest.py"
    launcher.write_text(LAUNCHER)
    command = [str(python2), str(launcher), str(lib), "-m", "fuzzingclient"]
    command += ["-s", str(work / "fuzzingclient.json")]
    env = dict(os.environ, PYTHONWARNINGS="ignore", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    log = work / "wstest.log"
    with log.open("w") as out:
        try:
            done = subprocess.run(
                command,
                cwd=work,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise RunError(f"wstest did not finish within {timeout:.0f} s; log: {log}") from None
    index = work / "reports" / "index.json"
    if done.returncode != 0 or not index.exists():
        tail = "".join(log.read_text(errors="replace").splitlines(True)[-30:])
        raise RunError(f"wstest failed ({done.returncode}); last lines of {log}:\n{tail}")
    report = json.loads(index.read_text())
    if AGENT not in report:
        raise RunError(f"no results for agent {AGENT!r} in {index}")
    return report[AGENT]


def case_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case_id.split("."))


def summarize(results: dict) -> tuple[str, bool]:
    """The summary text and whether the run passes."""
    behavior = Counter(entry["behavior"] for entry in results.values())
    closing = Counter(entry["behaviorClose"] for entry in results.values())
    lines = [f"{len(results)} cases"]
    for name in BEHAVIORS + tuple(sorted((set(behavior) | set(closing)) - set(BEHAVIORS))):
        if behavior[name] or closing[name]:
            lines.append(f"  {name:<14} {behavior[name]:>4} behaviour   {closing[name]:>4} close")
    passed = True
    notable = []
    for case_id in sorted(results, key=case_key):
        entry = results[case_id]
        kinds = {entry["behavior"], entry["behaviorClose"]}
        if kinds & BAD or (case_id.startswith("9.") and entry["behavior"] != "OK"):
            passed = False
        if kinds - {"OK", "INFORMATIONAL"}:
            notable.append(
                f"  {case_id:<10} behaviour {entry['behavior']}, close {entry['behaviorClose']}"
                f" (remote close code {entry.get('remoteCloseCode')})"
            )
    if notable:
        lines.append("cases neither OK nor INFORMATIONAL:")
        lines.extend(notable)
    lines.append("PASS: no case NON-STRICT or FAILED, every 9.* OK" if passed else "FAIL")
    return "\n".join(lines), passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="*", help="comma-separated case patterns (default *)")
    parser.add_argument("--exclude", default="", help="comma-separated case patterns to skip")
    parser.add_argument("--python2", type=Path, help="the Python 2.7 interpreter to run wstest")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for wstest")
    args = parser.parse_args(argv)

    python2 = args.python2 or find_python2()
    if python2 is None or not python2.exists():
        print("no Python 2.7 interpreter (set AUTOBAHN_PYTHON2 or pass --python2)")
        return 2
    lib = CACHE / "lib"
    lib.parent.mkdir(exist_ok=True)
    server = None
    try:
        install(python2, lib)
        server, port, banner = start_server()
        print(banner, flush=True)
        started = time.monotonic()
        results = run_wstest(
            python2,
            lib,
            port,
            args.cases.split(","),
            args.exclude.split(",") if args.exclude else [],
            args.timeout,
        )
    except RunError as exc:
        print(f"autobahn: {exc}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    text, passed = summarize(results)
    print(
        f"wstest -m fuzzingclient, cases {args.cases} except {args.exclude or 'none'}, "
        f"{time.monotonic() - started:.0f} s"
    )
    print(text)
    print(f"reports: {CACHE / 'run' / 'reports' / 'index.html'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
