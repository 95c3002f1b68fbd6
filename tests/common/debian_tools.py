"""The programs the real-program and load tests use from Debian, by absolute
path, so that another install earlier in PATH is never tested instead."""
import os

from sdtest import expect

# Program -> the Debian package that installs it (tools/install-deps.sh).
DEBIAN = {
    "/usr/bin/python3": "python3", "/usr/bin/curl": "curl", "/usr/bin/wget": "wget", "/usr/bin/socat": "socat",
    "/usr/bin/ncat": "ncat",
    "/usr/bin/ssh": "openssh-client", "/usr/bin/ssh-keygen": "openssh-client", "/usr/sbin/sshd": "openssh-server",
    "/usr/bin/dig": "bind9-dnsutils", "/usr/bin/git": "git", "/usr/bin/node": "nodejs",
    "/usr/bin/java": "default-jre-headless", "/usr/bin/javac": "default-jdk-headless",
    "/usr/sbin/nginx": "nginx-light", "/usr/lib/postgresql/15/bin/postgres": "postgresql",
    "/usr/lib/postgresql/15/bin/initdb": "postgresql", "/usr/lib/postgresql/15/bin/pg_ctl": "postgresql",
    "/usr/lib/postgresql/15/bin/psql": "postgresql", "/usr/bin/memcached": "memcached",
    "/usr/bin/memccp": "libmemcached-tools", "/usr/bin/memccat": "libmemcached-tools",
    "/usr/bin/memcstat": "libmemcached-tools", "/usr/bin/iperf3": "iperf3", "/usr/sbin/mosquitto": "mosquitto",
    "/usr/bin/mosquitto_pub": "mosquitto-clients", "/usr/bin/mosquitto_sub": "mosquitto-clients",
    "/usr/sbin/lighttpd": "lighttpd",
    "/usr/bin/setpriv": "util-linux", "/usr/bin/prlimit": "util-linux", "/usr/bin/findmnt": "util-linux",
}
PYTHON = "/usr/bin/python3"


def tool(path):
    """`path`, which must exist; says which package installs it if not."""
    expect(os.access(path, os.X_OK), f"{path} is missing: install the Debian package {DEBIAN.get(path, '?')} "
                                     "(tools/install-deps.sh)")
    return path
