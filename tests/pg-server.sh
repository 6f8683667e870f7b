#!/bin/sh
# A throwaway PostgreSQL server for the tests (issue 17).
#   pg-server.sh start    prints the server's directory, then the URI
#   pg-server.sh stop DIR stops it and removes DIR
# initdb into a short temporary directory, listening only on a unix
# socket in it (its path must stay under 108 bytes). As root, the server
# runs as nobody: initdb refuses root. Exit 77 when no server binaries.
# PG_FSYNC=on keeps fsync on (benchmarks); tests run with it off.
set -eu

bindir=
for d in /usr/lib/postgresql/*/bin; do
	[ -x "$d/initdb" ] && bindir=$d
done

case "${1:-}" in
start)
	if [ -z "$bindir" ]; then
		echo "pg-server: no PostgreSQL server binaries" \
			"(/usr/lib/postgresql/*/bin/initdb); tests/deps.sh installs them" >&2
		exit 77
	fi
	dir=$(mktemp -d /tmp/gzpg.XXXXXX)
	run=
	user=$(id -un)
	if [ "$(id -u)" -eq 0 ]; then
		chown nobody "$dir"
		run="setpriv --reuid=nobody --regid=nogroup --clear-groups --"
		user=nobody
	fi
	$run "$bindir/initdb" -D "$dir/data" -U "$user" --auth=trust \
		-E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	$run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
		-o "-k $dir -c listen_addresses= -c max_connections=200 -c fsync=${PG_FSYNC:-off}" \
		start >/dev/null || {
		cat "$dir/server.log" >&2
		exit 1
	}
	$run "$bindir/createdb" -h "$dir" -U "$user" gazette
	echo "$dir"
	echo "postgresql://$user@$(echo "$dir" | sed 's|/|%2F|g')/gazette"
	;;
stop)
	dir=$2
	run=
	[ "$(id -u)" -eq 0 ] && run="setpriv --reuid=nobody --regid=nogroup --clear-groups --"
	$run "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	rm -rf "$dir"
	;;
*)
	echo "usage: pg-server.sh start | stop DIR" >&2
	exit 2
	;;
esac
