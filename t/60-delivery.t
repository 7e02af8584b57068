# 60-delivery.t - the outbox delivery through a real httpd under prefork,
# worker and event, to a local receiver (StufLZ::Receiver): answers arrive
# in order, a receiver that was down still gets them, an ebMS answer
# expires, a 400 and an ErrorList are failures, and a kill -9 of every
# child while messages flow loses nothing.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

use StufLZ::Ebms;
use StufLZ::Httpd;
use StufLZ::Receiver;

my $root = $StufLZ::Httpd::ROOT;
my $example = StufLZ::Httpd::slurp("$FindBin::Bin/data/zakLk01-voorbeeld.xml");
my $n = 0;

# The example with a referentienummer of its own.
sub kennisgeving {
    my ($ref) = @_;
    my $body = $example;
    $body =~ s{(<StUF:referentienummer>)[^<]*}{$1$ref};
    return $body;
}

# The example CPA with the gemeente's endpoint at the receiver and fast
# retries: RetryInterval PT1S, Retries 3, PersistDuration PT5S (so an
# answer expires after 5 s).
sub cpa_copy {
    my ($dir, $url) = @_;
    my $cpa = StufLZ::Httpd::slurp("$root/conf/lz-example-cpa.xml");
    $cpa =~ s{https://zaaksysteem\.example/ebms}{$url}g;
    $cpa =~ s{<cppa:RetryInterval>[^<]*}{<cppa:RetryInterval>PT1S}g;
    $cpa =~ s{<cppa:Retries>[^<]*}{<cppa:Retries>3}g;
    $cpa =~ s{<cppa:PersistDuration>[^<]*}{<cppa:PersistDuration>PT5S}g;
    open my $fh, '>', "$dir/cpa.xml" or die $!;
    print $fh $cpa;
    close $fh;
    return "$dir/cpa.xml";
}

sub outbox {
    my ($server) = @_;
    my ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                                  '--outbox');
    return $rc == 0 ? decode_json($out) : [];
}

sub entry_for {
    my ($server, $kind, $ref) = @_;
    my ($entry) = grep { $_->{kind} eq $kind && $_->{reference} =~ /\Q$ref\E/ }
        @{ outbox($server) };
    return $entry;
}

sub wait_until {
    my ($seconds, $check) = @_;
    my $until = time + $seconds;
    while (time < $until) {
        return 1 if $check->();
        sleep 0.1;
    }
    return 0;
}

sub refs_of {
    my ($receiver, $kind) = @_;
    return map { $_->{ref} } grep { $_->{kind} eq $kind } $receiver->requests;
}

for my $mpm (@StufLZ::Httpd::MPMS) {
    subtest "mpm $mpm" => sub {
        my $receiver = StufLZ::Receiver->new(
            port => StufLZ::Httpd::free_port());
        $receiver->start;
        my $tmp = File::Temp::tempdir('stuflz-cpa-XXXXXX', TMPDIR => 1,
                                      CLEANUP => 1);
        chmod 0755, $tmp;
        my $reply = $receiver->url('/stuf');
        my $server = StufLZ::Httpd->new(
            mpm => $mpm, cpa => cpa_copy($tmp, $receiver->url('/ebms')),
            conf => <<"CONF");
StufLZPartner 00000001234567890363 0363 reply=$reply
StufLZRetries 30
StufLZRetryInterval 1
StufLZDeliveryInterval 200ms
StufLZDeliveryTimeout 5
CONF
        ok($server->start, 'httpd starts') or diag($server->{start_error}),
            return;
        my $tag = "$mpm-$$";

        # 1. In order, with the StUF SOAPAction of the answer.
        my @refs = map { "order-$tag-$_" } 1 .. 5;
        is($server->post_zaklk01(kennisgeving($_))->{status}, 200,
           "$_ accepted") for @refs;
        ok($receiver->wait_for(15, sub {
            (grep { $_->{kind} eq 'Bv01' } @_) >= 5 }), 'five Bv01 arrive');
        is_deeply([refs_of($receiver, 'Bv01')], \@refs,
                  'in the order of the kennisgevingen');
        my ($first) = $receiver->requests;
        is($first->{action}, '"http://www.egem.nl/StUF/StUF0301/Bv01"',
           'SOAPAction names Bv01');
        is($first->{path}, '/stuf', 'sent to the partner reply URL');
        ok(wait_until(5, sub {
            (entry_for($server, 'Bv01', '') || {})->{state} eq 'delivered'
        }), 'the outbox says delivered');

        # 2. Receiver down for a while, then up: delivered.
        $receiver->stop;
        my @down = map { "down-$tag-$_" } 1 .. 3;
        is($server->post_zaklk01(kennisgeving($_))->{status}, 200,
           "$_ accepted while the receiver is down") for @down;
        sleep 2.5;
        my $waiting = grep { $_->{state} eq 'retrying' } @{ outbox($server) };
        ok($waiting >= 1, 'the first waits as retrying')
            or diag(explain(outbox($server)));
        $receiver->start;
        ok($receiver->wait_for(20, sub {
            grep({ $_->{ref} =~ /^down-/ } @_) >= 3 }),
           'all three arrive once it is up');
        is_deeply([grep { /^down-/ } refs_of($receiver, 'Bv01')], \@down,
                  'still in order');
        ok(wait_until(5, sub {
            my $entry = (grep { $_->{state} eq 'delivered' }
                         @{ outbox($server) })[-1];
            $entry && $entry->{attempts} >= 1 }), 'recorded delivered');

        # 3. A 400 is a failure an operator sees.
        $receiver->mode('400');
        $server->post_zaklk01(kennisgeving("bad-$tag"));
        ok(wait_until(10, sub {
            grep { $_->{state} eq 'failed' && ($_->{lastError} // '')
                   =~ /HTTP 400/ } @{ outbox($server) } }),
           '400: failed, with the status as last error');
        like($server->log_text, qr/outbox Bv01 \S+ .* failed, HTTP 400/,
             'and logged');

        # 4. An ebMS ErrorList in a 200 is a failure too.
        $receiver->mode('errorlist');
        $server->post_zaklk01(kennisgeving("errorlist-$tag"));
        ok(wait_until(10, sub {
            grep { $_->{state} eq 'failed' && ($_->{lastError} // '')
                   =~ /ErrorList/ } @{ outbox($server) } }),
           'ErrorList in a 200: failed');
        $receiver->mode('ok');

        # 5. ebMS: the Bv01 goes to the CPA endpoint as a user message;
        # with the receiver down it expires after PersistDuration.
        my $payload = StufLZ::Ebms::bare(kennisgeving("ebms-$tag"));
        my ($type, $body) = StufLZ::Ebms::message(payload => $payload);
        is($server->post_ebms($type, $body)->{status}, 200, 'ebMS: Ack');
        ok($receiver->wait_for(10, sub {
            grep { $_->{path} eq '/ebms' } @_ }), 'ebMS Bv01 arrives');
        my ($ebms) = grep { $_->{path} eq '/ebms' } $receiver->requests;
        is($ebms->{action}, '"ebXML"', 'SOAPAction "ebXML"');
        is($ebms->{type}, 'multipart/related', 'as multipart/related');

        $receiver->stop;
        $payload = StufLZ::Ebms::bare(kennisgeving("expire-$tag"));
        ($type, $body) = StufLZ::Ebms::message(payload => $payload);
        is($server->post_ebms($type, $body)->{status}, 200,
           'ebMS while the receiver is down: Ack');
        ok(wait_until(15, sub {
            grep { $_->{state} eq 'expired' } @{ outbox($server) } }),
           'the answer expires');
        like($server->log_text, qr/outbox Bv01 \S+ .*: expired/,
             'the expiry is logged');
        $receiver->start;

        # 6. kill -9 of every child while messages flow, then a restart:
        # every acknowledged kennisgeving's Bv01 arrives. A duplicate can
        # occur (a Bv01 sent, the child killed before it recorded
        # "delivered": sent again after the lease); that is safe because
        # the answer is the same message with the same referentienummer
        # (ebMS: the same MessageId, which the receiver eliminates).
        my $pid = fork;
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my @ok;
            for my $i (1 .. 40) {
                my $ref = "crash-$tag-$i";
                my $r = $server->post_zaklk01(kennisgeving($ref));
                push @ok, $ref if $r->{status} == 200;
                sleep 0.02;
            }
            open my $fh, '>', "$tmp/acked" or die $!;
            print $fh map { "$_\n" } @ok;
            close $fh;
            POSIX::_exit(0);
        }
        for (1 .. 3) {
            sleep 0.3;
            my $parent = $server->pid;
            my @children = map { /^\s*(\d+)\s+(\d+)/ && $2 == $parent ? $1 : () }
                `ps -e -o pid= -o ppid=`;
            kill 'KILL', @children if @children;
        }
        waitpid $pid, 0;
        $server->stop;
        ok($server->start, 'httpd starts again');
        open my $fh, '<', "$tmp/acked" or die $!;
        my @acked = map { chomp; $_ } <$fh>;
        close $fh;
        ok(@acked > 0, scalar(@acked) . ' kennisgevingen acknowledged');
        my %want = map { $_ => 1 } @acked;
        # An entry a killed child was sending waits for its lease to end:
        # the round's budget (5 s) + StufLZDeliveryTimeout + 10 s.
        ok($receiver->wait_for(60, sub {
            my %got = map { $_->{ref} => 1 } grep { $_->{kind} eq 'Bv01' } @_;
            !grep { !$got{$_} } keys %want }),
           'every acknowledged kennisgeving has its Bv01 at the receiver')
            or diag('missing: ', join ' ', grep {
                my $ref = $_;
                !grep { $_ eq $ref } refs_of($receiver, 'Bv01') } @acked);

        $server->stop;
        is(join("\n", $server->error_lines), '', 'no [stuflz:error] lines');
        $receiver->stop;
    };
}

done_testing;
