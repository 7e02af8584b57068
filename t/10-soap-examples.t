# 10-soap-examples.t - real and example kennisgevingen through a real httpd
# under prefork, worker and event: answers, what the store holds, and what
# waits in the outbox.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;

use StufLZ::Httpd;

my $example = StufLZ::Httpd::slurp("$FindBin::Bin/data/zakLk01-voorbeeld.xml");
my $lz_dir = StufLZ::Httpd::shared('data/examples/lz');
my @lz_files = $lz_dir ? sort glob("$lz_dir/*.xml") : ();

sub json_of {
    my ($server, @args) = @_;
    my ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                                  @args);
    return $rc == 0 ? decode_json($out) : undef;
}

for my $mpm (@StufLZ::Httpd::MPMS) {
    subtest "mpm $mpm" => sub {
        my $server = StufLZ::Httpd->new(mpm => $mpm, conf => <<'CONF');
StufLZPartner 00000001823288444000 1900
StufLZOptional einddatumGepland heeft.toelichting heeft.extraElementen.verwijzing
CONF
        ok($server->start, 'httpd starts') or diag($server->{start_error}),
            return;

        my $first = $server->post_zaklk01($example);
        is($first->{status}, 200, 'example kennisgeving: HTTP 200');
        like($first->{content}, qr{<StUF:Bv03Bericht}, 'answered with Bv03');
        like($first->{content},
             qr{<StUF:crossRefnummer>vb-2024-0001-status-2<},
             'Bv03 refers to the kennisgeving');
        is($first->{headers}{'content-type'}, 'text/xml; charset=utf-8',
           'answer is text/xml');

        my $again = $server->post_zaklk01($example);
        is($again->{status}, 200, 'identical resend: HTTP 200');
        is($again->{content}, $first->{content},
           'identical resend gets the very same Bv03');

        my $zaak = json_of($server, '--zaak', '0363VB20240001');
        is($zaak->{statuses} && scalar @{ $zaak->{statuses} }, 1,
           'one status stored');
        is($zaak->{status}, 'In behandeling', 'current status');
        my $postbus = json_of($server, '--bsn', '999993653');
        is($postbus && scalar @{ $postbus->{zaken} }, 1,
           'the zaak is in the postbus of the initiator');

        SKIP: {
            skip 'no ../shared/data/examples/lz', 9 unless @lz_files == 8;
            my $answers = 0;
            for my $file (@lz_files) {
                my $body = StufLZ::Httpd::soap_wrap(
                    StufLZ::Httpd::slurp($file));
                my $r = $server->post_zaklk01($body);
                $answers++ if $r->{status} == 200
                    && $r->{content} =~ /Bv03Bericht/;
            }
            is($answers, 8, 'all 8 LZ examples get a Bv03');

            my $lz = json_of($server, '--zaak', '190010457');
            ok($lz, 'zaak 190010457 created');
            is(scalar @{ $lz->{statuses} }, 1,
               'the 8 sends of one status store one status');
            ok($lz->{closed}, 'einddatum closed the zaak');

            my $outbox = json_of($server, '--outbox');
            my @mine = grep { $_->{partner} eq '00000001823288444000' }
                @$outbox;
            is(scalar(grep { $_->{kind} eq 'Bv01' } @mine), 6,
               'six Bv01 queued');
            is(scalar(grep { $_->{kind} eq 'Fo01' } @mine), 2,
               'two Fo01 queued (no statustype omschrijving)');
            is(scalar(grep { $_->{state} eq 'held' } @mine), 8,
               'all eight are held (the partner has no reply URL)');

            my $stats = json_of($server, '--stats');
            is($stats->{zaken}, 2, 'two zaken in the store');
            is($stats->{statuses}, 2, 'two statuses in the store');
        }

        $server->stop;
        is(join("\n", $server->error_lines), '', 'no [stuflz:error] lines');
        unlike($server->log_text, qr/999993653|900198424/,
               'no BSN in the error log');
    };
}

done_testing;
