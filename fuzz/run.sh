#!/bin/sh
# fuzz/run.sh - build a libFuzzer target (fuzz/fuzz_$FUZZ_TARGET.c) against
# the project's sources (compiled directly, not through automake) with
# clang -fsanitize=fuzzer,address,undefined, and run it for a bounded time.
#
#   fuzz/run.sh              build, then fuzz for $FUZZ_SECONDS (default 60)
#   fuzz/run.sh --replay     build, then run every saved reproducer in
#                            tests/fixtures/fuzz/ once (a regression check)
#   fuzz/run.sh --build      build only
#
# Environment:
#   FUZZ_TARGET    parse_compose (default: one mail through parse -> compose ->
#                  payload) or lmtp (the LMTP session parser, src/lmtp.c; its
#                  seeds are tests/fixtures/lmtp/*, its finds go to
#                  tests/fixtures/fuzz-lmtp/)
#   FUZZ_SECONDS   fuzzing time in seconds (default 60)
#   FUZZ_WORK      build and working directory (default ${TMPDIR:-/tmp}/mail2sms-fuzz);
#                  the growing corpus is kept there between runs
#   FUZZ_CORPUS    extra seed directory (default /work/shared/corpus, if present)
#   FUZZ_MAX_LEN   largest input in bytes (default 65536)
#   CC             compiler (default clang; needs libFuzzer: Debian packages
#                  clang and libclang-rt-dev, or clang-14 and libclang-rt-14-dev)
#
# Seeds: tests/fixtures/*.eml, tests/fixtures/fuzz/* and $FUZZ_CORPUS (read
# only; nothing from it is copied into the project). Every input that makes
# the target crash, leak, hang or run out of memory is copied to
# tests/fixtures/fuzz/ as KIND-SHA1 and the script exits 1.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
work=${FUZZ_WORK:-${TMPDIR:-/tmp}/mail2sms-fuzz}
seconds=${FUZZ_SECONDS:-60}
max_len=${FUZZ_MAX_LEN:-65536}
extra=${FUZZ_CORPUS:-/work/shared/corpus}
cc=${CC:-clang}
mode=${1:-fuzz}
target=${FUZZ_TARGET:-parse_compose}
found="$src/tests/fixtures/fuzz"
seeds="$src/tests/fixtures/*.eml"
dict="$here/mime.dict"
if [ "$target" = lmtp ]; then
    found="$src/tests/fixtures/fuzz-lmtp"
    seeds="$src/tests/fixtures/lmtp/*"
    dict="$here/lmtp.dict"
    extra=/nonexistent
    work="$work-lmtp"
fi
bin="$work/fuzz_$target"

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz/run.sh: $cc not found (apt-get install clang libclang-rt-dev)" >&2
    exit 77
fi

mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts" "$found"

# The few definitions configure would put in build-config.h.
version=$(sed -n 's/^AC_INIT(\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$src/configure.ac" | head -n 1)
cat > "$work/build-config.h" <<EOT
#ifndef _GNU_SOURCE
# define _GNU_SOURCE 1
#endif
#define PACKAGE "mail2sms"
#define PACKAGE_NAME "mail2sms"
#define PACKAGE_VERSION "${version:-0}"
#define PACKAGE_LICENSE "MIT"
#define PACKAGE_STRING "mail2sms ${version:-0}"
#define VERSION "${version:-0}"
#define PACKAGE_LICENSE "MIT"
EOT

pkgs="gmime-3.0 libcurl json-c libconfig libxml-2.0 sqlite3 libpq gio-2.0 gio-unix-2.0"
cflags=$(pkg-config --cflags $pkgs)
libs=$(pkg-config --libs $pkgs)
sources=$(ls "$src"/src/*.c | grep -v '/main\.c$')

echo "fuzz/run.sh: building $bin with $cc"
# shellcheck disable=SC2086
"$cc" -std=gnu11 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -I"$work" -I"$src/src" -DSYSCONFDIR='"/etc"' -DLOCALSTATEDIR='"/var"' \
    $cflags -o "$bin" \
    "$here/fuzz_$target.c" $sources $libs -lm

[ "$mode" = "--build" ] && exit 0

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
if [ -f "$src/tests/lsan.supp" ] && [ -z "${LSAN_OPTIONS:-}" ]; then
    export LSAN_OPTIONS="suppressions=$src/tests/lsan.supp:print_suppressions=0"
fi

if [ "$mode" = "--replay" ]; then
    set -- $(find "$found" -type f ! -name README.md | sort)
    if [ $# -eq 0 ]; then
        echo "fuzz/run.sh: no reproducers in $found"
        exit 0
    fi
    exec "$bin" -rss_limit_mb=2048 -timeout=20 "$@"
fi

rm -f "$work"/seeds/*
for f in $seeds; do
    [ -f "$f" ] && cp "$f" "$work/seeds/"
done
for f in "$found"/*; do
    [ -f "$f" ] && [ "$(basename "$f")" != README.md ] && cp "$f" "$work/seeds/"
done
dirs="$work/corpus $work/seeds"
[ -d "$extra" ] && dirs="$dirs $extra"

rm -f "$work"/artifacts/*
echo "fuzz/run.sh: fuzzing for ${seconds}s (seeds: $dirs)"
status=0
# shellcheck disable=SC2086
"$bin" -max_total_time="$seconds" -max_len="$max_len" \
    -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="$dict" -artifact_prefix="$work/artifacts/" $dirs || status=$?

n=0
for f in "$work"/artifacts/*; do
    [ -f "$f" ] || continue
    kind=$(basename "$f" | sed 's/-.*//')
    sum=$(sha1sum "$f" | cut -c1-16)
    cp "$f" "$found/$kind-$sum"
    echo "fuzz/run.sh: saved $found/$kind-$sum"
    n=$((n + 1))
done
if [ "$n" -gt 0 ] || [ "$status" -ne 0 ]; then
    echo "fuzz/run.sh: FAILED (libFuzzer exit $status, $n input(s) saved)" >&2
    exit 1
fi
echo "fuzz/run.sh: no findings in ${seconds}s"
