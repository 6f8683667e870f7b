#!/bin/sh
# Run one test against a throwaway PostgreSQL server of its own: start it
# (tests/pg-server.sh), export GAZETTE_TEST_PG with its URI, run the
# command, and stop the server whatever became of the command. Exit 77
# (skip), with pg-server's message, only when the server binaries are
# absent; 99 when they are there but the server does not start; else
# the command's status.
# Usage: tests/pg-run.sh PROGRAM [ARGS...]
set -u
here=$(dirname "$0")
out=$(sh "$here/pg-server.sh" start)
rc=$?
if [ "$rc" -eq 77 ]; then
	exit 77
elif [ "$rc" -ne 0 ]; then
	echo "pg-run: the test server did not start (status $rc)" >&2
	exit 99
fi
dir=$(printf '%s\n' "$out" | sed -n 1p)
GAZETTE_TEST_PG=$(printf '%s\n' "$out" | sed -n 2p)
export GAZETTE_TEST_PG
trap 'sh "$here/pg-server.sh" stop "$dir"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
"$@"
rc=$?
exit "$rc"
