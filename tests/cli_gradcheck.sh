#!/usr/bin/env bash
# End-to-end checks of fastnn gradcheck and train --gradcheck: the JSON
# report, the modes, saved models, CSV data, dropout, exit statuses, bad
# input, and that the normal build carries no bug-planting hook.
set -u
FASTNN=${1:?usage: cli_gradcheck.sh PATH_TO_FASTNN}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# field FILE EXPR: evaluates EXPR on the JSON object `r` of FILE's last line.
field() {
    python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(eval(sys.argv[2]))' "$1" "$2"
}
expect() { # FILE EXPR VALUE
    local got
    got=$(field "$1" "$2")
    [ "$got" = "$3" ] && pass || fail "$2 is $got, expected $3 ($1)"
}

# 1. A new 784-16-10 network on 8 Fashion-MNIST images, full mode: every
# one of 784*16 + 16 + 16*10 + 10 = 12730 parameters is checked and passes.
"$FASTNN" gradcheck --layers 16 --samples 8 --limit 1000 --json \
    >"$work/full.json" 2>"$work/full.err"
rc=$?
[ $rc -eq 0 ] && pass || fail "gradcheck exited $rc: $(cat "$work/full.err")"
expect "$work/full.json" 'r["verdict"]' pass
expect "$work/full.json" 'r["mode"]' full
expect "$work/full.json" 'r["parameters_checked"]' 12730
expect "$work/full.json" 'r["evaluations"]' 25460
expect "$work/full.json" 'r["epsilon"]' 1e-07
expect "$work/full.json" 'r["relative_difference"] < 1e-7' True
expect "$work/full.json" 'r["dropout"]' off
expect "$work/full.json" '[b["name"] for b in r["blocks"]]' \
    "['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']"
expect "$work/full.json" 'sum(b["checked"] for b in r["blocks"])' 12730
expect "$work/full.json" 'len(r["blocks"][0]["worst"]) == 5 and all(k in r["blocks"][0]["worst"][0] for k in ("layer", "row", "column", "analytic", "numerical"))' True
expect "$work/full.json" 'isinstance(r["kinks"], int)' True

# 2. The text report names every block and the overall verdict.
"$FASTNN" gradcheck --layers 16 --samples 8 --limit 1000 \
    >"$work/full.txt" 2>/dev/null || fail "text report exited $?"
grep -q '^relative difference .*: pass' "$work/full.txt" && pass \
    || fail "text report has no overall verdict"
for b in layers.0.weight layers.0.bias layers.1.weight layers.1.bias; do
    grep -q "^$b " "$work/full.txt" && pass || fail "text report lacks $b"
done

# 3. per-block checks K coordinates per block; directions checks K
# directions with 2K evaluations of J.
"$FASTNN" gradcheck --layers 16 --samples 8 --limit 1000 --mode per-block \
    --per-block 4 --json >"$work/pb.json" 2>/dev/null
expect "$work/pb.json" 'r["mode"]' per-block
expect "$work/pb.json" 'r["parameters_checked"]' 16
expect "$work/pb.json" 'r["verdict"]' pass
"$FASTNN" gradcheck --layers 16 --samples 8 --limit 1000 --mode directions \
    --directions 5 --l2 0.3 --json >"$work/dir.json" 2>/dev/null
expect "$work/dir.json" 'r["parameters_checked"]' 5
expect "$work/dir.json" 'r["evaluations"]' 10
expect "$work/dir.json" 'r["verdict"]' pass
expect "$work/dir.json" 'r["blocks"][0]["verdict"]' not-checked

# 4. auto picks per-block above --max-full and reports its choice.
"$FASTNN" gradcheck --layers 16 --samples 4 --limit 1000 --max-full 1000 \
    --per-block 2 >"$work/auto.txt" 2>/dev/null
grep -q 'mode per-block (chosen by auto: 12730 parameters, full up to 1000)' \
    "$work/auto.txt" && pass || fail "auto mode choice not reported"

# 5. Exit status: 1 for fail, 0 for warn, from the thresholds.
"$FASTNN" gradcheck --layers 4 --samples 4 --limit 1000 \
    --pass-threshold 1e-300 --fail-threshold 1e-300 --json \
    >"$work/fail.json" 2>/dev/null
rc=$?
[ $rc -eq 1 ] && pass || fail "a failed check exited $rc, expected 1"
expect "$work/fail.json" 'r["verdict"]' fail
expect "$work/fail.json" 'r["first_failure"] is not None' True
"$FASTNN" gradcheck --layers 4 --samples 4 --limit 1000 \
    --pass-threshold 1e-300 --fail-threshold 1 --json \
    >"$work/warn.json" 2>/dev/null
rc=$?
[ $rc -eq 0 ] && pass || fail "a warned check exited $rc, expected 0"
expect "$work/warn.json" 'r["verdict"]' warn

# 6. Dropout is off by default, as the report states; --with-dropout fixes
# one mask.
"$FASTNN" gradcheck --layers 8 --samples 8 --limit 1000 --keep-prob 0.5 \
    >"$work/drop.txt" 2>/dev/null
grep -q 'dropout off for the check (keep_prob 0.5 ignored' "$work/drop.txt" \
    && pass || fail "dropout off not reported"
"$FASTNN" gradcheck --layers 8 --samples 8 --limit 1000 --keep-prob 0.5 \
    --with-dropout --json >"$work/drop.json" 2>/dev/null
expect "$work/drop.json" 'r["dropout"]' fixed-mask
expect "$work/drop.json" 'r["verdict"]' pass

# 7. A trained model, with its stored normalization, and with --l2.
"$FASTNN" train --layers 8 --limit 500 --epochs 1 \
    --out "$work/m.safetensors" >/dev/null 2>"$work/train.err"
if [ -f "$work/m.safetensors" ]; then
    "$FASTNN" gradcheck --model "$work/m.safetensors" --samples 8 --l2 0.5 \
        --json >"$work/model.json" 2>"$work/model.err"
    rc=$?
    [ $rc -eq 0 ] && pass || fail "model check exited $rc: $(cat "$work/model.err")"
    expect "$work/model.json" 'r["verdict"]' pass
    expect "$work/model.json" 'r["parameters"]' $((784 * 8 + 8 + 80 + 10))
else
    fail "train did not write a model: $(cat "$work/train.err")"
fi

# 8. CSV data: real targets pick MSE, 0/1 labels pick sigmoid.
python3 - "$work" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1] + "/reg.csv", "w") as f:
    for i in range(40):
        row = [random.gauss(0, 1) for _ in range(5)]
        f.write(",".join(f"{v:.6f}" for v in row + [sum(row) * 0.3]) + "\n")
with open(sys.argv[1] + "/bin.csv", "w") as f:
    for i in range(40):
        row = [random.gauss(0, 1) for _ in range(5)]
        f.write(",".join(f"{v:.6f}" for v in row) + f",{i % 2}\n")
PY
for csv in reg bin; do
    "$FASTNN" gradcheck --train "$work/$csv.csv" --layers 6,5 \
        --activation tanh --l2 0.2 --json >"$work/$csv.json" 2>"$work/$csv.err"
    rc=$?
    [ $rc -eq 0 ] && pass || fail "$csv.csv check exited $rc: $(cat "$work/$csv.err")"
    expect "$work/$csv.json" 'r["verdict"]' pass
    expect "$work/$csv.json" 'r["parameters_checked"]' $((5*6 + 6 + 6*5 + 5 + 5 + 1))
done

# 9. train --gradcheck checks at initialization and after the last epoch.
"$FASTNN" train --layers 8 --limit 500 --epochs 1 --gradcheck --json \
    --out "$work/g.safetensors" >"$work/tg.jsonl" 2>"$work/tg.err"
rc=$?
[ $rc -eq 0 ] && pass || fail "train --gradcheck exited $rc: $(cat "$work/tg.err")"
python3 - "$work/tg.jsonl" <<'PY' && pass || fail "train --gradcheck lines"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
checks = [l for l in lines if "gradcheck" in l]
assert [c["gradcheck"] for c in checks] == ["initialization", "the last epoch"], checks
assert all(c["verdict"] == "pass" for c in checks)
assert lines.index(checks[0]) < min(i for i, l in enumerate(lines) if "epoch" in l)
PY
[ -f "$work/g.safetensors" ] && pass || fail "train --gradcheck saved no model"

# 10. Bad usage and input exit 2 with a message.
bad() { # DESCRIPTION EXPECTED-MESSAGE ARGS...
    local what=$1 msg=$2
    shift 2
    "$FASTNN" gradcheck "$@" >"$work/bad.out" 2>"$work/bad.err"
    local rc=$?
    [ $rc -eq 2 ] && pass || fail "$what exited $rc, expected 2"
    grep -q "$msg" "$work/bad.err" && pass \
        || fail "$what: no '$msg' in: $(cat "$work/bad.err")"
}
bad "unknown mode" 'invalid value "fast" for --mode' --mode fast
bad "zero samples" 'invalid value 0 for --samples' --samples 0
bad "negative epsilon" 'invalid value -1 for --epsilon' --epsilon -1
bad "thresholds" 'for --fail-threshold' --pass-threshold 1e-3 \
    --fail-threshold 1e-5
bad "missing model" "$work/none.safetensors" --model "$work/none.safetensors"
bad "missing data" "$work/none.csv" --train "$work/none.csv"
bad "worst" 'invalid value 40 for --worst' --worst 40

# 11. The bug-planting hook exists only in the testing library.
if command -v nm >/dev/null; then
    nm "$FASTNN" | grep -q fnn_testing_plant_bug \
        && fail "the fastnn executable contains fnn_testing_plant_bug" || pass
fi

echo "cli_gradcheck: $passes passed, $failures failed"
[ $failures -eq 0 ]
