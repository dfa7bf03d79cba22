#!/usr/bin/env bash
# Runs every fuzz target built in BUILD_DIR for SECONDS seconds each.
# New interesting inputs go to BUILD_DIR/corpus/<target>, next to the seeds in
# fuzz/corpus/<target>; a crashing, leaking or hanging input is written to
# fuzz/regressions/<target>/, where tests/test_fuzz_regressions.c replays it
# in every `make test`. Exits 1 when any target found something.
set -u
BUILD_DIR=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]}
SECONDS_EACH=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
cd "$(dirname "$0")/.."
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do
        t=${f#fuzz/fuzz_}
        targets+=("${t%.c}")
    done
fi
status=0
for t in "${targets[@]}"; do
    mkdir -p "$BUILD_DIR/corpus/$t" "fuzz/regressions/$t"
    echo "fuzz: $t for ${SECONDS_EACH}s" >&2
    # -timeout: an input that takes over 10 s is a hang. -rss_limit_mb and
    # -malloc_limit_mb: a reader that allocates 2 GiB for a small input
    # trusted a size from the file.
    if ! "$BUILD_DIR/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=16384 \
        -print_final_stats=1 \
        -artifact_prefix="fuzz/regressions/$t/" \
        "$BUILD_DIR/corpus/$t" "fuzz/corpus/$t" 2>"$BUILD_DIR/fuzz_$t.log"; then
        echo "fuzz: $t failed; see $BUILD_DIR/fuzz_$t.log and" \
             "fuzz/regressions/$t/" >&2
        tail -n 40 "$BUILD_DIR/fuzz_$t.log" >&2
        status=1
    fi
    grep -E '^stat::number_of_executed_units|^#[0-9]+ *DONE' \
        "$BUILD_DIR/fuzz_$t.log" >&2 || true
done
exit $status
