"""wsfast.patch() and unpatch() themselves: the backend they bind, every original restored,
patching twice, unknown, missing and unsupported libraries, check_patched, the exports, and
the patched-peer benchmark script still running.

The libraries' own behaviour, patched and unpatched, is compared in
tests/test_integrations_*.py.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest

import wsfast
from wsfast import integrations

from .conftest import NO_C
from .integration_traffic import (
    installed,
    needs,
)


def test_patch_uses_the_backend_under_test(patching, api):
    lib = next((n for n in ("tornado", "wsproto", "ws4py") if installed(n)), None)
    if lib is None:
        pytest.skip("none of tornado, wsproto, ws4py is installed")
    patching(lib)
    assert integrations._patched[lib][0].backend.__name__ == api.backend.__name__


def test_wsfast_patch_uses_the_backend_wsfast_runs_on():
    names = [n for n in integrations.LIBRARIES if installed(n)]
    if not names:
        pytest.skip("no library wsfast can patch is installed")
    integrations.unpatch()
    try:
        assert wsfast.patch(names[0]) == [names[0]]
        backend = integrations._patched[names[0]][0].backend
        assert backend.__name__ == ("wsfast._pure" if NO_C else "wsfast._cbackend")
        assert (wsfast.BACKEND == "c") == (backend.__name__ == "wsfast._cbackend")
    finally:
        wsfast.unpatch()


def originals() -> dict[str, Any]:
    """Every name a patch may rebind, as the installed libraries have it now."""
    out: dict[str, Any] = {}
    for name in integrations.LIBRARIES:
        if not installed(name):
            continue
        bindings: list = []
        integrations.INTEGRATIONS[name].enable(bindings, wsfast._api)
        integrations._restore(bindings)
        for owner, attr, original, _ in bindings:
            where = (
                f"{owner.__module__}.{owner.__qualname__}"
                if isinstance(owner, type)
                else owner.__name__
            )
            out[f"{where}.{attr}"] = (owner, attr, original)
    return out


def test_unpatch_restores_every_original_object(patching):
    before = originals()
    if not before:
        pytest.skip("no library wsfast can patch is installed")
    names = patching()
    assert names == [n for n in integrations.LIBRARIES if installed(n)]
    changed = [
        k
        for k, (owner, attr, orig) in before.items()
        if integrations.current(owner, attr) is not orig
    ]
    assert sorted(changed) == sorted(before)  # each one rebound
    integrations.unpatch()
    assert integrations.patched() == []
    for key, (owner, attr, orig) in before.items():
        assert integrations.current(owner, attr) is orig, key


def test_patching_twice_changes_nothing(patching):
    names = [n for n in integrations.LIBRARIES if installed(n)]
    if not names:
        pytest.skip("no library wsfast can patch is installed")
    assert patching(*names) == names
    first = {
        n: [
            (o, a, integrations.current(o, a))
            for o, a, _, _ in integrations._patched[n][1]
        ]
        for n in names
    }
    assert patching(*names, names[0]) == names
    assert patching() == names
    for n in names:
        for owner, attr, value in first[n]:
            assert integrations.current(owner, attr) is value
    integrations.unpatch()
    integrations.unpatch()  # nothing left to restore: no error
    assert integrations.patched() == []


def test_unknown_library_is_refused_by_name():
    with pytest.raises(
        ValueError, match=r"unknown library 'wsaccel' \(wsfast can patch wsproto"
    ):
        wsfast.patch("wsaccel")
    assert integrations.patched() == []


def test_missing_library_raises_library_not_installed(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "ws4py" else real(n, *a)
    )
    with pytest.raises(
        integrations.LibraryNotInstalled, match="library 'ws4py' is not installed"
    ):
        wsfast.patch("ws4py")
    assert issubclass(integrations.LibraryNotInstalled, ImportError)
    assert "ws4py" not in integrations.patched()
    # with no names, only the installed ones are patched, without an error
    try:
        assert "ws4py" not in wsfast.patch()
    finally:
        wsfast.unpatch()


@needs("tornado")
def test_a_version_without_the_expected_name_is_refused_and_left_as_it_was(monkeypatch):
    from tornado import util, websocket

    original = util._websocket_mask
    monkeypatch.delattr(websocket, "_websocket_mask")
    with pytest.raises(
        integrations.UnsupportedVersion, match=r"tornado .* has no .*_websocket_mask"
    ):
        wsfast.patch("tornado")
    assert util._websocket_mask is original
    assert integrations.patched() == []


@needs("aiohttp")
def test_an_aiohttp_without_its_python_mask_is_refused(monkeypatch):
    from aiohttp._websocket import helpers

    monkeypatch.delattr(helpers, "_websocket_mask_python")
    with pytest.raises(
        integrations.UnsupportedVersion,
        match=r"aiohttp .* has no _websocket\._websocket_mask_py",
    ):
        wsfast.patch("aiohttp")
    assert integrations.patched() == []


def test_check_patched_notices_a_rebound_name(patching):
    if not installed("tornado"):
        pytest.skip("tornado is not installed")
    from tornado import websocket

    with pytest.raises(RuntimeError, match="tornado is not patched"):
        integrations.check_patched("tornado")
    patching("tornado")
    ours = websocket._websocket_mask
    try:
        websocket._websocket_mask = lambda mask, data: data
        with pytest.raises(
            RuntimeError, match=r"tornado: tornado.websocket._websocket_mask no"
        ):
            integrations.check_patched("tornado")
    finally:
        websocket._websocket_mask = ours


def test_patch_and_unpatch_are_exported():
    assert wsfast.patch is integrations.patch
    assert wsfast.unpatch is integrations.unpatch
    assert {"patch", "unpatch"} <= set(wsfast.__all__)
    assert sys.modules["wsfast.integrations"].LIBRARIES == (
        "wsproto",
        "websockets",
        "tornado",
        "autobahn",
        "ws4py",
        "aiohttp",
        "websocket-client",
    )


def test_patched_peers_bench_checks_and_times_every_workload():
    # bench/patched_peers.py checks both modes' messages against what was sent before timing;
    # one round here proves the script still runs (its ratios are for a quiet machine).
    import os
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "bench" / "patched_peers.py"
    if not script.exists():
        pytest.skip(f"{script} is missing: the benchmarks run from a checkout")
    if not (installed("wsproto") and installed("websockets")):
        pytest.skip(
            "wsproto and websockets are needed (pip install -e '.[test,peers]')"
        )
    env = dict(os.environ)
    package_root = str(Path(wsfast.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [package_root, env.get("PYTHONPATH")])
    )
    proc = subprocess.run(
        [sys.executable, str(script), "--rounds", "1", "--quick"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), (
        proc.stderr
    )  # 1: a target missed in this one round
    out = proc.stdout
    assert f"{wsfast.BACKEND} backend" in out
    for line in (
        "125 B ascii text",
        "64 KiB ascii text",
        "64 KiB frames only",
        "ceiling",
    ):
        assert line in out, out
