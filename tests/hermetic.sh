#!/bin/sh
# Run one test in a home of its own: HOME, the XDG directories and
# GAZETTE_SYSTEM_ROOT (what stands for /etc, /var/lib and /run) point into
# a fresh short temporary directory, removed afterwards, so that no test
# reads or writes the user's real files or the system service's. Meson
# runs every test through this (tests/meson.build, add_test_setup).
# Usage: tests/hermetic.sh PROGRAM [ARGS...]
set -u
d=$(mktemp -d /tmp/gz-t.XXXXXX) || exit 99
trap 'rm -rf "$d"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
mkdir -m 0700 "$d/home" "$d/run" "$d/system" || exit 99
export HOME="$d/home"
export XDG_CONFIG_HOME="$d/home/.config"
export XDG_DATA_HOME="$d/home/.local/share"
export XDG_STATE_HOME="$d/home/.local/state"
export XDG_CACHE_HOME="$d/home/.cache"
export XDG_RUNTIME_DIR="$d/run"
export GAZETTE_SYSTEM_ROOT="$d/system"
# Only systemd sets these, and they name the system service's paths.
unset STATE_DIRECTORY CONFIGURATION_DIRECTORY RUNTIME_DIRECTORY \
	NOTIFY_SOCKET LISTEN_FDS LISTEN_PID
"$@"
