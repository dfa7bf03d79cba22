#!/usr/bin/env bash
# fastnn train --threads: a thread count gives byte-identical model files on
# every run, another count gives weights that differ only by rounding, the
# start-up line states the count, and invalid counts exit 2.
set -u
FASTNN=${1:?usage: cli_threads.sh PATH_TO_FASTNN}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

train() { # OUT ARGS...: 2,000 Fashion-MNIST images, one epoch
    local out=$1
    shift
    "$FASTNN" train --limit 2000 --epochs 1 --out "$out" "$@" \
        >/dev/null 2>"$out.err"
}

# 1. Two runs on 2 threads write the same bytes.
train "$work/a.safetensors" --threads 2 || fail "train --threads 2 failed"
train "$work/b.safetensors" --threads 2 || fail "second run failed"
cmp -s "$work/a.safetensors" "$work/b.safetensors" && pass \
    || fail "two runs with --threads 2 wrote different files"
grep -q "seed 42, threads 2$" "$work/a.safetensors.err" && pass \
    || fail "start-up line without 'threads 2': $(cat "$work/a.safetensors.err")"

# 2. One thread: the same weights up to rounding, but not the same bits
# (the gradient sums run in another order), so --threads is not ignored.
train "$work/one.safetensors" --threads 1 || fail "train --threads 1 failed"
/usr/bin/python3 - "$work/one.safetensors" "$work/a.safetensors" <<'EOF' && pass \
    || fail "1-thread and 2-thread weights are not close but different"
import json, struct, sys
import numpy as np

def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if not name.startswith("layers."):
            continue
        lo, hi = t["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype=np.float32)
    return out

one, two = tensors(sys.argv[1]), tensors(sys.argv[2])
assert len(one) == 6
assert one.keys() == two.keys()
diff = max(float(np.max(np.abs(one[k] - two[k]))) for k in one)
scale = max(float(np.max(np.abs(one[k]))) for k in one)
sys.exit(0 if 0 < diff <= 1e-3 * scale else 1)
EOF

# 3. The default: one thread per online CPU, at most one per 16 rows.
cpus=$(getconf _NPROCESSORS_ONLN)
for batch in 8 16 32 128; do
    want=$((batch / 16))
    [ "$cpus" -lt "$want" ] && want=$cpus
    [ "$want" -lt 1 ] && want=1
    train "$work/d$batch.safetensors" --batch-size "$batch" \
        || fail "default threads, batch $batch: train failed"
    grep -q "threads $want$" "$work/d$batch.safetensors.err" && pass \
        || fail "batch $batch on $cpus CPUs: expected threads $want: $(
            grep seed "$work/d$batch.safetensors.err")"
done

# 4. Counts outside 0..64 exit 2, name the option and write no model.
for bad in -1 65; do
    train "$work/bad.safetensors" --threads "$bad"
    rc=$?
    [ $rc -eq 2 ] && pass || fail "--threads $bad exited $rc, expected 2"
    grep -q "invalid value $bad for --threads" "$work/bad.safetensors.err" \
        && pass || fail "--threads $bad: $(cat "$work/bad.safetensors.err")"
    [ ! -e "$work/bad.safetensors" ] && pass \
        || fail "--threads $bad wrote a model"
done

echo "cli_threads: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
