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


@pytest.fixture(scope="module")
def builder():
    """The cffi builder's functions, loaded in this process (it only declares: no compile)."""
    if not BUILDER.exists() or not (ROOT / "csrc" / "wsfast.h").exists():
        pytest.skip("the cffi builder and the C sources are not next to these tests")
    pytest.importorskip("pycparser")
    import runpy

    return runpy.run_path(str(BUILDER))


def test_msvc_gets_optimisation_and_no_instruction_set_flag(builder, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "version", "3.13.0 (main) [MSC v.1940 64 bit (AMD64)]")
    assert builder["compile_args"]() == ["/O2"]


def test_gcc_on_windows_gets_the_gcc_flags(builder, monkeypatch):
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "version", "3.13.0 [GCC 14.2.0 64 bit (AMD64)]")
    assert builder["compile_args"]() == ["-O3", "-Wall", "-Wextra"]


def test_the_stable_abi_is_used_only_where_it_exists(builder, monkeypatch):
    import sysconfig
    import types

    uses_limited_api = builder["uses_limited_api"]
    regular = sys.implementation.name == "cpython" and not sysconfig.get_config_var(
        "Py_GIL_DISABLED"
    )
    assert uses_limited_api() == (regular and not hasattr(sys, "gettotalrefcount"))
    with monkeypatch.context() as m:  # PyPy: no stable ABI
        m.setattr(sys, "implementation", types.SimpleNamespace(name="pypy"))
        assert uses_limited_api() is False
    with monkeypatch.context() as m:  # free-threaded CPython: no limited API
        m.setattr(sysconfig, "get_config_var", lambda name: 1 if name == "Py_GIL_DISABLED" else 0)
        assert uses_limited_api() is False
    with monkeypatch.context() as m:  # a debug build
        m.setattr(sys, "gettotalrefcount", lambda: 0, raising=False)
        assert uses_limited_api() is False


def test_the_version_is_read_from_the_version_file(builder, tmp_path):
    assert builder["read_version"](str(ROOT / "wsfast" / "_version.py")) == wsfast.__version__
    empty = tmp_path / "_version.py"
    empty.write_text("version = '1.0'\n")
    with pytest.raises(RuntimeError, match="no __version__ in"):
        builder["read_version"](str(empty))


def test_the_cdef_is_the_marked_part_of_the_header(builder, tmp_path):
    header = tmp_path / "h.h"
    header.write_text("#include <x.h>\n/* cdef begin */\nint f(void);\n/* cdef end */\nint g;\n")
    assert builder["read_cdef"](str(header)) == "\nint f(void);\n"
