#!/usr/bin/env bash
# Build and run the libFuzzer harnesses (clang, -fsanitize=fuzzer,address,undefined) and the
# atheris harness.
#
#   fuzz/run.sh build                  compile fuzz/build/fuzz_{decoder,header,utf8,mask}
#   fuzz/run.sh seeds                  write the seed corpus (fuzz/make_corpus.py) to fuzz/seeds
#   fuzz/run.sh run TARGET [RUNS]      fuzz one target (decoder, header, utf8, mask, atheris)
#                                      for RUNS executions (default 10000000); the corpus grows
#                                      in fuzz/work/TARGET, the log goes to fuzz/logs/TARGET.log;
#                                      TARGET-msan (e.g. decoder-msan) runs that harness built
#                                      with MemorySanitizer instead of ASan+UBSan: reads of bytes
#                                      never written (keep buffers, sinks, scratch: not zeroed)
#   fuzz/run.sh all [RUNS]             every target, one after the other
#   fuzz/run.sh regress                every libFuzzer target once over its seeds and
#                                      fuzz/regressions/TARGET/ (a quick check for CI)
#
# Environment: CC (a clang; default: clang, else the newest clang-N), JOBS (libFuzzer -jobs and
# -workers, default 1: the machine is shared), MAX_TOTAL_TIME (seconds, optional cap), MAX_LEN
# (libFuzzer -max_len, default 4096), ASAN_OPTIONS.
set -euo pipefail
cd "$(dirname "$0")"
FUZZ=$PWD
ROOT=$(dirname "$FUZZ")

TARGETS=(decoder header utf8 mask)

find_clang() {
    if [[ -n ${CC:-} ]]; then echo "$CC"; return; fi
    if command -v clang >/dev/null; then echo clang; return; fi
    local newest
    newest=$(compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -t- -k2 -n | tail -1 || true)
    if [[ -z $newest ]]; then
        echo "no clang found: apt-get install clang libclang-rt-dev (or set CC)" >&2
        exit 1
    fi
    echo "$newest"
}

# compile_harness HARNESS OUTPUT SANITIZER-FLAGS...: fuzz_HARNESS.c into build/OUTPUT.
# -O1 -g: libFuzzer's recommended balance of speed and readable stack traces.
compile_harness() {
    local cc harness=$1 out=$2
    shift 2
    cc=$(find_clang)
    mkdir -p build
    "$cc" -g -O1 -fno-omit-frame-pointer "$@" -I "$ROOT/csrc" -Wall -Wextra -Werror \
        -o "build/$out" "fuzz_$harness.c"
    echo "built build/$out with $cc"
}

build() {
    local t  # t local: run_one calls build, and its own t names the target to run
    for t in "${TARGETS[@]}"; do
        # -fno-sanitize-recover: every UBSan report stops the run as a crash.
        compile_harness "$t" "fuzz_$t" -fsanitize=fuzzer,address,undefined \
            -fno-sanitize-recover=all
    done
}

# MemorySanitizer cannot be combined with ASan: a separate build of one harness.
build_msan() {
    compile_harness "$1" "fuzz_${1}_msan" -fsanitize=fuzzer,memory -fsanitize-memory-track-origins
}

seeds() {
    python "$FUZZ/make_corpus.py" "$FUZZ/seeds"
}

run_one() {
    local t=$1 runs=${2:-10000000} jobs=${JOBS:-1}
    local base=${t%-msan} binary
    [[ -d seeds/$base ]] || seeds
    mkdir -p "work/$t" logs "artifacts/$t"
    local log=logs/$t.log
    local extra=()
    [[ -n ${MAX_TOTAL_TIME:-} ]] && extra+=("-max_total_time=$MAX_TOTAL_TIME")
    local start=$SECONDS rc=0
    if [[ $t == atheris ]]; then
        # atheris reads the same flags; the C backend must be the one under test
        WSFAST_REQUIRE_EXTENSIONS=1 python "$FUZZ/atheris_api.py" "work/$t" "seeds/$t" \
            -runs="$runs" -max_len=512 -artifact_prefix="artifacts/$t/" -print_final_stats=1 \
            "${extra[@]}" >"$log" 2>&1 || rc=$?
    else
        if [[ $t == *-msan ]]; then
            binary=build/fuzz_${base}_msan
            [[ -x $binary ]] || build_msan "$base"
        else
            binary=build/fuzz_$t
            [[ -x $binary ]] || build
        fi
        # 4 KiB: room for 16-bit lengths, 64-byte vector blocks and a full record array (256
        # frames); longer inputs only slow the one-byte chunked decode down.
        local max_len=${MAX_LEN:-4096}
        if [[ $jobs -gt 1 ]]; then
            extra+=("-jobs=$jobs" "-workers=$jobs")
            runs=$((runs / jobs))
        fi
        "./$binary" "work/$t" "seeds/$base" -runs="$runs" -max_len=$max_len \
            -artifact_prefix="artifacts/$t/" -print_final_stats=1 "${extra[@]}" >"$log" 2>&1 || rc=$?
    fi
    echo "$t: exit $rc, $((SECONDS - start)) s; $(grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' "$log" | tail -2 | tr '\n' ' ')"
    return $rc
}

regress() {
    local t
    [[ -d seeds ]] || seeds
    for t in "${TARGETS[@]}"; do
        [[ -x build/fuzz_$t ]] || build
        local inputs=("seeds/$t")
        [[ -d regressions/$t ]] && inputs+=("regressions/$t")
        # with directories and -runs=0 libFuzzer executes each file once and stops
        "./build/fuzz_$t" -runs=0 "${inputs[@]}" >"logs/regress_$t.log" 2>&1 \
            || { echo "$t: FAILED, see fuzz/logs/regress_$t.log"; exit 1; }
        echo "$t: $(grep -c . <(ls "${inputs[@]}")) inputs ok"
    done
}

# The harnesses free nothing the codec could still use, so a short quarantine and one-frame
# allocation stacks lose no finding and make ASan's malloc/free, run per chunk, about 40% faster.
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=1:quarantine_size_mb=16}

mkdir -p logs
case ${1:-} in
    build) build ;;
    seeds) seeds ;;
    run) run_one "${2:?target}" "${3:-10000000}" ;;
    all) for t in "${TARGETS[@]}" atheris; do run_one "$t" "${2:-10000000}"; done ;;
    regress) regress ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
esac
