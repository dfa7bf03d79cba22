#!/usr/bin/env bash
# Installs the build tree with `cmake --install` into a temporary prefix,
# checks the installed files, then builds examples/train_in_memory.c
# against the installed package twice, through pkg-config and through
# find_package(fastnn), and runs each program.
set -euo pipefail

fastnn=$(realpath "$1")
build=$(dirname "$fastnn")
source_dir=$(cd "$(dirname "$0")/.." && pwd)
example="$source_dir/examples/train_in_memory.c"
work=$(mktemp -d /tmp/fastnn_install.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

fail() {
    echo "cli_install: $*" >&2
    exit 1
}

cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
    fail "cmake --install failed: $(tail -n 5 "$work/install.log")"

libdir=$(dirname "$(find "$prefix" -name libfastnn.a | head -n 1)")
[ -d "$libdir" ] || fail "libfastnn.a not installed"
for f in "$prefix/bin/fastnn" "$prefix/include/fastnn.h" \
         "$libdir/libfastnn.so" "$libdir/pkgconfig/fastnn.pc" \
         "$libdir/cmake/fastnn/fastnnConfig.cmake" \
         "$libdir/cmake/fastnn/fastnnConfigVersion.cmake" \
         "$libdir/cmake/fastnn/fastnnTargets.cmake" \
         "$prefix/share/man/man1/fastnn.1" \
         "$prefix/share/bash-completion/completions/fastnn"; do
    [ -e "$f" ] || fail "$f not installed"
done
# The soname carries the major version, and the real file the full one.
soname=$(objdump -p "$libdir/libfastnn.so" | awk '$1 == "SONAME" { print $2 }')
[ "$soname" = libfastnn.so.0 ] || fail "soname is '$soname', not libfastnn.so.0"
version=$("$prefix/bin/fastnn" --version)
[ "$version" = "fastnn 0.1.0" ] || fail "installed fastnn --version: $version"
grep -q "^\.TH FASTNN 1" "$prefix/share/man/man1/fastnn.1" ||
    fail "the installed manual page has no .TH FASTNN 1 line"

# run_example NAME EXE: the example must print its accuracy and exit 0.
run_example() {
    local out
    out=$("$2" "$work/$1.safetensors") || fail "$1 exited with $?: $out"
    grep -q "^test accuracy" <<<"$out" || fail "$1 printed: $out"
    grep -q "the loaded model predicts the same" <<<"$out" ||
        fail "$1 printed: $out"
    echo "$1: $(head -n 1 <<<"$out")"
}

# Through pkg-config, against the shared library; the run path makes the
# program find it without LD_LIBRARY_PATH.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pkg-config --exists fastnn || fail "pkg-config does not find fastnn.pc"
[ "$(pkg-config --modversion fastnn)" = 0.1.0 ] ||
    fail "pkg-config --modversion fastnn: $(pkg-config --modversion fastnn)"
read -r -a cflags <<<"$(pkg-config --cflags fastnn)"
read -r -a libs <<<"$(pkg-config --libs fastnn)"
cc -std=c17 -Wall -Wextra -Werror "${cflags[@]}" "$example" \
    -o "$work/pc_example" "${libs[@]}" -Wl,-rpath,"$libdir" -lm ||
    fail "building with pkg-config failed"
# ldd's output goes through a variable: with pipefail, grep -q closing the
# pipe early would make ldd fail with SIGPIPE now and then.
loads() { # EXE TEXT: succeeds when ldd EXE mentions TEXT
    local deps
    deps=$(ldd "$1")
    grep -q -- "$2" <<<"$deps"
}
loads "$work/pc_example" "$libdir/libfastnn.so" ||
    fail "pc_example does not load the installed libfastnn.so"
run_example pc_example "$work/pc_example"

# Through the CMake package, once with each imported target.
mkdir "$work/consumer"
cp "$example" "$work/consumer/"
cat >"$work/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(consumer LANGUAGES C)
find_package(fastnn 0.1 REQUIRED)
add_executable(shared_example train_in_memory.c)
target_link_libraries(shared_example PRIVATE fastnn::fastnn m)
add_executable(static_example train_in_memory.c)
target_link_libraries(static_example PRIVATE fastnn::fastnn_static)
CMAKE
cmake -S "$work/consumer" -B "$work/consumer/build" \
    -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" 2>&1 ||
    fail "find_package(fastnn) failed: $(tail -n 20 "$work/configure.log")"
cmake --build "$work/consumer/build" >"$work/build.log" 2>&1 ||
    fail "building with find_package failed: $(tail -n 20 "$work/build.log")"
loads "$work/consumer/build/shared_example" "$libdir/libfastnn.so" ||
    fail "shared_example does not load the installed libfastnn.so"
if loads "$work/consumer/build/static_example" libfastnn.so; then
    fail "static_example loads libfastnn.so"
fi
run_example shared_example "$work/consumer/build/shared_example"
run_example static_example "$work/consumer/build/static_example"
echo "cli_install: installed package works through pkg-config and CMake"
