#!/usr/bin/perl
# soap-latency.pl URL [COUNT] - posts COUNT (default 1000) distinct
# kennisgevingen one after another over one keep-alive connection and
# prints the median, p90 and p99 time of one message through the SOAP
# binding (parse, checks, one fsync'd LMDB transaction, Bv03).
use strict;
use warnings;

use FindBin;
use IO::Socket::INET;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time);

my ($url, $count) = @ARGV;
die "usage: $0 URL [COUNT]\n" unless $url;
$count ||= 1000;

open my $fh, '<', "$FindBin::Bin/../t/data/zakLk01-voorbeeld.xml" or die $!;
my $example = do { local $/; <$fh> };
my ($host, $port, $path) = $url =~ m{^http://([^:/]+):(\d+)(/.*)$}
    or die "URL must be http://HOST:PORT/PATH\n";
my $socket = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                   Proto => 'tcp') or die "connect: $!\n";
setsockopt($socket, IPPROTO_TCP, TCP_NODELAY, 1);

# One request in one write, so neither side waits for a delayed ACK.
sub post {
    my ($body) = @_;
    my $request = "POST $path HTTP/1.1\r\nHost: $host\r\n"
        . "Content-Type: text/xml; charset=utf-8\r\n"
        . "SOAPAction: \"http://www.egem.nl/StUF/sector/zkn/0310/zakLk01\"\r\n"
        . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
    syswrite($socket, $request) == length($request) or die "write: $!\n";
    my $response = '';
    while ($response !~ /\r\n\r\n/) {
        sysread($socket, $response, 65536, length $response) or die "EOF\n";
    }
    my ($head, $rest) = split /\r\n\r\n/, $response, 2;
    my ($length) = $head =~ /Content-Length: (\d+)/i;
    while (length($rest) < $length) {
        sysread($socket, $rest, 65536, length $rest) or die "EOF\n";
    }
    my ($status) = $head =~ m{^HTTP/1\.\d (\d+)};
    return $status;
}
my $run = sprintf('%x', time() * 1000);
my @times;

for my $n (1 .. $count) {
    my $body = $example;
    $body =~ s{(<StUF:referentienummer>)[^<]*}{${1}lat-$run-$n};
    $body =~ s{>0363VB20240001<}{'>0363LAT' . ($n % 100) . '<'}e;
    my $start = time;
    my $status = post($body);
    push @times, time - $start;
    die "message $n: HTTP $status\n" unless $status == 200;
}
@times = sort { $a <=> $b } @times;
printf "%d messages: median %.2f ms, p90 %.2f ms, p99 %.2f ms\n", $count,
    map { 1000 * $times[int($_ * ($count - 1))] } 0.5, 0.9, 0.99;
