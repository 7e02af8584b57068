# 90-tls.t - who may report a zaak: two-way TLS through mod_ssl with
# certificates this test makes (a test CA, several OINs, an expired one
# and one of another CA), the OIN in the subject serialNumber checked
# against the StUF zender and the ebMS From PartyId, authorisation by
# gemeentecode on both bindings, and a TLS offloader's certificate header
# believed only from a trusted proxy. Runs under prefork, worker and event.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

use StufLZ::Ebms;
use StufLZ::Httpd;

plan skip_all => 'no mod_ssl'
    unless -e "$StufLZ::Httpd::MODULES/mod_ssl.so";
plan skip_all => 'no openssl or curl'
    unless `openssl version 2>/dev/null` && `curl --version 2>/dev/null`;

my $GEMEENTE = '00000001234567890363';
my $OTHER = '00000001234567890599';
my $dir = tempdir('stuflz-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub run {
    my ($command) = @_;
    my $out = `$command 2>&1`;
    die "$command failed:\n$out" if $?;
    return $out;
}

# A CA that signs with "openssl ca", so start and end dates can be set.
sub make_ca {
    my ($name) = @_;
    my $ca = "$dir/$name";
    mkdir $ca;
    open my $fh, '>', "$ca/index.txt" or die $!;
    close $fh;
    open $fh, '>', "$ca/openssl.cnf" or die $!;
    print $fh <<"CNF";
[ca]
default_ca = test
[test]
database = $ca/index.txt
new_certs_dir = $ca
serial = $ca/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
serialNumber = optional
[server]
subjectAltName = IP:127.0.0.1
CNF
    close $fh;
    run("echo 1000 > $ca/serial");
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
        . "-nodes -keyout $ca/ca.key -out $ca/ca.pem -days 30 "
        . "-subj '/CN=$name'");
    return $ca;
}

# A certificate signed by $ca; $subject as for openssl -subj.
sub make_cert {
    my ($ca, $name, $subject, %o) = @_;
    my $base = "$dir/$name";
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        . "-keyout $base.key -out $base.csr -subj '$subject'");
    my $dates = $o{expired} ? '-startdate 20200101000000Z '
                              . '-enddate 20200201000000Z' : '-days 10';
    my $ext = $o{server} ? '-extensions server' : '';
    run("openssl ca -batch -config $ca/openssl.cnf -keyfile $ca/ca.key "
        . "-cert $ca/ca.pem -in $base.csr -out $base.pem $dates $ext "
        . "-notext");
    return ($base . '.pem', $base . '.key');
}

my $ca = make_ca('lz-test-ca');
my $rogue = make_ca('rogue-ca');
my %cert;
$cert{server} = [make_cert($ca, 'server', '/CN=127.0.0.1', server => 1)];
$cert{gemeente} = [make_cert($ca, 'gemeente',
                             "/CN=Gemeente 0363/serialNumber=$GEMEENTE")];
$cert{other} = [make_cert($ca, 'other',
                          "/CN=Gemeente 0599/serialNumber=$OTHER")];
$cert{expired} = [make_cert($ca, 'expired',
                            "/CN=Oud/serialNumber=$GEMEENTE",
                            expired => 1)];
$cert{rogue} = [make_cert($rogue, 'rogue',
                          "/CN=Nep/serialNumber=$GEMEENTE")];
$cert{no_oin} = [make_cert($ca, 'no-oin', '/CN=Zonder OIN')];

my $example = StufLZ::Httpd::slurp("$FindBin::Bin/data/zakLk01-voorbeeld.xml");
my $n = 0;

sub kennisgeving {
    my (%o) = @_;
    my $body = $example;
    $n++;
    $body =~ s{(<StUF:referentienummer>)[^<]*}{${1}tls-$$-$n};
    $body =~ s{(<StUF:zender>\s*<StUF:organisatie>)\d+}{$1$o{zender}}
        if $o{zender};
    $body =~ s{>0363VB20240001<}{>$o{zaak}<} if $o{zaak};
    return $body;
}

# curl over TLS; returns (HTTP status or 0 when the handshake failed, body).
sub tls_post {
    my ($port, $path, $who, $content_type, $action, $body, %o) = @_;
    my $file = "$dir/body-" . ++$n;
    open my $fh, '>:raw', $file or die $!;
    print $fh $body;
    close $fh;
    my $client = $who ? "--cert $cert{$who}[0] --key $cert{$who}[1]" : '';
    my $scheme = $o{plain} ? 'http' : 'https';
    my $headers = join ' ', map { "-H " . quotemeta($_) } @{ $o{headers} || [] };
    my $iface = $o{from} ? "--interface $o{from}" : '';
    my $out = `curl -s -S -o $file.out -w '%{http_code}' --cacert $ca/ca.pem $client $iface $headers -H 'Content-Type: $content_type' -H 'SOAPAction: $action' --data-binary \@$file $scheme://127.0.0.1:$port$path 2>/dev/null`;
    my $answer = -e "$file.out" ? StufLZ::Httpd::slurp("$file.out") : '';
    return (($out =~ /^(\d{3})$/ ? $1 : 0) + 0, $answer);
}

sub soap {
    my ($port, $who, $body, %o) = @_;
    return tls_post($port, '/lz/stuf', $who, 'text/xml; charset=utf-8',
                    "\"$StufLZ::Httpd::ZAKLK01_ACTION\"", $body, %o);
}

sub ebms {
    my ($port, $who, %o) = @_;
    my ($type, $body) = StufLZ::Ebms::message(
        payload => StufLZ::Ebms::bare(kennisgeving()), %o);
    return tls_post($port, '/lz/ebms', $who, $type, '"ebXML"', $body);
}

sub fo03 {
    my ($body) = @_;
    return $body =~ m{Fo03Bericht.*<StUF:code>([^<]+)<}s ? $1 : '';
}

sub stats {
    my ($server) = @_;
    my ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                                  '--stats');
    my $s = decode_json($out);
    return "$s->{zaken}/$s->{statuses}/$s->{stufrefs}";
}

for my $mpm (@StufLZ::Httpd::MPMS) {
    subtest "mpm $mpm" => sub {
        my $tls_port = StufLZ::Httpd::free_port();
        my $proxy_port = StufLZ::Httpd::free_port();
        my $server = StufLZ::Httpd->new(mpm => $mpm, conf => <<"CONF");
LoadModule ssl_module $StufLZ::Httpd::MODULES/mod_ssl.so
StufLZPartner $OTHER 0599
Listen 127.0.0.1:$tls_port https
Listen 127.0.0.1:$proxy_port
<VirtualHost 127.0.0.1:$tls_port>
    SSLEngine on
    SSLCertificateFile $cert{server}[0]
    SSLCertificateKeyFile $cert{server}[1]
    SSLCACertificateFile $ca/ca.pem
    SSLVerifyClient optional
    SSLVerifyDepth 2
</VirtualHost>
<VirtualHost 127.0.0.1:$proxy_port>
    StufLZClientCertificateHeader X-Client-Cert
    StufLZTrustedProxy 127.0.0.1
</VirtualHost>
CONF
        ok($server->start, 'httpd with mod_ssl starts')
            or diag($server->{start_error}), return;

        my ($status, $body) = soap($tls_port, 'gemeente', kennisgeving());
        is($status, 200, 'SOAP: certificate OIN = zender: HTTP 200');
        like($body, qr/Bv03Bericht/, 'SOAP: certificate OIN = zender: Bv03');

        my $before = stats($server);
        ($status, $body) = soap($tls_port, undef, kennisgeving());
        is($status, 500, 'SOAP: no certificate: HTTP 500');
        is(fo03($body), 'StUF013', 'SOAP: no certificate: Fo03 StUF013');
        ($status, $body) = soap($tls_port, 'other', kennisgeving());
        is(fo03($body), 'StUF013',
           'SOAP: certificate of another OIN than the zender: StUF013');
        ($status, $body) = soap($tls_port, 'no_oin', kennisgeving());
        is(fo03($body), 'StUF013', 'SOAP: certificate without OIN: StUF013');
        ($status) = soap($tls_port, 'expired', kennisgeving());
        isnt($status, 200, 'SOAP: expired certificate refused');
        ($status) = soap($tls_port, 'rogue', kennisgeving());
        isnt($status, 200, 'SOAP: certificate of another CA refused');
        is(stats($server), $before, 'refused senders changed nothing');

        ($status, $body) = soap($tls_port, 'other',
                                kennisgeving(zender => $OTHER));
        is($status, 200, 'SOAP: gemeente 0599 reporting a zaak of 0363: '
           . 'Bv03 now');
        my ($rc, $out) = $server->cli('show', '--store',
                                      'lmdb:' . $server->store, '--outbox');
        my @fo01 = grep { $_->{kind} eq 'Fo01' } @{ decode_json($out) };
        is(scalar @fo01, 1, 'and a Fo01 (StUF052) queued, the zaak not '
           . 'stored');

        ($status, $body) = ebms($tls_port, 'gemeente');
        is($status, 200, 'ebMS: certificate OIN = From PartyId: HTTP 200');
        like($body, qr/eb:Acknowledgment/, 'ebMS: Acknowledgment');
        ($status, $body) = ebms($tls_port, 'other');
        like($body, qr/eb:errorCode="SecurityFailure"/,
             'ebMS: certificate of another OIN: SecurityFailure');
        ($status, $body) = ebms($tls_port, undef);
        like($body, qr/eb:errorCode="SecurityFailure"/,
             'ebMS: no certificate: SecurityFailure');

        my $pem = StufLZ::Httpd::slurp($cert{gemeente}[0]);
        $pem =~ s/\n/ /g;
        ($status, $body) = soap($proxy_port, undef, kennisgeving(),
                                plain => 1,
                                headers => ["X-Client-Cert: $pem"]);
        is($status, 200, 'offloader header from a trusted proxy: accepted');
        ($status, $body) = soap($proxy_port, undef, kennisgeving(),
                                plain => 1, from => '127.0.0.2',
                                headers => ["X-Client-Cert: $pem"]);
        is(fo03($body), 'StUF013',
           'the same header from an untrusted address: ignored, refused');
        ($status, $body) = soap($proxy_port, undef, kennisgeving(),
                                plain => 1);
        is(fo03($body), 'StUF013',
           'no header behind the offloader: refused');

        $server->stop;
        is(join("\n", $server->error_lines), '', 'no [stuflz:error] lines');
        unlike($server->log_text, qr/999993653/, 'no BSN in the error log');
    };
}

done_testing;
