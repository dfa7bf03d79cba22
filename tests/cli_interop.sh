#!/usr/bin/env bash
# Interoperability with numpy, the safetensors package and PyTorch: trains
# small models on .npy data with the CLI, then checks them from Python with
# the scripts in tests/interop. Needs /usr/bin/python3 with numpy, torch and
# safetensors (scripts/install-deps.sh and scripts/install-python-deps.sh
# install them); a missing one fails the test.
set -euo pipefail

fastnn=$(realpath "$1")
gradient_exe="$(dirname "$fastnn")/example_model_gradient"
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
export PYTHONPATH="$here/interop"
# PyTorch would otherwise start one thread per core for these tiny batches.
export OMP_NUM_THREADS=1

if ! "$python" -c 'import numpy, torch, safetensors' 2>/dev/null; then
    echo "cli_interop: $python cannot import numpy, torch and safetensors:" \
         "run scripts/install-deps.sh and scripts/install-python-deps.sh" >&2
    exit 1
fi
if [ ! -x "$gradient_exe" ]; then
    echo "cli_interop: $gradient_exe not found: build the examples" >&2
    exit 1
fi

work=$(mktemp -d /tmp/fastnn_interop.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

# 96 rows of 6 features on different scales, the last one constant (its
# std is stored as 1), with labels for each head from a linear teacher.
"$python" - <<'PY'
import numpy as np
rng = np.random.default_rng(7)
x = rng.standard_normal((96, 6)) * [1, 2, 3, 0.5, 5, 0] + [0, 1, -2, 3, 4, 7]
x = x.astype(np.float32)
w = rng.standard_normal((6, 3))
np.save("x.npy", x)
np.save("x_fortran_be.npy", np.asfortranarray(x.astype(">f8")))
np.save("classes.npy", np.argmax(x @ w, axis=1).astype(np.int64))
np.save("binary.npy", (x @ w[:, 0] > np.median(x @ w[:, 0])).astype("|u1"))
np.save("targets.npy", (x @ w[:, 1]).astype(np.float32))
PY

failed=0
fail() {
    echo "FAIL: $*" >&2
    failed=$((failed + 1))
}

# train NAME LABELS EXPECTED-METADATA... -- FASTNN-OPTIONS...
train() {
    local name=$1 labels=$2
    shift 2
    local expected=()
    while [ "$1" != "--" ]; do
        expected+=("$1")
        shift
    done
    shift
    if ! "$fastnn" train --train x.npy --train-labels "$labels" \
            --test x_fortran_be.npy --test-labels "$labels" --epochs 3 \
            --batch-size 16 --seed 5 --out "$name.safetensors" "$@" \
            >"$name.log" 2>&1; then
        fail "training $name: $(tail -n 3 "$name.log")"
        return
    fi
    "$python" "$here/interop/check_safetensors.py" "$name.safetensors" \
        x.npy "${expected[@]}" >/dev/null || fail "safetensors check of $name"
    "$python" "$here/interop/check_numpy_forward.py" "$name.safetensors" \
        x.npy "$labels" "$fastnn" "$work" || fail "numpy forward of $name"
    "$python" "$here/interop/check_torch.py" "$name.safetensors" x.npy \
        "$labels" "$fastnn" "$gradient_exe" "$work" ||
        fail "PyTorch comparison of $name"
}

train softmax_relu classes.npy sizes=[6,16,8,3] activation=relu \
    output_activation=softmax loss=softmax_cross_entropy normalized=true \
    l2=0.01 dtype=float32 seed=5 -- --layers 16,8 --l2 0.01
train sigmoid_tanh binary.npy sizes=[6,12,1] activation=tanh \
    output_activation=sigmoid loss=sigmoid_binary_cross_entropy \
    keep_prob=0.8 -- --layers 12 --activation tanh --keep-prob 0.8
train mse_leaky targets.npy sizes=[6,10,10,1] activation=leaky_relu \
    output_activation=identity loss=mse -- --layers 10,10 \
    --activation leaky_relu --loss mse
train softmax_sigmoid_raw classes.npy activation=sigmoid normalized=false \
    -- --layers 8 --activation sigmoid --no-normalize
train mse_identity targets.npy activation=identity -- --layers 4 \
    --activation identity --loss mse --optimizer sgd --learning-rate 0.01

mkdir layouts
"$python" "$here/interop/check_npy_layouts.py" "$fastnn" "$work/layouts" ||
    fail "reading np.save layouts"

# A failed predict leaves an existing .npy output as it was.
"$fastnn" predict --model softmax_relu.safetensors --data x.npy \
    --labels classes.npy --output kept.npy
cp kept.npy kept.before
"$python" -c 'import numpy as np; np.save("short.npy", np.zeros(5, np.int64))'
if "$fastnn" predict --model softmax_relu.safetensors --data x.npy \
        --labels short.npy --output kept.npy 2>predict.err; then
    fail "predict accepted 5 labels for 96 rows"
fi
cmp -s kept.npy kept.before || fail "a failed predict changed kept.npy"
if ls ./*.tmp.* >/dev/null 2>&1; then
    fail "temporary files left behind: $(ls ./*.tmp.*)"
fi

if [ "$failed" -ne 0 ]; then
    echo "cli_interop: $failed failures" >&2
    exit 1
fi
echo "cli_interop: all interoperability checks passed"
