"""websocket-client (``import websocket``): its UTF-8 check of text messages and close reasons,
and its masking.

Without wsaccel, websocket-client validates each text message with a pure-Python DFA run one
byte per loop iteration (about 4 MB/s) and masks through ``array`` copies and big integers.
``websocket._abnf`` binds ``validate_utf8`` by name at import, and every mask goes through the
static method ``ABNF.mask``: those are rebound (with ``_utils.validate_utf8`` and ``_abnf._mask``,
for code that calls them directly).

Its check answers whether the bytes are a valid *prefix* of UTF-8: the DFA (and wsaccel's
validator, which it uses when installed) only says False on a byte that can start no valid
sequence, so a message ending inside a character passes, and so it does here.
``skip_utf8_validation`` keeps skipping the check, since websocket-client tests it before the
call.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidUTF8
from ._shared import Binding, UnsupportedVersion, rebind, version_of

LIBRARY = "websocket-client"  # the name wsfast.patch() takes
MODULE = "websocket"  # the module it imports


def enable(b: list[Binding], api: Any) -> None:
    try:
        from websocket import _abnf, _utils
    except ImportError as exc:  # another distribution's ``websocket`` module, or a rename
        raise UnsupportedVersion(
            f"websocket-client {version_of(LIBRARY)} has no websocket._abnf and"
            f" websocket._utils to patch ({exc})"
        ) from None

    validate_complete = api.validate_utf8
    Validator = api.Utf8Validator

    def validate_utf8(utfbytes: Any) -> bool:
        if isinstance(utfbytes, str):  # as websocket-client does: surrogates fail below
            utfbytes = utfbytes.encode("utf-8", "surrogatepass")
        if validate_complete(utfbytes):
            return True
        # invalid, or only cut short inside a character (which websocket-client accepts)
        try:
            Validator().feed(utfbytes)
        except InvalidUTF8:
            return False
        return True

    validate_utf8.__doc__ = _utils.validate_utf8.__doc__
    apply_mask = api.apply_mask
    mask0 = _abnf.ABNF.__dict__.get("mask")
    if not isinstance(mask0, staticmethod):  # the original is called for odd keys below
        raise UnsupportedVersion(
            f"websocket-client {version_of(LIBRARY)} has no static method ABNF.mask to patch"
        )
    _mask0 = getattr(_abnf, "_mask", None)

    def mask(mask_key: Any, data: Any) -> bytes:
        if data is None:
            data = ""
        if isinstance(mask_key, str):
            mask_key = mask_key.encode("latin-1")
        if isinstance(data, str):
            data = data.encode("latin-1")
        if len(mask_key) != 4:  # whatever websocket-client makes of that, it makes it
            return mask0.__func__(mask_key, data)  # type: ignore[no-any-return]
        return apply_mask(data, mask_key)

    def _mask(mask_value: Any, data_value: Any) -> bytes:
        if len(mask_value) != 4:
            return _mask0(mask_value, data_value)  # type: ignore[misc]
        return apply_mask(data_value, mask_value)

    mask.__doc__ = mask0.__func__.__doc__
    rebind(b, _abnf, "validate_utf8", validate_utf8, LIBRARY)
    rebind(b, _utils, "validate_utf8", validate_utf8, LIBRARY)
    rebind(b, _abnf.ABNF, "mask", staticmethod(mask), LIBRARY)
    rebind(b, _abnf, "_mask", _mask, LIBRARY)
