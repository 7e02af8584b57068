#!/usr/bin/perl
# ebms-template.pl OUT - writes the wrk template for bench/ebms-load.lua:
# first line the Content-Type, then a multipart ebMS message whose
# MessageId, referentienummer and zaakidentificatie are placeholders.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";
use POSIX qw(strftime);

use StufLZ::Ebms;
use StufLZ::Httpd;

my $out = shift or die "usage: $0 OUT\n";
my $payload = StufLZ::Ebms::bare(
    StufLZ::Httpd::slurp("$FindBin::Bin/../t/data/zakLk01-voorbeeld.xml"));
$payload =~ s{(<StUF:referentienummer>)[^<]*}{${1}REFPLACEHOLDER};
$payload =~ s{>0363VB20240001<}{>ZAAKPLACEHOLDER<};
my ($type, $body) = StufLZ::Ebms::message(
    payload => $payload,
    message_id => 'MSGIDPLACEHOLDER@gemeente.example',
    conversation_id => 'MSGIDPLACEHOLDER@gemeente.example',
    time_to_live => strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time + 86400)));
open my $fh, '>:raw', $out or die "$out: $!";
print $fh "$type\n$body";
close $fh;
