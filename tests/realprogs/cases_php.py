"""PHP (Debian's php-cli) with stream_socket_client, a non-blocking connect
waited for with poll: a line client healthy, refused by a closed port, and
refused by an injected fault (line_clients.py)."""
import os

from harness import case
from line_clients import healthy, injected_refusal, refused
from debian_tools import DEBIAN, tool

DEBIAN["/usr/bin/php"] = "php-cli"
HERE = os.path.dirname(os.path.abspath(__file__))


def client():
    return [tool("/usr/bin/php"), os.path.join(HERE, "php_line_client.php")]


@case("php stream_socket_client line client")
def php_healthy(h):
    healthy(h, "php", client(), ("socket", "connect", "getsockopt", "send", "recv"))


@case("php stream_socket_client refused by a closed port")
def php_refused(h):
    refused(h, "php", client(), "111 Connection refused", "SO_ERROR")


@case("php stream_socket_client refused by an injected fault")
def php_injected(h):
    injected_refusal(h, "php", client(), "SO_ERROR")
