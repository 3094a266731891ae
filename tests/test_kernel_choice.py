"""Choosing a CPU kernel: a wrong or unsupported name is an error that changes nothing, and
WSFAST_FORCE_KERNEL is obeyed or refused at import, never ignored."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import NO_C

pytestmark = pytest.mark.skipif(
    NO_C, reason="WSFAST_NO_EXTENSIONS=1 run: the C backend is not under test"
)
ALL = ["scalar", "sse2", "avx2", "neon"]  # SPEC 3: the names WSFAST_FORCE_KERNEL takes


@pytest.fixture
def c():
    from wsfast import _backend

    backend = _backend.load_c()
    before = dict(backend.KERNELS)
    yield backend
    assert backend.KERNELS == before  # a refused choice left the kernel in use alone


def import_with(kernel: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WSFAST_")}
    env["WSFAST_FORCE_KERNEL"] = kernel
    return subprocess.run(
        [sys.executable, "-c", "import wsfast; print(wsfast.KERNELS)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_unknown_kernel_name_is_refused_with_the_choices(c):
    with pytest.raises(ValueError, match="unknown kernel 'avx512': choose from scalar, sse2"):
        c.use_kernel("avx512")


def test_a_kernel_this_cpu_cannot_run_is_refused(c):
    missing = [name for name in ALL if name not in c.available_kernels()]
    assert missing  # x86 has no NEON, arm64 no SSE2 or AVX2
    for name in missing:
        with pytest.raises(ValueError, match=f"kernel '{name}' is not available on this CPU"):
            c.use_kernel(name)


def test_the_scalar_kernel_runs_everywhere(c):
    assert c.available_kernels()[0] == "scalar"


def test_a_forced_kernel_is_the_one_in_use():
    out = import_with("scalar")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'mask': 'scalar', 'utf8': 'scalar'}"


def test_a_forced_kernel_that_does_not_exist_fails_the_import():
    out = import_with("bogus")
    assert out.returncode != 0
    assert "RuntimeError: WSFAST_FORCE_KERNEL: unknown kernel 'bogus'" in out.stderr
