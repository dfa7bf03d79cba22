#!/usr/bin/env bash
# Installs the Debian packages that fastnn needs to build, test and run the
# demo. Prints nothing and changes nothing when all of them are present.
set -euo pipefail

packages=(
    build-essential cmake pkg-config
    libopenblas-dev zlib1g-dev libcjson-dev libcmocka-dev
    dataset-fashion-mnist
    python3 python3-numpy python3-pip python3-torch
    gnuplot-nox
    valgrind clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "fastnn: installing missing Debian packages: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
