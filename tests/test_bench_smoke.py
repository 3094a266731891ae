"""``python -m wsfast bench --quick`` runs end to end and its correctness checks pass.

No timing is asserted: this only proves the machinery works on whichever backend is in use
and with whichever peers happen to be installed.
"""

from __future__ import annotations

import io
import json

import pytest

import wsfast
from wsfast import _bench
from wsfast.__main__ import main as cli_main


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "quick.json"
    out = io.StringIO()
    code = _bench.main(["--quick", "--json", str(path)], out=out)
    return code, out.getvalue(), json.loads(path.read_text())


def test_quick_run_succeeds_and_reports_the_backend(quick_run):
    code, text, report = quick_run
    assert code == 0, text
    assert f"backend={wsfast.BACKEND}" in text
    assert report["backend"] == wsfast.BACKEND
    assert report["kernels"] == getattr(wsfast, "KERNELS", None)


def test_every_wsfast_result_passes_its_correctness_check(quick_run):
    _code, text, report = quick_run
    wsfast_failures = {
        k: v for k, v in report["check_failures"].items() if "/wsfast" in k
    }
    assert wsfast_failures == {}, text


def test_wsfast_is_timed_in_every_group(quick_run):
    _code, _text, report = quick_run
    groups = {r["group"] for r in report["results"] if r["library"] == "wsfast"}
    assert groups == set(_bench.GROUPS)
    for r in report["results"]:
        assert r["samples_ns"] and all(s > 0 for s in r["samples_ns"])


def test_the_table_compares_each_installed_peer(quick_run):
    _code, text, report = quick_run
    for peer in report["peers"]:
        assert peer in text
    for peer, why in report["skipped"].items():
        assert f"peer {peer} skipped: {why}" in text


def test_only_limits_the_run_to_one_group(tmp_path):
    path = tmp_path / "mask.json"
    out = io.StringIO()
    assert _bench.main(["--quick", "--only", "mask", "--json", str(path)], out=out) == 0
    assert {r["group"] for r in json.loads(path.read_text())["results"]} == {"mask"}


def test_an_unknown_group_is_refused_by_name():
    out = io.StringIO()
    assert _bench.main(["--quick", "--only", "nonsense"], out=out) == 2
    assert "unknown group 'nonsense'" in out.getvalue()


def test_the_command_line_entry_point_dispatches_bench(tmp_path, capsys):
    assert (
        cli_main(
            ["bench", "--quick", "--only", "utf8", "--rounds", "1", "--min-time", "0"]
        )
        == 0
    )
    assert "utf8" in capsys.readouterr().out


def test_the_reference_mask_matches_the_rfc_example():
    # RFC 6455 5.7: "Hello" masked with 37 fa 21 3d
    assert _bench.reference_mask(b"Hello", bytes.fromhex("37fa213d")) == bytes.fromhex(
        "7f9f4d5158"
    )


@pytest.mark.parametrize("kind", _bench.TEXT_KINDS)
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 16, 125, 1000, 4096, 65536])
def test_generated_text_is_valid_utf8_of_the_exact_size(kind, size):
    import random

    data = _bench.make_text(kind, size, random.Random(size))
    assert len(data) == size
    data.decode("utf-8")


def test_the_reference_parser_reads_back_a_masked_frame():
    payload = bytes(range(256)) * 300
    frame = _bench.masked_frame(2, payload, b"\x01\x02\x03\x04")
    assert _bench.parse_frames(frame + _bench.masked_frame(1, b"hi", b"abcd")) == [
        (2, payload),
        (1, b"hi"),
    ]
