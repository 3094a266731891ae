"""One suite, every backend.

The ``api`` fixture is the public API bound to one backend.  The C parameter imports the
extension directly: if it is missing the test errors, it never skips.  Only with
``WSFAST_NO_EXTENSIONS=1`` is the C parameter left out (that run tests the pure twin).
"""

from __future__ import annotations

import os

import pytest

from wsfast import _backend, _pure

NO_C = os.environ.get("WSFAST_NO_EXTENSIONS") == "1"
BACKENDS = ["python"] if NO_C else ["c", "python"]


def bound(name: str):
    return _backend.bind(_backend.load_c() if name == "c" else _pure)


@pytest.fixture(params=BACKENDS, scope="session")
def api(request):
    return bound(request.param)


@pytest.fixture(scope="session")
def both():
    """(C, Python) APIs for tests that compare the backends; not collected without C."""
    if NO_C:
        pytest.skip("WSFAST_NO_EXTENSIONS=1: nothing to compare the pure backend with")
    return bound("c"), bound("python")
