# Client of a line echo server on 127.0.0.1:PORT (the argument): sends
# LINES lines over one IO::Socket::INET and checks each echo. Prints how many
# came back, or the connect's error ($@) with exit status 1.
use strict;
use warnings;
use IO::Socket::INET;

my $LINES = 200;
my $port = $ARGV[0];
my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp");
unless ($sock) {
  print "connect: $@\n";
  exit 1;
}
$sock->autoflush(1);
my $good = 0;
for my $i (0 .. $LINES - 1) {
  my $line = "perl line $i " . ("x" x ($i % 50)) . "\n";
  print $sock $line;
  my $back = <$sock>;
  $good++ if defined $back && $back eq $line;
}
close $sock;
print "echo: $good of $LINES lines back\n";
