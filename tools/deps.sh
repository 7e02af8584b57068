#!/bin/sh
# deps.sh - makes sure the Debian packages that build and test mod_stuflz
# are installed. As root it installs what is missing; otherwise it prints
# the one apt-get line that is needed and fails.
set -e

PACKAGES="build-essential apache2 apache2-dev libapr1-dev libaprutil1-dev
libxml2-dev libxml2-utils liblmdb-dev lmdb-utils libssl-dev libjansson-dev
libcurl4-openssl-dev pkg-config tzdata perl curl openssl
clang-14 libclang-rt-14-dev valgrind"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "deps: missing Debian packages; run as root:" >&2
    echo "  apt-get install -y$missing" >&2
    exit 1
fi
