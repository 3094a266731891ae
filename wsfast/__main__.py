"""``python -m wsfast``: dissect the embedded sample conversation (or a capture file);
``python -m wsfast bench``: compare wsfast with every installed peer."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["bench"]:
        from . import _bench

        return _bench.main(args[1:])
    from . import _inspect

    return _inspect.main(args)


if __name__ == "__main__":
    sys.exit(main())
