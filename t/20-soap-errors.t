# 20-soap-errors.t - every way a request can be wrong, through a real httpd
# under prefork, worker and event: the right HTTP status and StUF/SOAP
# answer, nothing changed in the store, and the child survives.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;

use StufLZ::Httpd;

my $example = StufLZ::Httpd::slurp("$FindBin::Bin/data/zakLk01-voorbeeld.xml");
my $action = $StufLZ::Httpd::ZAKLK01_ACTION;

# The example with one substitution; a new referentienummer unless asked.
sub variant {
    my ($from, $to, $ref) = @_;
    my $body = $example;
    $body =~ s/\Q$from\E/$to/ or die "example lacks $from";
    $ref //= 'var-' . int(rand(1e9));
    $body =~ s{(<StUF:referentienummer>)[^<]*}{$1$ref};
    return $body;
}

sub counts {
    my ($server) = @_;
    my ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                                  '--stats');
    my $stats = decode_json($out);
    return join ',', map { "$_=$stats->{$_}" }
        qw(zaken statuses postbusEntries stufrefs outboxEntries);
}

sub fo03_code {
    my ($response) = @_;
    return $response->{content} =~ m{<StUF:Fo03Bericht.*<StUF:code>([^<]+)<}s
        ? $1 : '';
}

sub run_checks {
    my ($server) = @_;

    # Receipt errors: HTTP 500, SOAP Fault with Fo03, nothing stored.
    my $before = counts($server);
    my @receipt = (
        ['StUF010', 'other ontvanger', variant(
            '<StUF:organisatie>00000004003214345001',
            '<StUF:organisatie>00000004003214345002')],
        ['StUF010', 'other ontvanger applicatie', variant(
            '<StUF:applicatie>MijnOverheid<', '<StUF:applicatie>Anders<')],
        ['StUF013', 'unregistered zender', variant(
            '<StUF:organisatie>00000001234567890363',
            '<StUF:organisatie>00000001234567890999')],
        ['StUF022', 'unknown berichtcode', variant('>Lk01<', '>Zz42<')],
        ['StUF025', 'berichtcode not supported', variant('>Lk01<', '>Lv01<')],
        ['StUF028', 'unknown entiteittype', variant(
            '<StUF:entiteittype>ZAK<', '<StUF:entiteittype>QQQ<')],
        ['StUF031', 'entiteittype not supported', variant(
            '<StUF:entiteittype>ZAK<', '<StUF:entiteittype>BSL<')],
    );
    for my $case (@receipt) {
        my ($code, $name, $body) = @$case;
        my $r = $server->post_zaklk01($body);
        is($r->{status}, 500, "$name: HTTP 500");
        is(fo03_code($r), $code, "$name: Fault carries Fo03 $code");
        like($r->{content}, qr{<faultcode>soap:(Client|Server)</faultcode>},
             "$name: faultcode");
    }
    is(counts($server), $before, 'receipt errors changed nothing');

    # Not XML, not SOAP, attacks: SOAP Fault Client, HTTP 500.
    my @faults = (
        ['not well-formed', '<soap:Envelope><a></b>', qr/well-formed/],
        ['empty body', '', qr/leeg/],
        ['not SOAP', '<zakLk01/>', qr/Envelope/],
        ['SOAP 1.2 envelope',
         '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope">'
         . '<e:Body/></e:Envelope>', qr/SOAP 1.1/],
        ['DOCTYPE with entities',
         '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]>'
         . '<a>&b;</a>', qr/DOCTYPE/],
        ['external entity',
         '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM '
         . '"file:///etc/passwd">]><a>&x;</a>', qr/DOCTYPE/],
        ['billion laughs',
         '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa">'
         . join('', map { my $p = $_ - 1; my $prev = $p ? "a$p" : 'a';
                          qq{<!ENTITY a$_ "} . ("&$prev;" x 10) . '">' }
                1 .. 9)
         . ']><l>&a9;</l>', qr/DOCTYPE/],
        ['no stuurgegevens',
         '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
         . 'envelope/"><soap:Body><x:zakLk01 xmlns:x="urn:x"/></soap:Body>'
         . '</soap:Envelope>', qr/stuurgegevens/],
    );
    for my $case (@faults) {
        my ($name, $body, $why) = @$case;
        my $r = $server->post_zaklk01($body);
        is($r->{status}, 500, "$name: HTTP 500");
        like($r->{content}, qr{<faultcode>soap:Client</faultcode>},
             "$name: Fault Client");
        like($r->{content}, $why, "$name: faultstring says why");
        unlike($r->{content}, qr/root:|passwd/, "$name: nothing leaked");
    }

    # Protocol: method, media type, SOAPAction.
    my $http = HTTP::Tiny->new(timeout => 10);
    my $get = $http->get($server->url('/lz/stuf'));
    is($get->{status}, 405, 'GET: 405');
    like($get->{headers}{allow} // '', qr/POST/, 'GET: Allow names POST');
    my $json = $server->post('/lz/stuf', $example, SOAPAction => $action,
                             'Content-Type' => 'application/json');
    is($json->{status}, 415, 'other media type: 415');
    my $unquoted = $server->post('/lz/stuf',
        variant('vb-2024', 'vb-2024'), SOAPAction => $action);
    is($unquoted->{status}, 200, 'SOAPAction without quotes accepted');
    for my $wrong ('', '"http://www.egem.nl/StUF/sector/zkn/0310/zakLk02"',
                   '"' . $action . 'x"') {
        my $r = $server->post('/lz/stuf', $example,
                              length $wrong ? (SOAPAction => $wrong) : ());
        is($r->{status}, 500, "SOAPAction '$wrong': HTTP 500");
        like($r->{content}, qr/SOAPAction/, "SOAPAction '$wrong': says so");
    }

    # Size limit (64K here), with Content-Length and chunked.
    my $big = $example;
    $big =~ s{</soap:Envelope>}{'<!--' . ('x' x 70000) . '--></soap:Envelope>'}e;
    my $too_big = $server->post_zaklk01($big);
    is($too_big->{status}, 413, 'oversize with Content-Length: 413');
    my @pieces = unpack('(a4096)*', $big);
    my $chunked_big = $http->request('POST', $server->url('/lz/stuf'), {
        headers => { 'Content-Type' => 'text/xml', SOAPAction => $action },
        content => sub { shift @pieces } });
    is($chunked_big->{status}, 413, 'oversize chunked: 413');

    # Chunked bodies are read whole.
    my $chunked_body = variant('vb-2024', 'vb-2024');
    my @chunks = unpack('(a100)*', $chunked_body);
    my $chunked = $http->request('POST', $server->url('/lz/stuf'), {
        headers => { 'Content-Type' => 'text/xml', SOAPAction => $action },
        content => sub { shift @chunks } });
    is($chunked->{status}, 200, 'chunked body: HTTP 200');
    like($chunked->{content}, qr/Bv03Bericht/, 'chunked body: Bv03');

    # Same referentienummer, other content: StUF016; nothing changed.
    my $original = variant('vb-2024', 'vb-2024', 'hergebruikt-1');
    is($server->post_zaklk01($original)->{status}, 200, 'first use of a ref');
    $before = counts($server);
    my $reuse = variant('>In behandeling<', '>Besluit genomen<',
                         'hergebruikt-1');
    my $conflict = $server->post_zaklk01($reuse);
    is($conflict->{status}, 500, 'reused referentienummer: HTTP 500');
    is(fo03_code($conflict), 'StUF016', 'reused referentienummer: StUF016');
    is(counts($server), $before, 'StUF016 changed nothing');

    # Content errors: Bv03 now, Fo01 queued, no zaak change.
    my $bad_bsn = variant('999993653', '999993654');
    my $fo01 = $server->post_zaklk01($bad_bsn);
    is($fo01->{status}, 200, 'content error: HTTP 200');
    like($fo01->{content}, qr/Bv03Bericht/, 'content error: Bv03 now');
    my $other_gemeente = variant('<ZKN:identificatie>0363',
                                 '<ZKN:identificatie>0599');
    is($server->post_zaklk01($other_gemeente)->{status}, 200,
       'zaak of another gemeente: Bv03 now');
    my ($rc, $out) = $server->cli('show', '--store',
                                  'lmdb:' . $server->store, '--outbox');
    my @fo01 = grep { $_->{kind} eq 'Fo01' } @{ decode_json($out) };
    is(scalar @fo01, 2, 'two Fo01 queued');
    ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                               '--zaak', '0599VB20240001');
    isnt($rc, 0, 'the zaak of another gemeente was not stored');
    ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                               '--bsn', '999993654');
    unlike($out, qr/0363VB/, 'the invalid BSN got no postbus');

    # The child is still there and serving.
    my $alive = $server->post_zaklk01(variant('vb-2024', 'vb-2024'));
    is($alive->{status}, 200, 'server still serves after all of this');
}

for my $mpm (@StufLZ::Httpd::MPMS) {
    subtest "mpm $mpm" => sub {
        my $server = StufLZ::Httpd->new(mpm => $mpm,
                                        conf => "StufLZMaxMessageSize 64K\n");
        ok($server->start, 'httpd starts') or diag($server->{start_error}),
            return;
        run_checks($server);
        $server->stop;
        my $log = $server->log_text;
        is(join("\n", $server->error_lines), '', 'no [stuflz:error] lines');
        unlike($log, qr/99999365[34]/, 'no BSN in the error log');
        unlike($log, qr/exit signal|Segmentation/, 'no child crashed');
    };
}

done_testing;
