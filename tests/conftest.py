"""One suite, every backend, every CPU kernel.

The ``api`` fixture is the public API bound to one backend: the C backend once per kernel this
CPU runs (``c-avx2``, ``c-sse2``, ``c-scalar``: the kernel is switched while those tests run),
then the pure twin.  The C parameters import the extension directly: if it is missing the test
errors, it never skips.  Only with ``WSFAST_NO_EXTENSIONS=1`` are they left out (that run tests
the pure twin); ``WSFAST_FORCE_KERNEL`` narrows them to that one kernel.
"""

from __future__ import annotations

import os

import pytest

from wsfast import _backend, _pure

NO_C = os.environ.get("WSFAST_NO_EXTENSIONS") == "1"
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
