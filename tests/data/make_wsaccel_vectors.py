"""Record wsaccel's answers as test vectors for wsfast.compat.wsaccel.

wsaccel cannot be installed in CI (it does not build on new Pythons or PyPy), so its results
are recorded here once, on a machine where it works, and tests/test_compat_wsaccel.py replays
them.  Run from the repository root with wsaccel and autobahn installed:

    python tests/data/make_wsaccel_vectors.py   # writes tests/data/wsaccel_vectors.json

UTF-8 inputs: the Autobahn|Testsuite sequences (from Markus Kuhn's UTF-8-test.txt, as
autobahn's own test module builds them), the invalid ones again behind a valid prefix, and
random slices of the text of every code point up to U+FFFF outside the surrogates; each is fed in random pieces (seeded), and every
``validate`` tuple is kept, including calls after a rejection and empty pieces.  Maskers:
random payloads and keys processed in random pieces, with the output and ``pointer()`` after
each call.
"""

from __future__ import annotations

import json
import random
import sys
from importlib.metadata import version
from pathlib import Path

from autobahn.nvx.test.test_nvx_utf8validator import _create_utf8_test_sequences
from wsaccel.utf8validator import Utf8Validator
from wsaccel.xormask import XorMaskerNull, XorMaskerSimple, createXorMasker

OUT = Path(__file__).with_name("wsaccel_vectors.json")


def pieces(rng: random.Random, n: int) -> list[int]:
    """Random cut sizes summing to n, empty pieces included now and then."""
    sizes = []
    while n > 0:
        size = min(n, rng.choice([0, 1, 1, 2, 3, 4, 5, 7, 16, 64]))
        sizes.append(size)
        n -= size
    if rng.random() < 0.3:
        sizes.append(0)
    return sizes


def utf8_inputs(rng: random.Random) -> list[bytes]:
    inputs = [seq for _, group in _create_utf8_test_sequences() for _, seq in group]
    # a valid prefix in front of each invalid sequence puts the rejection mid-stream
    inputs += [b"\xce\xba\xe1\xbd\xb9" + seq for seq in inputs[:80]]
    text = "".join(chr(c) for c in range(0x20, 0xFFFF) if not 0xD800 <= c <= 0xDFFF)
    blob = text.encode("utf-8")
    for _ in range(20):
        start = rng.randrange(len(blob) - 400)
        inputs.append(blob[start : start + rng.randrange(1, 400)])  # may start mid code point
    return inputs


def utf8_cases(rng: random.Random) -> list[dict]:
    cases = []
    for data in utf8_inputs(rng):
        for _ in range(3):
            sizes = pieces(rng, len(data))
            v = Utf8Validator()
            results, at = [], 0
            for size in sizes:
                results.append(list(v.validate(data[at : at + size])))
                at += size
            cases.append({"data": data.hex(), "pieces": sizes, "results": results})
    return cases


def masker_cases(rng: random.Random) -> list[dict]:
    cases = []
    for kind in ("XorMaskerSimple", "createXorMasker", "XorMaskerNull"):
        for n in (0, 1, 3, 4, 5, 17, 125, 126, 1000, 4099):
            key = bytes(rng.randrange(256) for _ in range(4))
            data = bytes(rng.randrange(256) for _ in range(n))
            if kind == "XorMaskerSimple":
                m = XorMaskerSimple(key)
            elif kind == "createXorMasker":
                m = createXorMasker(key, n)
            else:
                m = XorMaskerNull(key)
            sizes = pieces(rng, n)
            outputs, pointers, at = [], [], 0
            for size in sizes:
                outputs.append(bytes(m.process(data[at : at + size])).hex())
                pointers.append(m.pointer())
                at += size
            m.reset()
            after_reset = bytes(m.process(data[:8])).hex(), m.pointer()
            cases.append(
                {
                    "kind": kind,
                    "key": key.hex(),
                    "data": data.hex(),
                    "pieces": sizes,
                    "outputs": outputs,
                    "pointers": pointers,
                    "after_reset": list(after_reset),
                }
            )
    return cases


def main() -> None:
    rng = random.Random(6455)
    vectors = {
        "generated_by": f"wsaccel {version('wsaccel')}, Python {sys.version.split()[0]}",
        "utf8": utf8_cases(rng),
        "maskers": masker_cases(rng),
    }
    OUT.write_text(json.dumps(vectors, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(vectors['utf8'])} UTF-8 cases, {len(vectors['maskers'])} masker cases")


if __name__ == "__main__":
    main()
