#!/usr/bin/env bash
# Interrupted runs: a run killed with SIGKILL at several points and resumed
# from its last checkpoint ends with a model file byte-identical to a run that
# was never interrupted; SIGINT and SIGTERM write a checkpoint, print the
# resume command and exit 130 and 143; divergence exits 1 naming the step
# and the layer and keeps the last good checkpoint.
set -u
FASTNN=${1:?usage: cli_resume.sh PATH_TO_FASTNN}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# 3,000 rows of 20 features in 3 classes, from numpy's generator.
/usr/bin/python3 - "$work/data.csv" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(7)
x = rng.standard_normal((3000, 20))
y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
np.savetxt(sys.argv[1], np.column_stack([x, y]), delimiter=",", fmt="%.6f",
           header=",".join([f"f{i}" for i in range(20)] + ["label"]),
           comments="")
PY

# Dropout and Adam make every part of the state matter: weights, both
# moments, the step counter, both generators and the row order.
ARGS=(--train "$work/data.csv" --layers 64,32 --epochs 8 --batch-size 10
      --keep-prob 0.8 --optimizer adam --lr-schedule cosine)

"$FASTNN" train "${ARGS[@]}" --out "$work/ref.st" 2>"$work/ref.err" \
    || fail "reference run failed: $(cat "$work/ref.err")"

steps_in() { # CHECKPOINT: its optimizer step, or -1 when absent
    local s
    s=$(head -c 4096 "$1" 2>/dev/null | grep -ao '"optimizer_steps":"[0-9]*"' \
        | grep -o '[0-9]*')
    echo "${s:--1}"
}

# Starts a run (a resume when $1 is "resume") that writes the checkpoint
# every 10 steps, and leaves its pid in $pid.
start_run() {
    if [ "$1" = resume ]; then
        "$FASTNN" train --resume "$work/k.ck" 2>>"$work/k.err" &
    else
        "$FASTNN" train "${ARGS[@]}" --out "$work/k.st" \
            --checkpoint "$work/k.ck" --checkpoint-every 10s 2>>"$work/k.err" &
    fi
    pid=$!
}

# Waits until the checkpoint contains at least $1 steps ("tmp": until a
# temporary checkpoint file exists, that is during a write), then kills -9.
kill_when() {
    local i
    for i in $(seq 1 3000); do
        if ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if [ "$1" = tmp ]; then
            compgen -G "$work/k.ck.tmp.*" >/dev/null && break
        elif [ "$(steps_in "$work/k.ck")" -ge "$1" ]; then
            break
        fi
        sleep 0.005
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [ $? -eq 137 ]
}

# 1. Kill at the first checkpoint, after 200 and 900 steps and during a
# checkpoint write; resume after each; the final model must equal ref.st.
killed=0
start_run new
kill_when 0 && killed=$((killed + 1))
for point in 200 900 tmp; do
    [ -f "$work/k.ck" ] || { fail "no checkpoint before kill point $point"; break; }
    before=$(steps_in "$work/k.ck")
    start_run resume
    kill_when "$point" && killed=$((killed + 1))
    after=$(steps_in "$work/k.ck")
    [ "$after" -ge "$before" ] && pass \
        || fail "checkpoint went back from step $before to $after"
done
"$FASTNN" train --resume "$work/k.ck" 2>>"$work/k.err" \
    || fail "last resume failed: $(tail -3 "$work/k.err")"
[ "$killed" -ge 3 ] && pass || fail "only $killed of 4 kills landed mid-run"
cmp -s "$work/ref.st" "$work/k.st" && pass \
    || fail "killed and resumed run differs from the uninterrupted one"
grep -q "resuming $work/k.ck at epoch" "$work/k.err" && pass \
    || fail "resume did not report its position"
# The last checkpoint is the finished run: resuming it again reports that
# and writes the same model.
"$FASTNN" train --resume "$work/k.ck" 2>"$work/done.err" \
    || fail "resuming a finished run failed: $(tail -3 "$work/done.err")"
grep -q "$work/k.ck is a finished run" "$work/done.err" && pass \
    || fail "finished run not reported: $(head -1 "$work/done.err")"
cmp -s "$work/ref.st" "$work/k.st" && pass \
    || fail "resuming the finished run changed the model"

# 2. SIGINT and SIGTERM: exit 128 + signal, checkpoint, resume command; the
# resumed run again equals an uninterrupted one. These runs are 100 epochs
# (30,000 steps), so the signal lands mid-run even when a step takes
# microseconds.
LONG=("${ARGS[@]}" --epochs 100)
"$FASTNN" train "${LONG[@]}" --out "$work/ref100.st" 2>"$work/ref100.err" \
    || fail "100-epoch reference run failed: $(tail -2 "$work/ref100.err")"
for sig in INT TERM; do
    rm -f "$work/s.ck" "$work/s.st"
    "$FASTNN" train "${LONG[@]}" --out "$work/s.st" --checkpoint "$work/s.ck" \
        --checkpoint-every 100s 2>"$work/s.err" &
    pid=$!
    for i in $(seq 1 3000); do
        [ "$(steps_in "$work/s.ck")" -ge 100 ] && break
        sleep 0.005
    done
    kill -"$sig" "$pid"
    wait "$pid"
    rc=$?
    want=$([ "$sig" = INT ] && echo 130 || echo 143)
    [ "$rc" -eq "$want" ] && pass || fail "SIG$sig: exit $rc, expected $want"
    grep -q "stopped by SIG$sig after step" "$work/s.err" && pass \
        || fail "SIG$sig: no stop message: $(tail -2 "$work/s.err")"
    grep -q "resume with: fastnn train --resume $work/s.ck" "$work/s.err" \
        && pass || fail "SIG$sig: no resume command printed"
    [ -f "$work/s.st" ] && fail "SIG$sig: a model was written" || pass
    "$FASTNN" train --resume "$work/s.ck" 2>"$work/s2.err" \
        || fail "SIG$sig: resume failed: $(tail -2 "$work/s2.err")"
    cmp -s "$work/ref100.st" "$work/s.st" && pass \
        || fail "SIG$sig: resumed run differs from the uninterrupted one"
done

# 3. Without --checkpoint, SIGINT writes next to --out.
"$FASTNN" train "${ARGS[@]}" --epochs 200 --out "$work/d.st" 2>"$work/d.err" &
pid=$!
for i in $(seq 1 3000); do
    grep -q "epoch 2/200" "$work/d.err" && break
    sleep 0.005
done
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] && pass || fail "SIGINT without --checkpoint: exit $rc"
[ -f "$work/d.st.checkpoint" ] && pass \
    || fail "SIGINT without --checkpoint wrote no $work/d.st.checkpoint"

# 4. Divergence: exit 1 with step and layer; the checkpoint of the step
# before stays and contains finite values only.
"$FASTNN" train --train "$work/data.csv" --layers 64,32 --epochs 2 \
    --batch-size 10 --optimizer sgd --learning-rate 1e6 --out "$work/n.st" \
    --checkpoint "$work/n.ck" --checkpoint-every 1s 2>"$work/n.err"
rc=$?
[ "$rc" -eq 1 ] && pass || fail "divergence: exit $rc, expected 1"
msg=$(grep "error: training diverged" "$work/n.err")
step=$(echo "$msg" | grep -o 'step [0-9]*' | grep -o '[0-9]*')
echo "$msg" | grep -q "layers\.[0-9]" && pass \
    || fail "divergence message names no layer: $msg"
echo "$msg" | grep -q "lower the learning rate" && pass \
    || fail "divergence message suggests nothing: $msg"
[ -n "$step" ] && [ "$(steps_in "$work/n.ck")" -eq $((step - 1)) ] && pass \
    || fail "checkpoint holds step $(steps_in "$work/n.ck"), diverged at $step"
[ -f "$work/n.st" ] && fail "divergence wrote a model" || pass
/usr/bin/python3 - "$work/n.ck" <<'PY' && pass || fail "kept checkpoint is not finite"
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
for name, t in header.items():
    if name == "__metadata__" or t["dtype"] not in ("F32", "F64"):
        continue
    a, b = t["data_offsets"]
    dtype = {"F32": "<f4", "F64": "<f8"}[t["dtype"]]
    v = np.frombuffer(raw[8 + n + a:8 + n + b], dtype)
    assert np.isfinite(v).all(), name
PY

# 5. A resume rejects other data and options that change the result.
"$FASTNN" train --resume "$work/k.ck" --layers 8 2>"$work/o.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--layers cannot be combined with --resume" \
    "$work/o.err" && pass || fail "--layers with --resume: exit $rc"
sed -i 's/^1\.\([0-9]\)/1.9/' "$work/data.csv"
"$FASTNN" train --resume "$work/k.ck" 2>"$work/o.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "differ from the checkpoint" "$work/o.err" && pass \
    || fail "resume on changed data: exit $rc: $(tail -1 "$work/o.err")"

echo "cli_resume: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
