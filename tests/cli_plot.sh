#!/usr/bin/env bash
# End-to-end checks of the plots: fastnn train --log writes one JSON line
# per epoch, fastnn plot and the --plot options of diagnose and study write
# valid PNG and SVG files with the expected series, and failures leave no
# file behind and no good file overwritten.
set -u
FASTNN=${1:?usage: cli_plot.sh PATH_TO_FASTNN}
PY=/usr/bin/python3
IMAGES=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
passes=0

pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# Prints the series of an SVG written by gnuplot, one title per line: each
# plot element is a <g id="gnuplot_plot_N..."> group titled with its legend
# entry (drawn twice, for the legend sample and the curve).
svg_series() {
    "$PY" - "$1" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
assert text.lstrip().startswith("<?xml") and "<svg" in text and text.rstrip().endswith("</svg>")
seen = []
for key in re.findall(r'<g id="(gnuplot_plot_\w+)" ><title>([^<]*)</title>', text):
    if key not in seen:
        seen.append(key)
for key, title in seen:
    # gnuplot titles an untitled line, such as a reference line, by its id.
    print("(untitled)" if title == key else title)
EOF
}

# Checks the PNG signature and the 800x500 size in the IHDR chunk.
png_ok() {
    "$PY" - "$1" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "bad signature"
assert data[12:16] == b"IHDR", "no IHDR"
width, height = struct.unpack(">II", data[16:24])
assert (width, height) == (800, 500), (width, height)
assert data[-8:-4] == b"IEND", "truncated"
EOF
}

# 1. train --log on a small CSV: one line per epoch with the metrics, and
# the last train_accuracy equals eval's accuracy of the saved model on the
# same rows (fewer than the 10,000 the log measures).
"$PY" - "$work/train.csv" <<'EOF'
import sys, numpy as np
rng = np.random.default_rng(3)
x = rng.normal(size=(300, 4))
y = (x @ np.array([1.0, -2.0, 0.5, 1.5]) > 0).astype(int) + (x[:, 0] > 1)
with open(sys.argv[1], "w") as f:
    for row, c in zip(x, y):
        f.write(",".join(f"{v:.5f}" for v in row) + f",{c}\n")
EOF
"$FASTNN" train --train "$work/train.csv" --test "$work/train.csv" \
    --layers 16 --epochs 4 --batch-size 32 --learning-rate 0.01 \
    --log "$work/log.jsonl" --out "$work/m.safetensors" 2>"$work/err"
rc=$?
[ $rc -eq 0 ] && pass || fail "train --log: exit $rc: $(cat "$work/err")"
"$FASTNN" eval --model "$work/m.safetensors" --data "$work/train.csv" --json \
    >"$work/eval.json" 2>/dev/null
"$PY" - "$work/log.jsonl" "$work/eval.json" <<'EOF' && pass || fail "log records"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["epoch"] for l in lines] == [1, 2, 3, 4], lines
for l in lines:
    for key in ("train_loss", "test_loss", "test_accuracy", "train_accuracy",
                "learning_rate", "seconds"):
        assert isinstance(l[key], float) or isinstance(l[key], int), key
    assert l["loss_function"] == "softmax_cross_entropy"
ev = json.load(open(sys.argv[2]))
assert abs(lines[-1]["train_accuracy"] - ev["accuracy"]) < 1e-12, (lines[-1], ev)
assert abs(lines[-1]["test_loss"] - ev["loss"]) < 1e-9
EOF

# 2. fastnn plot draws four series (training and test loss and accuracy)
# as SVG, and a valid 800x500 PNG.
"$FASTNN" plot "$work/log.jsonl" -o "$work/curves.svg" 2>"$work/err"
[ $? -eq 0 ] && pass || fail "plot svg: $(cat "$work/err")"
series=$(svg_series "$work/curves.svg" | tr '\n' '|')
[ "$series" = "training loss|test loss|training accuracy|test accuracy|" ] \
    && pass || fail "plot svg series: $series"
"$FASTNN" plot -o "$work/curves.png" "$work/log.jsonl" 2>"$work/err"
[ $? -eq 0 ] && png_ok "$work/curves.png" && pass || fail "plot png"
grep -q 'epoch' "$work/curves.svg" && grep -q 'accuracy (%)' \
    "$work/curves.svg" && grep -q 'nats' "$work/curves.svg" && pass \
    || fail "plot axis labels"

# 3. A log without test data has only the training curves.
grep -o '{[^}]*}' "$work/log.jsonl" | "$PY" -c '
import json, sys
for line in sys.stdin:
    d = json.loads(line)
    d["test_loss"] = d["test_accuracy"] = None
    print(json.dumps(d))' >"$work/train-only.jsonl"
"$FASTNN" plot "$work/train-only.jsonl" -o "$work/t.svg" 2>/dev/null
series=$(svg_series "$work/t.svg" | tr '\n' '|')
[ "$series" = "training loss|training accuracy|" ] && pass \
    || fail "train-only series: $series"

# 4. diagnose --all-inits: one line per init in the activation panel; the
# gradient panel leaves out zeros, whose ||dW|| is 0 on a log axis.
"$FASTNN" diagnose --train "$IMAGES" --layers 64x4 --samples 32 --all-inits \
    --plot "$work/diag.svg" >/dev/null 2>"$work/err"
[ $? -eq 1 ] && pass || fail "diagnose --plot exit: $(cat "$work/err")"
series=$(svg_series "$work/diag.svg" | tr '\n' '|')
# The two untitled lines are the dashed 1e-3 and 1e3 references, drawn as
# clipped functions inside the y range.
expected="he|he-uniform|xavier|xavier-uniform|lecun|small|normal|zeros|"
expected+="(untitled)|(untitled)|"
expected+="he|he-uniform|xavier|xavier-uniform|lecun|small|normal|"
[ "$series" = "$expected" ] && pass || fail "diagnose series: $series"
# The script that a stand-in gnuplot records sets the activation panel's
# y range around both reference lines; with he the data alone span about
# 1 to 2.
mkdir -p "$work/bin"
printf '#!/bin/sh\ncat >"%s/script.gp"\nexit 1\n' "$work" >"$work/bin/gnuplot"
chmod +x "$work/bin/gnuplot"
PATH="$work/bin:$PATH" "$FASTNN" diagnose --train "$IMAGES" --layers 64x4 \
    --samples 32 --init he --plot "$work/ref.png" >/dev/null 2>&1
"$PY" - "$work/script.gp" <<'EOF' && pass || fail "reference lines outside the y range"
import re, sys
text = open(sys.argv[1]).read()
lo, hi = map(float, re.findall(r"set yrange \[([^:\]]+):([^\]]+)\]", text)[0])
assert lo < 1e-3 and hi > 1e3, (lo, hi)
assert "set arrow" not in text
EOF
"$FASTNN" diagnose --train "$IMAGES" --layers 64x4 --samples 32 \
    --plot "$work/diag.png" >/dev/null 2>&1
png_ok "$work/diag.png" && pass || fail "diagnose png"

# 5. study normalization: raw and normalized loss curves.
"$FASTNN" study normalization --train "$work/train.csv" --layers 8 \
    --steps 60 --lr-points 3 --lr-min 1e-3 --lr-max 1e-1 --target-loss 0.3 \
    --plot "$work/study.svg" >/dev/null 2>"$work/err"
[ $? -eq 0 ] && pass || fail "study --plot: $(cat "$work/err")"
svg_series "$work/study.svg" | grep -c "inputs, rate" | grep -qx 2 && pass \
    || fail "study series: $(svg_series "$work/study.svg" | tr '\n' '|')"
"$FASTNN" study init --train "$work/train.csv" --layers 8x3 --steps 20 \
    --inits he,small --plot "$work/init.png" >/dev/null 2>&1
png_ok "$work/init.png" && pass || fail "study init png"

# 6. Failures: bad log lines name the file and line, a missing gnuplot is
# reported, and neither leaves a file or replaces a good one.
printf '{"epoch": 1, "train_loss": 1}\nnot json\n' >"$work/bad.jsonl"
echo keep >"$work/good.png"
"$FASTNN" plot "$work/bad.jsonl" -o "$work/good.png" 2>"$work/err"
rc=$?
[ $rc -eq 2 ] && grep -q 'bad.jsonl: line 2' "$work/err" && pass \
    || fail "bad log: exit $rc, $(cat "$work/err")"
[ "$(cat "$work/good.png")" = keep ] && pass || fail "good file replaced"
printf '{"epoch": "one"}\n' >"$work/bad2.jsonl"
"$FASTNN" plot "$work/bad2.jsonl" -o "$work/x.png" 2>"$work/err"
[ $? -eq 2 ] && grep -q 'line 1' "$work/err" && pass || fail "bad epoch"
"$FASTNN" plot "$work/none.jsonl" -o "$work/x.png" 2>"$work/err"
[ $? -eq 2 ] && grep -q 'none.jsonl' "$work/err" && pass || fail "missing log"
"$FASTNN" plot "$work/log.jsonl" -o "$work/x.gif" 2>"$work/err"
[ $? -eq 2 ] && grep -q 'x.gif' "$work/err" && pass || fail "bad extension"
PATH=/nonexistent "$FASTNN" plot "$work/log.jsonl" -o "$work/good.png" \
    2>"$work/err"
rc=$?
[ $rc -eq 2 ] && grep -q 'gnuplot' "$work/err" && pass \
    || fail "missing gnuplot: exit $rc, $(cat "$work/err")"
[ "$(cat "$work/good.png")" = keep ] && pass || fail "good file replaced"
[ -z "$(ls -A "$work" | grep fastnn-plot)" ] && [ ! -e "$work/x.png" ] && pass \
    || fail "temporary or partial files left: $(ls -A "$work")"

echo "cli_plot: $passes passed, $failures failed"
[ $failures -eq 0 ]
