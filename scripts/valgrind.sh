#!/usr/bin/env bash
# The test suite's C-backend tests under valgrind memcheck.
#
#   scripts/valgrind.sh [PYTEST ARGS...]       (default: every test of the C backend, tests/)
#
# The extension is built with debug info in a scratch directory (VALGRIND_DIR, default a new
# temporary one), as scripts/sanitize.sh does, with the release flags (-O3) so that valgrind
# sees the code users run.  CPython allocates through malloc (PYTHONMALLOC=malloc) so that
# memcheck tracks every object.  Every kernel the CPU runs is tested (the api fixture switches
# them); the pure twin's parameters are left out (-k "not python": they never reach the C code).
# Any memcheck error (invalid read or write, use of uninitialised memory, invalid free) that
# involves wsfast's code fails the run; CPython's own are listed and counted (see below).
# Leaks are not checked: CPython keeps its own allocations alive until exit on purpose.
# VALGRIND_TRACK_ORIGINS=yes says where an uninitialised value came from (for a report that
# needs it; it makes the run two to three times slower, so it is off by default).
#
# A full run takes long (valgrind runs CPython 40-60 times slower, about an hour of CPU for the
# suite here): it is not part of .ci/run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# the interpreter itself, not a wrapper (a pyenv shim is a shell script: valgrind would check
# the shell and stop at its exec)
PY=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
WORK=${VALGRIND_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/wsfast-valgrind.XXXXXX")}
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }

# shellcheck source=scripts/scratch-copy.sh
. "$ROOT/scripts/scratch-copy.sh"
copy_sources "$ROOT" "$WORK"

echo "== building the extension with debug info"
(cd "$WORK" && CFLAGS="-g" "$PY" wsfast/_cffi_build.py >build.log 2>&1) || { cat "$WORK/build.log"; exit 1; }
cp "$ROOT/pyproject.toml" "$WORK/"

export WSFAST_REQUIRE_EXTENSIONS=1
export PYTHONMALLOC=malloc
export PYTHONPATH="$WORK${PYTHONPATH:+:$PYTHONPATH}"
unset WSFAST_NO_EXTENSIONS
cd "$WORK"
"$PY" -c "import wsfast, sys; assert wsfast.BACKEND == 'c' and wsfast.__file__.startswith('$WORK'), wsfast.__file__; print('backend', wsfast.BACKEND, 'from', wsfast.__file__, wsfast.KERNELS)"

echo "== tests under valgrind memcheck"
status=0
valgrind --tool=memcheck --leak-check=no --track-origins="${VALGRIND_TRACK_ORIGINS:-no}" --num-callers=40 \
    --log-file="$WORK/valgrind.%p.log" \
    "$PY" -m pytest -q -p no:cacheprovider -k "not python" "${@:-tests}" || status=$?

# memcheck's verdict.  CPython 3.11 itself reports uninitialised reads (the digit of a zero-size
# int read by maybe_small_long, and the cascade through the small-int table) and glibc's AVX2
# wmemcmp reads a vector past a string: those are counted, not suppressed by pattern, so that
# nothing wsfast causes can hide in them.  Any error whose stack or origin names wsfast's module
# (_wsfast*.so, csrc/wsfast.c, csrc/wsfast.h) fails the run, and its report is printed whole.
"$PY" - "$WORK" <<'PYEOF' || status=$?
import collections, glob, re, sys

ours = re.compile(r"_wsfast|wsfast\.[ch]\b")
headline = re.compile(r"^==\d+== (Invalid|Conditional|Use of|Syscall|Source and|Mismatched|Argument)")
wsfast_errors, other = [], collections.Counter()
for log in sorted(glob.glob(f"{sys.argv[1]}/valgrind.*.log")):
    block = None
    for line in open(log, errors="replace"):
        if headline.match(line):
            block = [line]
        elif block is not None:
            if re.match(r"==\d+==\s*$", line):  # the blank line that ends a report
                text = "".join(block)
                if ours.search(text):
                    wsfast_errors.append(text)
                else:
                    where = re.search(r"at 0x[0-9A-F]+: (\S+)", text)
                    other[f"{block[0].split('== ', 1)[1].strip()} in {where.group(1) if where else '?'}"] += 1
                block = None
            else:
                block.append(line)
print(f"memcheck: {len(wsfast_errors)} error contexts in wsfast code")
for text in wsfast_errors:
    print(text)
print(f"memcheck: {sum(other.values())} error contexts inside CPython/glibc, none touching wsfast:")
for what, n in other.most_common():
    print(f"  {n:4d}  {what}")
sys.exit(1 if wsfast_errors else 0)
PYEOF
[[ -n ${VALGRIND_DIR:-} ]] || rm -rf "$WORK"
exit $status
