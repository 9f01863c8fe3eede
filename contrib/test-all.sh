#!/bin/sh
# contrib/test-all.sh: builds mpp from a checkout and runs every test, the way CI does.
#
#   install what is missing (contrib/install-deps.sh --tests), ./bootstrap,
#   configure --enable-werror in _build/, make, make check with MPP_REQUIRE_INTEGRATION=1
#   (a missing tool or missing root is a failure, not a skip), make distcheck.
#
# The last line of the output is "N passed, N failed", counted over the :test-result: lines of
# the .trs files of `make check` (PASS and XFAIL pass; FAIL, ERROR and XPASS fail; SKIP is
# reported on its own line before it). A step that fails (install, bootstrap, configure,
# build, distcheck, or make check without a failed test to show for it) counts as one failed
# test named after the step. Exit status: 0 when nothing failed, 1 otherwise.
#
# Environment: MPP_BUILD_DIR (default _build in the checkout), MPP_JOBS (default 2),
# MPP_SKIP_DEPS=1 (don't call install-deps.sh).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=${MPP_BUILD_DIR:-$top/_build}
jobs=${MPP_JOBS:-2}
started=$(date +%s)
passed=0
failed=0
skipped=0
failed_steps=""

say() { printf '\n=== %s\n' "$*"; }

step_failed() {
    failed=$((failed + 1))
    failed_steps="$failed_steps $1"
    echo "FAIL: step $1"
}

finish() {
    elapsed=$(( $(date +%s) - started ))
    echo
    [ -n "$failed_steps" ] && echo "failed steps:$failed_steps"
    echo "$skipped skipped"
    echo "duration: $((elapsed / 60))m$((elapsed % 60))s"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

count_results() {
    # Sums the results of every .trs under the build dir, outside distcheck's copy.
    trs_list=$(find "$build" -name '*.trs' -not -path "$build/mpp-*" 2>/dev/null)
    if [ -z "$trs_list" ]; then
        return 1
    fi
    # shellcheck disable=SC2086,SC2046
    set -- $(cat $trs_list | awk '
        /^:test-result: / {
            r = $2
            if (r == "PASS" || r == "XFAIL") p++
            else if (r == "SKIP") s++
            else f++
        }
        END { printf "%d %d %d\n", p, f, s }')
    passed=$((passed + $1))
    failed=$((failed + $2))
    skipped=$((skipped + $3))
    test_failures=$2
    # Name what did not pass.
    for trs in $trs_list; do
        grep -q '^:test-result: \(FAIL\|ERROR\|XPASS\)' "$trs" &&
            echo "FAIL: $(basename "${trs%.trs}")"
        grep -q '^:test-result: SKIP' "$trs" &&
            echo "SKIP: $(basename "${trs%.trs}"): $(grep -m1 '^:test-result: SKIP' "$trs" | cut -d' ' -f3-)"
    done
    return 0
}

cd "$top" || exit 1
export MPP_REQUIRE_INTEGRATION=1

if [ "${MPP_SKIP_DEPS:-0}" != 1 ]; then
    say "install-deps"
    contrib/install-deps.sh --tests || { step_failed install-deps; finish; }
fi

say "bootstrap"
./bootstrap || { step_failed bootstrap; finish; }

say "configure --enable-werror (in $build)"
rm -rf "$build"
if ! mkdir -p "$build" || ! cd "$build"; then step_failed configure; finish; fi
"$top/configure" --enable-werror || { step_failed configure; finish; }

say "make -j$jobs"
make -j"$jobs" || { step_failed build; finish; }

say "make check (MPP_REQUIRE_INTEGRATION=1)"
make -j"$jobs" check VERBOSE=yes
check_status=$?
test_failures=0
if ! count_results; then
    echo "no test results (.trs) found"
    step_failed "make-check"
elif [ "$check_status" -ne 0 ] && [ "$test_failures" -eq 0 ]; then
    step_failed "make-check"
fi

if [ "$check_status" -eq 0 ]; then
    say "make distcheck (DISTCHECK_CONFIGURE_FLAGS=--enable-werror)"
    make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror || step_failed distcheck
else
    echo "make distcheck not run: make check failed"
fi

finish
