# 40-config.t - what an operator configures: another schema driver, bad
# directives that must stop httpd with a clear message, and a full store
# that refuses cleanly (Fo03 StUF046) without corrupting anything.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;

use StufLZ::Httpd;

my $example = StufLZ::Httpd::slurp("$FindBin::Bin/data/zakLk01-voorbeeld.xml");
my $mpm = $StufLZ::Httpd::MPMS[-1];

subtest 'StufLZSchema selects the official StUF-ZKN driver' => sub {
    my $driver = StufLZ::Httpd::shared(
        'data/stuf-xsd/libxml2/zkn0310_mutatie_driver.xsd');
    plan skip_all => 'no ../shared/data/stuf-xsd' unless $driver;
    my $server = StufLZ::Httpd->new(mpm => $mpm,
                                    conf => "StufLZSchema $driver\n");
    ok($server->start, 'httpd starts with the official driver')
        or diag($server->{start_error}), return;
    like($server->log_text, qr/schema \Q$driver\E/, 'log names the driver');
    my $r = $server->post_zaklk01($example);
    is($r->{status}, 200, 'example accepted');
    my ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                                  '--outbox');
    is(decode_json($out)->[0]{kind}, 'Bv01', 'Bv01 queued');

    my $bad = $example;
    $bad =~ s{<ZKN:startdatum>20241101</ZKN:startdatum>}{};
    $bad =~ s{(<ZKN:einddatumGepland>20241220</ZKN:einddatumGepland>)}
             {$1<ZKN:startdatum>20241101</ZKN:startdatum>};
    $bad =~ s{(<StUF:referentienummer>)[^<]*}{${1}order-1};
    is($server->post_zaklk01($bad)->{status}, 200, 'wrong order: Bv03');
    ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                               '--outbox');
    is(decode_json($out)->[1]{kind}, 'Fo01', 'wrong order: Fo01 queued');
    $server->stop;
};

my @refused = (
    ['a schema that does not exist', 'StufLZSchema /nonexistent/lz.xsd',
     qr/StufLZSchema.*nonexistent/],
    ['a partner OIN of 19 digits', 'StufLZPartner 0000000123456789036 0363',
     qr/not an OIN/],
    ['a gemeentecode of three digits',
     'StufLZPartner 00000001234567890363 363', qr/gemeentecode/],
    ['identificatie made optional', 'StufLZOptional identificatie',
     qr/identificatie/],
    ['an unknown time zone', 'StufLZTimeZone Europe/Atlantis',
     qr/StufLZTimeZone/],
    ['a map size without digits', 'StufLZMapSize lots', qr/StufLZMapSize/],
    ['a store that is not lmdb', 'StufLZStore redis:x', qr/lmdb:/],
    ['a CPA that does not exist', 'StufLZCPA /nonexistent/cpa.xml',
     qr/StufLZCPA.*nonexistent/],
);
for my $case (@refused) {
    my ($name, $directive, $message) = @$case;
    my $server = StufLZ::Httpd->new(mpm => $mpm, conf => "$directive\n");
    ok(!$server->start, "$name: httpd refuses to start");
    like($server->{start_error} // '', $message, "$name: says why");
}

subtest 'a full store refuses with Fo03 StUF046 and stays intact' => sub {
    my $server = StufLZ::Httpd->new(mpm => $mpm,
                                    conf => "StufLZMapSize 256K\n");
    ok($server->start, 'httpd starts') or diag($server->{start_error}),
        return;
    my ($accepted, $full) = (0, 0);
    my $padding = 'x' x 900;
    for my $n (1 .. 300) {
        my $body = $example;
        $body =~ s{(<StUF:referentienummer>)[^<]*}{${1}vol-$n};
        $body =~ s{>0363VB20240001<}{>0363VOL$n<};
        $body =~ s{(<ZKN:toelichting>)Uw aanvraag}{$1$padding};
        my $r = $server->post_zaklk01($body);
        if ($r->{status} == 200) {
            $accepted++;
            next;
        }
        $full++;
        is($r->{status}, 500, 'full store: HTTP 500');
        like($r->{content}, qr{<StUF:code>StUF046</StUF:code>},
             'full store: Fo03 StUF046');
        last;
    }
    is($full, 1, 'the store filled up');
    my ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                                  '--stats');
    is($rc, 0, 'the full store is still readable');
    my $stats = decode_json($out);
    is($stats->{stufrefs}, $accepted, 'every accepted message is stored');
    is($stats->{zaken}, $accepted, 'and nothing of the refused one');
    $server->stop;
    is(join("\n", $server->error_lines) =~ s/.*StUF046.*\n?//gr, '',
       'no [stuflz:error] lines besides the StUF046 refusal');
};

done_testing;
