#!/bin/sh
# Run every test: install what is needed, build, and run
#   1. make check: unit tests, tests against the real binary and the fake
#      Bird API, and the end-to-end tests through a private Postfix
#   2. the unit tests under valgrind
#   3. the whole suite again in an ASan + UBSan build
#   4. make distcheck
#   5. the fuzz target, for a bounded time
#   6. the Debian package: build it, install it into a scratch root
# Run as root on Debian 12. Ends with "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
results=$(mktemp /tmp/mail2sms-results.XXXXXX)
failed_phases=""

phase() {   # phase NAME COMMAND...: run a phase, remember how it went
    name=$1
    shift
    echo
    echo "=== $name"
    start=$(date +%s)
    if "$@"; then
        echo "=== $name: ok ($(( $(date +%s) - start ))s)"
    else
        echo "=== $name: FAILED ($(( $(date +%s) - start ))s)"
        failed_phases="$failed_phases $name"
        echo "phase $name FAIL" >> "$results"
        return 1
    fi
    echo "phase $name PASS" >> "$results"
}

# Count automake's per-test results into the summary.
collect() {     # collect BUILDDIR
    for trs in $(find "$1/tests" -name '*.trs' 2>/dev/null); do
        grep -h '^:test-result:' "$trs" | sed "s|^:test-result: *|test $(basename "$trs" .trs) |" >> "$results"
    done
}

show_failures() {   # print the logs of failed tests in BUILDDIR
    for trs in $(grep -l -E '^:test-result: (FAIL|ERROR|XPASS)' "$1"/tests/*.trs 2>/dev/null); do
        echo "--- ${trs%.trs}.log"
        tail -n 60 "${trs%.trs}.log"
    done
}

check_suite() {     # check_suite BUILDDIR [configure args...]
    b=$1
    shift
    ./scripts/build.sh "$b" "$@" || return 1
    rc=0
    make -C "$b" -j2 check M2S_REQUIRE_POSTFIX=1 M2S_REQUIRE_POSTGRESQL=1 >"$b/check.out" 2>&1 || rc=1
    grep -E '^(# |PASS|FAIL|ERROR|XPASS|XFAIL|SKIP)' "$b/check.out" | grep -vE '^PASS' || true
    collect "$b"
    [ $rc = 0 ] || show_failures "$b"
    return $rc
}

valgrind_units() {
    b=$top/_build
    supp=$top/tests/fixtures/mail/valgrind.supp
    rc=0
    for t in "$b"/tests/check_*; do
        case $t in *.log|*.trs|*.o) continue ;; esac
        [ -x "$t" ] || continue
        if CK_FORK=no M2S_TEST_NO_FORK=1 M2S_SRCDIR=$top valgrind -q --error-exitcode=99 \
               --leak-check=full --errors-for-leak-kinds=definite \
               --suppressions="$supp" "$t" >"$t.valgrind" 2>&1; then
            echo "valgrind clean: $(basename "$t")"
        else
            echo "valgrind FAILED: $(basename "$t")"
            tail -n 40 "$t.valgrind"
            rc=1
        fi
    done
    return $rc
}

distcheck() {
    make -C "$top/_build" distcheck >"$top/_build/distcheck.out" 2>&1 ||
        { tail -n 40 "$top/_build/distcheck.out"; return 1; }
    grep -E 'archives ready|\.tar\.gz' "$top/_build/distcheck.out" | head -3
}

phase deps ./scripts/deps.sh test || { echo "0 passed, 1 failed"; exit 1; }
phase check check_suite "$top/_build"
phase valgrind valgrind_units
phase sanitizers check_suite "$top/_build-asan" --enable-sanitizers
phase distcheck distcheck
fuzz() {    # bounded libFuzzer run; its chatter goes to a log, the verdict here
    log=$top/_build/fuzz.log
    FUZZ_SECONDS="${FUZZ_SECONDS:-60}" ./fuzz/run.sh >"$log" 2>&1
    rc=$?
    [ $rc = 0 ] && { FUZZ_TARGET=lmtp FUZZ_SECONDS="${FUZZ_SECONDS:-60}" ./fuzz/run.sh >>"$log" 2>&1
                     rc=$?; }
    grep -E '^(Done|#[0-9]+ +DONE|==[0-9]+==|SUMMARY|.*crash-)' "$log" | tail -n 5
    [ $rc = 0 ] || tail -n 40 "$log"
    return $rc
}

[ -x fuzz/run.sh ] && phase fuzz fuzz
[ -x scripts/deb-test.sh ] && phase debian ./scripts/deb-test.sh

echo
echo "=== summary"
passed=$(grep -c -E ' (PASS|XFAIL|SKIP)$' "$results")
failed=$(grep -c -E ' (FAIL|ERROR|XPASS)$' "$results")
skipped=$(grep -c -E ' SKIP$' "$results")
echo "$(grep -c '^test ' "$results") test programs, $(grep -c '^phase ' "$results") phases, $skipped skipped"
[ -n "$failed_phases" ] && echo "failed phases:$failed_phases"
rm -f "$results"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$failed_phases" ]
