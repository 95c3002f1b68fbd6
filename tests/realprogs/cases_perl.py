"""Perl (Debian's perl) with IO::Socket::INET, a blocking connect and
buffered PerlIO reads: a line client healthy, refused by a closed port, and
refused by an injected fault (line_clients.py)."""
import os

from harness import case
from line_clients import healthy, injected_refusal, refused
from debian_tools import DEBIAN, tool

DEBIAN["/usr/bin/perl"] = "perl"
HERE = os.path.dirname(os.path.abspath(__file__))


def client():
    return [tool("/usr/bin/perl"), os.path.join(HERE, "pl_line_client.pl")]


@case("perl IO::Socket::INET line client")
def perl_healthy(h):
    healthy(h, "perl", client(), ("socket", "connect", "write", "read"))


@case("perl IO::Socket::INET refused by a closed port")
def perl_refused(h):
    refused(h, "perl", client(), "IO::Socket::INET: connect: Connection refused", "")


@case("perl IO::Socket::INET refused by an injected fault")
def perl_injected(h):
    injected_refusal(h, "perl", client(), "")
