"""Ruby (Debian's ruby) with TCPSocket, whose connect is non-blocking and
waited for: a line client healthy, refused by a closed port, and refused by
an injected fault (line_clients.py)."""
import os

from harness import case
from line_clients import healthy, injected_refusal, refused
from debian_tools import DEBIAN, tool

DEBIAN["/usr/bin/ruby"] = "ruby"
HERE = os.path.dirname(os.path.abspath(__file__))


def client():
    return [tool("/usr/bin/ruby"), os.path.join(HERE, "rb_line_client.rb")]


@case("ruby TCPSocket line client")
def ruby_healthy(h):
    healthy(h, "ruby", client(), ("socket", "connect", "write", "read"))


@case("ruby TCPSocket refused by a closed port")
def ruby_refused(h):
    refused(h, "ruby", client(), 'Errno::ECONNREFUSED: Connection refused - connect(2) for "127.0.0.1" port PORT',
            "SO_ERROR")


@case("ruby TCPSocket refused by an injected fault")
def ruby_injected(h):
    injected_refusal(h, "ruby", client(), "SO_ERROR")
