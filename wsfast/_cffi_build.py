"""The cffi builder: compiles csrc/wsfast.c into ``wsfast._wsfast`` (API, out-of-line mode).

Run at build time through setup.py's ``cffi_modules``; never imported at run time.  The cdef is
the part of csrc/wsfast.h between its "cdef begin" and "cdef end" markers, read verbatim, so the
header stays the single description of the C interface.  One line is added to it here:
``wsfast_build_version()``, which returns the package version this module was compiled for, so
that wsfast/_cbackend.py refuses a stale compiled module instead of using it silently.

The module uses CPython's stable ABI (one ``abi3`` wheel serves 3.10 and later), except on
free-threaded builds, where the limited API is not available, and on PyPy, which has no such
thing; there the module is built for that one interpreter.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")


def read_cdef(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    begin = text.index("/* cdef begin */") + len("/* cdef begin */")
    end = text.index("/* cdef end */")
    return text[begin:end]


def read_version(path: str) -> str:
    """``__version__`` from wsfast/_version.py, read as text: the package is not importable
    while it is being built."""
    with open(path, encoding="utf-8") as f:
        found = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", f.read(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no __version__ in {path}")
    return found.group(1)


def uses_limited_api() -> bool:
    """True where the module can be built against the stable ABI (abi3)."""
    if sys.implementation.name != "cpython":
        return False
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return False
    return not hasattr(sys, "gettotalrefcount")  # a debug build has no abi3


def compile_args() -> list[str]:
    # Baseline flags only, never -march=native or a global -mavx2: the wheel runs on any CPU of
    # its architecture, and wider instruction sets are chosen at run time inside the C file.
    # No -std flag either: the compiler's default (gnu11/gnu17, or MSVC's) suits the Python
    # headers of every version, including the free-threaded ones.
    if sys.platform == "win32" and "GCC" not in sys.version:
        return ["/O2"]
    return ["-O3", "-Wall", "-Wextra"]


VERSION = read_version(os.path.join(HERE, "_version.py"))

# wsfast_build_version() is static: cffi reaches it through ``lib``; the shared object need not
# export it.
PREAMBLE = f"""\
#include "wsfast.h"

#define WSFAST_BUILD_VERSION "{VERSION}"
static const char *wsfast_build_version(void) {{ return WSFAST_BUILD_VERSION; }}
"""

ffibuilder = FFI()
ffibuilder.cdef(read_cdef(os.path.join(CSRC, "wsfast.h")))
ffibuilder.cdef("const char *wsfast_build_version(void);")
ffibuilder.set_source(
    "wsfast._wsfast",
    PREAMBLE,
    sources=[os.path.relpath(os.path.join(CSRC, "wsfast.c"))],
    include_dirs=[os.path.relpath(CSRC)],
    extra_compile_args=compile_args(),
    py_limited_api=uses_limited_api(),
)

if __name__ == "__main__":
    # In-place build for development.  Earlier builds under another suffix (.cpython-311-...so
    # before .abi3.so) would shadow this one at import: remove them first.
    for name in os.listdir(HERE):
        if name.startswith("_wsfast.") and name.endswith((".so", ".pyd")):
            os.remove(os.path.join(HERE, name))
    ffibuilder.compile(tmpdir=os.path.dirname(HERE), verbose=True)
