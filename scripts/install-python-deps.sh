#!/usr/bin/env bash
# Installs the Python packages that the interoperability tests need and that
# Debian does not ship: the official safetensors package from PyPI, for
# /usr/bin/python3 (the interpreter that has Debian's numpy and PyTorch).
# Prints nothing and changes nothing when it is already importable.
set -euo pipefail

python=/usr/bin/python3
# The version the interoperability tests were written against.
requirement='safetensors==0.8.0'

if "$python" -c 'import safetensors' 2>/dev/null; then
    exit 0
fi

echo "fastnn: installing $requirement from PyPI for $python" >&2
args=(-m pip install --quiet --disable-pip-version-check --no-deps
      --root-user-action=ignore)
# Debian marks its interpreter as externally managed (PEP 668). pip then
# installs into /usr/local (as root) or ~/.local, which Debian's own
# packages never touch.
if [ "$(id -u)" -ne 0 ]; then
    args+=(--user)
fi
"$python" "${args[@]}" --break-system-packages "$requirement"

# Fail here, not in a test, when the package still cannot be imported.
"$python" -c 'import safetensors, safetensors.numpy, safetensors.torch'
