#!/bin/sh
# The parser's throughput beside `xmllint --stream --noout`, in one run.
#   bench/parse-bench.sh [BUILDDIR [WORKDIR [SIZES]]]
# e.g. bench/parse-bench.sh build /tmp/gz-parse 10,100
# Generates big RSS feeds with ../shared/bench/gen_feeds.py --big, parses
# each with bench/parse-bench.c (pushed in 16 KiB chunks, entries freed as
# they close, as the daemon does) and with xmllint, alternately, best of 5
# each, and prints MB/s for both, their ratio, and gazette parse's peak RSS.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
work=${2:-${TMPDIR:-/tmp}/gazette-parse-bench}
sizes=${3:-10,100}
gen="$top/../shared/bench/gen_feeds.py"
mkdir -p "$work"
ninja -C "$build" lib/libgazette.a cli/gazette >/dev/null ||
	echo "parse-bench: build failed; using the library as it is" >&2
# shellcheck disable=SC2046
${CC:-cc} -std=c11 -O2 -D_GNU_SOURCE -I"$top/include" \
	"$top/bench/parse-bench.c" "$build/lib/libgazette.a" \
	$(pkg-config --libs sqlite3 libcurl libxml-2.0 json-c inih) -lm \
	-o "$work/parse-bench"
for s in $(echo "$sizes" | tr , ' '); do
	f="$work/big-${s}MB.xml"
	[ -f "$f" ] || python3 "$gen" "$work" --big --sizes "$s" >/dev/null
	bytes=$(wc -c <"$f")
	# alternate the two, best of 5 each: the machine's speed drifts
	g=0 best=
	for _ in 1 2 3 4 5; do
		r=$("$work/parse-bench" "$f" 1 | sed 's/.* s \([0-9.]*\) MB\/s.*/\1/')
		[ "$(echo "$r > $g" | bc -l)" = 1 ] && g=$r
		t0=$(date +%s.%N)
		xmllint --stream --noout "$f"
		t1=$(date +%s.%N)
		t=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then
			best=$t
		fi
	done
	x=$(echo "$bytes / 1000000 / $best" | bc -l)
	rss=$( { /usr/bin/time -f %M "$build/cli/gazette" parse "$f" >/dev/null; } 2>&1 | tail -1)
	printf '%4s MB: gazette %6.1f MB/s  xmllint --stream %6.1f MB/s  ratio %.2f  gazette parse peak RSS %s KiB\n' \
		"$s" "$g" "$x" "$(echo "$g / $x" | bc -l)" "$rss"
done
