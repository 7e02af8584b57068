# httpd-conf.sh - sourced by the benchmark and valgrind scripts: writes
# DIR/httpd.conf for an apache2 with mod_stuflz on 127.0.0.1:PORT, both
# bindings, the example partner and the example CPAs (their endpoints
# pointed at a closed local port: the outbox must not look up or contact
# the example hosts).
#   stuflz_httpd_conf ROOT DIR PORT MPM "EXTRA DIRECTIVES"
stuflz_httpd_conf() {
    root=$1 dir=$2 port=$3 mpm=$4 extra=$5
    user_line=""
    [ "$(id -u)" = 0 ] && user_line="User www-data
Group www-data"
    chmod 755 "$dir"
    mkdir -p "$dir/run"
    chmod 755 "$dir/run"
    for cpa in lz-example-cpa.xml lz-example-cpa-async.xml; do
        sed 's#https://[a-z.]*\.example/[^"]*#http://127.0.0.1:9/closed#g' \
            "$root/conf/$cpa" > "$dir/$cpa"
    done
    cat > "$dir/httpd.conf" <<CONF
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$dir/run/httpd.pid"
DefaultRuntimeDir "$dir/run"
Mutex file:$dir/run default
ErrorLog "$dir/error.log"
LogLevel warn
$user_line
LoadModule mpm_${mpm}_module /usr/lib/apache2/modules/mod_mpm_${mpm}.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule stuflz_module $root/build/mod_stuflz.so
StufLZStore lmdb:$dir/store
StufLZSchema $root/xsd/lz-zakLk01.xsd
StufLZCPA $dir/lz-example-cpa.xml $dir/lz-example-cpa-async.xml
<Location /lz/stuf>
    SetHandler stuflz-soap
</Location>
<Location /lz/ebms>
    SetHandler stuflz-ebms
</Location>
$extra
CONF
}
