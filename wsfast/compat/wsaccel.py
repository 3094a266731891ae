"""wsaccel's API over wsfast: change ``from wsaccel.xormask import ...`` and
``from wsaccel.utf8validator import ...`` to ``from wsfast.compat.wsaccel import ...``.

- ``Utf8Validator``: ``validate(buf) -> (valid, endsOnCodePoint, currentIndex, totalIndex)``
  and ``reset()``, with wsaccel's results chunk by chunk (tests/data/wsaccel_vectors.json holds
  wsaccel's own answers, and the script that recorded them).
- ``XorMaskerSimple(mask)``, ``XorMaskerNull(mask=None)``: ``process(data)``, ``pointer()``,
  ``reset()``; the key phase carries across ``process`` calls.  ``createXorMasker(mask, len=None)``.

Differences: a mask that is not 4 bytes raises ``ValueError("mask must contain 4 bytes")``
(wsaccel says "mask should be 4byte."); ``Utf8Validator`` has no per-byte ``decode()``, ``state``
or ``codepoint`` (the Hoehrmann DFA internals wsaccel exposes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..integrations._shared import default_api, quad_classes

if TYPE_CHECKING:  # the classes quad_classes builds are subclasses of these
    from ..integrations._shared import KeyedMasker as _KeyedMasker
    from ..integrations._shared import NullMasker as _NullMasker
    from ..integrations._shared import QuadUtf8Validator as _QuadUtf8Validator
else:
    _KeyedMasker, _NullMasker, _QuadUtf8Validator = quad_classes(default_api())

__all__ = ["Utf8Validator", "XorMaskerNull", "XorMaskerSimple", "createXorMasker"]


class Utf8Validator(_QuadUtf8Validator):
    """Incremental UTF-8 validation with wsaccel's ``validate``/``reset``."""

    __slots__ = ()

    UTF8_ACCEPT = 0
    UTF8_REJECT = 1


class XorMaskerSimple(_KeyedMasker):
    """``process(data) -> bytes`` XORs with the 4-byte mask, continuing the key phase."""

    __slots__ = ()

    def __init__(self, mask: Any) -> None:
        super().__init__(mask)


class XorMaskerNull(_NullMasker):
    """``process(data)`` returns ``data`` itself; ``pointer()`` still counts the bytes."""

    __slots__ = ()


def createXorMasker(mask: Any, len: int | None = None) -> XorMaskerSimple:  # noqa: A002, N802
    """wsaccel's factory: one masker class serves every length."""
    return XorMaskerSimple(mask)
