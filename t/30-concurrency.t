# 30-concurrency.t - several clients at once against a real httpd under
# prefork, worker and event: every message stored exactly once, the same
# message sent in parallel applied once and answered alike, and a graceful
# restart in the middle loses nothing.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX qw(_exit);
use Test::More;

use StufLZ::Httpd;

my $example = StufLZ::Httpd::slurp("$FindBin::Bin/data/zakLk01-voorbeeld.xml");
my $clients = 4;
my $per_client = 25;

# Message $n of client $c: its own referentienummer, one of five zaken,
# its own status time.
sub message {
    my ($c, $n) = @_;
    my $body = $example;
    my $zaak = sprintf('0363PAR%04d', $n % 5);
    my $minute = sprintf('%02d', $n % 60);
    my $hour = sprintf('%02d', $c);
    $body =~ s{(<StUF:referentienummer>)[^<]*}{${1}par-$c-$n};
    $body =~ s{>0363VB20240001<}{>$zaak<};
    $body =~ s{(<ZKN:datumStatusGezet>)\d+}{${1}20241105$hour$minute};
    return $body;
}

sub stats {
    my ($server) = @_;
    my ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                                  '--stats');
    return decode_json($out);
}

for my $mpm (@StufLZ::Httpd::MPMS) {
    subtest "mpm $mpm" => sub {
        my $server = StufLZ::Httpd->new(mpm => $mpm);
        ok($server->start, 'httpd starts') or diag($server->{start_error}),
            return;

        my @pids;
        for my $c (1 .. $clients) {
            my $pid = fork;
            die "fork: $!" unless defined $pid;
            if ($pid == 0) {
                my $failed = 0;
                for my $n (1 .. $per_client) {
                    my $r = $server->post_zaklk01(message($c, $n));
                    $failed++ unless $r->{status} == 200
                        && $r->{content} =~ /Bv03Bericht/;
                }
                _exit($failed ? 1 : 0);
            }
            push @pids, $pid;
        }
        # A graceful restart while the clients post.
        select(undef, undef, undef, 0.2);
        system($StufLZ::Httpd::HTTPD, '-f', $server->dir . '/httpd.conf',
               '-k', 'graceful');
        my $failed_clients = 0;
        for my $pid (@pids) {
            waitpid($pid, 0);
            $failed_clients++ if $?;
        }
        is($failed_clients, 0, 'every post got a Bv03');

        my $stats = stats($server);
        my $total = $clients * $per_client;
        is($stats->{stufrefs}, $total, "$total messages recorded once each");
        is($stats->{zaken}, 5, 'five zaken');
        is($stats->{statuses}, $total, 'one status per message');
        is($stats->{outboxEntries}, $total, 'one Bv01 queued per message');

        # The same message from several clients at the same moment.
        my $same = message(9, 999);
        my @answers;
        my @readers;
        for (1 .. $clients) {
            pipe(my $read, my $write) or die "pipe: $!";
            my $pid = fork;
            if ($pid == 0) {
                close $read;
                my $r = $server->post_zaklk01($same);
                print $write "$r->{status}\n$r->{content}";
                close $write;
                _exit(0);
            }
            close $write;
            push @readers, [$pid, $read];
        }
        for my $reader (@readers) {
            local $/;
            my $fh = $reader->[1];
            push @answers, scalar <$fh>;
            waitpid($reader->[0], 0);
        }
        is(scalar(grep { /^200\n.*Bv03Bericht/s } @answers), $clients,
           'parallel identical sends all get a Bv03');
        my %distinct = map { $_ => 1 } @answers;
        is(scalar keys %distinct, 1, 'and all get the very same Bv03');
        is(stats($server)->{stufrefs}, $total + 1,
           'the parallel identical sends were stored once');

        $server->stop;
        is(join("\n", $server->error_lines), '', 'no [stuflz:error] lines');
        unlike($server->log_text, qr/exit signal|Segmentation/,
               'no child crashed');
    };
}

done_testing;
