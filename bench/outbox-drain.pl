#!/usr/bin/perl
# outbox-drain.pl - how fast the outbox drains to a local receiver.
# Fills the outbox with N Bv01 (posted while the receiver is down), then
# starts the receiver and measures the time until all are delivered; then
# measures delivery while inbound load runs (posting and delivering at
# once). Usage: perl bench/outbox-drain.pl [N] [MPM]
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";
use JSON::PP;
use Time::HiRes qw(sleep time);

use StufLZ::Httpd;
use StufLZ::Receiver;

my $total = shift // 10000;
my $mpm = shift // 'event';
my $workers = 8;
my $example = StufLZ::Httpd::slurp("$FindBin::Bin/../t/data/zakLk01-voorbeeld.xml");

my $receiver = StufLZ::Receiver->new(port => StufLZ::Httpd::free_port());
my $reply = $receiver->url('/stuf');
my $server = StufLZ::Httpd->new(mpm => $mpm, conf => <<"CONF");
StufLZPartner 00000001234567890363 0363 reply=$reply
StufLZRetryInterval 1
StufLZRetries 1000
LogLevel warn stuflz:warn
CONF
$server->start or die $server->{start_error};

# Bv01 the receiver answered with 200 (a duplicate would count twice).
sub delivered {
    return scalar grep { $_->{status} == 200 } $receiver->requests;
}

sub stats {
    for (1 .. 20) {
        my ($rc, $out) = $server->cli('show', '--store',
                                      'lmdb:' . $server->store, '--stats');
        return decode_json($out) if $rc == 0;
        warn "stuflz show --stats: $out";
        sleep 0.1;
    }
    die "stuflz show --stats keeps failing\n";
}

sub post_many {
    my ($prefix, $count) = @_;
    my @pids;
    for my $w (1 .. $workers) {
        my $pid = fork // die;
        if ($pid == 0) {
            for (my $i = $w; $i <= $count; $i += $workers) {
                my $body = $example;
                $body =~ s{(<StUF:referentienummer>)[^<]*}{$1$prefix-$i};
                $server->post_zaklk01($body);
            }
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
}

my $t0 = time;
post_many("fill-$$", $total);
my $fill = time - $t0;
printf "filled %d entries in %.1f s (%.0f msg/s inbound, receiver down)\n",
    $total, $fill, $total / $fill;

$receiver->start;
$t0 = time;
while (delivered() < $total) {
    sleep 0.2;
    die "stuck\n" if time - $t0 > 600;
}
my $drain = time - $t0;
printf "drained %d in %.1f s: %.0f entries/s\n", $total, $drain,
    $total / $drain;

# Delivery while inbound load runs.
my $before = delivered();
$t0 = time;
post_many("load-$$", $total / 2);
my $load = time - $t0;
my $during = delivered() - $before;
while (delivered() < $before + $total / 2) {
    sleep 0.1;
}
my $lag = time - $t0 - $load;
printf "under load: %d posted in %.1f s (%.0f msg/s), %d delivered meanwhile,"
    . " the rest %.1f s after the last post\n", $total / 2, $load,
    $total / 2 / $load, $during, $lag;
my $stats = stats();
printf "store: %d queued, %d delivered, %d retried, %d pending\n",
    @$stats{qw(outboxQueued outboxDelivered outboxRetrying outboxPending)};
$server->stop;
$receiver->stop;
