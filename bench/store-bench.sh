#!/bin/sh
# Build and run the store's benchmark against a meson build directory.
#   bench/store-bench.sh [BUILDDIR [WORKDIR [store-bench options]]]
# e.g. bench/store-bench.sh build /tmp/gz-bench -b 1000000
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
work=${2:-${TMPDIR:-/tmp}/gazette-store-bench}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
ninja -C "$build" lib/libgazette.a >/dev/null ||
	echo "store-bench: build failed; using the library as it is" >&2
mkdir -p "$work"
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -I"$top/include" \
	"$top/bench/store-bench.c" "$build/lib/libgazette.a" \
	$(pkg-config --libs sqlite3 libcurl libxml-2.0 json-c inih) -lm \
	-o "$work/store-bench"
exec "$work/store-bench" "$@" "$work"
