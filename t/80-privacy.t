# 80-privacy.t - no BSN anywhere it does not belong. Every fixture (our
# example, the hostile corpus, the LZ examples of ../shared when present)
# goes through both bindings at LogLevel stuflz:trace8; then no BSN of the
# fixtures may appear in the error log, in any HTTP answer, in any outbox
# payload or other store record (status, stufref, ebms, meta), or in the
# metrics, while it does appear in the stored zaak and the postbus, where
# it belongs. Log lines must name messages by referentienummer, MessageId
# and zaakidentificatie instead.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;

use StufLZ::Ebms;
use StufLZ::Httpd;
use StufLZ::Hostile;

my $DATA = "$FindBin::Bin/data";
my $lz_dir = StufLZ::Httpd::shared('data/examples/lz');

# Fixtures: [name, bytes, how]; how is 'bare' (a zakLk01 element),
# 'soap' (a SOAP envelope) or a hostile case.
my @fixtures;
for my $file (sort glob "$DATA/*.xml") {
    push @fixtures, { name => $file, bytes => scalar StufLZ::Httpd::slurp($file),
                      kind => 'soap' };
}
for my $case (StufLZ::Hostile::cases("$DATA/hostile")) {
    push @fixtures, { name => $case->{name},
                      bytes => scalar StufLZ::Httpd::slurp($case->{path}),
                      kind => 'case', case => $case };
}
my @lz_files = $lz_dir ? sort glob("$lz_dir/*.xml") : ();
for my $file (@lz_files) {
    push @fixtures, { name => $file, bytes => scalar StufLZ::Httpd::slurp($file),
                      kind => 'bare' };
}

# Every 9-digit inp.bsn value of every fixture.
my %bsn;
for my $f (@fixtures) {
    while ($f->{bytes} =~ m{inp\.bsn\b[^>]*>\s*(\d{9})\s*<}g) {
        $bsn{$1} = 1;
    }
}
my @bsns = sort keys %bsn;
my $bsn_re = join '|', map { quotemeta } @bsns;
$bsn_re = qr/(?<![0-9])(?:$bsn_re)(?![0-9])/;

sub leaks {
    my ($text) = @_;
    my %found;
    $found{$1} = 1 while defined $text && $text =~ /($bsn_re)/g;
    return join ' ', sort keys %found;
}

my $n = 0;

# A zakLk01 (bare or in a SOAP envelope) as an ebMS message on our CPA.
sub as_ebms {
    my ($bytes) = @_;
    $n++;
    return StufLZ::Ebms::message(
        message_id => "privacy-$$-$n\@gemeente.example",
        conversation_id => "privacy-$$-$n\@gemeente.example",
        payload => $bytes);
}

sub dump_db {
    my ($server, $db) = @_;
    my $store = $server->store;
    return scalar `/usr/bin/mdb_dump -p -s $db '$store' 2>/dev/null`;
}

for my $mpm (@StufLZ::Httpd::MPMS) {
    subtest "mpm $mpm" => sub {
        my $server = StufLZ::Httpd->new(mpm => $mpm, conf => <<'CONF');
LogLevel warn stuflz:trace8
StufLZMaxMessageSize 1M
StufLZPartner 00000001823288444000 1900
CONF
        ok($server->start, 'httpd starts') or diag($server->{start_error}),
            return;
        cmp_ok(scalar @bsns, '>=', 5, 'BSNs found in the fixtures: '
               . scalar @bsns);
        my $listener = StufLZ::Hostile::listener();
        my $where = '127.0.0.1:' . $listener->sockport;

        my %answer_leaks;
        my $answers = 0;
        my $note = sub {
            my ($name, $r) = @_;
            $answers++;
            my $l = leaks($r->{content});
            $answer_leaks{$name} = $l if $l;
        };
        my ($ebms_id, $ebms_ref);
        for my $f (@fixtures) {
            my $bytes = StufLZ::Hostile::fill($f->{bytes}, $where);
            if ($f->{kind} eq 'case') {
                $note->("$f->{name} (own binding)",
                        StufLZ::Hostile::send_case($server, $f->{case},
                                                   $where));
                next if $f->{case}{binding} eq 'ebms';
            }
            else {
                my $soap = $f->{kind} eq 'bare'
                    ? StufLZ::Httpd::soap_wrap($bytes) : $bytes;
                $note->("$f->{name} (SOAP)", $server->post_zaklk01($soap));
            }
            my ($type, $body, $opts) = as_ebms($bytes);
            my $r = $server->post_ebms($type, $body);
            $note->("$f->{name} (ebMS)", $r);
            ($ebms_id, $ebms_ref) = ($opts->{message_id}, $1)
                if $f->{name} =~ /zakLk01-voorbeeld/
                && $bytes =~ m{<StUF:referentienummer>([^<]+)<};
        }
        cmp_ok($answers, '>=', 2 * @fixtures - 60, "answers checked: $answers");
        is(join("\n", map { "$_: $answer_leaks{$_}" } sort keys %answer_leaks),
           '', 'no BSN in any HTTP answer');

        my $store = 'lmdb:' . $server->store;
        my ($rc, $stats) = $server->cli('show', '--store', $store, '--stats');
        is($rc, 0, 'stuflz show --stats works');
        is(leaks($stats), '', 'no BSN in the metrics (show --stats)');
        my $outbox_json;
        ($rc, $outbox_json) = $server->cli('show', '--store', $store,
                                           '--outbox');
        is(leaks($outbox_json), '', 'no BSN in the outbox listing');

        # The place where a BSN belongs: the zaak and the postbus.
        my $zaak;
        ($rc, $zaak) = $server->cli('show', '--store', $store, '--zaak',
                                    '0363VB20240001');
        is($rc, 0, 'the example zaak is stored');
        is(leaks($zaak), '999993653', 'its BSN is in the stored zaak');
        my $postbus;
        ($rc, $postbus) = $server->cli('show', '--store', $store, '--bsn',
                                       '999993653');
        like($postbus, qr/0363VB20240001/, 'and in the postbus index');

        SKIP: {
            skip 'mdb_dump (lmdb-utils) not installed', 4
                unless StufLZ::Hostile::have_mdb_dump();
            my @payloads = StufLZ::Hostile::outbox_records($server->store);
            cmp_ok(scalar @payloads, '>', 50, 'outbox payloads read: '
                   . scalar @payloads);
            my @fo = grep { /<StUF:berichtcode>Fo0[13]</ } @payloads;
            cmp_ok(scalar @fo, '>', 20, 'among them Fo01/Fo03 with details: '
                   . scalar @fo);
            is(join(' ', grep { $_ } map { leaks($_) } @payloads), '',
               'no BSN in any outbox payload (Fo01/Fo03 details included)');
            is(join(' ', map { my $l = leaks(dump_db($server, $_));
                               $l ? "$_: $l" : () }
                    qw(status stufref ebms meta)), '',
               'no BSN in status, stufref, ebms or meta records');
            like(dump_db($server, 'zaak'), qr/999993653/,
                 'the same search finds the BSN in the zaak records');
        }

        $server->stop;
        my $log = $server->log_text;
        like($log, qr/\[stuflz:trace[1-8]\]|\[stuflz:debug\]/,
             'the log was written at debug/trace level');
        is(leaks($log), '', 'no BSN in the error log')
            or diag(join "\n", grep { /$bsn_re/ } split /\n/, $log);
        like($log, qr/referentienummer=vb-2024-0001-status-2 zaak=0363VB20240001/,
             'SOAP log lines name referentienummer and zaakidentificatie');
        like($log, qr/MessageId=\Q$ebms_id\E referentienummer=\Q$ebms_ref\E zaak=0363VB20240001/,
             'ebMS log lines name MessageId, referentienummer and zaak')
            if $ebms_id;
        my @unnamed = grep { /\[stuflz:(debug|warn)\]/
                             && !/referentienummer=|MessageId=
                                  |message\ refused|SOAP\ Fault|larger\ than/x }
            split /\n/, $log;
        is(scalar @unnamed, 0, 'every debug/warn line about a message names it')
            or diag(join "\n", @unnamed[0 .. ($#unnamed < 9 ? $#unnamed : 9)]);
        unlike($log, qr/exit signal|Segmentation/, 'no child crashed');
    };
}

done_testing;
