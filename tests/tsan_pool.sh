#!/usr/bin/env bash
# The thread pool under ThreadSanitizer: builds the library, the CLI and
# tests/test_parallel.c with -fsanitize=thread in BUILD_DIR, runs the test,
# then short trainings that take each path of a multi-threaded step (a W^T
# packed for all blocks above 64 rows per block, per-block X^T packing
# below, dropout masks, a last short batch, more threads than rows). Any
# report fails: halt_on_error makes the process exit 66.
#
#   bash tests/tsan_pool.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: tsan_pool.sh BUILD_DIR}
cd "$(dirname "$0")/.."
flags=-fsanitize=thread
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$build" -j 2 --target fastnn test_parallel
export TSAN_OPTIONS=halt_on_error=1
"$build/tests/test_parallel" >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
runs=0
while read -r args; do
    # shellcheck disable=SC2086
    if ! "$build/fastnn" train --limit 1000 --epochs 1 $args \
        --out "$out/m.safetensors" >/dev/null 2>"$out/err"; then
        echo "tsan_pool: train $args failed:" >&2
        cat "$out/err" >&2
        exit 1
    fi
    runs=$((runs + 1))
done <<'RUNS'
--batch-size 256 --threads 2
--batch-size 32 --threads 2 --keep-prob 0.8
--batch-size 7 --threads 4 --optimizer momentum
--batch-size 3 --threads 8 --optimizer sgd
RUNS
echo "tsan_pool: test_parallel and $runs trainings, no report"
