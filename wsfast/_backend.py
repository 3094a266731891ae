"""Backend selection, and the public functions bound to a backend.

``WSFAST_NO_EXTENSIONS=1`` forces the pure-Python backend; ``WSFAST_REQUIRE_EXTENSIONS=1`` makes
a C backend that cannot be imported an error instead of a fallback.
"""

from __future__ import annotations

import os
import types
from typing import Any

from . import _pure, decoder, encoder, frames, masking, utf8


def load_c() -> Any:  # C backend only
    """The C backend module; ImportError when the extension is missing."""
    from . import _cbackend

    return _cbackend


def choose() -> tuple[str, Any, bool]:
    """(name, backend module, HAS_C) from the environment."""
    require = os.environ.get("WSFAST_REQUIRE_EXTENSIONS") == "1"
    if os.environ.get("WSFAST_NO_EXTENSIONS") == "1":
        if require:
            raise ImportError("WSFAST_REQUIRE_EXTENSIONS=1 conflicts with WSFAST_NO_EXTENSIONS=1")
        return "python", _pure, False
    try:  # C backend only
        return "c", load_c(), True
    except ImportError:  # C backend only
        if require:
            raise
        return "python", _pure, False


def bind(backend: Any) -> types.SimpleNamespace:
    """Every backend-dependent public name, bound to ``backend``."""
    apply_mask, apply_mask_inplace = masking.bind(backend)
    validate_utf8, validator = utf8.bind(backend)
    parse_header, build_frame = frames.bind(backend)
    # a backend may give the Decoder a feed of its own (the C backend: one message per read)
    fast = getattr(backend, "decoder_feed", None)
    dec = type(
        "Decoder",
        (decoder.Decoder,),
        {"_backend": backend, **({"feed": fast()} if fast is not None else {})},
    )
    enc = type("Encoder", (encoder.Encoder,), {"_backend": backend})
    for cls, base in ((dec, decoder.Decoder), (enc, encoder.Encoder)):
        cls.__module__ = base.__module__
        cls.__doc__ = base.__doc__
    validator.__doc__ = utf8.Utf8Validator.__doc__
    return types.SimpleNamespace(
        apply_mask=apply_mask,
        apply_mask_inplace=apply_mask_inplace,
        validate_utf8=validate_utf8,
        Utf8Validator=validator,
        parse_header=parse_header,
        build_frame=build_frame,
        Decoder=dec,
        Encoder=enc,
        backend=backend,
    )
