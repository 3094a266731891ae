"""Masking (RFC 6455 5.3): a masked copy and in place, at every size."""

from __future__ import annotations

import pytest
from conftest import KEY, SIZE_IDS, SIZES

from wsfast._bench import reference_mask


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def bench_apply_mask(api, record, rng, size):
    data = rng.randbytes(size)
    assert api.apply_mask(data, KEY) == reference_mask(data, KEY)
    record("mask: apply_mask (copy)", size=size, bytes=size)(api.apply_mask, data, KEY)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def bench_apply_mask_inplace(api, record, rng, size):
    data = rng.randbytes(size)
    buffer = bytearray(data)
    api.apply_mask_inplace(buffer, KEY)
    assert buffer == reference_mask(data, KEY)
    # each call toggles the buffer between masked and clear: the same work every time
    record("mask: apply_mask_inplace", size=size, bytes=size)(
        api.apply_mask_inplace, buffer, KEY
    )


@pytest.mark.parametrize("offset", [1, 2, 3])
def bench_apply_mask_at_a_key_phase(api, record, rng, offset):
    data = rng.randbytes(1000)
    want = reference_mask(bytes(offset) + data, KEY)[offset:]
    assert api.apply_mask(data, KEY, offset) == want
    record("mask: apply_mask (copy)", size=1000, offset=offset, bytes=1000)(
        api.apply_mask, data, KEY, offset
    )
