#!/bin/sh
# Install the Debian packages that building and testing gazette need,
# skipping the apt-get run when every one is already there. Run as root
# (or through sudo) on Debian 12.
set -eu

# build: toolchain glue and the libraries
pkgs="meson ninja-build pkg-config gcc libc6-dev
libcurl4-openssl-dev libxml2-dev libsqlite3-dev libevent-dev
libjson-c-dev libinih-dev scdoc"
# tests: check, and the tools the integration tests drive
pkgs="$pkgs check python3 sqlite3 procps"
pkgs="$pkgs systemd man-db" # tests/service: systemd-analyze, systemd --user, man -l
pkgs="$pkgs bash-completion" # tests/integration/cli-completion.py
pkgs="$pkgs time strace util-linux" # tests/hostile: peak RSS, fsyncs, setpriv
pkgs="$pkgs chromium" # tests/integration/export-browser.py: the HTML export rendered
pkgs="$pkgs openssl" # tests/integration/mirrors.py: a throwaway CA
pkgs="$pkgs postgresql libpq-dev" # the PostgreSQL backend and its tests (issue 17)

missing=
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "installing:$missing" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing
