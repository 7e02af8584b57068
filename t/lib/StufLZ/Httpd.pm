# StufLZ::Httpd - starts a real apache2 with mod_stuflz for the live tests.
# Apache::Test refuses to run as root (and CI runs as root), so this small
# harness writes its own httpd.conf into a temporary directory, starts
# httpd under the MPM asked for, and stops it again.
package StufLZ::Httpd;

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX qw(WNOHANG);

our $ROOT = abs_path(dirname(__FILE__) . '/../../..');
our $BUILD = $ENV{STUFLZ_BUILD} || "$ROOT/build";
our $SHARED = abs_path("$ROOT/../shared");
our $MODULES = '/usr/lib/apache2/modules';
our $HTTPD = -x '/usr/sbin/apache2' ? '/usr/sbin/apache2' : 'httpd';
our @MPMS = $ENV{STUFLZ_MPMS} ? split(/[ ,]+/, $ENV{STUFLZ_MPMS})
                              : qw(prefork worker event);

# Where a file of ../shared is, or undef when the checkout has none.
sub shared {
    my ($relative) = @_;
    my $path = "$SHARED/$relative";
    return -e $path ? $path : undef;
}

sub free_port {
    my $socket = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        Listen => 1, ReuseAddr => 1) or die "no free port: $!";
    my $port = $socket->sockport;
    close $socket;
    return $port;
}

# new(mpm => 'event', conf => 'extra directives', store => 1,
#     cpa => 'CPA files instead of the two examples')
sub new {
    my ($class, %args) = @_;
    my $self = bless {
        mpm => $args{mpm} || 'event',
        conf => $args{conf} || '',
        cpa => $args{cpa},
        port => $args{port} || free_port(),
        dir => tempdir('stuflz-live-XXXXXX', TMPDIR => 1,
                       CLEANUP => !$ENV{STUFLZ_KEEP}),
    }, $class;
    chmod 0755, $self->{dir};
    make_path("$self->{dir}/run", "$self->{dir}/logs");
    chmod 0755, "$self->{dir}/run";
    $self->{cpa} ||= join ' ', map { $self->local_cpa($_) }
        'lz-example-cpa.xml', 'lz-example-cpa-async.xml';
    $self->write_conf;
    return $self;
}

# A copy of an example CPA whose endpoints point at a closed port on
# this machine, so that the outbox never looks up or contacts the
# example hosts (tests send nowhere but to loopback).
sub local_cpa {
    my ($self, $name) = @_;
    my $cpa = slurp("$ROOT/conf/$name");
    $cpa =~ s{https://[a-z.]+\.example/[^"]*}{http://127.0.0.1:9/closed}g;
    my $path = "$self->{dir}/$name";
    open my $fh, '>', $path or die "$path: $!";
    print $fh $cpa;
    close $fh;
    return $path;
}

sub dir { $_[0]{dir} }
sub port { $_[0]{port} }
sub store { "$_[0]{dir}/store" }
sub error_log { "$_[0]{dir}/logs/error.log" }
sub url { "http://127.0.0.1:$_[0]{port}" . ($_[1] // '') }

sub write_conf {
    my ($self) = @_;
    my $user = $> == 0 ? "User www-data\nGroup www-data\n" : '';
    my $mpm = $self->{mpm};
    my $mpm_conf = $mpm eq 'prefork'
        ? "StartServers 2\nMinSpareServers 2\nMaxSpareServers 4\n"
          . "MaxRequestWorkers 16\n"
        : "StartServers 2\nThreadsPerChild 8\nMinSpareThreads 8\n"
          . "MaxSpareThreads 16\nMaxRequestWorkers 16\nServerLimit 2\n"
          . "ThreadLimit 8\n";
    open my $fh, '>', "$self->{dir}/httpd.conf" or die $!;
    print $fh <<"CONF";
ServerRoot "$self->{dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:$self->{port}
PidFile "$self->{dir}/run/httpd.pid"
DefaultRuntimeDir "$self->{dir}/run"
Mutex file:$self->{dir}/run default
ErrorLog "$self->{dir}/logs/error.log"
LogLevel warn stuflz:debug
$user
LoadModule mpm_${mpm}_module $MODULES/mod_mpm_${mpm}.so
LoadModule authz_core_module $MODULES/mod_authz_core.so
LoadModule stuflz_module $BUILD/mod_stuflz.so
$mpm_conf
StufLZStore lmdb:$self->{dir}/store
StufLZSchema $ROOT/xsd/lz-zakLk01.xsd
StufLZPartner 00000001234567890363 0363 reply=http://127.0.0.1:9/lz-antwoord
StufLZCPA $self->{cpa}
<Location /lz/stuf>
    SetHandler stuflz-soap
</Location>
<Location /lz/ebms>
    SetHandler stuflz-ebms
</Location>
$self->{conf}
CONF
    close $fh;
}

# Starts httpd and waits until it answers. Returns true on success; on
# failure the error log is in $self->{start_error}.
sub start {
    my ($self) = @_;
    my $out = `$HTTPD -f $self->{dir}/httpd.conf -k start 2>&1`;
    if ($? != 0) {
        $self->{start_error} = $out . $self->log_text;
        return 0;
    }
    # The pid file is written after every post_config hook has run.
    for (1 .. 200) {
        my $pid = $self->pid;
        last if $pid && kill(0, $pid);
        select(undef, undef, undef, 0.05);
    }
    for (1 .. 100) {
        my $socket = IO::Socket::INET->new(
            PeerAddr => '127.0.0.1', PeerPort => $self->{port},
            Proto => 'tcp');
        if ($socket) {
            close $socket;
            $self->{running} = 1;
            return 1;
        }
        select(undef, undef, undef, 0.05);
    }
    $self->{start_error} = "httpd did not start listening\n"
        . $self->log_text;
    return 0;
}

sub pid {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/run/httpd.pid" or return;
    my $pid = <$fh>;
    chomp $pid if defined $pid;
    return $pid;
}

sub stop {
    my ($self) = @_;
    return unless $self->{running};
    my $pid = $self->pid;
    system("$HTTPD -f $self->{dir}/httpd.conf -k stop >/dev/null 2>&1");
    for (1 .. 200) {
        last unless $pid && kill(0, $pid);
        select(undef, undef, undef, 0.05);
    }
    $self->{running} = 0;
}

sub DESTROY {
    my ($self) = @_;
    $self->stop;
}

sub log_text {
    my ($self) = @_;
    open my $fh, '<', $self->error_log or return '';
    local $/;
    return <$fh>;
}

# Log lines at error level or worse that name our module.
sub error_lines {
    my ($self) = @_;
    return grep { /\[stuflz:(error|crit|alert|emerg)\]/ }
        split /\n/, $self->log_text;
}

# post(path, body, headers) -> HTTP::Tiny response
sub post {
    my ($self, $path, $body, %headers) = @_;
    my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    return $http->request('POST', $self->url($path), {
        headers => { 'Content-Type' => 'text/xml; charset=utf-8',
                     %headers },
        content => $body,
    });
}

# post_ebms(content_type, body, soap_action) -> HTTP::Tiny response
sub post_ebms {
    my ($self, $content_type, $body, $action) = @_;
    my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    return $http->request('POST', $self->url('/lz/ebms'), {
        headers => { 'Content-Type' => $content_type,
                     SOAPAction => $action // '"ebXML"' },
        content => $body,
    });
}

# The StUF SOAP action for zakLk01.
our $ZAKLK01_ACTION = 'http://www.egem.nl/StUF/sector/zkn/0310/zakLk01';

sub post_zaklk01 {
    my ($self, $body, %headers) = @_;
    return $self->post('/lz/stuf', $body,
                       SOAPAction => "\"$ZAKLK01_ACTION\"", %headers);
}

# Runs the CLI, returns (exit code, stdout).
sub cli {
    my ($self, @args) = @_;
    my $command = join ' ', map { quotemeta } "$BUILD/stuflz", @args;
    my $out = `$command 2>&1`;
    return ($? >> 8, $out);
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<:raw', $path or die "$path: $!";
    local $/;
    return <$fh>;
}

# A bare zakLk01 (as the LZ examples are stored) inside a SOAP envelope.
sub soap_wrap {
    my ($xml) = @_;
    $xml =~ s/^\s*<\?xml[^>]*\?>\s*//;
    return qq{<?xml version="1.0" encoding="UTF-8"?>\n}
        . qq{<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">}
        . qq{<soap:Body>$xml</soap:Body></soap:Envelope>};
}

1;
