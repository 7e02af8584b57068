#!/bin/sh
# rss.sh - is the memory of an httpd child flat? Starts httpd (prefork)
# with exactly one child, sends it COUNT messages (SOAP and ebMS,
# accepted and refused: the traffic of tools/valgrind-live.sh) and prints
# the child's VmRSS every 1000 messages, split into RssAnon (heap: where
# a leak shows) and RssFile (mostly the LMDB map, which grows with the
# store).
#   sh bench/rss.sh [COUNT]      (default 10000)
set -e
cd "$(dirname "$0")/.."
COUNT=${1:-10000}
PORT=${PORT:-8182}
DIR=$(mktemp -d /tmp/stuflz-rss-XXXXXX)
. tools/httpd-conf.sh
stuflz_httpd_conf "$PWD" "$DIR" "$PORT" prefork "MaxKeepAliveRequests 0
StartServers 1
MinSpareServers 1
MaxSpareServers 1
ServerLimit 1
MaxRequestWorkers 1
MaxConnectionsPerChild 0
StufLZPartner 00000001234567890363 0363 reply=http://127.0.0.1:9/lz-antwoord"
/usr/sbin/apache2 -f "$DIR/httpd.conf" -k start
sleep 1
PARENT=$(cat "$DIR/run/httpd.pid")
CHILD=$(ps --ppid "$PARENT" -o pid= | tr -d ' ')
if [ -z "$CHILD" ] || [ "$(echo "$CHILD" | wc -w)" != 1 ]; then
    echo "rss: expected one child of $PARENT, got '$CHILD'" >&2
    /usr/sbin/apache2 -f "$DIR/httpd.conf" -k stop
    exit 1
fi

echo "== child $CHILD: $COUNT messages"
sh tools/valgrind-live.sh --traffic "http://127.0.0.1:$PORT" "$COUNT" "$CHILD"
AFTER=$(ps --ppid "$PARENT" -o pid= | tr -d ' ')
[ "$AFTER" = "$CHILD" ] || echo "rss: the child changed ($CHILD -> $AFTER)"
build/stuflz show --store "lmdb:$DIR/store" --stats
/usr/sbin/apache2 -f "$DIR/httpd.conf" -k stop
sleep 1
rm -rf "$DIR"
