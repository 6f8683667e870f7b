#!/bin/bash
# Run the libFuzzer targets of a -Dfuzz=true build, two at a time.
#
#   tests/fuzz/run.sh BUILDDIR SECONDS OUTDIR [TARGET...]
#
# Each target fuzzes for SECONDS with ASan+UBSan, starting from
# tests/fuzz/seeds/TARGET and tests/fuzz/regress/TARGET (parse and
# parse-chunks: seeds/json too; parse-chunks: the inputs of parse, and
# its own; both: known/parse); new inputs go to
# OUTDIR/corpus/TARGET, findings to OUTDIR/artifacts/TARGET, the log to
# OUTDIR/TARGET.log. Exits 1 when any target found anything.
#
# FUZZ_JOBS (2): targets at once. FUZZ_FORK=1: keep going after a finding
# (libFuzzer's -fork=1 -ignore_crashes=1), for long unattended runs.
# FUZZ_LSAN_SUPP, FUZZ_UBSAN_SUPP: suppressions of known findings (leaks,
# undefined behaviour), for long runs while a fix is pending; CI uses none.
# FUZZ_ARGS_<TARGET>: more libFuzzer options for that target ('-' as '_').
set -u

if [ $# -lt 3 ]; then
	echo "usage: $0 BUILDDIR SECONDS OUTDIR [TARGET...]" >&2
	exit 2
fi
build=$1 secs=$2 out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
targets=${*:-parse parse-chunks opml config date url ctl html}
jobs=${FUZZ_JOBS:-2}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ -n "${FUZZ_LSAN_SUPP:-}" ]; then
	export LSAN_OPTIONS=suppressions=$FUZZ_LSAN_SUPP
fi
if [ -n "${FUZZ_UBSAN_SUPP:-}" ]; then
	UBSAN_OPTIONS=$UBSAN_OPTIONS:suppressions=$FUZZ_UBSAN_SUPP
fi

# The options of one target: its input size and dictionary.
target_opts() {
	case $1 in
	parse | opml) echo "-max_len=16384 -dict=$here/xml.dict" ;;
	parse-chunks) echo "-max_len=8192 -dict=$here/xml.dict" ;;
	html) echo "-max_len=8192 -dict=$here/xml.dict" ;;
	config) echo "-max_len=4096" ;;
	*) echo "-max_len=1024" ;;
	esac
	# FUZZ_ARGS_parse_chunks for parse-chunks: no '-' in a name
	eval "echo \${FUZZ_ARGS_$(echo "$1" | tr - _):-}"
}

# The input directories a target starts from: seeds, regress, known.
target_inputs() {
	local d i names=$1
	[ "$1" = parse ] && names="parse json"
	[ "$1" = parse-chunks ] && names="parse json parse-chunks"
	for d in seeds regress known; do
		for i in $names; do
			[ -d "$here/$d/$i" ] && echo "$here/$d/$i"
		done
	done
}

# Fuzz one target for secs; the exit status is libFuzzer's.
run_one() {
	local t=$1 bin=$build/tests/fuzz/fuzz-$1 mode=
	mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
	[ "${FUZZ_FORK:-0}" = 1 ] && mode="-fork=1 -ignore_crashes=1"
	# shellcheck disable=SC2046,SC2086
	nice -n 10 "$bin" $(target_opts "$t") $mode \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
		"$out/corpus/$t" $(target_inputs "$t") \
		>"$out/$t.log" 2>&1
}

# One line per target: execs, execs/s, and coverage of the final corpus.
summary() {
	local t=$1 bin=$build/tests/fuzz/fuzz-$1 execs rate cov last time
	execs=$(sed -n 's/^stat::number_of_executed_units: //p' "$out/$t.log")
	rate=$(sed -n "s/^stat::average_exec_per_sec: *//p" "$out/$t.log")
	if [ -z "$execs" ]; then
		# fork mode: the parent's last "#N: cov: ... time: Ss ..."
		last=$(grep '^#[0-9]*: cov' "$out/$t.log" | tail -1)
		execs=$(echo "$last" | sed -n 's/^#\([0-9]*\):.*/\1/p')
		time=$(echo "$last" | sed -n 's/.* time: \([0-9]*\)s.*/\1/p')
		[ -n "$execs" ] && [ "${time:-0}" -gt 0 ] &&
			rate=$((execs / time))
	fi
	# shellcheck disable=SC2046
	cov=$("$bin" $(target_opts "$t") -runs=0 "$out/corpus/$t" \
		$(target_inputs "$t") 2>&1 | grep -o 'cov: [0-9]* ft: [0-9]*' |
		tail -1)
	printf '%-7s execs=%s execs/s=%s %s findings=%s\n' "$t" \
		"${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" \
		"$(find "$out/artifacts/$t" -type f | wc -l)"
}

mkdir -p "$out"
declare -A pid
for t in $targets; do
	if [ ! -x "$build/tests/fuzz/fuzz-$t" ]; then
		echo "fuzz: no $build/tests/fuzz/fuzz-$t" >&2
		exit 2
	fi
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	echo "fuzz: $t for ${secs}s" >&2
	run_one "$t" &
	pid[$t]=$!
done

rc=0
for t in $targets; do
	if ! wait "${pid[$t]}"; then
		echo "fuzz: $t failed; see $out/$t.log" >&2
		rc=1
	fi
	if [ -n "$(find "$out/artifacts/$t" -type f)" ]; then
		echo "fuzz: $t findings in $out/artifacts/$t:" >&2
		ls "$out/artifacts/$t" >&2
		rc=1
	fi
done
for t in $targets; do
	summary "$t"
done
exit $rc
