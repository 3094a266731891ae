"""The compiled module carries its version, and the build never bakes in this machine's CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import wsfast

from .conftest import NO_C

ROOT = Path(__file__).resolve().parent.parent
BUILDER = ROOT / "wsfast" / "_cffi_build.py"

# Import wsfast, then pretend the Python side was upgraded to another version while the compiled
# module stayed behind, and import the C backend again.
STALE = """
import sys, wsfast, wsfast._version
sys.modules.pop("wsfast._cbackend", None)
vars(wsfast).pop("_cbackend", None)
wsfast._version.__version__ = "0.0.0.stale"
from wsfast import _backend
print(_backend.choose()[0])
"""


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    full = dict(os.environ)
    for key in ("WSFAST_NO_EXTENSIONS", "WSFAST_REQUIRE_EXTENSIONS"):
        full.pop(key, None)
    full.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, check=False
    )


@pytest.mark.skipif(NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test")
def test_compiled_module_was_built_for_this_version():
    from wsfast._wsfast import ffi, lib  # type: ignore[import-not-found]

    assert ffi.string(lib.wsfast_build_version()).decode() == wsfast.__version__


@pytest.mark.skipif(NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test")
def test_compiled_module_of_another_version_is_refused_with_both_versions_named():
    out = run(STALE, WSFAST_REQUIRE_EXTENSIONS="1")
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: stale compiled module ")
    assert f"built for wsfast {wsfast.__version__}, not 0.0.0.stale" in last


@pytest.mark.skipif(NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test")
def test_compiled_module_of_another_version_falls_back_to_python_when_not_required():
    out = run(STALE)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["python"]


@pytest.mark.skipif(not BUILDER.exists(), reason="the cffi builder is not in this installation")
def test_build_flags_are_baseline_only():
    pytest.importorskip("pycparser")  # the builder parses the C header through cffi
    if not (ROOT / "csrc" / "wsfast.h").exists():
        pytest.skip("the C sources are not next to these tests")
    code = f"import runpy; print(' '.join(runpy.run_path({str(BUILDER)!r})['compile_args']()))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert out.returncode == 0, out.stderr
    flags = out.stdout.split()
    assert flags, "no compile flags printed"
    for flag in flags:
        assert not flag.startswith(("-march", "-mtune", "-mavx", "-msse4", "-mcpu", "/arch")), flag
