# StufLZ::Ebms - builds ebMS 2.0 messages for the live tests, the way a
# municipal MSH sends them, with knobs to break every part of the header
# and the MIME packaging (the conformance matrix of reference/ebms.md).
package StufLZ::Ebms;

use strict;
use warnings;

use MIME::Base64 qw(encode_base64);
use POSIX qw(strftime);

our $GEMEENTE = '00000001234567890363';
our $LZ = '00000004003214345001';
our $CPAID = "LZ_${GEMEENTE}_${LZ}_1";
our $CPAID_ASYNC = "LZ_${GEMEENTE}_${LZ}_1_async";
our $SERVICE = 'LZ:StUF:zkn:0310';

my $counter = 0;

sub iso {
    my ($epoch) = @_;
    return strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $epoch);
}

# The defaults of a correct zakLk01 on the example CPA.
sub defaults {
    $counter++;
    my $id = sprintf('%d-%d-%d@gemeente.example', time, $$, $counter);
    return (
        cpaid => $CPAID,
        from => $GEMEENTE, from_type => 'urn:osb:oin', from_role => 'SR',
        to => $LZ, to_type => 'urn:osb:oin', to_role => 'SP',
        service => $SERVICE, service_type => 'urn:osb:services',
        action => 'zakLk01',
        message_id => $id, conversation_id => $id,
        timestamp => iso(time), time_to_live => iso(time + 3600),
        version => '2.0',
        duplicate_elimination => 1,
        ack_requested => { version => '2.0', signed => 'false',
                           actor => 'urn:oasis:names:tc:ebxml-msg:actor:toPartyMSH' },
        sync_reply => { version => '2.0',
                        actor => 'http://schemas.xmlsoap.org/soap/actor/next' },
        manifest => { version => '2.0', href => 'cid:payload-1' },
        payload_id => 'payload-1',
        eol => "\r\n",
        start => 'brackets',
    );
}

sub attr {
    my ($name, $value) = @_;
    return defined $value ? qq{ $name="$value"} : '';
}

# The SOAP envelope of a message; %o overrides defaults(), undef removes.
sub envelope {
    my (%o) = @_;
    my $h = '';
    my $from = defined $o{from}
        ? '<eb:From><eb:PartyId' . attr('eb:type', $o{from_type})
          . ">$o{from}</eb:PartyId>"
          . (defined $o{from_role} ? "<eb:Role>$o{from_role}</eb:Role>" : '')
          . '</eb:From>'
        : '<eb:From/>';
    my $to = '<eb:To><eb:PartyId' . attr('eb:type', $o{to_type})
        . ">$o{to}</eb:PartyId>"
        . (defined $o{to_role} ? "<eb:Role>$o{to_role}</eb:Role>" : '')
        . '</eb:To>';
    $h .= '<eb:MessageHeader' . attr('eb:version', $o{version})
        . ' soap:mustUnderstand="1">' . $from . $to
        . "<eb:CPAId>$o{cpaid}</eb:CPAId>"
        . "<eb:ConversationId>$o{conversation_id}</eb:ConversationId>"
        . '<eb:Service' . attr('eb:type', $o{service_type})
        . ">$o{service}</eb:Service>"
        . "<eb:Action>$o{action}</eb:Action>"
        . '<eb:MessageData>'
        . "<eb:MessageId>$o{message_id}</eb:MessageId>"
        . "<eb:Timestamp>$o{timestamp}</eb:Timestamp>"
        . (defined $o{ref_to_message_id}
           ? "<eb:RefToMessageId>$o{ref_to_message_id}</eb:RefToMessageId>"
           : '')
        . (defined $o{time_to_live}
           ? "<eb:TimeToLive>$o{time_to_live}</eb:TimeToLive>" : '')
        . '</eb:MessageData>'
        . ($o{duplicate_elimination} ? '<eb:DuplicateElimination/>' : '')
        . '</eb:MessageHeader>';
    if (my $s = $o{sync_reply}) {
        $h .= '<eb:SyncReply' . attr('eb:version', $s->{version})
            . attr('soap:actor', $s->{actor})
            . ' soap:mustUnderstand="1"/>';
    }
    if (my $a = $o{ack_requested}) {
        $h .= '<eb:AckRequested' . attr('eb:version', $a->{version})
            . attr('soap:actor', $a->{actor}) . attr('eb:signed', $a->{signed})
            . ' soap:mustUnderstand="1"/>';
    }
    if ($o{message_order}) {
        $h .= '<eb:MessageOrder eb:version="2.0" soap:mustUnderstand="1">'
            . '<eb:SequenceNumber>1</eb:SequenceNumber></eb:MessageOrder>';
    }
    my $body = '';
    if (my $m = $o{manifest}) {
        $body = '<eb:Manifest' . attr('eb:version', $m->{version}) . '>'
            . '<eb:Reference xlink:href="' . $m->{href} . '" xlink:type="simple"/>'
            . '</eb:Manifest>';
    }
    if (my $ref = $o{status_request}) {
        $body = '<eb:StatusRequest eb:version="2.0">'
            . "<eb:RefToMessageId>$ref</eb:RefToMessageId></eb:StatusRequest>";
    }
    return '<?xml version="1.0" encoding="UTF-8"?>'
        . '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"'
        . ' xmlns:eb="http://www.oasis-open.org/committees/ebxml-msg/schema/msg-header-2_0.xsd"'
        . ' xmlns:xlink="http://www.w3.org/1999/xlink">'
        . "<soap:Header>$h</soap:Header><soap:Body>$body</soap:Body>"
        . '</soap:Envelope>';
}

# message(%overrides) -> (content_type, body, \%options)
sub message {
    my (%overrides) = @_;
    my %o = (defaults(), %overrides);
    my $soap = $o{soap} // envelope(%o);
    return ('text/xml; charset=UTF-8', $soap, \%o) if $o{plain};

    my $eol = $o{eol};
    my $boundary = $o{boundary} // "MIMEBoundary_$counter";
    my $soap_id = 'soap-part@gemeente.example';
    my $start = $o{start} eq 'brackets' ? qq{; start="<$soap_id>"}
              : $o{start} eq 'bare' ? qq{; start="$soap_id"} : '';
    my $cid = $o{cid_brackets} // 1 ? "<$soap_id>" : $soap_id;
    my $pid = $o{cid_brackets} // 1 ? "<$o{payload_id}>" : $o{payload_id};
    my $soap_body = $soap;
    my $soap_cte = '8bit';
    if ($o{soap_base64}) {
        $soap_body = encode_base64($soap, $eol);
        $soap_cte = 'base64';
    }
    my @parts = (
        "Content-Type: text/xml; charset=UTF-8$eol"
        . "Content-Transfer-Encoding: $soap_cte$eol"
        . "Content-ID: $cid$eol$eol$soap_body",
    );
    if (defined $o{payload}) {
        push @parts, "Content-Type: application/xml; charset=UTF-8$eol"
            . "Content-ID: $pid$eol$eol$o{payload}";
    }
    my $body = join('', map { "--$boundary$eol$_$eol" } @parts)
        . "--$boundary--$eol";
    $body = substr($body, 0, $o{truncate}) if $o{truncate};
    return (qq{multipart/related; type="text/xml"; boundary="$boundary"$start},
            $body, \%o);
}

# A bare zakLk01 from a SOAP-wrapped example, for use as payload.
sub bare {
    my ($soap) = @_;
    my ($element) = $soap =~ m{(<ZKN:zakLk01\b.*</ZKN:zakLk01>)}s;
    return '<?xml version="1.0" encoding="UTF-8"?>' . $element;
}

1;
