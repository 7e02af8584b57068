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
sed 's#https://[a-z.]*\.example/[^"]*#http://127.0.0.1:9/closed#g' \
    $PWD/conf/lz-example-cpa-async.xml > "$DIR/lz-example-cpa-async.xml"
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
StartServers 1
MinSpareServers 1
MaxSpareServers 1
ServerLimit 1
MaxRequestWorkers 1
MaxConnectionsPerChild 0
$USER_LINE
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule stuflz_module $PWD/build/mod_stuflz.so
StufLZStore lmdb:$DIR/store
StufLZSchema $PWD/xsd/lz-zakLk01.xsd
StufLZPartner 00000001234567890363 0363 reply=http://127.0.0.1:9/lz-antwoord
StufLZCPA $DIR/lz-example-cpa.xml $DIR/lz-example-cpa-async.xml
<Location /lz/stuf>
    SetHandler stuflz-soap
</Location>
<Location /lz/ebms>
    SetHandler stuflz-ebms
</Location>
CONF
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
