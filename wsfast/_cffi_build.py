"""The cffi builder: compiles csrc/wsfast.c into ``wsfast._wsfast`` (API, out-of-line mode).

Run at build time through setup.py's ``cffi_modules``; never imported at run time.  The cdef is
the part of csrc/wsfast.h between its "cdef begin" and "cdef end" markers, read verbatim, so the
header stays the single description of the C interface.
"""

from __future__ import annotations

import os
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(os.path.dirname(HERE), "csrc")


def read_cdef(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    begin = text.index("/* cdef begin */") + len("/* cdef begin */")
    end = text.index("/* cdef end */")
    return text[begin:end]


def compile_args() -> list[str]:
    if sys.platform == "win32" and "GCC" not in sys.version:
        return ["/O2"]
    # Baseline flags only: wider instruction sets are chosen at run time inside the C file.
    return ["-O3", "-std=c99", "-Wall", "-Wextra"]


ffibuilder = FFI()
ffibuilder.cdef(read_cdef(os.path.join(CSRC, "wsfast.h")))
ffibuilder.set_source(
    "wsfast._wsfast",
    '#include "wsfast.h"',
    sources=[os.path.relpath(os.path.join(CSRC, "wsfast.c"))],
    include_dirs=[os.path.relpath(CSRC)],
    extra_compile_args=compile_args(),
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=os.path.dirname(HERE), verbose=True)
