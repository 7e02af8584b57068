#!/bin/sh
# make-seeds.sh DIR - writes the seed corpora of the fuzz targets into
# DIR/NAME from the project's own fixtures: the example kennisgeving and
# the hostile corpus (t/data), the CPAs (conf), ebMS messages from the
# live tests' builder (t/lib/StufLZ/Ebms.pm), and store records laid out
# as store_lmdb.c writes them. Nothing outside the checkout is read.
set -e
cd "$(dirname "$0")/.."
OUT=${1:-build/fuzz/seeds}
rm -rf "$OUT"
mkdir -p "$OUT/mime" "$OUT/ebms" "$OUT/zaklk01" "$OUT/record"

# 1. XML fixtures: every target that parses XML starts from them.
for f in t/data/*.xml t/data/hostile/*.xml conf/*.xml; do
    [ -f "$f" ] || continue
    name=$(echo "$f" | tr '/' '_')
    cp "$f" "$OUT/zaklk01/$name"
    cp "$f" "$OUT/ebms/$name"
done

# 2. ebMS: envelopes and MIME packages as the live tests send them, with
# the variants the builder knows (line ends, base64, start, signals).
perl -It/lib -MStufLZ::Ebms -e '
    my ($out, $example) = @ARGV;
    open my $fh, "<", $example or die "$example: $!";
    my $payload = StufLZ::Ebms::bare(do { local $/; <$fh> });
    my %variants = (
        plain => {},
        lf => { eol => "\n" },
        base64 => { soap_base64 => 1 },
        start_bare => { start => "bare" },
        start_none => { start => "none" },
        cid_bare => { cid_brackets => 0 },
        no_payload => { payload => undef },
        truncated => { truncate => 400 },
        boundary_quoted => { boundary => "b=\"x\"; y" },
        status_request => { status_request => "ref-1\@gemeente.example",
                            action => "StatusRequest", manifest => undef,
                            service => "urn:oasis:names:tc:ebxml-msg:service",
                            payload => undef },
        ping => { action => "Ping", manifest => undef, payload => undef,
                  service => "urn:oasis:names:tc:ebxml-msg:service" },
        ordered => { message_order => 1, ref_to_message_id => "r\@x" },
        no_ack => { ack_requested => undef, sync_reply => undef,
                    duplicate_elimination => 0 },
        async => { cpaid => $StufLZ::Ebms::CPAID_ASYNC },
        version => { version => "2.1", time_to_live => undef },
    );
    for my $name (sort keys %variants) {
        # Fixed times around the time the targets use, 2025-01-01.
        my %o = (payload => $payload, timestamp => "2024-12-31T23:59:00Z",
                 time_to_live => "2025-01-01T01:00:00Z",
                 message_id => "seed-$name\@gemeente.example",
                 conversation_id => "seed-$name", %{ $variants{$name} });
        my ($type, $body, $opts) = StufLZ::Ebms::message(%o);
        my %defaults = (StufLZ::Ebms::defaults(), %o);
        for ([ "mime", "$type\n$body" ],
             [ "ebms", StufLZ::Ebms::envelope(%defaults) ]) {
            my ($dir, $bytes) = @$_;
            open my $w, ">:raw", "$out/$dir/builder-$name" or die $!;
            print $w $bytes;
            close $w;
        }
    }
' "$OUT" t/data/zakLk01-voorbeeld.xml

# 3. zakLk01: the example bare and with the rules it can break.
perl -e '
    my ($out, $example) = @ARGV;
    open my $fh, "<", $example or die "$example: $!";
    my $xml = do { local $/; <$fh> };
    my ($bare) = $xml =~ m{(<ZKN:zakLk01\b.*</ZKN:zakLk01>)}s;
    my %variants = (
        bare => $bare,
        eindstatus => $xml =~ s{(<ZKN:einddatumGepland>)}
                               {<ZKN:einddatum>20241201</ZKN:einddatum>$1}r,
        nil_bsn => $xml =~ s{<BG:inp.bsn>\d+</BG:inp.bsn>}
            {<BG:inp.bsn xsi:nil="true" StUF:noValue="geenWaarde" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>}r,
        bad_bsn => $xml =~ s{999993653}{123456789}r,
        two_statuses => $xml =~ s{(<ZKN:heeft\b.*</ZKN:heeft>)}{$1$1}sr,
        mutatie_w => $xml =~ s{>T</StUF:mutatiesoort>}{>W</StUF:mutatiesoort>}r,
        short_time => $xml =~ s{202411051030<}{20241105<}r,
    );
    for my $name (sort keys %variants) {
        open my $w, ">:raw", "$out/zaklk01/variant-$name" or die $!;
        print $w $variants{$name};
        close $w;
    }
' "$OUT" t/data/zakLk01-voorbeeld.xml

# 4. Records in the layouts of store_lmdb.c (version 1, type, fields).
perl -e '
    my ($out) = @ARGV;
    sub s_ { defined $_[0] ? pack("N/a*", $_[0]) : pack("N", 0xFFFFFFFF) }
    sub u_ { pack("NN", 0, $_[0]) }
    sub record { "\x01" . shift() . join("", @_) }
    my $digest = "d" x 32;
    my $t = 1730800000000000;
    my $requeue = record("Q", s_("ebms:LZ_1"), s_("Acknowledgment"),
        s_("00000001234567890363"), s_("m-1\@lz"), s_("text/xml"),
        s_("<soap:Envelope/>"), u_(0));
    my %records = (
        zaak => record("Z", s_("0363VB20240001"), s_("Aanvraag"), s_(undef),
            s_("20241101"), s_("20241220"), s_(undef),
            s_("00000001234567890363"), s_("999993653"),
            s_("20241105103000000"), s_("In behandeling"),
            u_(0), u_($t), u_($t)),
        status => record("S", s_("202411051030"), s_("In behandeling"),
            s_("Een medewerker"), s_("https://gemeente.example/z"),
            s_("vb-2024-0001"), u_(1), u_($t)),
        stufref => record("R", s_($digest), s_("<Bv03/>"), u_($t)),
        outbox => record("O", s_("stuf-soap:http://127.0.0.1:9/"), s_("Bv01"),
            s_("00000001234567890363"), s_("lz-1"), s_("queued"), u_(0),
            u_($t), u_($t), u_(0), s_(undef), s_("<Bv01/>"),
            s_("text/xml")),
        outbox_old => record("O", s_("ebms:LZ_1"), s_("Fo01"), s_("x"),
            s_("lz-2"), s_("failed"), u_(3), u_($t), u_($t), u_($t),
            s_("HTTP 500"), s_("")),
        ebms => record("E", s_("received"), s_($digest), s_("<ack/>"),
            s_($requeue), u_($t), u_($t)),
        ebms_sync => record("E", s_("sent"), s_($digest), s_(undef),
            s_(undef), u_($t), u_($t)),
        meta => record("M", u_(42)),
    );
    for my $name (sort keys %records) {
        open my $w, ">:raw", "$out/record/$name" or die $!;
        print $w $records{$name};
        close $w;
    }
' "$OUT"

for d in mime ebms zaklk01 record; do
    echo "seeds: $d $(ls "$OUT/$d" | wc -l)"
done
