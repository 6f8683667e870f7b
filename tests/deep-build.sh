#!/bin/sh
# The integration tests (service tests included) from a build directory
# whose path is longer than 150 characters, where a socket path built
# under it would pass the 107 bytes a Unix socket's name may have.
# Usage: tests/deep-build.sh [PARENT]   (PARENT defaults to build-deep)
set -eu
cd "$(dirname "$0")/.."
parent=${1:-build-deep}
seg=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
dir=$(pwd)/$parent/$seg/$seg/$seg
[ "${#dir}" -gt 150 ] || { echo "deep-build: $dir is short" >&2; exit 1; }
echo "deep-build: ${#dir} characters: $dir" >&2
[ -f "$dir/build.ninja" ] || meson setup "$dir"
meson compile -C "$dir"
meson test -C "$dir" --suite integration --print-errorlogs
