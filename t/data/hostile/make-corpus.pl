#!/usr/bin/perl
# make-corpus.pl - writes the hostile-input corpus of mod_stuflz: every case
# is one file in this directory plus one line of MANIFEST saying how to send
# it and which answer it must get. Content cases start from our example
# kennisgeving (t/data/zakLk01-voorbeeld.xml), ebMS cases are built with
# t/lib/StufLZ/Ebms.pm, so the corpus is reproducible: run
#     perl t/data/hostile/make-corpus.pl
# and commit what changed. t/70-hostile.t reads MANIFEST.
use strict;
use warnings;

use Digest::MD5 qw(md5_hex);
use Encode qw(encode);
use FindBin;
use lib "$FindBin::Bin/../../lib";

use StufLZ::Ebms;

my $DIR = $FindBin::Bin;
my $ACTION = '"http://www.egem.nl/StUF/sector/zkn/0310/zakLk01"';
my $EXAMPLE = do {
    open my $fh, '<:raw', "$DIR/../zakLk01-voorbeeld.xml" or die $!;
    local $/;
    <$fh>;
};

# Placeholders t/70-hostile.t fills in when it sends a case:
#   @@NOW+N@@     local time (StufLZTimeZone) N seconds from now, 14 digits
#   @@TIMESTAMP@@ the ebMS Timestamp (now), @@TTL@@ its TimeToLive (+1 h)
#   @@LISTENER@@  host:port of a listener that must never get a connection
my $LISTENER = 'http://@@LISTENER@@';

my @manifest;
my %seen;

# ---- building blocks ----

sub ref_of { 'h-' . substr(md5_hex($_[0]), 0, 16) }
sub zaak_of { '0363H' . uc(substr(md5_hex("zaak $_[0]"), 0, 12)) }

# The example with its own referentienummer and zaak, then the edits of
# the case: each [from, to] must match, each code ref gets the text.
sub content {
    my ($name, @edits) = @_;
    my $xml = $EXAMPLE;
    my $ref = ref_of($name);
    my $zaak = zaak_of($name);
    $xml =~ s{(<StUF:referentienummer>)[^<]*}{$1$ref} or die;
    $xml =~ s{0363VB20240001}{$zaak}g or die;
    for my $edit (@edits) {
        if (ref $edit eq 'CODE') {
            $edit->($xml);
            next;
        }
        my ($from, $to) = @$edit;
        $xml =~ s/\Q$from\E/$to/ or die "$name: example lacks $from";
    }
    return $xml;
}

# Replaces the text of the first element with this name.
sub field {
    my ($element, $value) = @_;
    return sub {
        $_[0] =~ s{(<$element(?:\s[^>]*)?>)[^<]*(</$element>)}{$1$value$2}
            or die "no $element";
    };
}

# Replaces the whole first element with this name (start to end tag).
sub element {
    my ($element, $replacement) = @_;
    return sub {
        $_[0] =~ s{<$element(?:\s[^>]*)?>[^<]*</$element>}{$replacement}
            or die "no $element";
    };
}

sub bare_zaklk01 {
    my ($xml) = @_;
    my ($element) = $xml =~ m{(<ZKN:zakLk01\b.*</ZKN:zakLk01>)}s
        or die 'no zakLk01';
    return $element;
}

sub write_case {
    my ($name, $binding, $file_ext, $bytes, $type, $action, $expect,
        $why) = @_;
    die "duplicate case $name" if $seen{$name}++;
    my $file = "$name.$file_ext";
    open my $fh, '>:raw', "$DIR/$file" or die "$file: $!";
    print $fh $bytes;
    close $fh;
    push @manifest, join("\t", $name, $binding, $file, $type, $action,
                         $expect, $why);
}

# A case on the StUF SOAP binding.
sub soap {
    my ($name, $bytes, $expect, $why, %o) = @_;
    write_case($name, 'soap', 'xml', $bytes,
               $o{type} // 'text/xml; charset=utf-8',
               $o{action} // $ACTION, $expect, $why);
}

# A case on the ebMS binding: a zakLk01 payload (or undef), message()
# overrides, and edits of the finished MIME body.
sub ebms {
    my ($name, $payload, $expect, $why, %o) = @_;
    my $edit = delete $o{edit};
    my $type_edit = delete $o{type_edit};
    my ($type, $body) = StufLZ::Ebms::message(
        message_id => "$name\@hostile.gemeente.example",
        conversation_id => "$name\@hostile.gemeente.example",
        timestamp => '@@TIMESTAMP@@', time_to_live => '@@TTL@@',
        boundary => 'hostile-' . substr(md5_hex($name), 0, 12),
        payload => $payload, %o);
    $edit->($body) if $edit;
    $type = $type_edit->($type) if $type_edit;
    write_case($name, 'ebms', 'mime', $body, $type, '"ebXML"', $expect,
               $why);
}

sub ebms_content {
    my ($name, @edits) = @_;
    my $xml = content($name, @edits);
    return '<?xml version="1.0" encoding="UTF-8"?>' . bare_zaklk01($xml);
}

my $E = encode('UTF-8', "\x{e9}");            # e acute, 2 bytes
my $EMOJI = encode('UTF-8', "\x{1F3E0}");     # house, 4 bytes
my $DEEP = 10_000;
my $HUGE = 900 * 1024;

# ---- not well-formed XML ----

my $ok = content('base');
soap('nwf-mismatched-tags', content('nwf-mismatched-tags',
     ['</ZKN:omschrijving>', '</ZKN:toelichting>']),
     'fault well-formed', 'end tag does not match start tag');
soap('nwf-truncated', substr(content('nwf-truncated'), 0, 1200),
     'fault well-formed', 'document cut off in the middle');
soap('nwf-unclosed-attribute', content('nwf-unclosed-attribute',
     ['StUF:verwerkingssoort="T">', 'StUF:verwerkingssoort="T>']),
     'fault well-formed', 'attribute value without closing quote');
soap('nwf-two-roots', content('nwf-two-roots') . $ok,
     'fault well-formed', 'two root elements');
soap('nwf-bare-ampersand', content('nwf-bare-ampersand',
     field('ZKN:omschrijving', 'Bouw & sloop')),
     'fault well-formed', 'unescaped & in text');
soap('nwf-lt-in-attribute', content('nwf-lt-in-attribute',
     ['naam="verwijzing"', 'naam="verwijzing<"']),
     'fault well-formed', '< in an attribute value');
soap('nwf-charref-nul', content('nwf-charref-nul',
     field('ZKN:omschrijving', 'Aanvraag&#0;')),
     'fault well-formed', 'character reference to U+0000');
soap('nwf-undefined-entity', content('nwf-undefined-entity',
     field('ZKN:omschrijving', 'Aanvraag &eacute;')),
     'fault well-formed', 'named entity without any DTD');
soap('nwf-declaration-not-first', "<!-- vooraf -->\n" . content(
     'nwf-declaration-not-first'),
     'fault well-formed', 'XML declaration after a comment');
soap('nwf-declaration-in-middle', content('nwf-declaration-in-middle',
     ['<soap:Body>', '<soap:Body><?xml version="1.0"?>']),
     'fault well-formed', 'a second XML declaration inside the document');
soap('nwf-comment-double-hyphen', content('nwf-comment-double-hyphen',
     ['<soap:Body>', '<soap:Body><!-- a -- b -->']),
     'fault well-formed', '-- inside a comment');
soap('nwf-undeclared-prefix', content('nwf-undeclared-prefix',
     ['xmlns:StUF="http://www.egem.nl/StUF/StUF0301"', '']),
     'fault', 'StUF prefix used but never declared (not namespace-well-formed)');
soap('nwf-empty-body', '', 'fault', 'empty request body');
soap('nwf-only-declaration', '<?xml version="1.0" encoding="UTF-8"?>',
     'fault well-formed', 'XML declaration and nothing else');

# ---- DOCTYPE, entities, external DTDs ----

my $laughs = '<!ENTITY l0 "ha">' . join('', map {
    my $p = $_ - 1; qq{<!ENTITY l$_ "} . ("&l$p;" x 10) . '">' } 1 .. 9);
sub with_doctype {
    my ($name, $subset, $use) = @_;
    my $xml = content($name);
    $xml =~ s{\?>\n}{?>\n$subset\n} or die;
    $xml =~ s{(<ZKN:omschrijving>)}{$1$use} if defined $use;
    return $xml;
}
soap('doctype-internal-entity', with_doctype('doctype-internal-entity',
     '<!DOCTYPE soap:Envelope [<!ENTITY x "dakkapel">]>', '&x;'),
     'fault DOCTYPE', 'internal entity');
soap('doctype-xxe-file', with_doctype('doctype-xxe-file',
     '<!DOCTYPE soap:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
     '&x;'), 'fault DOCTYPE', 'external entity on a local file');
soap('doctype-xxe-http', with_doctype('doctype-xxe-http',
     qq{<!DOCTYPE soap:Envelope [<!ENTITY x SYSTEM "$LISTENER/xxe">]>},
     '&x;'), 'fault DOCTYPE', 'external entity over http (never fetched)');
soap('doctype-billion-laughs', with_doctype('doctype-billion-laughs',
     "<!DOCTYPE soap:Envelope [$laughs]>", '&l9;'),
     'fault DOCTYPE', 'exponential entity expansion');
soap('doctype-quadratic-blowup', with_doctype('doctype-quadratic-blowup',
     '<!DOCTYPE soap:Envelope [<!ENTITY q "' . ('q' x 50_000) . '">]>',
     '&q;' x 2000), 'fault DOCTYPE', 'one big entity used many times');
soap('doctype-parameter-entity', with_doctype('doctype-parameter-entity',
     qq{<!DOCTYPE soap:Envelope [<!ENTITY % p SYSTEM "$LISTENER/p.dtd"> %p;]>}),
     'fault DOCTYPE', 'external parameter entity (never fetched)');
soap('doctype-external-dtd', with_doctype('doctype-external-dtd',
     qq{<!DOCTYPE soap:Envelope SYSTEM "$LISTENER/envelope.dtd">}),
     'fault DOCTYPE', 'external DTD subset (never fetched)');
soap('doctype-public-id', with_doctype('doctype-public-id',
     qq{<!DOCTYPE soap:Envelope PUBLIC "-//LZ//x" "$LISTENER/public.dtd">}),
     'fault DOCTYPE', 'PUBLIC external DTD (never fetched)');
soap('doctype-empty', with_doctype('doctype-empty',
     '<!DOCTYPE soap:Envelope>'), 'fault DOCTYPE', 'bare DOCTYPE');

# ---- schema locations and other fetch bait (must not be fetched) ----

my $xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';
soap('schemalocation-http', content('schemalocation-http',
     ['<ZKN:zakLk01 ', "<ZKN:zakLk01 $xsi xsi:schemaLocation="
      . qq{"http://www.egem.nl/StUF/sector/zkn/0310 $LISTENER/evil.xsd" }]),
     'bv03 bv01', 'xsi:schemaLocation to http is a hint only: valid');
soap('nonamespace-schemalocation-http', content(
     'nonamespace-schemalocation-http',
     ['<soap:Envelope ', "<soap:Envelope $xsi "
      . qq{xsi:noNamespaceSchemaLocation="$LISTENER/evil2.xsd" }]),
     'bv03 bv01', 'xsi:noNamespaceSchemaLocation to http: valid');
soap('xinclude-http', content('xinclude-http',
     ['<ZKN:startdatum>', '<xi:include xmlns:xi="http://www.w3.org/2001/'
      . qq{XInclude" href="$LISTENER/include.xml"/><ZKN:startdatum>}]),
     'bv03 fo01 StUF055 include', 'XInclude is not processed: schema error');
soap('stylesheet-pi-http', content('stylesheet-pi-http',
     ['?>', qq{?>\n<?xml-stylesheet type="text/xsl" href="$LISTENER/x.xsl"?>}]),
     'bv03 bv01', 'xml-stylesheet PI before the root is ignored');

# ---- deep nesting, huge text and attributes, size limit ----

soap('deep-nesting-10000', content('deep-nesting-10000',
     ['<ZKN:startdatum>', ('<ZKN:kenmerk>' x $DEEP) . ('</ZKN:kenmerk>' x $DEEP)
      . '<ZKN:startdatum>']),
     'fault', '10,000 nested elements');
soap('huge-text-node', content('huge-text-node',
     field('ZKN:omschrijving', 'x' x $HUGE)),
     'bv03 fo01 StUF055 omschrijving', '900 KB omschrijving');
soap('huge-attribute', content('huge-attribute',
     ['<ZKN:object ', '<ZKN:object StUF:sleutelVerzendend="' . ('y' x $HUGE)
      . '" ']), 'bv03 fo01 StUF055 sleutelVerzendend',
     '900 KB attribute value');
soap('oversize-body', content('oversize-body',
     ['</soap:Envelope>', '<!--' . ('z' x (1100 * 1024)) . '--></soap:Envelope>']),
     'http 413', 'over StufLZMaxMessageSize 1M');

# ---- bytes and encodings ----

soap('utf8-invalid-sequence', content('utf8-invalid-sequence',
     field('ZKN:omschrijving', "Aanvraag \xC3\x28")),
     'fault', 'invalid UTF-8 continuation byte');
soap('utf8-overlong', content('utf8-overlong',
     field('ZKN:omschrijving', "Aanvraag \xC0\xAF")),
     'fault', 'overlong UTF-8 encoding of /');
soap('utf8-surrogate', content('utf8-surrogate',
     field('ZKN:omschrijving', "Aanvraag \xED\xA0\x80")),
     'fault', 'UTF-8 encoded surrogate');
soap('utf8-truncated-at-end', content('utf8-truncated-at-end') . "\xE2\x82",
     'fault', 'multi-byte character cut off after the root');
soap('nul-byte-in-text', content('nul-byte-in-text',
     field('ZKN:omschrijving', "Aanvraag\0dakkapel")),
     'fault', 'NUL byte inside element text');
soap('nul-byte-after-root', content('nul-byte-after-root') . "\0",
     'fault', 'NUL byte after the document');
soap('control-char-raw', content('control-char-raw',
     field('ZKN:omschrijving', "Aanvraag\x1Bdakkapel")),
     'fault', 'ESC byte: not an XML character');
soap('control-char-ref', content('control-char-ref',
     field('ZKN:omschrijving', 'Aanvraag&#x7;dakkapel')),
     'fault', 'character reference to BEL: not an XML 1.0 character');
soap('control-char-tab-in-identificatie', content(
     'control-char-tab-in-identificatie',
     sub { $_[0] =~ s{(<ZKN:identificatie>0363)}{$1&#9;} or die }),
     'bv03 fo01 StUF058 identificatie', 'tab inside the zaakidentificatie');
soap('control-char-tab-in-verwijzing', content('control-char-tab-in-verwijzing',
     ['https://gemeente.example/', 'https://gemeente.example/&#9;']),
     'bv03 fo01 StUF058 verwijzing', 'tab inside the verwijzing URL');
soap('encoding-utf16-label-on-utf8', content('encoding-utf16-label-on-utf8',
     ['encoding="UTF-8"', 'encoding="UTF-16"']),
     'fault', 'declared UTF-16 but the bytes are UTF-8 (no BOM): an encoding error');
{
    my $latin = content('encoding-latin1-label-on-utf8',
        ['encoding="UTF-8"', 'encoding="ISO-8859-1"'],
        field('ZKN:omschrijving', $E x 50));
    soap('encoding-latin1-label-on-utf8', $latin,
         'bv03 fo01 StUF055 omschrijving',
         '50 e-acute in UTF-8 read as ISO-8859-1 are 100 characters');
}
soap('encoding-latin1-80', content('encoding-latin1-80',
     ['encoding="UTF-8"', 'encoding="ISO-8859-1"'],
     field('ZKN:omschrijving', "\xE9" x 80)),
     'bv03 bv01', '80 e-acute in ISO-8859-1 fit');
soap('encoding-latin1-81', content('encoding-latin1-81',
     ['encoding="UTF-8"', 'encoding="ISO-8859-1"'],
     field('ZKN:omschrijving', "\xE9" x 81)),
     'bv03 fo01 StUF055 omschrijving', '81 e-acute in ISO-8859-1 do not');
soap('encoding-utf16le-bom', encode('UTF-16LE', "\x{FEFF}" . do {
         my $x = content('encoding-utf16le-bom',
                         ['encoding="UTF-8"', 'encoding="UTF-16"']);
         Encode::decode('UTF-8', $x) }),
     'bv03 bv01', 'real UTF-16LE with BOM is XML too',
     type => 'text/xml');
soap('encoding-unknown', content('encoding-unknown',
     ['encoding="UTF-8"', 'encoding="X-LZ-NOPE"']),
     'fault', 'an encoding no parser knows');

# ---- namespaces and prefixes ----

soap('ns-prefix-rebound-on-object', content('ns-prefix-rebound-on-object',
     ['<ZKN:object ', '<ZKN:object xmlns:StUF="urn:lz:niet-stuf" ']),
     'bv03 fo01 StUF055 object',
     'StUF prefix rebound to another URI inside the object');
soap('ns-prefix-rebound-on-bsn', content('ns-prefix-rebound-on-bsn',
     ['<BG:inp.bsn>', '<BG:inp.bsn xmlns:BG="http://www.egem.nl/StUF/sector/bg/0320">']),
     'bv03 fo01 StUF055 inp.bsn', 'BG prefix rebound to another version');
soap('ns-bsn-in-zkn-namespace', content('ns-bsn-in-zkn-namespace',
     ['<BG:inp.bsn>999993653</BG:inp.bsn>',
      '<ZKN:inp.bsn>999993653</ZKN:inp.bsn>']),
     'bv03 fo01 StUF055 inp.bsn', 'inp.bsn in the ZKN namespace');
soap('ns-stuurgegevens-in-bg-namespace', content(
     'ns-stuurgegevens-in-bg-namespace',
     ['<StUF:berichtcode>Lk01</StUF:berichtcode>',
      '<BG:berichtcode>Lk01</BG:berichtcode>']),
     'fo03 StUF022', 'berichtcode in the wrong namespace: no berichtcode');
soap('ns-zaklk01-other-version', content('ns-zaklk01-other-version',
     ['xmlns:ZKN="http://www.egem.nl/StUF/sector/zkn/0310"',
      'xmlns:ZKN="http://www.egem.nl/StUF/sector/zkn/0320"']),
     'fo03 StUF040', 'zakLk01 of another StUF-ZKN version');
soap('ns-default-namespace', do {
         my $x = content('ns-default-namespace');
         $x =~ s{xmlns:ZKN=}{xmlns=};
         $x =~ s{<(/?)ZKN:}{<$1}g;
         $x },
     'bv03 bv01', 'ZKN as default namespace, no prefix: same document');
soap('ns-other-prefixes', do {
         my $x = content('ns-other-prefixes');
         $x =~ s{xmlns:ZKN=}{xmlns:z=};
         $x =~ s{xmlns:StUF=}{xmlns:s=};
         $x =~ s{xmlns:BG=}{xmlns:b=};
         $x =~ s{(</?|\s)ZKN:}{$1z:}g;
         $x =~ s{(</?|\s)StUF:}{$1s:}g;
         $x =~ s{(</?|\s)BG:}{$1b:}g;
         $x },
     'bv03 bv01', 'other prefixes for the same namespaces');
soap('soap-envelope-prefix-rebound', content('soap-envelope-prefix-rebound',
     ['<soap:Body>', '<soap:Body xmlns:soap="urn:lz:geen-soap">']),
     'fault', 'soap prefix rebound: the Body is no SOAP Body');
soap('soap-body-two-messages', content('soap-body-two-messages',
     sub { my $m = bare_zaklk01($_[0]);
           $_[0] =~ s{</soap:Body>}{$m</soap:Body>} or die }),
     'fault', 'two zakLk01 in one SOAP Body');
soap('soap-header-must-understand', content('soap-header-must-understand',
     ['<soap:Body>', '<soap:Header><x:Beveiliging xmlns:x="urn:lz:onbekend" '
      . 'soap:mustUnderstand="1"/></soap:Header><soap:Body>']),
     'fault MustUnderstand',
     'a mandatory header LZ does not understand (SOAP 1.1 4.2.3)');

# ---- comments and processing instructions in odd places ----

soap('comment-before-root', content('comment-before-root',
     ['<soap:Envelope', "<!-- voor de root -->\n<soap:Envelope"]),
     'bv03 bv01', 'comment between declaration and root');
soap('comment-inside-berichtcode', content('comment-inside-berichtcode',
     ['>Lk01<', '>Lk<!-- tussen -->01<']),
     'bv03 bv01', 'comment splitting the berichtcode text');
soap('pi-inside-identificatie', content('pi-inside-identificatie',
     sub { $_[0] =~ s{(<ZKN:identificatie>0363)}{$1<?lz tussen?>} or die }),
     'bv03 bv01', 'PI splitting the zaakidentificatie text');
soap('comment-inside-bsn', content('comment-inside-bsn',
     ['>999993653<', '>9999<!-- -->93653<']),
     'bv03 bv01', 'comment splitting the BSN');
soap('cdata-omschrijving', content('cdata-omschrijving',
     field('ZKN:omschrijving', '<![CDATA[Aanvraag <dakkapel> & meer]]>')),
     'bv03 bv01', 'CDATA section with markup characters');
soap('pi-between-elements', content('pi-between-elements',
     ['<ZKN:parameters>', '<?lz x?><!-- c --><ZKN:parameters>']),
     'bv03 bv01', 'PI and comment between elements');
soap('pi-after-root', content('pi-after-root') . "<?lz einde?><!-- einde -->",
     'bv03 bv01', 'PI and comment after the root');
soap('pi-target-xml-reserved', content('pi-target-xml-reserved',
     ['<ZKN:parameters>', '<?XML foo?><ZKN:parameters>']),
     'fault well-formed', 'PI target XML is reserved');

# ---- lengths in characters, not bytes ----

soap('omschrijving-80-e-acute', content('omschrijving-80-e-acute',
     field('ZKN:omschrijving', $E x 80)), 'bv03 bv01',
     '80 characters, 160 bytes');
soap('omschrijving-81-e-acute', content('omschrijving-81-e-acute',
     field('ZKN:omschrijving', $E x 81)),
     'bv03 fo01 StUF055 omschrijving', '81 characters');
soap('omschrijving-80-emoji', content('omschrijving-80-emoji',
     field('ZKN:omschrijving', $EMOJI x 80)), 'bv03 bv01',
     '80 four-byte characters');
soap('omschrijving-81-emoji', content('omschrijving-81-emoji',
     field('ZKN:omschrijving', $EMOJI x 81)),
     'bv03 fo01 StUF055 omschrijving', '81 four-byte characters');
soap('statustype-81-e-acute', content('statustype-81-e-acute',
     ['>In behandeling<', '>' . ($E x 81) . '<']),
     'bv03 fo01 StUF055 omschrijving', 'status omschrijving of 81 characters');
soap('toelichting-1000-e-acute', content('toelichting-1000-e-acute',
     field('ZKN:toelichting', $E x 1000)), 'bv03 bv01',
     'toelichting of 1000 characters, 2000 bytes');
soap('toelichting-1001-e-acute', content('toelichting-1001-e-acute',
     field('ZKN:toelichting', $E x 1001)),
     'bv03 fo01 StUF055 toelichting', 'toelichting of 1001 characters');
soap('identificatie-40', content('identificatie-40',
     field('ZKN:identificatie', '0363' . ('A' x 36))), 'bv03 bv01',
     'zaakidentificatie of 40 characters');
soap('identificatie-41', content('identificatie-41',
     field('ZKN:identificatie', '0363' . ('A' x 37))),
     'bv03 fo01 StUF055 identificatie', 'zaakidentificatie of 41');
soap('identificatie-e-acute', content('identificatie-e-acute',
     field('ZKN:identificatie', '0363' . ('A' x 34) . $E)),
     'bv03 fo01 StUF058 identificatie',
     '39 characters in 40 bytes, but a diacritic');

# ---- dates ----

sub date_case {
    my ($name, $element, $value, $expect, $why) = @_;
    soap($name, content($name, field($element, $value)), $expect, $why);
}
date_case('startdatum-20230229', 'ZKN:startdatum', '20230229',
          'bv03 fo01 StUF058 startdatum', '29 February of a common year');
date_case('startdatum-20240229', 'ZKN:startdatum', '20240229', 'bv03 bv01',
          '29 February of a leap year');
date_case('startdatum-20241399', 'ZKN:startdatum', '20241399',
          'bv03 fo01 StUF058 startdatum', 'month 13, day 99');
date_case('startdatum-00000000', 'ZKN:startdatum', '00000000',
          'bv03 fo01 StUF058 startdatum', 'year, month and day zero');
date_case('startdatum-plus-sign', 'ZKN:startdatum', '+2024031',
          'bv03 fo01 StUF055 startdatum', 'leading + and 7 digits');
date_case('startdatum-7-digits', 'ZKN:startdatum', '2024031',
          'bv03 fo01 StUF055 startdatum', '7 digits');
date_case('startdatum-9-digits', 'ZKN:startdatum', '202403141',
          'bv03 fo01 StUF055 startdatum', '9 digits');
date_case('startdatum-dashes', 'ZKN:startdatum', '2024-03-14',
          'bv03 fo01 StUF055 startdatum', 'ISO date with dashes');
date_case('einddatumgepland-20241232', 'ZKN:einddatumGepland', '20241232',
          'bv03 fo01 StUF058 einddatumGepland', 'day 32');
date_case('status-11-digits', 'ZKN:datumStatusGezet', '20241105103',
          'bv03 fo01 StUF058 datumStatusGezet', 'less than JJJJMMDDUUMM');
date_case('status-12-digits-leap-day', 'ZKN:datumStatusGezet',
          '202402291200', 'bv03 bv01', 'leap day at noon');
date_case('status-17-digits', 'ZKN:datumStatusGezet', '20241105103012345',
          'bv03 bv01', 'with seconds and milliseconds');
date_case('status-18-digits', 'ZKN:datumStatusGezet', '202411051030123456',
          'bv03 fo01 StUF055 datumStatusGezet', 'one digit too many');
date_case('status-hour-24', 'ZKN:datumStatusGezet', '202411052400',
          'bv03 fo01 StUF058 datumStatusGezet', 'hour 24');
date_case('status-minute-60', 'ZKN:datumStatusGezet', '202411051060',
          'bv03 fo01 StUF058 datumStatusGezet', 'minute 60');
date_case('status-second-60', 'ZKN:datumStatusGezet', '20241105103060',
          'bv03 fo01 StUF058 datumStatusGezet', 'second 60');
date_case('status-20230229', 'ZKN:datumStatusGezet', '202302291030',
          'bv03 fo01 StUF058 datumStatusGezet', '29 February 2023');
date_case('status-future-beyond-skew', 'ZKN:datumStatusGezet',
          '@@NOW+3600@@', 'bv03 fo01 StUF058 datumStatusGezet',
          'an hour ahead, skew is 300 s');
date_case('status-now', 'ZKN:datumStatusGezet', '@@NOW+0@@', 'bv03 bv01',
          'right at now');
date_case('status-within-skew', 'ZKN:datumStatusGezet', '@@NOW+200@@',
          'bv03 bv01', '200 s ahead, within the skew');
date_case('tijdstipbericht-18-digits', 'StUF:tijdstipBericht',
          '202411051030123456', 'bv03 fo01 StUF055 tijdstipBericht',
          'tijdstipBericht of 18 digits');

# ---- BSN ----

sub bsn_case {
    my ($name, $value, $expect, $why) = @_;
    soap($name, content($name, field('BG:inp.bsn', $value)), $expect, $why);
}
bsn_case('bsn-000000000', '000000000', 'bv03 fo01 StUF058 inp.bsn',
         'all zeros passes the 11-proef but is no BSN');
bsn_case('bsn-11-proef-last-digit', '999993654', 'bv03 fo01 StUF058 inp.bsn',
         '11-proef fails on the last digit');
bsn_case('bsn-11-proef-123456789', '123456789', 'bv03 fo01 StUF058 inp.bsn',
         '11-proef fails');
bsn_case('bsn-8-digits', '99999365', 'bv03 fo01 StUF055 inp.bsn', '8 digits');
bsn_case('bsn-10-digits', '0999993653', 'bv03 fo01 StUF055 inp.bsn',
         '10 digits');
bsn_case('bsn-letter', '99999365A', 'bv03 fo01 StUF055 inp.bsn', 'a letter');
bsn_case('bsn-spaces', ' 999993653 ', 'bv03 fo01 StUF055 inp.bsn',
         'surrounding spaces');
bsn_case('bsn-fullwidth-digits', encode('UTF-8', "\x{FF19}" x 9),
         'bv03 fo01 StUF055 inp.bsn', 'fullwidth digits are no [0-9]');
bsn_case('bsn-leading-zero', '012345672', 'bv03 bv01',
         'a leading zero is a valid BSN');
bsn_case('bsn-empty', '', 'bv03 fo01 StUF055 inp.bsn', 'empty element');
soap('bsn-nil', content('bsn-nil', element('BG:inp.bsn',
     qq{<BG:inp.bsn $xsi xsi:nil="true"/>})),
     'bv03 fo01 StUF058 inp.bsn', 'xsi:nil on the BSN');
soap('bsn-novalue', content('bsn-novalue', element('BG:inp.bsn',
     qq{<BG:inp.bsn $xsi xsi:nil="true" StUF:noValue="waardeOnbekend"/>})),
     'bv03 fo01 StUF058 inp.bsn', 'StUF:noValue waardeOnbekend on the BSN');
soap('bsn-two-initiators', content('bsn-two-initiators', sub {
         my ($i) = $_[0] =~ m{(<ZKN:heeftAlsInitiator.*?</ZKN:heeftAlsInitiator>)}s;
         (my $other = $i) =~ s/999993653/111222333/;
         $_[0] =~ s{\Q$i\E}{$i$other} or die }),
     'bv03 fo01 StUF055 heeftAlsInitiator', 'two initiators, two BSNs');

# ---- empty, nil, whitespace ----

soap('identificatie-empty', content('identificatie-empty',
     field('ZKN:identificatie', '')),
     'bv03 fo01 StUF055 identificatie', 'empty zaakidentificatie');
soap('identificatie-nil', content('identificatie-nil', element(
     'ZKN:identificatie', qq{<ZKN:identificatie $xsi xsi:nil="true"/>})),
     'bv03 fo01 StUF058 identificatie', 'xsi:nil on the zaakidentificatie');
soap('identificatie-whitespace', content('identificatie-whitespace',
     field('ZKN:identificatie', '      ')),
     'bv03 fo01 StUF058 identificatie', 'only spaces');
soap('omschrijving-whitespace', content('omschrijving-whitespace',
     field('ZKN:omschrijving', " \t\n ")),
     'bv03 fo01 StUF058 omschrijving', 'only whitespace');
soap('omschrijving-nil', content('omschrijving-nil', element(
     'ZKN:omschrijving', qq{<ZKN:omschrijving $xsi xsi:nil="true"/>})),
     'bv03 fo01 StUF058 omschrijving', 'xsi:nil on a required field');
soap('datumstatusgezet-nil', content('datumstatusgezet-nil', element(
     'ZKN:datumStatusGezet',
     qq{<ZKN:datumStatusGezet $xsi xsi:nil="true"/>})),
     'bv03 fo01 StUF058 datumStatusGezet', 'xsi:nil on the status key');
soap('verwijzing-javascript', content('verwijzing-javascript',
     field('StUF:extraElement', 'javascript:alert(1)')),
     'bv03 fo01 StUF058 verwijzing', 'verwijzing is no http(s) URL');

# ---- objects and relations ----

soap('two-objects-mutatiesoort-t', content('two-objects-mutatiesoort-t',
     sub { my ($o) = $_[0] =~ m{(<ZKN:object .*?</ZKN:object>)}s;
           $_[0] =~ s{\Q$o\E}{$o$o} or die }),
     'bv03 fo01 StUF058 object', 'mutatiesoort T with two objects');
soap('two-statuses', content('two-statuses',
     sub { my ($h) = $_[0] =~ m{(<ZKN:heeft .*?</ZKN:heeft>)}s;
           $_[0] =~ s{\Q$h\E}{$h$h} or die }),
     'bv03 fo01 StUF058 heeft', 'two statuses in one kennisgeving');

# ---- receipt errors ----

soap('zender-organisatie-padded', content('zender-organisatie-padded',
     ['>00000001234567890363<', '> 00000001234567890363 <']),
     'fo03 StUF013', 'zender OIN with spaces is another OIN');
soap('referentienummer-whitespace', content('referentienummer-whitespace',
     field('StUF:referentienummer', '')), 'fo03 StUF013',
     'no referentienummer');
soap('berichtcode-lowercase', content('berichtcode-lowercase',
     ['>Lk01<', '>lk01<']), 'fo03 StUF022', 'lk01 is no berichtcode');

# ---- the ebMS binding ----

my $payload_ok = ebms_content('ebms-ok');
ebms('ebms-valid', ebms_content('ebms-valid'), 'ack bv01',
     'the reference: a correct message');
ebms('ebms-no-boundary', ebms_content('ebms-no-boundary'), 'fault boundary',
     'multipart/related without boundary parameter',
     type_edit => sub { $_[0] =~ s/; boundary="[^"]*"//; $_[0] });
ebms('ebms-boundary-not-in-body', ebms_content('ebms-boundary-not-in-body'),
     'fault boundary', 'boundary parameter names a string the body lacks',
     type_edit => sub { $_[0] =~ s/boundary="/boundary="x/; $_[0] });
ebms('ebms-empty-body', undef, 'fault', 'multipart with an empty body',
     edit => sub { $_[0] = '' });
ebms('ebms-truncated-in-payload', ebms_content('ebms-truncated-in-payload'),
     'fault truncated', 'cut in the middle of the payload part',
     edit => sub { $_[0] = substr($_[0], 0, length($_[0]) - 900) });
ebms('ebms-truncated-in-headers', ebms_content('ebms-truncated-in-headers'),
     'fault', 'cut inside the headers of the first part',
     edit => sub { $_[0] = substr($_[0], 0, 60) });
ebms('ebms-no-close-delimiter', ebms_content('ebms-no-close-delimiter'),
     'fault truncated', 'all parts, but no close delimiter',
     edit => sub { $_[0] =~ s/--\r\n\z/\r\n/ or die });
ebms('ebms-missing-payload-part', ebms_content('ebms-missing-payload-part'),
     'messageerror MimeProblem', 'the Manifest names a part that is not there',
     edit => sub { $_[0] =~ s{--hostile-\w+\r\nContent-Type: application/xml.*?(?=--hostile-\w+--)}{}s or die });
ebms('ebms-duplicate-payload-cid', ebms_content('ebms-duplicate-payload-cid'),
     'messageerror MimeProblem',
     'two parts with the same Content-ID: which one is the payload?',
     edit => sub {
         my ($part) = $_[0] =~ m{(--hostile-\w+\r\nContent-Type: application/xml.*?)(?=--hostile-\w+--)}s or die;
         (my $other = $part) =~ s/999993653/111222333/;
         $_[0] =~ s{\Q$part\E}{$part$other} or die });
ebms('ebms-duplicate-soap-cid', ebms_content('ebms-duplicate-soap-cid'),
     'fault', 'two parts with the Content-ID of the start part',
     edit => sub {
         my ($part) = $_[0] =~ m{(--hostile-\w+\r\nContent-Type: text/xml.*?)(?=--hostile-)}s or die;
         $_[0] =~ s{\Q$part\E}{$part$part} or die });
ebms('ebms-boundary-inside-content', ebms_content(
     'ebms-boundary-inside-content',
     field('ZKN:toelichting', 'Zie --hostile-' . substr(md5_hex(
         'ebms-boundary-inside-content'), 0, 12) . ' verderop.')),
     'ack bv01', 'the boundary string inside a line of the payload');
ebms('ebms-boundary-at-line-start', ebms_content('ebms-boundary-at-line-start',
     field('ZKN:toelichting', "Regel een.\r\n--hostile-" . substr(md5_hex(
         'ebms-boundary-at-line-start'), 0, 12) . "x is geen grens.")),
     'ack bv01',
     'boundary at a line start followed by more text is no delimiter');
ebms('ebms-boundary-in-soap-part', ebms_content('ebms-boundary-in-soap-part'),
     'fault', 'a real delimiter line inside the SOAP part splits it',
     edit => sub {
         my $line = "\r\n--hostile-"
             . substr(md5_hex('ebms-boundary-in-soap-part'), 0, 12) . "\r\n\r\n";
         $_[0] =~ s{(<soap:Header>)}{$line$1} or die });
ebms('ebms-part-header-without-colon', ebms_content(
     'ebms-part-header-without-colon'), 'fault colon',
     'a MIME header line without a colon',
     edit => sub { $_[0] =~ s{(Content-Transfer-Encoding: 8bit\r\n)}{${1}Geen dubbele punt\r\n} or die });
ebms('ebms-header-line-too-long', ebms_content('ebms-header-line-too-long'),
     'fault', 'a MIME header line of 10,000 bytes',
     edit => sub {
         my $long = 'X-Lang: ' . ('a' x 10_000) . "\r\n";
         $_[0] =~ s{(Content-Transfer-Encoding: 8bit\r\n)}{$1$long} or die });
ebms('ebms-too-many-headers', ebms_content('ebms-too-many-headers'),
     'fault', '100 header lines in one part',
     edit => sub { $_[0] =~ s{(Content-Transfer-Encoding: 8bit\r\n)}{$1 . join('', map { "X-H$_: x\r\n" } 1 .. 100)}e or die });
ebms('ebms-invalid-base64', ebms_content('ebms-invalid-base64'),
     'fault base64', 'SOAP part declared base64 that is not',
     soap_base64 => 1, edit => sub { $_[0] =~ s{(Content-Transfer-Encoding: base64\r\nContent-ID: <[^>]+>\r\n\r\n)}{$1!!!*} or die });
ebms('ebms-start-names-no-part', ebms_content('ebms-start-names-no-part'),
     'fault start', 'start parameter names no part',
     type_edit => sub { $_[0] =~ s/start="<[^>]+>"/start="<nergens\@x>"/ or die; $_[0] });
ebms('ebms-soap-not-well-formed', ebms_content('ebms-soap-not-well-formed'),
     'fault well-formed', 'the SOAP part is not well-formed',
     edit => sub { $_[0] =~ s{</soap:Header>}{</soap:Kop>} or die });
ebms('ebms-soap-doctype-xxe', ebms_content('ebms-soap-doctype-xxe'),
     'fault DOCTYPE', 'XXE over http in the SOAP part (never fetched)',
     edit => sub { $_[0] =~ s{(<\?xml version="1.0" encoding="UTF-8"\?>)(<soap:Envelope)}{$1<!DOCTYPE soap:Envelope [<!ENTITY x SYSTEM "$LISTENER/ebms-xxe">]>$2} or die });
ebms('ebms-soap-billion-laughs', ebms_content('ebms-soap-billion-laughs'),
     'fault DOCTYPE', 'billion laughs in the SOAP part',
     edit => sub { $_[0] =~ s{(<\?xml version="1.0" encoding="UTF-8"\?>)(<soap:Envelope)}{$1<!DOCTYPE soap:Envelope [$laughs]>$2} or die;
                   $_[0] =~ s{(<eb:CPAId>)}{$1&l9;} or die });
ebms('ebms-eb-prefix-rebound', ebms_content('ebms-eb-prefix-rebound'),
     'fault', 'eb prefix rebound on MessageHeader: no ebMS header',
     edit => sub { $_[0] =~ s{<eb:MessageHeader }{<eb:MessageHeader xmlns:eb="urn:lz:geen-ebms" } or die });
ebms('ebms-payload-not-xml', 'Dit is geen XML.', 'messageerror OtherXml',
     'payload part is plain text');
ebms('ebms-payload-doctype-xxe', '<?xml version="1.0"?>'
     . qq{<!DOCTYPE x [<!ENTITY e SYSTEM "$LISTENER/payload-xxe">]>}
     . bare_zaklk01(content('ebms-payload-doctype-xxe',
         field('ZKN:omschrijving', '&e;'))),
     'messageerror OtherXml', 'XXE in the payload (never fetched)');
ebms('ebms-payload-deep-nesting', ebms_content('ebms-payload-deep-nesting',
     ['<ZKN:startdatum>', ('<ZKN:kenmerk>' x $DEEP) . ('</ZKN:kenmerk>' x $DEEP)
      . '<ZKN:startdatum>']),
     'messageerror OtherXml', '10,000 nested elements in the payload');
ebms('ebms-payload-invalid-utf8', ebms_content('ebms-payload-invalid-utf8',
     field('ZKN:omschrijving', "Aanvraag \xFF\xFE")),
     'messageerror OtherXml', 'invalid UTF-8 in the payload');
ebms('ebms-payload-nul-byte', ebms_content('ebms-payload-nul-byte',
     field('ZKN:omschrijving', "Aanvraag\0")),
     'messageerror OtherXml', 'NUL byte in the payload');
ebms('ebms-payload-two-objects', ebms_content('ebms-payload-two-objects',
     sub { my ($o) = $_[0] =~ m{(<ZKN:object .*?</ZKN:object>)}s;
           $_[0] =~ s{\Q$o\E}{$o$o} or die }),
     'ack fo01 StUF058 object', 'two objects with mutatiesoort T');
ebms('ebms-payload-bsn-11-proef', ebms_content('ebms-payload-bsn-11-proef',
     field('BG:inp.bsn', '999993654')),
     'ack fo01 StUF058 inp.bsn', 'BSN fails the 11-proef');
ebms('ebms-payload-bsn-leading-zero', ebms_content(
     'ebms-payload-bsn-leading-zero', field('BG:inp.bsn', '012345672')),
     'ack bv01', 'valid BSN with a leading zero');
ebms('ebms-payload-omschrijving-80', ebms_content(
     'ebms-payload-omschrijving-80', field('ZKN:omschrijving', $E x 80)),
     'ack bv01', '80 e-acute');
ebms('ebms-payload-omschrijving-81', ebms_content(
     'ebms-payload-omschrijving-81', field('ZKN:omschrijving', $E x 81)),
     'ack fo01 StUF055 omschrijving', '81 e-acute');
ebms('ebms-payload-startdatum-20230229', ebms_content(
     'ebms-payload-startdatum-20230229', field('ZKN:startdatum', '20230229')),
     'ack fo01 StUF058 startdatum', 'no 29 February in 2023');
ebms('ebms-payload-status-future', ebms_content('ebms-payload-status-future',
     field('ZKN:datumStatusGezet', '@@NOW+3600@@')),
     'ack fo01 StUF058 datumStatusGezet', 'status an hour ahead');
ebms('ebms-payload-schemalocation-http', ebms_content(
     'ebms-payload-schemalocation-http',
     ['<ZKN:zakLk01 ', "<ZKN:zakLk01 $xsi xsi:schemaLocation="
      . qq{"http://www.egem.nl/StUF/sector/zkn/0310 $LISTENER/ebms.xsd" }]),
     'ack bv01', 'schemaLocation hint in the payload (never fetched)');
ebms('ebms-payload-latin1-label', do {
         my $x = ebms_content('ebms-payload-latin1-label',
                              field('ZKN:omschrijving', $E x 50));
         $x =~ s/encoding="UTF-8"/encoding="ISO-8859-1"/; $x },
     'ack fo01 StUF055 omschrijving',
     'UTF-8 bytes under an ISO-8859-1 label: 100 characters');
ebms('ebms-payload-comments-pis', ebms_content('ebms-payload-comments-pis',
     ['>Lk01<', '>Lk<!-- x -->01<'], ['<ZKN:parameters>', '<?lz x?><ZKN:parameters>']),
     'ack bv01', 'comments and PIs inside the payload');
ebms('ebms-payload-prefix-rebound', ebms_content('ebms-payload-prefix-rebound',
     ['<ZKN:object ', '<ZKN:object xmlns:StUF="urn:lz:niet-stuf" ']),
     'ack fo01 StUF055 object', 'StUF prefix rebound inside the object');
ebms('ebms-payload-huge-text', ebms_content('ebms-payload-huge-text',
     field('ZKN:toelichting', 'x' x $HUGE)),
     'ack fo01 StUF055 toelichting', '900 KB toelichting in the payload');
ebms('ebms-payload-zender-not-from', ebms_content('ebms-payload-zender-not-from',
     ['>00000001234567890363<', '>00000001234567890364<']),
     'ack fo03 StUF013', 'StUF zender is not the ebMS From party');
ebms('ebms-payload-soap-wrapped', content('ebms-payload-soap-wrapped'),
     'ack bv01', 'payload is a whole SOAP envelope');

open my $fh, '>', "$DIR/MANIFEST" or die $!;
print $fh <<'HEAD';
# MANIFEST of the hostile-input corpus, written by make-corpus.pl.
# One case a line, tab-separated:
#   name  binding(soap|ebms)  file  Content-Type  SOAPAction  expect  why
# expect:
#   fault [WORD]          HTTP 500, SOAP Fault (faultcode Client, or the
#                         one named when WORD is MustUnderstand); WORD, if
#                         given, appears in the faultstring; no Fo03
#   fo03 CODE             HTTP 500, SOAP Fault carrying Fo03 CODE
#   http STATUS           only this HTTP status
#   bv03 bv01             HTTP 200 Bv03; a Bv01 is queued, the zaak stored
#   bv03 fo01 CODE FIELD  HTTP 200 Bv03; a Fo01 is queued whose leading
#                         code is CODE and whose details name FIELD
#   ack bv01|fo01 ...|fo03 CODE   ebMS: HTTP 200 Acknowledgment, and the
#                         StUF answer queued as for bv03
#   messageerror CODE     ebMS: HTTP 200 MessageError with errorCode CODE
# Placeholders filled in when sending: @@NOW+N@@ (StUF time, 14 digits,
# N seconds from now), @@TIMESTAMP@@ and @@TTL@@ (ebMS), @@LISTENER@@
# (host:port of a listener that must never be contacted).
HEAD
print $fh "$_\n" for @manifest;
close $fh;
printf "%d cases written to %s\n", scalar @manifest, $DIR;
