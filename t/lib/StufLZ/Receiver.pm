# StufLZ::Receiver - a partner's endpoint for the delivery tests: a small
# HTTP server (HTTP::Daemon, in a child process) that records every
# request it gets and answers as told: ok (200), an HTTP status, an ebMS
# ErrorList in a 200, or slowly. It can be stopped ("down") and started
# again on the same port.
package StufLZ::Receiver;

use strict;
use warnings;

use File::Temp qw(tempdir);
use HTTP::Daemon;
use HTTP::Response;
use POSIX qw(_exit);
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(sleep time);

# new(port => N, dir => DIR, quiet => 1)
sub new {
    my ($class, %args) = @_;
    my $self = bless {
        port => $args{port},
        dir => $args{dir} || tempdir('stuflz-receiver-XXXXXX', TMPDIR => 1,
                                     CLEANUP => !$ENV{STUFLZ_KEEP}),
        print => $args{print},
    }, $class;
    $self->mode('ok');
    return $self;
}

sub port { $_[0]{port} }
sub url { "http://127.0.0.1:$_[0]{port}" . ($_[1] // '/') }
sub log_file { "$_[0]{dir}/requests.log" }

# How the next requests are answered: 'ok', a status ('503', '400'),
# 'errorlist', or 'slow:SECONDS'.
sub mode {
    my ($self, $mode) = @_;
    open my $fh, '>', "$self->{dir}/mode.new" or die $!;
    print $fh $mode;
    close $fh;
    rename "$self->{dir}/mode.new", "$self->{dir}/mode" or die $!;
}

sub start {
    my ($self) = @_;
    my $daemon;
    for (1 .. 50) {
        $daemon = HTTP::Daemon->new(
            LocalAddr => '127.0.0.1', LocalPort => $self->{port} || 0,
            ReuseAddr => 1, Listen => 64);
        last if $daemon;
        sleep 0.1;
    }
    die "receiver cannot listen on $self->{port}: $!" unless $daemon;
    $self->{port} = $daemon->sockport;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid) {
        close $daemon;
        $self->{pid} = $pid;
        return $self;
    }
    # A group of its own, so stop takes the connection children too.
    setpgrp(0, 0);
    $self->serve($daemon);
    _exit(0);
}

# Serves in this process until killed (tools/devserver.pl).
sub serve_here {
    my ($self) = @_;
    my $daemon = HTTP::Daemon->new(
        LocalAddr => '127.0.0.1', LocalPort => $self->{port},
        ReuseAddr => 1, Listen => 64)
        or die "receiver cannot listen on $self->{port}: $!";
    $| = 1;
    $self->serve($daemon);
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    # The whole group: a connection child kept alive by the client would
    # go on answering (and hold the port).
    kill 'KILL', -$self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
}

sub DESTROY {
    my ($self) = @_;
    $self->stop if $self->{pid} && $$ != $self->{pid};
}

sub current_mode {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/mode" or return 'ok';
    my $mode = <$fh>;
    return $mode // 'ok';
}

# What a request was: kind and the StUF crossRefnummer (the kennisgeving
# the answer is about) or the ebMS RefToMessageId of a signal.
sub describe {
    my ($body) = @_;
    my $kind = $body =~ /<(?:\w+:)?(Bv01|Fo01|Fo03)Bericht\b/ ? $1
        : $body =~ /<(?:\w+:)?(Acknowledgment|ErrorList)\b/ ? $1
        : '-';
    my ($ref) = $body =~ m{<(?:\w+:)?crossRefnummer>([^<]*)<};
    ($ref) = $body =~ m{<(?:\w+:)?RefToMessageId>([^<]*)<} unless $ref;
    return ($kind, $ref // '-');
}

sub serve {
    my ($self, $daemon) = @_;
    $SIG{CHLD} = 'IGNORE';
    while (my $conn = $daemon->accept) {
        my $pid = fork;
        next if !defined $pid;
        if ($pid) {
            close $conn;
            next;
        }
        # Answers go out in two writes: without TCP_NODELAY the second
        # waits for the client's delayed ACK (40 ms a request).
        setsockopt($conn, IPPROTO_TCP, TCP_NODELAY, 1);
        # The daemon stays open here: HTTP::Daemon asks it for its URL.
        while (my $request = $conn->get_request) {
            $self->answer($conn, $request);
        }
        _exit(0);
    }
}

sub answer {
    my ($self, $conn, $request) = @_;
    my $body = $request->content // '';
    my $mode = $self->current_mode;
    my ($kind, $ref) = describe($body);
    my $action = $request->header('SOAPAction') // '-';
    my $type = $request->header('Content-Type') // '-';
    $type =~ s/;.*//s;

    if ($mode =~ /^slow:([\d.]+)/) {
        sleep $1;
    }
    my $status = $mode =~ /^(\d{3})$/ ? $1 : 200;
    my $line = join("\t", sprintf('%.3f', time), $request->uri->path, $kind,
                    $ref, $action, $type, $status, length $body) . "\n";
    open my $log, '>>', $self->log_file or die $!;
    syswrite $log, $line;
    close $log;
    print STDOUT "receiver: $kind crossRef=$ref $action ($type, "
        . length($body) . " bytes) -> $status\n" if $self->{print};

    # Never empty: HTTP::Daemon closes the connection after an empty body.
    my $content = '<ok/>';
    if ($mode eq 'errorlist') {
        $content = qq{<SOAP:Envelope xmlns:SOAP="http://schemas.xmlsoap.org/soap/envelope/" }
            . qq{xmlns:eb="http://www.oasis-open.org/committees/download.php/272/msg-header-2_0.xsd">}
            . qq{<SOAP:Header><eb:ErrorList eb:highestSeverity="Error" eb:version="2.0" }
            . qq{SOAP:mustUnderstand="1"><eb:Error eb:errorCode="ValueNotRecognized" }
            . qq{eb:severity="Error"/></eb:ErrorList></SOAP:Header>}
            . qq{<SOAP:Body/></SOAP:Envelope>};
    }
    my $response = HTTP::Response->new($status);
    $response->header('Content-Type' => 'text/xml; charset=utf-8');
    $response->content($content);
    $conn->send_response($response);
}

# Every recorded request: hashes with time, path, kind, ref, action, type,
# status, bytes.
sub requests {
    my ($self) = @_;
    open my $fh, '<', $self->log_file or return ();
    my @requests;
    while (my $line = <$fh>) {
        chomp $line;
        my %r;
        @r{qw(time path kind ref action type status bytes)} =
            split /\t/, $line;
        push @requests, \%r;
    }
    return @requests;
}

# Waits until check->(requests) is true or timeout seconds pass.
sub wait_for {
    my ($self, $timeout, $check) = @_;
    my $until = time + $timeout;
    while (time < $until) {
        my @requests = $self->requests;
        return 1 if $check->(@requests);
        sleep 0.1;
    }
    return 0;
}

1;
