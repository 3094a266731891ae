"""Shared fixtures of the pytest-benchmark suite.

``api`` is wsfast's public API bound to one backend: by default the one ``import wsfast``
chose; ``--wsfast-backend=c|python|all`` picks others.  ``record`` stores the backend, the CPU
kernels, and what the benchmark processed in ``benchmark.extra_info`` (saved with
``--benchmark-json`` / ``--benchmark-autosave``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

import wsfast
from wsfast import _backend, _pure

KiB = 1024
MiB = 1024 * 1024
SIZES = [16, 125, 1000, 64 * KiB, MiB]
SIZE_IDS = ["16B", "125B", "1000B", "64KiB", "1MiB"]
TEXT_KINDS = ["ascii", "cjk", "emoji-greek"]
KEY = bytes.fromhex("37fa213d")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--wsfast-backend",
        default="active",
        choices=["active", "c", "python", "all"],
        help="backend(s) to benchmark: the one import chose (default), c, python, or all",
    )


def _backend_names(config: pytest.Config) -> list[str]:
    choice = config.getoption("--wsfast-backend")
    if choice == "active":
        return [wsfast.BACKEND]
    if choice == "all":
        return ["c", "python"] if wsfast.HAS_C else ["python"]
    return [choice]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "api" in metafunc.fixturenames:
        metafunc.parametrize(
            "api", _backend_names(metafunc.config), indirect=True, scope="session"
        )


@pytest.fixture(scope="session")
def api(request: pytest.FixtureRequest) -> Any:
    """The public API on one backend; a missing C extension is an error, never a skip."""
    return _backend.bind(_backend.load_c() if request.param == "c" else _pure)


@pytest.fixture
def record(benchmark: Any, api: Any) -> Callable[..., Any]:
    """``record(group, **info)``: name the benchmark's group and note what it measured."""

    def record(group: str, **info: Any) -> Any:
        benchmark.group = group
        backend = "python" if api.backend is _pure else "c"
        benchmark.extra_info.update(
            backend=backend,
            kernels=dict(getattr(api.backend, "KERNELS", {})) if backend == "c" else {},
            **info,
        )
        return benchmark

    return record


@pytest.fixture
def rng() -> random.Random:
    """A fresh generator with a fixed seed: the same inputs on every run and every backend."""
    return random.Random(6455)
