#!/usr/bin/env bash
# Output safety of fastnn train: a missing directory, an unwritable
# directory, a full disk (a small tmpfs when mount works, and /dev/full) and
# a failed checkpoint write give a clear error and exit 2, before training
# where the problem can be known, and never change an existing model or
# checkpoint; the same seed and thread count give byte-identical files.
set -u
FASTNN=${1:?usage: cli_robustness.sh PATH_TO_FASTNN}
work=$(mktemp -d)
mnt=""
cleanup() {
    if [ -n "$mnt" ]; then
        umount "$mnt" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
failures=0
passes=0

pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

/usr/bin/python3 - "$work/data.csv" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(3)
x = rng.standard_normal((600, 50))
y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
np.savetxt(sys.argv[1], np.column_stack([x, y]), delimiter=",", fmt="%.5f")
PY
SMALL=(--train "$work/data.csv" --layers 16 --epochs 2 --batch-size 32)
# 50-512-512-3: about 1.1 MB of float32 parameters.
BIG=(--train "$work/data.csv" --layers 512,512 --epochs 2 --batch-size 32)

# expect_early_error NAME PATTERN CMD...: exit 2, PATTERN in the error, no epoch
# line (the error came before training).
expect_early_error() {
    local name=$1 pattern=$2
    shift 2
    "$@" 2>"$work/err" >/dev/null
    local rc=$?
    [ "$rc" -eq 2 ] && pass || fail "$name: exit $rc, expected 2"
    grep -q "fastnn: error: .*$pattern" "$work/err" && pass \
        || fail "$name: error does not match '$pattern': $(cat "$work/err")"
    grep -q "^epoch " "$work/err" && fail "$name: trained before failing" \
        || pass
}

# 1. A missing directory fails before training.
expect_early_error "missing dir" "directory $work/no/such does not exist" \
    "$FASTNN" train "${SMALL[@]}" --out "$work/no/such/m.st"
expect_early_error "missing checkpoint dir" "$work/no/ck does not exist" \
    "$FASTNN" train "${SMALL[@]}" --out "$work/m.st" \
    --checkpoint "$work/no/ck/c.ck"

# 2. /dev/full: the write fails with ENOSPC, exit 2, and /dev/full stays a
# device (a rename over it would have replaced it with a regular file).
"$FASTNN" train "${SMALL[@]}" --out /dev/full 2>"$work/err" >/dev/null
rc=$?
[ "$rc" -eq 2 ] && pass || fail "/dev/full: exit $rc, expected 2"
grep -q "error: /dev/full: write failed: No space left on device: free some" \
    "$work/err" && pass || fail "/dev/full: message: $(tail -1 "$work/err")"
[ -c /dev/full ] && pass || fail "/dev/full is no longer a character device"
"$FASTNN" train "${SMALL[@]}" --out /dev/null 2>/dev/null && pass \
    || fail "writing the model to /dev/null failed"

# 3. A small tmpfs: too little space for the model is found before
# training; a disk that fills up during training fails the next checkpoint
# write and keeps the last checkpoint, from which the run resumes.
if [ "$(id -u)" -eq 0 ] && mkdir -p "$work/mnt" &&
    mount -t tmpfs -o size=1m tmpfs "$work/mnt" 2>/dev/null; then
    mnt="$work/mnt"
    "$FASTNN" train "${SMALL[@]}" --out "$mnt/m.st" 2>/dev/null \
        || fail "small model on the tmpfs failed"
    cp "$mnt/m.st" "$work/m.good"
    expect_early_error "tmpfs too small" "bytes are free there, but the model" \
        "$FASTNN" train "${BIG[@]}" --out "$mnt/m.st"
    cmp -s "$mnt/m.st" "$work/m.good" && pass \
        || fail "a failed write changed the existing model"

    # The reference run, uninterrupted, off the tmpfs.
    # 500 epochs, so the run is still going when the loop below stops it,
    # even when an epoch takes well under a millisecond.
    RUN=(--train "$work/data.csv" --layers 32 --epochs 500 --batch-size 8)
    "$FASTNN" train "${RUN[@]}" --out "$work/ref.st" 2>/dev/null
    "$FASTNN" train "${RUN[@]}" --out "$mnt/r.st" --checkpoint "$mnt/r.ck" \
        --checkpoint-every 1 2>"$work/err" >/dev/null &
    pid=$!
    for i in $(seq 1 2000); do
        grep -q "^epoch 3/" "$work/err" && break
        sleep 0.005
    done
    # Fill the file system while the run is stopped, so the next checkpoint
    # write hits ENOSPC.
    kill -STOP "$pid"
    dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null
    cp "$mnt/r.ck" "$work/r.ck.before" 2>/dev/null
    kill -CONT "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" -eq 2 ] && pass || fail "full tmpfs: exit $rc, expected 2"
    grep -q "r.ck: write failed: No space left on device.*previous checkpoint" \
        "$work/err" && pass || fail "full tmpfs: message: $(tail -1 "$work/err")"
    cmp -s "$mnt/r.ck" "$work/r.ck.before" && pass \
        || fail "the failed write changed the last checkpoint"
    [ -z "$(compgen -G "$mnt/r.ck.tmp.*")" ] && pass \
        || fail "a temporary checkpoint file was left behind"
    rm -f "$mnt/filler"
    "$FASTNN" train --resume "$mnt/r.ck" 2>"$work/err" >/dev/null \
        || fail "resume after freeing space failed: $(tail -1 "$work/err")"
    cmp -s "$mnt/r.st" "$work/ref.st" && pass \
        || fail "the run resumed after a full disk differs from the reference"
else
    echo "cli_robustness: mount -t tmpfs is not permitted here; the full" \
         "disk is tested with /dev/full only" >&2
fi

# 4. An unwritable directory: a read-only tmpfs (root ignores mode bits),
# or mode 0555 for other users.
ro="$work/ro"
mkdir -p "$ro"
if [ "$(id -u)" -eq 0 ]; then
    if mount -t tmpfs -o ro,size=64k tmpfs "$ro" 2>/dev/null; then
        expect_early_error "read-only dir" "directory $ro is not writable" \
            "$FASTNN" train "${SMALL[@]}" --out "$ro/m.st"
        umount "$ro"
    fi
else
    chmod 555 "$ro"
    expect_early_error "unwritable dir" "directory $ro is not writable" \
        "$FASTNN" train "${SMALL[@]}" --out "$ro/m.st"
    chmod 755 "$ro"
fi

# 5. A failed run never replaces a good model: bad data after a good model.
"$FASTNN" train "${SMALL[@]}" --out "$work/keep.st" 2>/dev/null
cp "$work/keep.st" "$work/keep.good"
printf 'a,b\n1,x\n' >"$work/bad.csv"
"$FASTNN" train --train "$work/bad.csv" --out "$work/keep.st" 2>/dev/null
[ $? -eq 2 ] && cmp -s "$work/keep.st" "$work/keep.good" && pass \
    || fail "bad input changed an existing model"

# 6. The same seed and thread count give byte-identical models and
# checkpoints; another seed does not.
for i in 1 2; do
    OPENBLAS_NUM_THREADS=2 "$FASTNN" train "${SMALL[@]}" --keep-prob 0.7 \
        --out "$work/s$i.st" --checkpoint "$work/s$i.ck" 2>/dev/null
done
cmp -s "$work/s1.st" "$work/s2.st" && pass || fail "same seed, other model"
# The checkpoints differ only in the --out and --checkpoint paths they store
# and in the file checksum, which covers those paths.
zero_crc='s/"crc32":"[0-9a-f]\{8\}"/"crc32":"00000000"/'
sed "$zero_crc" "$work/s1.ck" >"$work/s1.zeroed"
sed "s/s2\.\(st\|ck\)/s1.\1/g; $zero_crc" "$work/s2.ck" >"$work/s2.renamed"
cmp -s "$work/s1.zeroed" "$work/s2.renamed" && pass \
    || fail "same seed, other checkpoint"
"$FASTNN" train "${SMALL[@]}" --keep-prob 0.7 --seed 5 --out "$work/s3.st" \
    2>/dev/null
cmp -s "$work/s1.st" "$work/s3.st" && fail "another seed, same model" || pass

echo "cli_robustness: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
