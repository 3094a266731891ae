"""The peers' own test suites pass with wsfast.patch() applied, on the backend of this run.

scripts/peer_tests.py runs each suite in a subprocess that patches first and checks that the
patch is in place: wsproto's tests from its sdist (downloaded once into .peer-tests/), tornado's
``tornado.test.websocket_test``, autobahn's ``autobahn.websocket.test`` and websocket-client's
``websocket.tests`` (with its local echo server) as they ship.  The
subprocess inherits this run's environment, so the C run checks the C backend and the
``WSFAST_NO_EXTENSIONS=1`` run the pure one.  A peer that is not installed is skipped, saying
so; ``pip install -e '.[test,peers]'`` (what .ci/run does) installs them all.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import wsfast
from wsfast import integrations

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "peer_tests.py"
SUITES = ["wsproto", "tornado", "autobahn", "websocket-client"]


@pytest.mark.parametrize("peer", SUITES)
def test_peer_suite_passes_patched(peer):
    if not SCRIPT.exists():
        pytest.skip(f"{SCRIPT} is missing: the peer suites run from a checkout")
    if importlib.util.find_spec(integrations.INTEGRATIONS[peer].MODULE) is None:
        pytest.skip(f"{peer} is not installed (pip install -e '.[test,peers]')")
    env = dict(os.environ)
    # the wsfast this test imported, not another one on the path
    package_root = str(Path(wsfast.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), peer],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    out = proc.stdout + proc.stderr
    tail = "\n".join(out.splitlines()[-30:])
    assert proc.returncode == 0, f"{peer}'s suite failed with wsfast patched in:\n{tail}"
    banner = f"wsfast {wsfast.__version__} ({wsfast.BACKEND} backend) patched {peer}"
    assert banner in out, f"the suite did not run patched on the {wsfast.BACKEND} backend:\n{tail}"
    if peer == "tornado":  # unittest: "Ran N tests" then "OK"
        ran = re.search(r"^Ran (\d+) tests? in .*\n\n(OK.*)$", out, re.MULTILINE)
        assert ran and int(ran[1]) > 0 and ran[2].startswith("OK"), tail
        summary = f"{ran[1]} passed"
    else:  # pytest: "N passed[, M skipped][, ...] in Ts"
        line = re.search(r"^(\d+) passed.* in [\d.]+s.*$", out, re.MULTILINE)
        assert line and int(line[1]) > 0, tail
        assert not re.search(r"\d+ (failed|errors?)\b", line[0]), line[0]
        summary = line[0]
    print(f"{peer} ({wsfast.BACKEND} backend, patched): {summary}")
