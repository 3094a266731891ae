"""Build script: the cffi extension is optional.

``WSFAST_NO_EXTENSIONS=1`` skips it on purpose (and the wheel is then a pure ``py3-none-any``
one).  A missing or failing compiler skips it with one warning, and the package installs and
runs on its pure-Python backend; ``WSFAST_REQUIRE_EXTENSIONS=1`` turns that warning into an
error, for release builds and CI.

On CPython the compiled module uses the stable ABI, so the wheel is tagged ``cp310-abi3`` and
serves every CPython from 3.10 on.  Free-threaded CPython has no stable ABI and PyPy none at all:
there the wheel is tagged for the one interpreter that built it.
"""

import os
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_ext import build_ext

LIMITED_API_TAG = "cp310"  # the oldest CPython the abi3 wheel supports: requires-python


def env_flag(name):
    return os.environ.get(name) == "1"


class OptionalBuildExt(build_ext):
    """Turn a failed compile into a warning: the pure-Python backend takes over."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - distutils raises several unrelated types
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(exc)

    def _warn(self, exc):
        if env_flag("WSFAST_REQUIRE_EXTENSIONS"):
            raise exc
        if getattr(self, "_warned", False):
            return
        self._warned = True
        sys.stderr.write(
            "\nwarning: wsfast's C extension could not be built, installing the pure-Python "
            "backend only (WSFAST_NO_EXTENSIONS=1 skips the compile, WSFAST_REQUIRE_EXTENSIONS=1 "
            f"makes this an error)\n  cause: {type(exc).__name__}: {exc}\n\n"
        )


def wheel_options():
    """bdist_wheel options: the abi3 tag where the module is built for the stable ABI (the rule
    of uses_limited_api() in wsfast/_cffi_build.py, which this script cannot import)."""
    if sys.implementation.name != "cpython":
        return {}  # PyPy: a pp310-pypy310_pp73-style tag
    if sysconfig.get_config_var("Py_GIL_DISABLED") or hasattr(sys, "gettotalrefcount"):
        return {}  # free-threaded or debug CPython: no stable ABI, a cp314t-style tag
    return {"bdist_wheel": {"py_limited_api": LIMITED_API_TAG}}


if env_flag("WSFAST_NO_EXTENSIONS"):
    if env_flag("WSFAST_REQUIRE_EXTENSIONS"):
        sys.exit("error: WSFAST_REQUIRE_EXTENSIONS=1 conflicts with WSFAST_NO_EXTENSIONS=1")
    setup()
else:
    setup(
        cffi_modules=["wsfast/_cffi_build.py:ffibuilder"],
        cmdclass={"build_ext": OptionalBuildExt},
        options=wheel_options(),
    )
