#!/bin/sh
# Configure and build mail2sms out of tree in ./_build (or $1).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/_build}
if [ $# -gt 0 ]; then shift; fi
cd "$top"
[ -x configure ] || autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || "$top/configure" -q "$@"
make -j"$(nproc)" >/dev/null
echo "built $build/src/mail2sms"
