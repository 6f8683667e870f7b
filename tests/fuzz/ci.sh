#!/bin/sh
# CI step 3: every fuzz target for FUZZ_SECONDS (60) under ASan+UBSan, two
# at a time; fails on any finding. Installs clang and libFuzzer's runtime
# (Debian 12: clang, libclang-rt-14-dev) when they are missing.
set -eu
cd "$(dirname "$0")/../.."
build=${FUZZ_BUILD:-build-fuzz-ci}
secs=${FUZZ_SECONDS:-60}

missing=
for p in clang libclang-rt-14-dev; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "installing:$missing" >&2
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y --no-install-recommends $missing
fi

[ -f "$build/build.ninja" ] ||
	CC=clang meson setup "$build" -Dfuzz=true -Dbuildtype=debugoptimized
ninja -C "$build" tests/fuzz/fuzz-parse tests/fuzz/fuzz-parse-chunks \
	tests/fuzz/fuzz-opml \
	tests/fuzz/fuzz-config tests/fuzz/fuzz-date tests/fuzz/fuzz-url \
	tests/fuzz/fuzz-ctl tests/fuzz/fuzz-html
rm -rf "$build/fuzz-out"
exec tests/fuzz/run.sh "$build" "$secs" "$build/fuzz-out" \
	parse parse-chunks opml config date url ctl html
