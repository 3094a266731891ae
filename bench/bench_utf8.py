"""UTF-8 validation: whole buffers of each kind of text at every size, and a 1 MiB text fed to
the incremental validator in 64 KiB chunks."""

from __future__ import annotations

import pytest
from conftest import SIZE_IDS, SIZES, TEXT_KINDS, KiB, MiB

from wsfast._bench import make_text


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("kind", TEXT_KINDS)
def bench_validate_utf8(api, record, rng, kind, size):
    data = make_text(kind, size, rng)
    assert api.validate_utf8(data) is True
    assert (
        api.validate_utf8(data[: size // 2] + b"\xff" + data[size // 2 + 1 :]) is False
    )
    record(f"utf8: validate_utf8 {kind}", kind=kind, size=size, bytes=size)(
        api.validate_utf8, data
    )


@pytest.mark.parametrize("kind", TEXT_KINDS)
def bench_utf8_validator_in_64_kib_chunks(api, record, rng, kind):
    data = make_text(kind, MiB, rng)
    # chunk edges fall inside code points for the multi-byte kinds
    chunks = [data[i : i + 64 * KiB - 1] for i in range(0, len(data), 64 * KiB - 1)]

    def stream():
        validator = api.Utf8Validator()
        for chunk in chunks:
            validator.feed(chunk)
        validator.finish()
        return validator.complete

    assert stream() is True
    record("utf8: Utf8Validator streaming", kind=kind, size=MiB, bytes=MiB)(stream)
