"""Build script: the cffi extension is optional.

``WSFAST_NO_EXTENSIONS=1`` skips it on purpose; a missing or failing compiler skips it with one
warning.  Either way the package installs and runs on its pure-Python backend.
"""

import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Turn a failed compile into a warning: the pure-Python backend takes over."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # distutils raises several unrelated types here
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._warn(exc)

    def _warn(self, exc):
        if getattr(self, "_warned", False):
            return
        self._warned = True
        sys.stderr.write(
            "\nwarning: wsfast's C extension could not be built (%s: %s); "
            "installing the pure-Python backend only\n\n" % (type(exc).__name__, exc)
        )


if os.environ.get("WSFAST_NO_EXTENSIONS") == "1":
    setup()
else:
    setup(
        cffi_modules=["wsfast/_cffi_build.py:ffibuilder"],
        cmdclass={"build_ext": OptionalBuildExt},
    )
