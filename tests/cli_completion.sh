#!/usr/bin/env bash
# The bash completion (completions/fastnn.bash) against the built executable:
# commands, a command's options, option values, and the kinds of study with
# the options of each kind.
set -u
FASTNN=${1:?usage: cli_completion.sh PATH_TO_FASTNN}
cd "$(dirname "$0")/.."
failures=0
passes=0
pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
compopt() { :; } # only defined while bash runs a completion

# shellcheck source=../completions/fastnn.bash
source completions/fastnn.bash

# complete WORD...: the candidates for the last word of "fastnn WORD...".
complete_words() {
    COMP_WORDS=("$FASTNN" "$@")
    COMP_CWORD=$#
    COMPREPLY=()
    _fastnn
    printf '%s\n' "${COMPREPLY[@]}"
}

has() { # NEEDLE WORDS...: NEEDLE is one of the candidates
    local needle=$1
    shift
    complete_words "$@" | grep -qx -- "$needle"
}

has train "" && has study "" && pass || fail "commands not completed"
has --learning-rate train --lea && pass || fail "train options not completed"
has adam train --optimizer "" && pass || fail "--optimizer values missing"
has normalization study "" && has init study "" && pass \
    || fail "study kinds not completed"
has --inits study init --in && pass || fail "study init options missing"
has --lr-min study normalization --lr && pass \
    || fail "study normalization options missing"
has --inits study normalization --in && fail "normalization offers --inits" \
    || pass

echo "cli_completion: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
