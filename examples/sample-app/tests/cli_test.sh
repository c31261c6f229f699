#!/bin/sh
# Golden-output tests for the qcalc CLI: run it on tests/golden/*.calc and
# compare stdout+stderr and the exit status with the recorded files.
#   sh tests/cli_test.sh            check
#   sh tests/cli_test.sh --update   re-record the expected output
set -eu
cd "$(dirname "$0")/.."
QCALC=${QCALC:-build/qcalc}
[ -x "$QCALC" ] || { echo "cli_test: $QCALC not built (run make)" >&2; exit 2; }

update=0
[ "${1:-}" != --update ] || update=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0

# check NAME EXPECTED_STATUS QCALC-ARGS... ; expected output in tests/golden/NAME.out
check() {
    name=$1 want_status=$2
    shift 2
    status=0
    "$QCALC" "$@" >"$work/$name.out" 2>&1 || status=$?
    if [ $update = 1 ]; then
        cp "$work/$name.out" "tests/golden/$name.out"
    fi
    if [ "$status" -ne "$want_status" ]; then
        echo "FAIL $name: exit status $status, want $want_status"
        fail=$((fail + 1))
    elif ! diff -u "tests/golden/$name.out" "$work/$name.out"; then
        echo "FAIL $name: output differs"
        fail=$((fail + 1))
    else
        echo "ok   $name"
        pass=$((pass + 1))
    fi
}

check basics 0 tests/golden/basics.calc
check basics-frac 0 -f frac -p 5 tests/golden/basics.calc
check errors 1 tests/golden/errors.calc
check expressions 0 -p 30 -e '1/7' -e 'x = 2^0.5e1' -e 'x! / (x - 2)!' -e 'sqrt(x)'
check tree 0 -t -e '-2^3^2 + f(a, b!) * 4 >= 1' -e 'y = (1 + 2) % 3'
check version 0 -V
check stdin 0 - <tests/golden/basics.calc

echo "cli_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
