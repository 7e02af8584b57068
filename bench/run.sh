#!/bin/sh
# run.sh - the binding benchmarks, against a fresh store: the latency of
# 1000 sequential SOAP messages, then SOAP and ebMS throughput under wrk.
#   sh bench/run.sh [MPM]     (default event; needs wrk: apt-get install wrk)
set -e
cd "$(dirname "$0")/.."
MPM=${1:-event}
PORT=${PORT:-8181}
DIR=$(mktemp -d /tmp/stuflz-bench-XXXXXX)
. tools/httpd-conf.sh
stuflz_httpd_conf "$PWD" "$DIR" "$PORT" "$MPM" "MaxKeepAliveRequests 0
StufLZPartner 00000001234567890363 0363"
/usr/sbin/apache2 -f "$DIR/httpd.conf" -k start
sleep 1
URL=http://127.0.0.1:$PORT/lz/stuf
echo "== $MPM: 1000 sequential posts"
perl bench/soap-latency.pl "$URL" 1000
echo "== $MPM: wrk -t2 -c16 -d20s"
wrk -t2 -c16 -d20s -s bench/soap-load.lua "$URL"
echo "== $MPM: ebMS with synchronous Acknowledgment, wrk -t2 -c16 -d20s"
perl bench/ebms-template.pl build/ebms-template.txt
STUFLZ_EBMS_TEMPLATE=build/ebms-template.txt \
    wrk -t2 -c16 -d20s -s bench/ebms-load.lua \
    "http://127.0.0.1:$PORT/lz/ebms"
build/stuflz show --store "lmdb:$DIR/store" --stats
/usr/sbin/apache2 -f "$DIR/httpd.conf" -k stop
sleep 1
rm -rf "$DIR"
