#!/usr/bin/env bash
# Side-by-side timing of a full gradient check: fastnn gradcheck against
# torch.autograd.gradcheck (bench/gradcheck_torch.py), both on 784-64-10
# with ReLU, softmax cross-entropy and L2 (lambda 0.1), float64, on the
# first 32 Fashion-MNIST training images, epsilon 1e-7.
#
# usage: bench/gradcheck_bench.sh [PATH_TO_FASTNN]   (default: build/fastnn)
# Prints the two timings, the ratio, and whether each found a pass.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FASTNN=${1:-$here/../build/fastnn}
PYTHON=/usr/bin/python3
if [ ! -x "$FASTNN" ]; then
    echo "gradcheck_bench: $FASTNN not found: build fastnn first or pass its path" >&2
    exit 2
fi
if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
    echo "gradcheck_bench: PyTorch is missing: apt-get install python3-torch" >&2
    exit 2
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s.%N)
"$FASTNN" gradcheck --layers 64 --samples 32 --l2 0.1 --mode full \
    --epsilon 1e-7 --json >"$out" 2>/dev/null || {
    echo "gradcheck_bench: fastnn gradcheck failed" >&2
    exit 1
}
end=$(date +%s.%N)
read -r fastnn_check fastnn_verdict fastnn_checked < <("$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["seconds"], r["verdict"], r["parameters_checked"])' "$out")
fastnn_wall=$("$PYTHON" -c "print(f'{$end - $start:.3f}')")

torch_out=$("$PYTHON" "$here/gradcheck_torch.py" --samples 32 --hidden 64 \
    --l2 0.1)
torch_full=$(awk '/^torch_full_seconds/ {print $2}' <<<"$torch_out")
torch_passed=$(awk '/^torch_full_passed/ {print $2}' <<<"$torch_out")
torch_fast=$(awk '/^torch_fast_seconds/ {print $2}' <<<"$torch_out")

"$PYTHON" - "$fastnn_check" "$fastnn_wall" "$torch_full" "$torch_fast" \
    "$fastnn_verdict" "$fastnn_checked" "$torch_passed" <<'PY'
import sys
check, wall, full, fast = map(float, sys.argv[1:5])
verdict, checked, passed = sys.argv[5:8]
print("full gradient check, 784-64-10, 32 samples, L2 0.1, float64, eps 1e-7")
print(f"fastnn gradcheck --mode full  {check:9.3f} s check "
      f"({wall:.3f} s with data loading), {checked} parameters, {verdict}")
print(f"torch.autograd.gradcheck      {full:9.3f} s "
      f"(fast_mode=True: {fast:.3f} s), passed={passed == '1'}")
print(f"ratio torch / fastnn          {full / check:9.1f}x (check only), "
      f"{full / wall:.1f}x (fastnn wall time)")
PY
