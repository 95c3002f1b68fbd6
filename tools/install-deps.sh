#!/usr/bin/env bash
# Installs, with apt-get, the Debian 12 packages that building, testing and
# benchmarking sockdiag need and that this machine does not have yet.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config
  libfmt-dev libspdlog-dev libcli11-dev nlohmann-json3-dev catch2 libelf-dev
  # tests: real programs run under the library, fuzzing, privilege tools;
  # Go builds the strace engine tests' Go client (tests/engine/go)
  clang curl wget python3 socat ncat openssh-client openssh-server bind9-dnsutils util-linux iproute2 procps mount
  git nodejs default-jre-headless default-jdk-headless golang-go
  # real servers the tests start themselves, on loopback, with their own
  # configuration (the package's own service is never started: see below)
  nginx-light postgresql memcached libmemcached-tools iperf3 mosquitto mosquitto-clients lighttpd
  # dnsmasq-base, not dnsmasq: the latter starts a system service
  openssl dnsmasq-base ruby perl php-cli python3-aiohttp
  # a real browser, headless, loads the pages of `sockdiag report --html`
  # (tests/report): the page must run without errors and draw every record
  chromium
  # the sinks of `sockdiag run --log` (tests/cli/sink_cases.sh): a real
  # rsyslogd started by the test; the JSON record schema checked by Debian's
  # validator, not one of our own. (journald is written to by its native
  # protocol, journal_native.cpp: no libsystemd, which has no static archive
  # for the static command.)
  rsyslog python3-jsonschema
  # benchmarks
  valgrind strace fiu-utils hyperfine
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
# The servers' packages would start their system services (nginx on port 80,
# postgres on 5432, memcached on 11211, mosquitto on 1883, lighttpd on 80):
# policy-rc.d exit 101 forbids that while installing; the tests run their own
# instances. An existing policy-rc.d (a container's) is kept.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 0755 "$policy"
  own_policy=1
fi
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || { [ $own_policy = 0 ] || "${sudo_cmd[@]}" rm -f "$policy"; exit 1; }
[ $own_policy = 0 ] || "${sudo_cmd[@]}" rm -f "$policy"
echo "install-deps: done"
