// Which getaddrinfo calls would ask DNS, so that a dns rule touches only
// those: a real DNS outage cannot fail a literal address, a numeric lookup
// or a name the hosts file answers (tools/INJECT.md, "DNS rules").
#pragma once
#include <netdb.h>

namespace sd {

enum class LookupScope : unsigned char {
  no_dns,  // NULL node, AI_NUMERICHOST, or a literal address: answered without asking anyone
  name,    // a name: asks DNS unless the hosts file answers it (in_hosts_file)
};

// `*family` gets the family asked for (hints' ai_family, else AF_UNSPEC).
// The hints are read through the kernel: a pointer it cannot read is
// answered no_dns (the real call then fails as it would).
LookupScope lookup_scope(const char* node, const addrinfo* hints, int* family);

// `name` has an entry in /etc/hosts with an address of `family` (AF_UNSPEC:
// any), which glibc's "files" source answers before DNS is asked (the
// `hosts: files dns` order of nsswitch.conf). Reads the file each time, as
// glibc does; no allocation.
bool in_hosts_file(const char* name, int family);

}  // namespace sd
