#!/bin/sh
# run.sh - the binding benchmarks, against a fresh store: the latency of
# 1000 sequential SOAP messages, then SOAP and ebMS throughput under wrk.
#   sh bench/run.sh [MPM]     (default event; needs wrk: apt-get install wrk)
set -e
cd "$(dirname "$0")/.."
MPM=${1:-event}
PORT=${PORT:-8181}
DIR=$(mktemp -d /tmp/stuflz-bench-XXXXXX)
chmod 755 "$DIR"
mkdir -p "$DIR/run"
chmod 755 "$DIR/run"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="User www-data
Group www-data"
# The example CPAs with their endpoints on a closed local port: the
# outbox must not look up or contact the example hosts.
sed 's#https://[a-z.]*\.example/[^"]*#http://127.0.0.1:9/closed#g' \
    $PWD/conf/lz-example-cpa.xml > "$DIR/lz-example-cpa.xml"
cat > "$DIR/httpd.conf" <<CONF
ServerRoot "$DIR"
ServerName 127.0.0.1
Listen 127.0.0.1:$PORT
PidFile "$DIR/run/httpd.pid"
DefaultRuntimeDir "$DIR/run"
Mutex file:$DIR/run default
ErrorLog "$DIR/error.log"
LogLevel warn
MaxKeepAliveRequests 0
$USER_LINE
LoadModule mpm_${MPM}_module /usr/lib/apache2/modules/mod_mpm_${MPM}.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule stuflz_module $PWD/build/mod_stuflz.so
StufLZStore lmdb:$DIR/store
StufLZSchema $PWD/xsd/lz-zakLk01.xsd
StufLZPartner 00000001234567890363 0363
StufLZCPA $DIR/lz-example-cpa.xml
<Location /lz/stuf>
    SetHandler stuflz-soap
</Location>
<Location /lz/ebms>
    SetHandler stuflz-ebms
</Location>
CONF
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
