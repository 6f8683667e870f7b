#!/bin/sh
# README's test command: install what is missing, configure, build, and
# run every test (unit and integration). Usage: tests/check.sh [BUILDDIR]
set -eu
cd "$(dirname "$0")/.."
sh tests/deps.sh
builddir=${1:-build}
[ -f "$builddir/build.ninja" ] || meson setup "$builddir"
meson compile -C "$builddir"
meson test -C "$builddir" --print-errorlogs
