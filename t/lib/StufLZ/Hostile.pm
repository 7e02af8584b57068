# StufLZ::Hostile - helpers of the hostile-input and privacy tests: reading
# t/data/hostile/MANIFEST, filling in its placeholders, sending a case over
# its binding, reading what the store and its outbox hold, and a listener
# that proves nothing was fetched.
package StufLZ::Hostile;

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(strftime);

use StufLZ::Ebms;

# The cases of MANIFEST, in order: hashes with name, binding, file, type,
# action, expect (a list of words), why and path.
sub cases {
    my ($dir) = @_;
    open my $fh, '<', "$dir/MANIFEST" or die "$dir/MANIFEST: $!";
    my @cases;
    while (my $line = <$fh>) {
        chomp $line;
        next if $line =~ /^#/ || $line !~ /\S/;
        my %case;
        @case{qw(name binding file type action expect why)} =
            split /\t/, $line;
        $case{expect} = [split ' ', $case{expect}];
        $case{path} = "$dir/$case{file}";
        push @cases, \%case;
    }
    return @cases;
}

# A StUF Tijdstip (14 digits) in Europe/Amsterdam, offset seconds from now.
sub stuf_time {
    my ($offset) = @_;
    local $ENV{TZ} = 'Europe/Amsterdam';
    POSIX::tzset();
    my $text = strftime('%Y%m%d%H%M%S', localtime(time + $offset));
    return $text;
}

# The bytes of a case with its placeholders filled in.
sub fill {
    my ($bytes, $listener) = @_;
    $bytes =~ s/\@\@NOW\+(\d+)\@\@/stuf_time($1)/ge;
    $bytes =~ s/\@\@TIMESTAMP\@\@/StufLZ::Ebms::iso(time)/ge;
    $bytes =~ s/\@\@TTL\@\@/StufLZ::Ebms::iso(time + 3600)/ge;
    $bytes =~ s/\@\@LISTENER\@\@/$listener/g;
    return $bytes;
}

# Sends a case to the binding it names; returns the HTTP::Tiny response.
sub send_case {
    my ($server, $case, $listener) = @_;
    my $body = fill(StufLZ::Httpd::slurp($case->{path}), $listener);
    my $path = $case->{binding} eq 'ebms' ? '/lz/ebms' : '/lz/stuf';
    return $server->post($path, $body, 'Content-Type' => $case->{type},
                         SOAPAction => $case->{action});
}

# The store's counters: zaken, statuses, postbusEntries, stufrefs,
# outboxEntries.
sub stats {
    my ($server) = @_;
    my ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                                  '--stats');
    return $rc == 0 ? decode_json($out) : {};
}

our @COUNTERS = qw(zaken statuses postbusEntries stufrefs outboxEntries);

# Every outbox record as raw bytes, in queue order, read with mdb_dump
# because `stuflz show --outbox` gives no payloads. Returns () when
# mdb_dump is not installed.
sub outbox_records {
    my ($store) = @_;
    my $dump = -x '/usr/bin/mdb_dump' ? '/usr/bin/mdb_dump' : undef;
    return () unless $dump;
    my $flag = -d $store ? '' : '-n';
    my @lines = `$dump $flag -p -s outbox '$store' 2>/dev/null`;
    my @values;
    my $in_data = 0;
    my $is_key = 1;
    for my $line (@lines) {
        chomp $line;
        if ($line eq 'HEADER=END') {
            $in_data = 1;
            next;
        }
        last if $line eq 'DATA=END';
        next unless $in_data && $line =~ s/^ //;
        if (!$is_key) {
            $line =~ s/\\(\\|[0-9a-fA-F]{2})/$1 eq '\\' ? '\\' : chr(hex $1)/ge;
            push @values, $line;
        }
        $is_key = !$is_key;
    }
    return @values;
}

sub have_mdb_dump { -x '/usr/bin/mdb_dump' }

# The StUF code and details of a queued Fo01/Fo03 payload.
sub fout_of {
    my ($payload) = @_;
    my ($code) = $payload =~ m{<StUF:code>([^<]*)</StUF:code>};
    my ($details) = $payload =~ m{<StUF:details>([^<]*)</StUF:details>};
    return ($code // '', $details // '');
}

# A listening socket nobody should ever connect to: XXE, DTDs, schema
# locations and XIncludes all point here. connected() says whether any
# connection arrived (the kernel queues it even though we never accept).
sub listener {
    my $socket = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
        Listen => 16, ReuseAddr => 1) or die "listener: $!";
    return $socket;
}

sub connected {
    my ($socket) = @_;
    my $select = IO::Select->new($socket);
    return scalar $select->can_read(0.2);
}

# The pids of the httpd children, from /proc (parent is the httpd pid).
sub children {
    my ($server) = @_;
    my $parent = $server->pid or return ();
    my @children;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($pid, $ppid) = $line =~ /^(\d+) \(.*\) \S (\d+)/ or next;
        push @children, $pid if $ppid == $parent;
    }
    return sort { $a <=> $b } @children;
}

1;
