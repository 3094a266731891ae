#!/usr/bin/env bash
# The whole test suite on a C extension built with AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/sanitize.sh [PYTEST ARGS...]          (default: the whole suite, tests/)
#
# The sources are copied to a scratch directory (SANITIZE_DIR, default a new temporary one) and
# the extension is built there in place, through the cffi builder, with the sanitizers in
# CFLAGS/LDFLAGS, so the development build in wsfast/ is left alone.  CPython itself is not
# instrumented, so the sanitizer runtimes are loaded first with LD_PRELOAD.  Any ASan report or
# UBSan finding aborts the process (halt_on_error, -fno-sanitize-recover) and fails the run.
# Leak detection is off: CPython keeps its own allocations alive until exit on purpose.
#
# The api fixture already runs the C tests under every kernel the CPU has; KERNELS="scalar sse2"
# instead runs the whole suite once per named kernel (WSFAST_FORCE_KERNEL), for the tests that
# use the kernel chosen at import.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
CC=${CC:-gcc}
WORK=${SANITIZE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/wsfast-sanitize.XXXXXX")}

runtime() {  # the shared sanitizer runtime the compiler links against
    local path
    path=$("$CC" -print-file-name="$1")
    [[ $path == /* && -e $path ]] || { echo "no $1 for $CC (install its sanitizer runtime)" >&2; exit 1; }
    echo "$path"
}
if [[ $CC == *clang* ]]; then
    ARCH=$(uname -m)
    PRELOAD="$(runtime "libclang_rt.asan-$ARCH.so")"
    SAN_LDFLAGS="-fsanitize=address,undefined -shared-libasan"
else
    PRELOAD="$(runtime libasan.so) $(runtime libubsan.so)"
    SAN_LDFLAGS="-fsanitize=address,undefined"
fi

# shellcheck source=scripts/scratch-copy.sh
. "$ROOT/scripts/scratch-copy.sh"
copy_sources "$ROOT" "$WORK"

echo "== building the extension with $CC and ASan + UBSan"
(
    cd "$WORK"
    CC=$CC \
    CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
    LDFLAGS="$SAN_LDFLAGS" \
    "$PY" wsfast/_cffi_build.py >build.log 2>&1 || { cat build.log; exit 1; }
)
# pytest's configuration, copied after the build: setuptools would read pyproject.toml too
cp "$ROOT/pyproject.toml" "$WORK/"
SO=$(ls "$WORK"/wsfast/_wsfast.*.so)
if ! nm -D "$SO" | grep -q __asan_; then
    echo "the extension $SO was not built with ASan" >&2
    exit 1
fi

export LD_PRELOAD="$PRELOAD${LD_PRELOAD:+ $LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export WSFAST_REQUIRE_EXTENSIONS=1
export PYTHONMALLOC=malloc  # every Python allocation through malloc, where ASan sees it
export PYTHONPATH="$WORK${PYTHONPATH:+:$PYTHONPATH}"
unset WSFAST_NO_EXTENSIONS

cd "$WORK"
"$PY" -c "import wsfast, sys; assert wsfast.BACKEND == 'c' and wsfast.__file__.startswith('$WORK'), wsfast.__file__; print('backend', wsfast.BACKEND, 'from', wsfast.__file__, getattr(wsfast, 'KERNELS', ''))"

status=0
for kernel in ${KERNELS:-default}; do
    if [[ $kernel == default ]]; then unset WSFAST_FORCE_KERNEL; else export WSFAST_FORCE_KERNEL=$kernel; fi
    echo "== tests under ASan + UBSan, kernel $kernel"
    "$PY" -m pytest -q -p no:cacheprovider "${@:-tests}" || status=$?
done
[[ -n ${SANITIZE_DIR:-} ]] || rm -rf "$WORK"
exit $status
