"""One suite, every backend, every CPU kernel.

The ``api`` fixture is the public API bound to one backend: the C backend once per kernel this
CPU runs (``c-avx2``, ``c-sse2``, ``c-scalar``: the kernel is switched while those tests run),
then the pure twin.  The C parameters import the extension directly: if it is missing the test
errors, it never skips.  Only with ``WSFAST_NO_EXTENSIONS=1`` are they left out (that run tests
the pure twin); ``WSFAST_FORCE_KERNEL`` narrows them to that one kernel.
"""

from __future__ import annotations

import os
import sys
import tempfile
from importlib.machinery import EXTENSION_SUFFIXES, PathFinder
from pathlib import Path

import pytest

NO_C = os.environ.get("WSFAST_NO_EXTENSIONS") == "1"


def _has_c(package: Path) -> bool:
    return any((package / f"_wsfast{suffix}").exists() for suffix in EXTENSION_SUFFIXES)


def _prefer_the_installed_wsfast() -> None:
    """After ``pip install .`` (not ``-e``), the checkout's ``wsfast/`` (on sys.path first, as
    the tests' root) has no compiled backend, the installed copy has: test that one.  With no
    compiled copy anywhere, stop with what to do instead of an import error in a fixture."""
    root = Path(__file__).resolve().parent.parent
    if NO_C or "wsfast" in sys.modules or not (root / "wsfast").is_dir():
        return
    if _has_c(root / "wsfast"):
        return
    elsewhere = [p for p in sys.path if Path(p or ".").resolve() != root]
    spec = PathFinder.find_spec("wsfast", elsewhere)
    if spec is not None and spec.origin and _has_c(Path(spec.origin).parent):
        # the checkout stays importable (for ``tests``), behind the installed wsfast; the
        # pythons the tests start do not put their working directory (often the checkout)
        # first either (PYTHONSAFEPATH, Python 3.11+)
        sys.path[:] = elsewhere + [str(root)]
        os.environ["PYTHONSAFEPATH"] = "1"
        if sys.version_info < (3, 11):  # no PYTHONSAFEPATH: start them elsewhere
            os.chdir(tempfile.mkdtemp(prefix="wsfast-tests-"))
        return
    pytest.exit(
        "this checkout's wsfast has no compiled C backend and no installed wsfast has one:"
        " run `pip install -e '.[test]'` here (or WSFAST_NO_EXTENSIONS=1 to test the pure"
        " backend)",
        returncode=4,
    )


_prefer_the_installed_wsfast()

from wsfast import _backend, _pure  # noqa: E402
FORCED = os.environ.get("WSFAST_FORCE_KERNEL") or None


def c_kernels() -> list[str]:
    """Every kernel to test, best first (the default kernel's tests run first)."""
    if FORCED:
        return [FORCED]
    return list(reversed(_backend.load_c().available_kernels()))


BACKENDS = ["python"] if NO_C else [f"c-{k}" for k in c_kernels()] + ["python"]


def bound(name: str):
    return _backend.bind(_backend.load_c() if name.startswith("c") else _pure)


@pytest.fixture(params=BACKENDS, scope="session")
def api(request):
    if request.param == "python":
        yield bound("python")
        return
    c = _backend.load_c()
    c.use_kernel(request.param[2:])
    try:
        yield bound("c")
    finally:
        c.use_kernel(FORCED)


@pytest.fixture(scope="session")
def both():
    """(C, Python) APIs for tests that compare the backends; not collected without C."""
    if NO_C:
        pytest.skip("WSFAST_NO_EXTENSIONS=1: nothing to compare the pure backend with")
    return bound("c"), bound("python")
