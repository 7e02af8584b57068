# 50-ebms.t - the Digikoppeling ebMS 2.0 binding against a real httpd under
# prefork, worker and event: every row of the conformance matrix
# (reference/ebms.md 1.6) on our example CPA, the StUF answers queued as
# ebMS user messages, the asynchronous channel, duplicates, signals and
# MIME packaging edge cases.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;

use StufLZ::Ebms;
use StufLZ::Httpd;

my $example = StufLZ::Httpd::slurp("$FindBin::Bin/data/zakLk01-voorbeeld.xml");
my $payload = StufLZ::Ebms::bare($example);
my $n = 0;

# The example kennisgeving with its own referentienummer.
sub kennisgeving {
    my $body = $payload;
    $n++;
    $body =~ s{(<StUF:referentienummer>)[^<]*}{${1}ebms-$$-$n};
    return $body;
}

sub send_message {
    my ($server, %o) = @_;
    my $action = delete $o{soap_action};
    $o{payload} = kennisgeving() unless exists $o{payload};
    my ($type, $body, $opts) = StufLZ::Ebms::message(%o);
    return ($server->post_ebms($type, $body, $action), $opts);
}

sub error_of {
    my ($r) = @_;
    my ($code) = $r->{content} =~ /eb:errorCode="([^"]+)"/;
    my ($location) = $r->{content} =~ /eb:location="([^"]+)"/;
    $location =~ s/&apos;/'/g if defined $location;
    return ($code // '', $location // '');
}

sub outbox {
    my ($server) = @_;
    my ($rc, $out) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                                  '--outbox');
    return $rc == 0 ? decode_json($out) : [];
}

my $ack = 'http://schemas.xmlsoap.org/soap/actor/next';
my @matrix = (
    # [name, overrides, errorCode, location]
    ['MessageHeader version 2.1', { version => '2.1' },
     'Inconsistent', '//Header/MessageHeader/@version'],
    ['unknown From PartyId', { from => '00000001234567890999' },
     'Inconsistent', '//Header/MessageHeader/From/PartyId'],
    ['From PartyId of another type', { from_type => 'urn:osb:hrn' },
     'Inconsistent', '//Header/MessageHeader/From/PartyId'],
    ['wrong From Role', { from_role => 'XX' },
     'ValueNotRecognized', '//Header/MessageHeader/Action'],
    ['wrong To Role', { to_role => 'XX' },
     'ValueNotRecognized', '//Header/MessageHeader/Action'],
    ['wrong Service', { service => 'LZ:Other' },
     'ValueNotRecognized', '//Header/MessageHeader/Action'],
    ['wrong Service type', { service_type => 'urn:osb:other' },
     'ValueNotRecognized', '//Header/MessageHeader/Action'],
    ['wrong Action', { action => 'zakLk02' },
     'ValueNotRecognized', '//Header/MessageHeader/Action'],
    ['missing From Role', { from_role => undef },
     'Inconsistent', '//Header/MessageHeader/From/Role'],
    ['unknown To PartyId', { to => '00000004003214345999' },
     'Inconsistent', '//Header/MessageHeader/To/PartyId'],
    ['To PartyId of another type', { to_type => 'urn:osb:hrn' },
     'Inconsistent', '//Header/MessageHeader/To/PartyId'],
    ['unknown RefToMessageId', { ref_to_message_id => 'nobody@nowhere' },
     'ValueNotRecognized', '//Header/MessageHeader/MessageData/RefToMessageId'],
    ['TimeToLive in the past',
     { time_to_live => StufLZ::Ebms::iso(time - 60) },
     'TimeToLiveExpired', '//Header/MessageHeader/MessageData/TimeToLive'],
    ['DuplicateElimination missing', { duplicate_elimination => 0 },
     'Inconsistent', '//Header/MessageHeader/DuplicateElimination'],
    ['AckRequested missing', { ack_requested => undef },
     'Inconsistent', '//Header/AckRequested'],
    ['AckRequested version 2.1',
     { ack_requested => { version => '2.1', signed => 'false',
       actor => 'urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH' } },
     'Inconsistent', '//Header/AckRequested/@version'],
    ['AckRequested actor nextMSH',
     { ack_requested => { version => '2.0', signed => 'false',
       actor => 'urn:oasis:names:tc:ebxml-msg:actor:nextMSH' } },
     'NotSupported', '//Header/AckRequested/@actor'],
    ['AckRequested other actor',
     { ack_requested => { version => '2.0', signed => 'false',
       actor => 'urn:example:actor' } },
     'Inconsistent', '//Header/AckRequested/@actor'],
    ['AckRequested signed while the CPA says never',
     { ack_requested => { version => '2.0', signed => 'true',
       actor => 'urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH' } },
     'Inconsistent', '//Header/AckRequested/@signed'],
    ['SyncReply missing on a sync channel', { sync_reply => undef },
     'Inconsistent', '//Header/SyncReply'],
    ['SyncReply version 2.1',
     { sync_reply => { version => '2.1', actor => $ack } },
     'Inconsistent', '//Header/SyncReply/@version'],
    ['SyncReply other actor',
     { sync_reply => { version => '2.0', actor => 'urn:example:actor' } },
     'Inconsistent', '//Header/SyncReply/@actor'],
    ['MessageOrder present', { message_order => 1 },
     'NotSupported', '//Header/MessageOrder'],
    ['Manifest version 2.1',
     { manifest => { version => '2.1', href => 'cid:payload-1' } },
     'Inconsistent', '//Body/Manifest/@version'],
    ['Manifest href not cid:',
     { manifest => { version => '2.0', href => 'http://example/x' } },
     'MimeProblem', q{//Body/Manifest/Reference[@href='http://example/x']}],
    ['Manifest cid of no part',
     { manifest => { version => '2.0', href => 'cid:nothing' } },
     'MimeProblem', 'cid:nothing'],
);

sub run_matrix {
    my ($server) = @_;

    my ($r) = send_message($server, soap_action => '"SOAP"');
    is($r->{status}, 500, 'SOAPAction other than "ebXML": HTTP 500');
    like($r->{content}, qr{<faultcode>soap:Client</faultcode>.*SOAPAction}s,
         'SOAPAction other than "ebXML": SOAP Fault Client');

    my ($valid, $opts) = send_message($server);
    is($valid->{status}, 200, 'valid message: HTTP 200');
    like($valid->{content}, qr{<eb:Acknowledgment}, 'valid message: Ack');
    like($valid->{content},
         qr{<eb:RefToMessageId>\Q$opts->{message_id}\E</eb:RefToMessageId>},
         'the Ack refers to the message');
    unlike($valid->{content}, qr{DuplicateElimination},
           'the Ack carries no DuplicateElimination');

    my $type_body = [StufLZ::Ebms::message(%$opts)];
    my $again = $server->post_ebms($type_body->[0], $type_body->[1]);
    is($again->{status}, 200, 'duplicate MessageId: HTTP 200');
    is($again->{content}, $valid->{content},
       'duplicate MessageId: the very same Acknowledgment');

    my ($conflict) = send_message($server, message_id => $opts->{message_id},
                                  conversation_id => $opts->{conversation_id});
    my ($code) = error_of($conflict);
    is($code, 'Inconsistent',
       'same MessageId with other content: MessageError, not an Ack');

    my ($unknown) = send_message($server, cpaid => 'NO_SUCH_CPA');
    is($unknown->{status}, 500, 'unknown CPAId: HTTP 500');
    like($unknown->{content}, qr{CPA NO_SUCH_CPA not found},
         'unknown CPAId: SOAP Fault names it');

    my ($no_from) = send_message($server, from => undef);
    is($no_from->{status}, 500, 'missing From PartyId: HTTP 500');

    for my $row (@matrix) {
        my ($name, $overrides, $code, $location) = @$row;
        my ($r) = send_message($server, %$overrides);
        is($r->{status}, 200, "$name: HTTP 200");
        my ($got_code, $got_location) = error_of($r);
        is($got_code, $code, "$name: errorCode $code");
        is($got_location, $location, "$name: location");
    }

    my ($no_manifest) = send_message($server, manifest => undef,
                                     payload => undef);
    is($no_manifest->{status}, 200, 'Manifest missing: HTTP 200');
    like($no_manifest->{content}, qr{<eb:Acknowledgment},
         'Manifest missing: Acknowledgment (nothing for LZ to do)');

    my ($type, $xxe) = StufLZ::Ebms::message(plain => 1,
        soap => '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM '
              . '"file:///etc/passwd">]><x>&e;</x>');
    my $r_xxe = $server->post_ebms($type, $xxe);
    is($r_xxe->{status}, 500, 'XXE in a Ping: HTTP 500');
    unlike($r_xxe->{content}, qr/root:/, 'XXE in a Ping: nothing leaked');
}

sub run_stuf {
    my ($server) = @_;

    # End to end: Ack now, the Bv01 queued as an ebMS user message.
    my ($r, $opts) = send_message($server);
    is($r->{status}, 200, 'zakLk01: HTTP 200 with the Ack');
    my @bv01 = grep { $_->{kind} eq 'Bv01' } @{ outbox($server) };
    ok(scalar @bv01, 'zakLk01: Bv01 queued');
    # The harness points the CPA's gemeente endpoint at a closed local port.
    like($bv01[-1]{destination} // '', qr{^ebms:http://127\.0\.0\.1:9/closed},
         'the Bv01 goes to the gemeente endpoint of the CPA');
    like($bv01[-1]{reference} // '', qr{^lz-[0-9a-f]+\@},
         'the Bv01 MessageId follows the referentienummer@domain rule');

    # Content error: Ack, Fo01 queued.
    my $bad = kennisgeving();
    $bad =~ s/999993653/999993654/;
    ($r) = send_message($server, payload => $bad);
    is($r->{status}, 200, 'content error: HTTP 200 with the Ack');
    like($r->{content}, qr{<eb:Acknowledgment}, 'content error: Ack');
    is((grep { $_->{kind} eq 'Fo01' } @{ outbox($server) })[-1]{kind}, 'Fo01',
       'content error: Fo01 queued');

    # Authorisation: a zaak of another gemeente: Ack, Fo01 (StUF052).
    my $elsewhere = kennisgeving();
    $elsewhere =~ s{>0363VB20240001<}{>0599VB20240001<};
    my $fo01_before = grep { $_->{kind} eq 'Fo01' } @{ outbox($server) };
    ($r) = send_message($server, payload => $elsewhere);
    like($r->{content}, qr{<eb:Acknowledgment}, 'other gemeente: Ack');
    is(scalar(grep { $_->{kind} eq 'Fo01' } @{ outbox($server) }),
       $fo01_before + 1, 'other gemeente: Fo01 queued');
    my ($rc) = $server->cli('show', '--store', 'lmdb:' . $server->store,
                            '--zaak', '0599VB20240001');
    isnt($rc, 0, 'other gemeente: the zaak was not stored');

    # Receipt error: Ack, Fo03 queued; zender not the From party: StUF013.
    my $other = kennisgeving();
    $other =~ s{(<StUF:zender>\s*<StUF:organisatie>)\d+}{${1}00000001234567890364};
    ($r) = send_message($server, payload => $other);
    like($r->{content}, qr{<eb:Acknowledgment}, 'receipt error: Ack');
    my @fo03 = grep { $_->{kind} eq 'Fo03' } @{ outbox($server) };
    ok(scalar @fo03, 'receipt error: Fo03 queued');

    # Signals: Ping and StatusRequest.
    my ($ping) = send_message($server, action => 'Ping',
        service => 'urn:oasis:names:tc:ebxml-msg:service', service_type => undef,
        from_role => undef, to_role => undef, manifest => undef,
        payload => undef, ack_requested => undef,
        duplicate_elimination => 0, plain => 1);
    is($ping->{status}, 200, 'Ping: HTTP 200');
    like($ping->{content}, qr{<eb:Action>Pong</eb:Action>}, 'Ping: Pong');

    for my $case ([$opts->{message_id}, 'Processed'],
                  ['unknown@nowhere', 'NotRecognized']) {
        my ($status) = send_message($server, action => 'StatusRequest',
            service => 'urn:oasis:names:tc:ebxml-msg:service',
            service_type => undef, from_role => undef, to_role => undef,
            manifest => undef, payload => undef, ack_requested => undef,
            duplicate_elimination => 0, plain => 1,
            status_request => $case->[0]);
        like($status->{content},
             qr{eb:messageStatus="$case->[1]"}, "StatusRequest: $case->[1]");
    }
}

sub run_async {
    my ($server) = @_;
    my $async = { cpaid => $StufLZ::Ebms::CPAID_ASYNC, sync_reply => undef };
    my $before = scalar grep { $_->{kind} eq 'Acknowledgment' }
        @{ outbox($server) };
    my ($r, $opts) = send_message($server, %$async);
    is($r->{status}, 204, 'async channel: HTTP 204');
    my @acks = grep { $_->{kind} eq 'Acknowledgment' } @{ outbox($server) };
    is(scalar @acks, $before + 1, 'async channel: the Ack is queued');
    my ($again) = $server->post_ebms((StufLZ::Ebms::message(%$opts))[0, 1]);
    is($again->{status}, 204, 'async duplicate: HTTP 204');
    @acks = grep { $_->{kind} eq 'Acknowledgment' } @{ outbox($server) };
    is(scalar @acks, $before + 2, 'async duplicate: the Ack is queued again');

    my ($error) = send_message($server, %$async, version => '2.1');
    is($error->{status}, 204, 'async MessageError: HTTP 204');
    ok(scalar(grep { $_->{kind} eq 'MessageError' } @{ outbox($server) }),
       'async MessageError: queued');
}

sub run_mime {
    my ($server) = @_;
    my @cases = (
        ['start without angle brackets', { start => 'bare' }],
        ['no start parameter', { start => 'none' }],
        ['Content-ID without angle brackets', { cid_brackets => 0 }],
        ['base64 SOAP part', { soap_base64 => 1 }],
        ['bare LF line ends', { eol => "\n" }],
    );
    for my $case (@cases) {
        my ($r) = send_message($server, %{ $case->[1] });
        is($r->{status}, 200, "$case->[0]: HTTP 200");
        like($r->{content}, qr{<eb:Acknowledgment}, "$case->[0]: Ack");
    }
    my ($type, $body) = StufLZ::Ebms::message(payload => kennisgeving());
    my $truncated = $server->post_ebms($type, substr($body, 0,
                                                     length($body) - 30));
    is($truncated->{status}, 500, 'truncated multipart: HTTP 500');
    my $no_boundary = $server->post_ebms('multipart/related; type="text/xml"',
                                         $body);
    is($no_boundary->{status}, 500, 'multipart without boundary: HTTP 500');
    like($no_boundary->{content}, qr/boundary/, 'says the boundary is missing');
    my $many = $body;
    my ($boundary) = $type =~ /boundary="([^"]+)"/;
    my $extra = "--$boundary\r\nContent-Type: text/plain\r\n\r\nx\r\n" x 40;
    $many =~ s/^/$extra/;
    my $too_many = $server->post_ebms($type, $many);
    is($too_many->{status}, 500, 'too many MIME parts: HTTP 500');
}

sub run_shared_examples {
    my ($server) = @_;
    my $dir = StufLZ::Httpd::shared('data/examples/ebms');
    SKIP: {
        skip 'no ../shared/data/examples/ebms', 1 unless $dir;
        my @files = (glob("$dir/ebms-core/soap/*.xml"),
                     glob("$dir/constructed/*.xml"),
                     glob("$dir/navikt-ebxml-processor/*.xml"),
                     glob("$dir/phineas-c/*.xml"));
        my $handled = 0;
        for my $file (@files) {
            my $r = $server->post_ebms('text/xml; charset=UTF-8',
                                       StufLZ::Httpd::slurp($file));
            $handled++ if $r->{status} =~ /^(200|204|500)$/
                && ($r->{status} != 200 || $r->{content} =~ /ErrorList|Fault/);
        }
        is($handled, scalar @files,
           'every real ebMS message gets an ebMS error or SOAP Fault '
           . '(none matches our CPA)');
    }
}

for my $mpm (@StufLZ::Httpd::MPMS) {
    subtest "mpm $mpm" => sub {
        my $server = StufLZ::Httpd->new(mpm => $mpm);
        ok($server->start, 'httpd starts') or diag($server->{start_error}),
            return;
        run_matrix($server);
        run_stuf($server);
        run_async($server);
        run_mime($server);
        run_shared_examples($server);
        $server->stop;
        my $log = $server->log_text;
        is(join("\n", $server->error_lines), '', 'no [stuflz:error] lines');
        unlike($log, qr/99999365[34]/, 'no BSN in the error log');
        unlike($log, qr/exit signal|Segmentation/, 'no child crashed');
    };
}

done_testing;
