#!/usr/bin/perl
# Net::OpenID::Consumer (Debian's libnet-openid-consumer-perl, the seed authrs follows) driven
# like `authrs openid verify`, for the differential tests (tests/tests/openid_differential.rs).
#
#   openid_net_consumer.pl verify --url URL --consumer-secret-file F [--required-root R]
#       [--nonce-options JSON] [--minimum-version 1|2] [--state-dir DIR]
#       [--associations FILE] [--now UNIX]
#     prints one JSON line {"verdict","code","identity"} as authrs does ("died" + "detail" when
#     the library croaks, e.g. on an option name it does not know).
#
#   openid_net_consumer.pl begin --identity ID --return-to URL --consumer-secret-file F
#       [--realm R] [--assoc-options JSON] [--stateless] [--associations-out FILE]
#     discovers ID and prints the checkid_setup URL (with oic.time); unless --stateless it
#     associates with the provider first and writes the association, in the JSON form
#     `authrs openid verify --associations` reads, to FILE.
#
# State (--state-dir) is the library's cache: nonces seen and associations, one Storable file.
# --associations seeds that cache exactly as Net::OpenID::Association stores what it made.
# --now replaces time() for the library (it reads the clock itself).
use strict;
use warnings;

our $NOW;
BEGIN { *CORE::GLOBAL::time = sub () { defined $NOW ? $NOW : CORE::time() }; }

use Getopt::Long qw(GetOptionsFromArray);
use JSON::PP ();
use LWP::UserAgent;
use MIME::Base64 qw(encode_base64 decode_base64);
use Storable ();
use URI;
use Net::OpenID::Consumer;

# The cache Net::OpenID::Consumer expects (get / set with an optional expiry time), in a file.
package FileCache;

sub new {
    my ($class, $file) = @_;
    my $data = ($file && -e $file) ? Storable::retrieve($file) : {};
    return bless { file => $file, data => $data }, $class;
}

sub get {
    my ($self, $key) = @_;
    my $entry = $self->{data}{$key} or return undef;
    return undef if defined $entry->[1] && $entry->[1] < time();
    return $entry->[0];
}

sub set {
    my ($self, $key, $value, $expiry) = @_;
    $self->{data}{$key} = [$value, $expiry];
}

sub save {
    my ($self) = @_;
    Storable::nstore($self->{data}, $self->{file}) if $self->{file};
}

package main;

my $json = JSON::PP->new->canonical;

sub slurp {
    my ($path) = @_;
    open(my $fh, '<:raw', $path) or die "$path: $!\n";
    local $/;
    my $text = <$fh>;
    return $text;
}

sub consumer_secret {
    my ($path) = @_;
    my $s = slurp($path);
    $s =~ s/\r?\n\z//;
    return $s;
}

sub cache_in {
    my ($dir) = @_;
    return FileCache->new(undef) unless $dir;
    mkdir $dir unless -d $dir;
    return FileCache->new("$dir/net-openid-consumer.cache");
}

sub verify {
    my %o;
    GetOptionsFromArray(\@_, \%o, 'url=s', 'consumer-secret-file=s', 'required-root=s',
        'nonce-options=s', 'minimum-version=i', 'state-dir=s', 'associations=s', 'now=i')
        or die "bad options\n";
    $NOW = $o{now};
    my $cache = cache_in($o{'state-dir'});
    if ($o{associations}) {
        for my $a (@{ $json->decode(slurp($o{associations})) }) {
            my %assoc = (server => $a->{server}, handle => $a->{handle}, type => $a->{type},
                         expiry => $a->{expiry}, secret => decode_base64($a->{secret}));
            $cache->set("hassoc:$a->{server}:$a->{handle}", Storable::freeze(\%assoc));
        }
    }
    my %args = URI->new($o{url})->query_form;
    my $result = eval {
        my $csr = Net::OpenID::Consumer->new(
            ua              => LWP::UserAgent->new(timeout => 10),
            consumer_secret => consumer_secret($o{'consumer-secret-file'}),
            required_root   => $o{'required-root'},
            minimum_version => $o{'minimum-version'},
            args            => \%args,
            cache           => $cache,
            nonce_options   => ($o{'nonce-options'} ? $json->decode($o{'nonce-options'}) : undef),
        );
        $csr->handle_server_response(
            not_openid   => sub { { verdict => 'not_openid' } },
            setup_needed => sub { { verdict => 'setup_needed' } },
            cancelled    => sub { { verdict => 'cancelled' } },
            verified     => sub { { verdict => 'verified', identity => $_[0]->url } },
            error        => sub { { verdict => 'error', code => $_[0] } },
        );
    };
    unless ($result) {
        my $detail = $@ || 'no result';
        $detail =~ s/ at \S+ line \d+.*//s;
        $result = { verdict => 'died', detail => $detail };
    }
    $cache->save;
    $result->{code} //= undef;
    $result->{identity} //= undef;
    print $json->encode($result), "\n";
    return $result->{verdict} eq 'verified' ? 0 : 1;
}

sub begin {
    my %o;
    GetOptionsFromArray(\@_, \%o, 'identity=s', 'return-to=s', 'realm=s',
        'consumer-secret-file=s', 'assoc-options=s', 'stateless', 'associations-out=s')
        or die "bad options\n";
    my $cache = $o{stateless} ? undef : FileCache->new(undef);
    my $csr = Net::OpenID::Consumer->new(
        ua              => LWP::UserAgent->new(timeout => 10),
        consumer_secret => consumer_secret($o{'consumer-secret-file'}),
        cache           => $cache,
        assoc_options   => ($o{'assoc-options'} ? $json->decode($o{'assoc-options'}) : undef),
    );
    my $claimed = $csr->claimed_identity($o{identity}) or die "claimed_identity: " . $csr->err . "\n";
    my $url = $claimed->check_url(return_to => $o{'return-to'}, trust_root => $o{realm},
                                  delayed_return => 1);
    if ($o{'associations-out'}) {
        my $server = $claimed->identity_server;
        my @list;
        if (my $handle = $cache && $cache->get("shandle:$server")) {
            my $a = Storable::thaw($cache->get("hassoc:$server:$handle"));
            push @list, { server => $a->{server}, handle => $a->{handle}, type => $a->{type},
                          expiry => $a->{expiry}, secret => encode_base64($a->{secret}, '') };
        }
        open(my $fh, '>', $o{'associations-out'}) or die "$o{'associations-out'}: $!\n";
        print $fh $json->encode(\@list), "\n";
        close $fh;
    }
    print "$url\n";
    return 0;
}

my $cmd = shift @ARGV // '';
exit(verify(@ARGV)) if $cmd eq 'verify';
exit(begin(@ARGV)) if $cmd eq 'begin';
die "usage: $0 verify|begin OPTIONS\n";
