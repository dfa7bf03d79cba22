#!/usr/bin/env bash
# End-to-end checks of fastnn diagnose and fastnn study: the verdicts of a
# 50-layer ReLU network of width 256 on a real Fashion-MNIST batch, exit
# statuses, bad input, and study counts recomputed from their own losses.
set -u
FASTNN=${1:?usage: cli_diagnose.sh PATH_TO_FASTNN}
PY=/usr/bin/python3
IMAGES=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
check() { # DESCRIPTION PYTHON_EXPRESSION_OVER_d (JSON in $work/out.json)
    "$PY" -c "import json,math,sys; d=json.load(open('$work/out.json')); sys.exit(0 if ($2) else 1)" \
        && pass || fail "$1"
}

diagnose() { # INIT: writes $work/out.json, returns the exit status
    "$FASTNN" diagnose --train "$IMAGES" --layers 256x50 --samples 64 \
        --init "$1" --json >"$work/out.json" 2>"$work/err"
}

# 1. he: activation std within [0.2, 5] x layers.0's on all 50 hidden
# layers, verdict ok, exit 0; the factor sqrt(2/256 * 256/2) = 1.
diagnose he
rc=$?
[ $rc -eq 0 ] && pass || fail "he: exit $rc, expected 0: $(cat "$work/err")"
check "he: verdict is not ok" 'd["verdict"] == "ok" and d["verdict_layer"] is None'
check "he: 51 layers expected" 'len(d["layers"]) == 51'
check "he: activation std leaves [0.2, 5] x layers.0" \
    'all(0.2 <= l["activation_std"] / d["layers"][0]["activation_std"] <= 5 for l in d["layers"][:50])'
check "he: expected factor is not 1" \
    'all(abs(l["expected_factor"] - 1) < 1e-9 for l in d["layers"][1:50])'

# 2. small (0.01 N(0,1)): the spread shrinks by sqrt(256/2) * 0.01 = 0.113
# per layer; vanishing, exit 1. The measured factors are recomputed here
# from the stds over layers 1-20, before float32 reaches denormals.
diagnose small
rc=$?
[ $rc -eq 1 ] && pass || fail "small: exit $rc, expected 1"
check "small: verdict is not vanishing" \
    'd["verdict"] == "vanishing" and d["verdict_cause"] == "activation_std"'
# 0.113^3 = 1.4e-3 and 0.113^4 = 1.6e-4: the first layer below 1e-3 is 3-5.
check "small: vanishing named at the wrong layer" '3 <= d["verdict_layer"] <= 5'
check "small: measured factor is not 0.113 +- 10%" \
    'abs(math.exp(sum(math.log(d["layers"][l]["preactivation_std"] / d["layers"][l-1]["preactivation_std"]) for l in range(1, 21)) / 20) / (0.01 * math.sqrt(128)) - 1) < 0.1'
check "small: expected factor is not 0.01 sqrt(128)" \
    'abs(d["layers"][5]["expected_factor"] - 0.01 * math.sqrt(128)) < 1e-9'

# 3. normal (N(0,1)): grows by sqrt(128) = 11.3 per layer and overflows;
# exploding, reported without a crash, exit 1.
diagnose normal
rc=$?
[ $rc -eq 1 ] && pass || fail "normal: exit $rc, expected 1 (a crash gives more)"
check "normal: verdict is not exploding" 'd["verdict"] == "exploding"'
# 11.3^2 = 128 < 1e3 < 11.3^3 = 1448: layers.3 is the first above 1e3.
check "normal: exploding named at the wrong layer" '2 <= d["verdict_layer"] <= 4'
check "normal: no non-finite layer reported" \
    'd["first_nonfinite_layer"] is not None and d["first_nonfinite_layer"] > 20'
check "normal: measured factor is not 11.3 +- 10%" \
    'abs(math.exp(sum(math.log(d["layers"][l]["preactivation_std"] / d["layers"][l-1]["preactivation_std"]) for l in range(1, 21)) / 20) / math.sqrt(128) - 1) < 0.1'

# 4. --all-inits: one entry per initialization, each judged as alone.
"$FASTNN" diagnose --train "$IMAGES" --layers 256x50 --samples 64 \
    --all-inits --json >"$work/out.json" 2>"$work/err"
rc=$?
[ $rc -eq 1 ] && pass || fail "all-inits: exit $rc, expected 1"
check "all-inits: inits or verdicts wrong" \
    '[r["init"] for r in d["inits"]] == ["he","he-uniform","xavier","xavier-uniform","lecun","small","normal","zeros"] and {r["init"]: r["verdict"] for r in d["inits"]}["he"] == "ok" and {r["init"]: r["verdict"] for r in d["inits"]}["small"] == "vanishing" and {r["init"]: r["verdict"] for r in d["inits"]}["normal"] == "exploding"'

# 5. The table prints the expected factors beside the measured ones.
"$FASTNN" diagnose --train "$IMAGES" --layers 256x50 --samples 64 \
    --init small >"$work/table.txt" 2>/dev/null
grep -q "expected" "$work/table.txt" && grep -q "^verdict: vanishing" \
    "$work/table.txt" && pass || fail "table lacks expected factors or verdict"
grep -Eq "measured 0\.1[01][0-9]*, expected 0\.1131" "$work/table.txt" && pass \
    || fail "table summary: $(grep 'geometric' "$work/table.txt")"

# 6. Bad input exits 2 and names the value.
"$FASTNN" diagnose --train "$IMAGES" --layers 256x0 >/dev/null 2>"$work/err"
rc=$?
[ $rc -eq 2 ] && grep -q '256x0' "$work/err" && pass \
    || fail "bad --layers: exit $rc, $(cat "$work/err")"
"$FASTNN" diagnose --train "$IMAGES" --samples 20000 >/dev/null 2>"$work/err"
rc=$?
[ $rc -eq 2 ] && grep -q '20000' "$work/err" && pass \
    || fail "too many --samples: exit $rc"
"$FASTNN" diagnose --train "$work/missing.csv" >/dev/null 2>"$work/err"
rc=$?
[ $rc -eq 2 ] && grep -q 'missing.csv' "$work/err" && pass \
    || fail "missing data: exit $rc"
"$FASTNN" diagnose --train "$IMAGES" --init bogus >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q 'bogus' "$work/err" && pass || fail "bad --init"
"$FASTNN" diagnose --train "$IMAGES" --plot "$work/x.jpg" >/dev/null \
    2>"$work/err"
[ $? -eq 2 ] && grep -q 'x.jpg' "$work/err" && [ ! -e "$work/x.jpg" ] && pass \
    || fail "bad --plot extension"

# 7. study normalization on a CSV whose first feature is 1000 times the
# scale of the second. The steps to target are recomputed from the losses
# of the best run: the first step whose mean of the last `window` losses
# (fewer at the start) is <= the target.
"$PY" - "$work/scaled.csv" <<'EOF'
import sys, numpy as np
rng = np.random.default_rng(7)
x = rng.normal(size=(400, 2))
y = (x[:, 0] + x[:, 1] > 0).astype(int)
with open(sys.argv[1], "w") as f:
    for (a, b), c in zip(x, y):
        f.write(f"{1000 * a:.4f},{b:.6f},{c}\n")
EOF
"$FASTNN" study normalization --train "$work/scaled.csv" --layers 16 \
    --steps 150 --lr-points 5 --lr-min 1e-4 --lr-max 1 --target-loss 0.4 \
    --json >"$work/out.json" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && pass || fail "study normalization: exit $rc: $(cat "$work/err")"
check "study: sides wrong" '[s["inputs"] for s in d["sides"]] == ["raw", "normalized"]'
check "study: normalized side did not reach the target" \
    'd["sides"][1]["steps_to_target"] is not None'
cat >"$work/recount.py" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
w, target = d["window"], d["target_loss"]
for s in d["sides"]:
    if s["steps_to_target"] is None:
        continue
    losses = s["losses"]
    step = next(i + 1 for i in range(len(losses))
                if sum(losses[max(0, i + 1 - w):i + 1]) / min(i + 1, w) <= target)
    assert step == s["steps_to_target"], (s["inputs"], step, s["steps_to_target"])
    best = min((r for r in s["runs"] if r["steps_to_target"] is not None),
               key=lambda r: (r["steps_to_target"], -r["learning_rate"]))
    assert best["learning_rate"] == s["best_rate"], s["inputs"]
    # The best run never rose past 10 times its first mini-batch's loss.
    assert all(sum(losses[max(0, i + 1 - w):i + 1]) / min(i + 1, w)
               <= 10 * losses[0] for i in range(len(losses))), s["inputs"]
raw, norm = d["sides"]
if raw["steps_to_target"] is not None:
    assert abs(d["ratio"] - raw["steps_to_target"] / norm["steps_to_target"]) < 1e-12
else:
    assert abs(d["ratio_lower_bound"] - d["max_steps"] / norm["steps_to_target"]) < 1e-12
EOF
"$PY" "$work/recount.py" "$work/out.json" && pass \
    || fail "study counts do not match the recorded losses"

# 8. study init: zeros gives every dW exactly 0 at every step (all hidden
# activations are 0, so no weight gradient exists); he trains.
"$FASTNN" study init --train "$IMAGES" --limit 512 --layers 32x4 --steps 30 \
    --inits he,zeros,normal --record-every 10 --learning-rate 0.05 --json \
    >"$work/out.json" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && pass || fail "study init: exit $rc: $(cat "$work/err")"
check "study init: inits wrong" '[r["init"] for r in d["inits"]] == ["he", "zeros", "normal"]'
check "study init: zeros has a nonzero gradient" \
    'all(n == 0 for g in d["inits"][1]["gradient_norms"] for n in g["norms"])'
check "study init: records not at steps 1, 10, 20, 30" \
    '[g["step"] for g in d["inits"][0]["gradient_norms"]] == [1, 10, 20, 30]'
check "study init: he gradients not positive" \
    'all(n > 0 for g in d["inits"][0]["gradient_norms"] for n in g["norms"])'
check "study init: final loss is not the mean of the last 20 losses" \
    'abs(d["inits"][0]["final_loss"] - sum(d["inits"][0]["losses"][-20:]) / 20) < 1e-9'
check "study init: he loss did not fall" \
    'd["inits"][0]["final_loss"] < d["inits"][0]["losses"][0]'
"$FASTNN" study sideways >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q sideways "$work/err" && pass || fail "bad study kind"
"$FASTNN" study normalization --no-normalize --train "$work/scaled.csv" \
    >/dev/null 2>"$work/err"
[ $? -eq 2 ] && pass || fail "study normalization accepted --no-normalize"

# 9. .npy data: features and labels written by numpy. diagnose on the .npy
# pair gives the statistics of the same rows read from a CSV; a features
# file without --train-labels is refused with the option that exists.
"$PY" - "$work" <<'EOF'
import sys, numpy as np
rng = np.random.default_rng(3)
x = rng.normal(size=(120, 6)).astype(np.float32)
y = (x[:, 0] - x[:, 1] > 0).astype(np.int64)
np.save(sys.argv[1] + "/x.npy", x)
np.save(sys.argv[1] + "/y.npy", y)
np.savetxt(sys.argv[1] + "/xy.csv", np.column_stack([x, y]), delimiter=",",
           fmt=["%.9g"] * 6 + ["%d"])
EOF
npy_args=(--train "$work/x.npy" --train-labels "$work/y.npy")
"$FASTNN" diagnose "${npy_args[@]}" --layers 8,8 --samples 64 --json \
    >"$work/npy.json" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && pass || fail "diagnose .npy: exit $rc: $(cat "$work/err")"
"$FASTNN" diagnose --train "$work/xy.csv" --layers 8,8 --samples 64 --json \
    >"$work/csv.json" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && pass || fail "diagnose csv: exit $rc: $(cat "$work/err")"
"$PY" -c "
import json, sys
a, b = (json.load(open('$work/' + n + '.json'))['layers'] for n in ('npy', 'csv'))
sys.exit(0 if len(a) == 3 and all(abs(p[k] - q[k]) <= 1e-5 * abs(q[k])
         for p, q in zip(a, b) for k in ('preactivation_std', 'gradient_norm'))
         else 1)" && pass || fail "diagnose of the .npy pair differs from the CSV"
"$FASTNN" gradcheck "${npy_args[@]}" --layers 4 --samples 8 >/dev/null \
    2>"$work/err"
rc=$?
[ $rc -eq 0 ] && pass || fail "gradcheck .npy: exit $rc: $(cat "$work/err")"
"$FASTNN" study init "${npy_args[@]}" --layers 4 --steps 5 --inits he \
    --batch-size 16 >/dev/null 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && pass || fail "study init .npy: exit $rc: $(cat "$work/err")"
for cmd in diagnose gradcheck "study init"; do
    # shellcheck disable=SC2086
    "$FASTNN" $cmd --train "$work/x.npy" >/dev/null 2>"$work/err"
    rc=$?
    [ $rc -eq 2 ] && grep -q -- '--train-labels' "$work/err" \
        && ! grep -q -- '--labels' "$work/err" && pass \
        || fail "$cmd .npy without labels: exit $rc: $(cat "$work/err")"
done

# 10. Layer 0 has no growth factor and no expected factor: "-" in the
# table, null in the JSON, never nan.
"$FASTNN" diagnose --train "$work/xy.csv" --layers 8,8 --samples 64 \
    >"$work/table.txt" 2>/dev/null
grep -Eq '^ +0 .* - +-$' "$work/table.txt" && ! grep -q nan "$work/table.txt" \
    && pass || fail "layer 0 row: $(grep -E '^ +0 ' "$work/table.txt")"
"$PY" -c "
import json, sys
l = json.load(open('$work/csv.json'))['layers'][0]
sys.exit(0 if l['factor'] is None and l['expected_factor'] is None else 1)" \
    && pass || fail "layer 0 factors are not null in the JSON"

# 11. study without a kind names what is missing and both kinds.
"$FASTNN" study >/dev/null 2>"$work/err"
[ $? -eq 2 ] && grep -q normalization "$work/err" && grep -q init "$work/err" \
    && ! grep -q -- '--study' "$work/err" && pass \
    || fail "study without a kind: $(cat "$work/err")"

# 12. Help: lines of at most 80 columns, one usage per kind with its own
# defaults, and only the options of that kind.
for cmd in "study" "study normalization" "study init" "diagnose"; do
    # shellcheck disable=SC2086
    "$FASTNN" $cmd --help >"$work/help.txt"
    long=$(awk 'length($0) > 80' "$work/help.txt")
    [ -z "$long" ] && pass || fail "$cmd --help lines over 80: $long"
done
"$FASTNN" study init --help >"$work/init.txt"
"$FASTNN" study normalization --help >"$work/norm.txt"
grep -q -- '\[--layers 256x10\]' "$work/init.txt" \
    && ! grep -Eq -- '--(init|lr-min|lr-max|lr-points|target-loss) ' \
    "$work/init.txt" && grep -q -- '--inits LIST' "$work/init.txt" && pass \
    || fail "study init --help lists the wrong usage or options"
grep -q -- '\[--layers 256,128\]' "$work/norm.txt" \
    && ! grep -Eq -- '--(inits|learning-rate|record-every|no-normalize)' \
    "$work/norm.txt" && grep -q -- '--lr-min F' "$work/norm.txt" && pass \
    || fail "study normalization --help lists the wrong usage or options"
"$FASTNN" diagnose --help >"$work/help.txt"
grep -q -- '\[--layers 256,128\]' "$work/help.txt" \
    && grep -q -- '--init auto' "$work/help.txt" \
    && grep -q '(default: 256,128)' "$work/help.txt" && pass \
    || fail "diagnose usage does not show the defaults"

# 13. Breast cancer with raw inputs at rate 1e-3: the loss rises past 10
# times its start before it falls, so the run diverged and is not the best.
BC=/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv
if [ -r "$BC" ]; then
    tail -n +2 "$BC" >"$work/bc.csv"
    "$FASTNN" study normalization --train "$work/bc.csv" --layers 32 \
        --batch-size 32 --steps 300 --lr-min 1e-3 --lr-max 1e-3 \
        --lr-points 1 --target-loss 0.2 --json >"$work/out.json" 2>"$work/err"
    rc=$?
    [ $rc -eq 0 ] && pass || fail "breast cancer study: exit $rc: $(cat "$work/err")"
    check "breast cancer: raw rate 1e-3 did not diverge" \
        'd["sides"][0]["runs"][0]["outcome"] == "diverged" and d["sides"][0]["best_rate"] is None'
else
    echo "cli_diagnose: $BC missing, skipping the breast cancer check" >&2
fi

echo "cli_diagnose: $passes passed, $failures failed"
[ $failures -eq 0 ]
