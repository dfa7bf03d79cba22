#!/usr/bin/env bash
# End-to-end checks of fastnn train, eval, predict and stats: accuracy on a
# real Fashion-MNIST subset, reproducible model files, and bad input that
# must exit 2 with a message and write nothing.
set -u
FASTNN=${1:?usage: cli_train.sh PATH_TO_FASTNN}
DATA=/usr/share/datasets/fashion-mnist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

json_field() { # FILE KEY: the KEY of the last JSON line in FILE
    python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}

# 1. Training on 5,000 images for 2 epochs reaches 0.75 test accuracy, and
# eval of the saved model reports exactly the last epoch's accuracy.
"$FASTNN" train --limit 5000 --epochs 2 --json --out "$work/m.safetensors" \
    >"$work/train.jsonl" 2>"$work/train.err"
rc=$?
if [ $rc -ne 0 ]; then
    fail "train exited $rc: $(cat "$work/train.err")"
else
    acc=$(json_field "$work/train.jsonl" test_accuracy)
    summary=$(json_field "$work/train.jsonl" summary)
    [ "$summary" = "True" ] && pass || fail "last JSON line is not the summary"
    python3 -c "import sys; sys.exit(0 if float('$acc') >= 0.75 else 1)" \
        && pass || fail "test accuracy $acc < 0.75"
    [ "$(grep -c '"epoch"' "$work/train.jsonl")" -eq 3 ] && pass \
        || fail "expected 2 epoch lines and a summary"
    "$FASTNN" eval --model "$work/m.safetensors" --data "$DATA" --json \
        >"$work/eval.json" 2>"$work/eval.err" || fail "eval failed"
    eacc=$(json_field "$work/eval.json" accuracy)
    [ "$eacc" = "$acc" ] && pass || fail "eval accuracy $eacc != train $acc"
    [ "$(json_field "$work/eval.json" samples)" = 10000 ] && pass \
        || fail "eval did not use the 10,000 test images"
fi

# 2. The same seed gives byte-identical model files.
"$FASTNN" train --limit 500 --epochs 1 --out "$work/a.safetensors" 2>/dev/null
"$FASTNN" train --limit 500 --epochs 1 --out "$work/b.safetensors" 2>/dev/null
cmp -s "$work/a.safetensors" "$work/b.safetensors" && pass \
    || fail "same seed gave different model files"
"$FASTNN" train --limit 500 --epochs 1 --seed 43 --out "$work/c.safetensors" \
    2>/dev/null
cmp -s "$work/a.safetensors" "$work/c.safetensors" && \
    fail "different seeds gave the same model" || pass

# 3. predict writes one row per sample whose probabilities sum to 1.
"$FASTNN" predict --model "$work/a.safetensors" \
    --data "$DATA/t10k-images-idx3-ubyte.gz" >"$work/pred.csv" \
    || fail "predict failed"
python3 - "$work/pred.csv" <<'PY' && pass || fail "predict output is wrong"
import sys
rows = open(sys.argv[1]).read().splitlines()
assert rows[0].split(",")[0] == "p_0", rows[0]
assert len(rows) == 10001, len(rows)
for r in rows[1:50]:
    p = [float(v) for v in r.split(",")]
    assert len(p) == 10, r
    assert abs(sum(p) - 1) < 1e-5, r
PY

# 4. stats on a CSV with a header: mean and population std by hand.
printf 'a,b,label\n1,10,0\n2,10,1\n3,10,0\n' >"$work/s.csv"
"$FASTNN" stats --data "$work/s.csv" --json >"$work/stats.json" \
    || fail "stats failed"
python3 - "$work/stats.json" <<'PY' && pass || fail "stats values are wrong"
import json, math, sys
s = json.load(open(sys.argv[1]))
assert s["rows"] == 3
a, b = s["features"]
assert a["name"] == "a", a
assert abs(a["mean"] - 2) < 1e-12, a
assert abs(a["std"] - math.sqrt(2 / 3)) < 1e-7, a
assert not a["zero_variance"], a
assert b["std"] == 0, b
assert b["zero_variance"], b
assert b["min"] == 10, b
PY

# 5. A zero-variance feature is named in a warning, and training works.
printf '0,5,0\n1,5,1\n0,5,0\n1,5,1\n' >"$work/z.csv"
"$FASTNN" train --train "$work/z.csv" --epochs 1 --batch-size 2 \
    --layers 4 --out "$work/z.safetensors" 2>"$work/z.err" \
    || fail "training on z.csv failed: $(cat "$work/z.err")"
grep -q "zero variance" "$work/z.err" && grep -q ": 1" "$work/z.err" && pass \
    || fail "no zero-variance warning naming feature 1: $(cat "$work/z.err")"

# 6. Bad input: exit status 2, a message naming the problem, no file.
expect_usage() { # NEEDLE ARGS...: fastnn ARGS must exit 2 and print NEEDLE
    local needle=$1
    shift
    rm -f "$work/out.safetensors"
    "$FASTNN" "$@" >/dev/null 2>"$work/err"
    local rc=$?
    if [ $rc -ne 2 ]; then
        fail "fastnn $* exited $rc, expected 2"
    elif ! grep -qF -- "$needle" "$work/err"; then
        fail "fastnn $*: message lacks \"$needle\": $(cat "$work/err")"
    elif [ -e "$work/out.safetensors" ]; then
        fail "fastnn $* left an output file"
    else
        pass
    fi
}
printf '1,2,0\n3,x,1\n' >"$work/bad.csv"
printf '1,2,0\n3,nan,1\n' >"$work/nan.csv"
head -c 5000 "$DATA/t10k-images-idx3-ubyte.gz" | gzip -dc 2>/dev/null \
    >"$work/short-images-idx3-ubyte"
cp "$DATA/t10k-labels-idx1-ubyte.gz" "$work/short-labels-idx1-ubyte.gz"
out=(--out "$work/out.safetensors")
expect_usage "no-such-dir" train --train "$work/no-such-dir" "${out[@]}"
expect_usage "line 2" train --train "$work/bad.csv" "${out[@]}"
expect_usage '"x"' train --train "$work/bad.csv" "${out[@]}"
expect_usage "line 2" train --train "$work/nan.csv" "${out[@]}"
expect_usage "short-images" train --train "$work/short-images-idx3-ubyte" \
    "${out[@]}"
expect_usage '"abc"' train --layers abc "${out[@]}"
expect_usage "--learning-rate" train --learning-rate -1 "${out[@]}"
expect_usage "invalid value \"abc\" for --l2: expected a number" \
    train --l2 abc "${out[@]}"
expect_usage "\"1e-320\" for --learning-rate: outside the range of normal" \
    train --learning-rate 1e-320 "${out[@]}"
expect_usage '"foo"' train --activation foo "${out[@]}"
expect_usage "--bogus" train --bogus "${out[@]}"
expect_usage "does not exist" train --out "$work/missing/dir/m.safetensors"
expect_usage "--epochs" train --epochs x "${out[@]}"
printf 'garbage' >"$work/garbage.safetensors"
expect_usage "garbage.safetensors" eval --model "$work/garbage.safetensors" \
    --data "$DATA"
expect_usage "--model" eval --data "$DATA"

# 7. A failing run leaves an existing model untouched.
cp "$work/a.safetensors" "$work/keep.safetensors"
"$FASTNN" train --train "$work/bad.csv" --out "$work/keep.safetensors" \
    2>/dev/null
cmp -s "$work/a.safetensors" "$work/keep.safetensors" && pass \
    || fail "a failed run changed the existing model"

# 8. Divergence exits 1 with advice and writes no model.
"$FASTNN" train --limit 2000 --epochs 1 --optimizer sgd \
    --learning-rate 10000 --out "$work/div.safetensors" 2>"$work/div.err"
rc=$?
[ $rc -eq 1 ] && grep -q "lower the learning rate" "$work/div.err" && \
    [ ! -e "$work/div.safetensors" ] && pass \
    || fail "divergence: exit $rc, $(cat "$work/div.err" | tail -1)"
# The inputs were normalized, so the advice does not suggest it; without
# normalization it does. A loss that is not finite before any update is
# blamed on the initial weights, not on the learning rate.
grep -q "normalize the inputs" "$work/div.err" \
    && fail "divergence on normalized inputs suggests normalizing" || pass
"$FASTNN" train --limit 2000 --epochs 1 --optimizer sgd --no-normalize \
    --learning-rate 1e6 --out "$work/div.safetensors" 2>"$work/div.err"
grep -q "lower the learning rate or normalize the inputs" "$work/div.err" \
    && pass || fail "raw-input divergence: $(tail -1 "$work/div.err")"
"$FASTNN" train --limit 500 --epochs 1 --layers 256x50 --init normal \
    --out "$work/div.safetensors" 2>"$work/div.err"
rc=$?
msg=$(grep "error:" "$work/div.err")
[ $rc -eq 1 ] && echo "$msg" | grep -q "step 1: .*initial weights already" \
    && ! echo "$msg" | grep -q "learning rate" && pass \
    || fail "step-1 divergence: exit $rc, $msg"

# 9. predict reads features-only CSV files; sigmoid models name p_1.
printf '1,0\n0,1\n1,1\n0,0\n2,0\n0,2\n' >"$work/bin.csv"
printf 'n,x,y\n1,0,1\n0,1,1\n0,0,0\n1,1,0\n2,2,1\n' >"$work/bin2.csv"
"$FASTNN" train --train "$work/bin2.csv" --skip-rows 0 --epochs 2 \
    --batch-size 2 --layers 3 --out "$work/bin.safetensors" 2>"$work/bin.err" \
    || fail "training a sigmoid model failed: $(cat "$work/bin.err")"
grep -q "sigmoid_binary_cross_entropy" "$work/bin.err" && pass \
    || fail "0/1 labels did not choose the sigmoid loss"
"$FASTNN" predict --model "$work/bin.safetensors" --data "$work/bin.csv" \
    >"$work/bin.pred" 2>"$work/bin.perr" || fail "predict on features only: $(cat "$work/bin.perr")"
[ "$(head -1 "$work/bin.pred")" = p_1 ] && [ "$(wc -l <"$work/bin.pred")" -eq 7 ] \
    && pass || fail "sigmoid predictions: $(head -2 "$work/bin.pred")"
"$FASTNN" predict --model "$work/bin.safetensors" --data "$work/bin2.csv" \
    --label-column none >/dev/null 2>"$work/none.err"
[ $? -eq 2 ] && grep -q "3 features per row, but the model expects 2" \
    "$work/none.err" && pass || fail "--label-column none: $(cat "$work/none.err")"
# eval needs labels: on the features-only file its message names the last
# column as the one read as the label.
expect_usage "1 features per row after the last column was read as the label" \
    eval --model "$work/bin.safetensors" --data "$work/bin.csv"

# 10. --skip-rows drops a count line before the header, as in
# scikit-learn's bundled CSV files; eval --json reports the MSE.
printf '4,2\nx,t\n0,0.5\n1,1.5\n2,2.5\n3,3.5\n' >"$work/reg.csv"
"$FASTNN" train --train "$work/reg.csv" --skip-rows 1 --epochs 1 \
    --batch-size 2 --layers 2 --out "$work/reg.safetensors" 2>"$work/reg.err" \
    || fail "train --skip-rows failed: $(cat "$work/reg.err")"
"$FASTNN" eval --model "$work/reg.safetensors" --data "$work/reg.csv" \
    --skip-rows 1 --json >"$work/reg.json" || fail "eval --skip-rows failed"
python3 - "$work/reg.json" <<'PY' && pass || fail "eval JSON lacks mse = 2 * loss"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["samples"] == 4, r
assert "accuracy" not in r, r
assert abs(r["mse"] - 2 * r["loss"]) < 1e-12 * max(1, r["mse"])
PY

# 11. "fastnn help train" is the train help; a non-model file is named so.
"$FASTNN" help train | grep -q -- "--learning-rate" && pass \
    || fail "fastnn help train did not print the train options"
expect_usage "not a safetensors model" eval --model "$work/bin.csv" \
    --data "$work/bin.csv"
# Every command's help fits 80 columns. Each option line starts with
# "  --name", each continuation starts under the help column (29 spaces),
# and usage lines after the first are indented. A wrapped option keeps its
# default whole on one line.
for cmd in "" train eval predict stats gradcheck diagnose plot "study init" \
    "study normalization"; do
    # shellcheck disable=SC2086
    "$FASTNN" $cmd --help >"$work/help.txt"
    long=$(awk 'length($0) > 80' "$work/help.txt")
    [ -z "$long" ] && pass || fail "fastnn $cmd --help lines over 80: $long"
    stray=$(awk '/^options:/ { on = 1; next }
        on && NF && !/^  --/ && !(substr($0, 1, 29) ~ /^ +$/ &&
        substr($0, 30, 1) != " ")' "$work/help.txt")
    [ -z "$stray" ] && pass || fail "fastnn $cmd --help stray lines: $stray"
    [ -z "$cmd" ] && continue
    stray=$(awk 'NR == 1 { next } /^$/ { exit } !/^        +[^ ]/' \
        "$work/help.txt")
    [ -z "$stray" ] && pass || fail "fastnn $cmd --help usage lines: $stray"
done
"$FASTNN" train --help >"$work/help.txt"
grep -q '^ *(default: /usr/share/datasets/fashion-mnist)$' "$work/help.txt" \
    && pass || fail "train --help split the default of --train"

# 12. predict --output replaces a file whole, and writes a device in place.
"$FASTNN" predict --model "$work/bin.safetensors" --data "$work/bin.csv" \
    --output "$work/out.csv" 2>/dev/null || fail "predict --output failed"
cmp -s "$work/out.csv" "$work/bin.pred" && pass \
    || fail "predict --output differs from stdout"
ls "$work"/out.csv.tmp.* >/dev/null 2>&1 && fail "a temporary file was left" \
    || pass
if [ -c /dev/full ]; then
    "$FASTNN" predict --model "$work/bin.safetensors" --data "$work/bin.csv" \
        --output /dev/full 2>"$work/full.err"
    rc=$?
    [ $rc -eq 2 ] && grep -q "No space left" "$work/full.err" && pass \
        || fail "predict to /dev/full: exit $rc: $(cat "$work/full.err")"
    [ -c /dev/full ] && pass || fail "predict replaced the /dev/full device"
fi

# 13. No output may overwrite an input or another output, and a run that
# fails its checks leaves an existing log untouched.
cp "$work/bin2.csv" "$work/in.csv"
expect_same() { # NEEDLE ARGS...: exit 2 naming NEEDLE, in.csv unchanged
    local needle=$1
    shift
    "$FASTNN" "$@" >/dev/null 2>"$work/same.err"
    local rc=$?
    if [ $rc -ne 2 ] || ! grep -qF -- "$needle" "$work/same.err"; then
        fail "fastnn $*: exit $rc: $(cat "$work/same.err")"
    elif ! cmp -s "$work/in.csv" "$work/bin2.csv"; then
        fail "fastnn $* changed its input"
    else
        pass
    fi
}
expect_same "--out and --train" train --train "$work/in.csv" --out "$work/in.csv"
expect_same "--log and --train" train --train "$work/in.csv" \
    --out "$work/o.safetensors" --log "$work/in.csv"
expect_same "--checkpoint and --test" train --train "$work/bin2.csv" \
    --test "$work/in.csv" --out "$work/o.safetensors" \
    --checkpoint "$work/in.csv"
expect_same "--out and --log" train --train "$work/bin2.csv" \
    --out "$work/x.st" --log "$work/./x.st"
expect_same "--output and --data" predict --model "$work/bin.safetensors" \
    --data "$work/in.csv" --output "$work/in.csv"
printf '{"precious": 1}\n' >"$work/keep.log"
cp "$work/keep.log" "$work/keep.orig"
"$FASTNN" train --train "$work/bin2.csv" --test "$work/reg.csv" --layers 3 \
    --out "$work/o.safetensors" --log "$work/keep.log" >/dev/null 2>&1
cmp -s "$work/keep.log" "$work/keep.orig" && pass \
    || fail "a run that failed its checks replaced the --log file"

# 14. Files whose names do not say their format are read by their first
# bytes: IDX images (gzip here) and .npy. An IDX images file so named
# needs its labels file given.
FM=/usr/share/datasets/fashion-mnist
cp "$FM/t10k-images-idx3-ubyte.gz" "$work/pixels.gz"
cp "$FM/t10k-labels-idx1-ubyte.gz" "$work/classes.gz"
"$FASTNN" train --train "$work/pixels.gz" --train-labels "$work/classes.gz" \
    --limit 500 --epochs 1 --layers 16 --out "$work/sniff.st" \
    2>"$work/sniff.err" && pass \
    || fail "IDX under another name: $(tail -1 "$work/sniff.err")"
expect_usage "IDX images file without \"-images-idx3-ubyte\" in its name" \
    stats --data "$work/pixels.gz"
/usr/bin/python3 -c "import numpy as np, sys
np.save(sys.argv[1], np.arange(6, dtype=np.float32).reshape(3, 2))" \
    "$work/plain.npy"
mv "$work/plain.npy" "$work/plain"
"$FASTNN" stats --data "$work/plain" --json >"$work/plain.json" \
    2>"$work/plain.err" && grep -q '"rows": *3' "$work/plain.json" && pass \
    || fail ".npy under another name: $(tail -1 "$work/plain.err")"

echo "$passes passed, $failures failed"
[ $failures -eq 0 ]
