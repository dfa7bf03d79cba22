#!/usr/bin/env bash
# Runs a CLI test script with every fastnn process under valgrind memcheck,
# then fails when any of them reported a memory error or a leak. Not a CTest
# test (it takes minutes); .ci/run calls it.
set -u
FASTNN=${1:?usage: valgrind_cli.sh PATH_TO_FASTNN TEST_SCRIPT}
SCRIPT=${2:?usage: valgrind_cli.sh PATH_TO_FASTNN TEST_SCRIPT}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
FASTNN=$(realpath "$FASTNN")
cat >"$work/fastnn" <<WRAP
#!/usr/bin/env bash
exec valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \\
    --show-leak-kinds=definite,indirect \\
    --errors-for-leak-kinds=definite,indirect \\
    --log-file="$work/vg.%p.log" "$FASTNN" "\$@"
WRAP
chmod +x "$work/fastnn"
bash "$SCRIPT" "$work/fastnn"
rc=$?
# A process killed with SIGKILL (as cli_resume.sh does on purpose) writes no
# summary, so only finished processes are judged.
finished=$(grep -l "ERROR SUMMARY:" "$work"/vg.*.log 2>/dev/null)
runs=$(echo "$finished" | grep -c .)
bad=$(grep -L "ERROR SUMMARY: 0 errors" $finished 2>/dev/null)
if [ -n "$bad" ]; then
    for f in $bad; do
        echo "valgrind: errors in $(grep -m1 'Command:' "$f")" >&2
        grep -v "^==[0-9]*== *$" "$f" | head -60 >&2
    done
    rc=1
fi
echo "valgrind_cli: $runs fastnn processes checked, script exit $rc" >&2
[ "$runs" -gt 0 ] && [ "$rc" -eq 0 ]
