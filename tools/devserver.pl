#!/usr/bin/perl
# devserver.pl - "make run": httpd in the foreground on 127.0.0.1:$PORT
# with mod_stuflz, a store under var/, the StUF SOAP binding at /lz/stuf
# and the partner of our example message registered.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);

my $root = abs_path(dirname(__FILE__) . '/..');
my $port = $ENV{PORT} || 8080;
my $var = "$root/var";
my $modules = '/usr/lib/apache2/modules';
my $mpm = $ENV{MPM} || 'event';

make_path("$var/run", "$var/logs", "$var/receiver");
chmod 0755, $var, "$var/run";
my $user = $> == 0 ? "User www-data\nGroup www-data" : '';
if ($> == 0) {
    # httpd's User must be able to reach the store below the checkout.
    my $dir = $root;
    while ($dir ne '/' && $dir ne '') {
        my $mode = (stat $dir)[2] & 07777;
        chmod($mode | 0111, $dir) unless $mode & 0001;
        $dir = dirname($dir);
    }
}

# A partner receiver on PORT+1 that prints what LZ delivers, and a CPA
# copy whose gemeente endpoint is that receiver.
my $receiver_port = $port + 1;
my $cpa = do {
    local $/;
    open my $in, '<', "$root/conf/lz-example-cpa.xml" or die $!;
    <$in>;
};
$cpa =~ s{https://zaaksysteem\.example/ebms}
         {http://127.0.0.1:$receiver_port/ebms}g;
open my $cpa_fh, '>', "$var/lz-example-cpa.xml" or die $!;
print $cpa_fh $cpa;
close $cpa_fh;
my $receiver_pid = fork;
die "fork: $!" unless defined $receiver_pid;
if ($receiver_pid == 0) {
    require lib;
    lib->import("$root/t/lib");
    require StufLZ::Receiver;
    my $receiver = StufLZ::Receiver->new(port => $receiver_port, print => 1,
                                         dir => "$var/receiver");
    $receiver->serve_here;
    exit 0;
}

open my $fh, '>', "$var/httpd.conf" or die "$var/httpd.conf: $!";
print $fh <<"CONF";
# Written by tools/devserver.pl for "make run"; changes are overwritten.
ServerRoot "$var"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$var/run/httpd.pid"
DefaultRuntimeDir "$var/run"
Mutex file:$var/run default
ErrorLog /dev/stderr
LogLevel warn stuflz:debug
$user
LoadModule mpm_${mpm}_module $modules/mod_mpm_${mpm}.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule stuflz_module $root/build/mod_stuflz.so

StufLZStore lmdb:$var/store
StufLZSchema $root/xsd/lz-zakLk01.xsd
StufLZPartner 00000001234567890363 0363 reply=http://127.0.0.1:$receiver_port/stuf
StufLZCPA $var/lz-example-cpa.xml
<Location /lz/stuf>
    SetHandler stuflz-soap
</Location>
<Location /lz/ebms>
    SetHandler stuflz-ebms
</Location>
CONF
close $fh;

my $example = "$root/t/data/zakLk01-voorbeeld.xml";
print <<"TEXT";
mod_stuflz runs on http://127.0.0.1:$port/lz/stuf (Ctrl-C stops it).
Store: $var/store. Post the example kennisgeving with:

  curl -s -H 'Content-Type: text/xml; charset=utf-8' \\
       -H 'SOAPAction: "http://www.egem.nl/StUF/sector/zkn/0310/zakLk01"' \\
       --data-binary \@$example http://127.0.0.1:$port/lz/stuf

Or send it as a municipality's MSH would, over ebMS (Digikoppeling),
with the example CPA:

  $root/build/stuflz send --cpa $root/conf/lz-example-cpa.xml \\
       http://127.0.0.1:$port/lz/ebms $example

Then look at what LZ stored:

  $root/build/stuflz show --store lmdb:$var/store --zaak 0363VB20240001
  $root/build/stuflz show --store lmdb:$var/store --outbox

The Bv01 is delivered to the partner's receiver on 127.0.0.1:$receiver_port,
which prints each request it gets here.

TEXT
# httpd in the foreground; the receiver goes when it ends.
system '/usr/sbin/apache2', '-f', "$var/httpd.conf", '-DFOREGROUND';
kill 'TERM', $receiver_pid;
waitpid $receiver_pid, 0;
