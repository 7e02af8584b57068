#!/bin/sh
# valgrind-live.sh - runs httpd -X (one prefork process) with mod_stuflz
# under valgrind, sends it the live traffic below (SOAP and ebMS, accepted
# and refused), stops httpd gracefully and fails when valgrind finds a
# definite leak or a memory error.
#   sh tools/valgrind-live.sh [SOAP [EBMS]]     (default 200 and 200)
#   sh tools/valgrind-live.sh --traffic URL COUNT [PID]
# The second form only sends COUNT messages to the server at URL
# (http://HOST:PORT) and, given the PID of a child, prints its VmRSS,
# RssAnon and RssFile every 1000 messages; bench/rss.sh uses it.
# STUFLZ_KEEP=1 keeps the temporary directory with the valgrind log.
set -e
cd "$(dirname "$0")/.."
ROOT=$PWD

# The traffic: one message per step, cycling through cases that take
# every path a message can take through both handlers. Prints one line
# per case with how often each HTTP status came back.
traffic() {
    perl -It/lib -MStufLZ::Ebms -MHTTP::Tiny -e '
        use strict;
        use warnings;
        my ($url, $count, $binding, $pid) = @ARGV;
        open my $fh, "<", "t/data/zakLk01-voorbeeld.xml" or die $!;
        my $example = do { local $/; <$fh> };
        my $bare = StufLZ::Ebms::bare($example);
        my $action = "\"http://www.egem.nl/StUF/sector/zkn/0310/zakLk01\"";
        my $http = HTTP::Tiny->new(timeout => 60, keep_alive => 1);
        my $run = sprintf("%x-%d", time, $$);
        my (%seen, $last_soap, $last_ebms);

        # The example with its own referentienummer and zaak.
        sub kennisgeving {
            my ($xml, $n, $zaak) = @_;
            $xml =~ s{(<StUF:referentienummer>)[^<]*}{${1}$run-$n};
            $xml =~ s{>0363VB20240001<}{>0363RUN$zaak<}g;
            return $xml;
        }
        my @soap = (
            [ accepted => sub { kennisgeving($example, $_[0], $_[0] % 97) } ],
            [ replay => sub { $last_soap } ],
            [ conflict => sub {
                ($last_soap // kennisgeving($example, $_[0], 0))
                    =~ s{Aanvraag}{Wijziging}r } ],
            [ bad_bsn => sub {
                kennisgeving($example, $_[0], 1) =~ s{999993653}{123456789}r } ],
            [ other_gemeente => sub {
                kennisgeving($example, $_[0], 2) =~ s{>0363RUN}{>0999RUN}gr } ],
            [ unknown_zender => sub {
                kennisgeving($example, $_[0], 3)
                    =~ s{00000001234567890363}{00000001234567890999}r } ],
            [ schema => sub {
                kennisgeving($example, $_[0], 4)
                    =~ s{<ZKN:startdatum>}{<ZKN:onbekend/><ZKN:startdatum>}r } ],
            [ not_xml => sub { "<soap:Envelope><a></b>" } ],
            [ doctype => sub {
                "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY b \"c\">]><a>&b;</a>" } ],
        );
        my @ebms = (
            [ accepted => {} ],
            [ duplicate => undef ],
            [ async => { cpaid => $StufLZ::Ebms::CPAID_ASYNC } ],
            [ version => { version => "2.1" } ],
            [ unknown_cpa => { cpaid => "LZ_onbekend" } ],
            [ truncated => { truncate => 300 } ],
            [ no_payload => { payload => undef } ],
            [ bad_bsn => { bad_bsn => 1 } ],
            [ ping => { action => "Ping", manifest => undef, payload => undef,
                        service => "urn:oasis:names:tc:ebxml-msg:service" } ],
        );
        for my $n (1 .. $count) {
            my ($name, $response);
            my $ebms = $binding eq "ebms" || ($binding eq "mix" && $n % 2);
            if ($ebms) {
                my $case = $ebms[$n % @ebms];
                $name = "ebms $case->[0]";
                if (!defined $case->[1]) {
                    $last_ebms //= [ StufLZ::Ebms::message(
                        payload => kennisgeving($bare, "e$n", 5)) ];
                }
                else {
                    my %o = %{ $case->[1] };
                    $o{payload} = kennisgeving($bare, "e$n", $n % 89)
                        unless exists $o{payload};
                    $o{payload} =~ s{999993653}{123456789} if delete $o{bad_bsn};
                    $last_ebms = [ StufLZ::Ebms::message(%o) ];
                }
                my ($type, $body) = @$last_ebms;
                $response = $http->request("POST", "$url/lz/ebms", {
                    headers => { "Content-Type" => $type,
                                 SOAPAction => "\"ebXML\"" },
                    content => $body });
            }
            else {
                my $case = $soap[$n % @soap];
                $name = "soap $case->[0]";
                my $body = $case->[1]->($n) // kennisgeving($example, $n, 0);
                $last_soap = $body if $case->[0] eq "accepted";
                $response = $http->request("POST", "$url/lz/stuf", {
                    headers => { "Content-Type" => "text/xml; charset=utf-8",
                                 SOAPAction => $action },
                    content => $body });
            }
            die "$name: no answer: $response->{content}\n"
                if $response->{status} == 599;
            $seen{$name}{$response->{status}}++;
            if ($pid && $n % 1000 == 0) {
                # RssFile is mostly the LMDB map, which grows with the
                # store; RssAnon is the heap, where a leak would show.
                open my $status, "<", "/proc/$pid/status" or die "$pid: $!";
                my %kb = map { /^(\w+):\s+(\d+)/ ? ($1 => $2) : () }
                    <$status>;
                printf "%6d messages: VmRSS %6d kB  RssAnon %6d kB  "
                    . "RssFile %6d kB\n", $n,
                    map { $kb{$_} // 0 } qw(VmRSS RssAnon RssFile);
            }
        }
        for my $name (sort keys %seen) {
            printf "%-22s %s\n", $name, join(" ",
                map { "HTTP $_ x$seen{$name}{$_}" } sort keys %{ $seen{$name} });
        }
    ' "$@"
}

if [ "$1" = "--traffic" ]; then
    traffic "$2" "$3" mix "$4"
    exit 0
fi

SOAP=${1:-200}
EBMS=${2:-200}
PORT=${PORT:-$(perl -MIO::Socket::INET -e \
    'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1")
         ->sockport')}
DIR=$(mktemp -d /tmp/stuflz-valgrind-XXXXXX)
. "$ROOT/tools/httpd-conf.sh"
stuflz_httpd_conf "$ROOT" "$DIR" "$PORT" prefork "Timeout 120
StufLZPartner 00000001234567890363 0363 reply=http://127.0.0.1:9/lz-antwoord"

# 1. httpd -X under valgrind; leaks are counted at exit, after a graceful
# stop has run every pool cleanup.
valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite --num-callers=30 \
    --suppressions=tools/valgrind.supp --log-file="$DIR/valgrind.log" \
    /usr/sbin/apache2 -X -f "$DIR/httpd.conf" &
VALGRIND=$!
for _ in $(seq 1 600); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.2
done

# 2. The traffic.
echo "== $SOAP SOAP and $EBMS ebMS messages to httpd -X under valgrind"
traffic "http://127.0.0.1:$PORT" "$SOAP" soap
traffic "http://127.0.0.1:$PORT" "$EBMS" ebms

# 3. A graceful stop (SIGWINCH under -X), then the verdict.
kill -WINCH "$(cat "$DIR/run/httpd.pid")"
wait "$VALGRIND" || true
echo "== valgrind ($DIR/valgrind.log)"
grep -E "definitely lost|indirectly lost|possibly lost|still reachable|suppressed|ERROR SUMMARY" \
    "$DIR/valgrind.log" | sed 's/^==[0-9]*== *//'
if grep -E "definitely lost: [1-9]" "$DIR/valgrind.log" >/dev/null ||
    grep -E "ERROR SUMMARY: [1-9]" "$DIR/valgrind.log" >/dev/null; then
    echo "valgrind-live: FAIL, see $DIR/valgrind.log" >&2
    exit 1
fi
[ -n "$STUFLZ_KEEP" ] || rm -rf "$DIR"
echo "valgrind-live: no definite leaks, no memory errors"
