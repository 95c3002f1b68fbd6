#!/usr/bin/env python3
"""The plan of shim/, checked on its include graph:
- the core (shim/core: knowledge, no system calls, shared with the command and
  the fuzzers) includes nothing of the preloaded part (shim/preload);
- output code (the record formats, the log, the summary) reaches neither the
  policies (policy_*) nor injection (inject*), directly or through another
  header: what a record says must not depend on what the policies do.
Prints every arrow that breaks a rule, one per line; exit status 1 if any."""
import os
import re
import sys

SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shim")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
OUTPUT = re.compile(r"^(record|log|summary|line)[a-z_]*\.(h|cpp)$")
FORBIDDEN_FOR_OUTPUT = re.compile(r"^(policy_|inject)[a-z_]*\.h$")


def files():
    """{name: (part, path)} for every source of shim/, by file name."""
    found = {}
    for part in ("core", "preload"):
        for name in sorted(os.listdir(os.path.join(SHIM, part))):
            if not name.endswith((".h", ".cpp", ".def")):
                continue  # the folder's README
            if name in found:
                sys.exit(f"include_graph: {name} is in both shim/{found[name][0]} and shim/{part}")
            found[name] = (part, os.path.join(SHIM, part, name))
    return found


def includes(path):
    with open(path, encoding="utf-8") as f:
        return INCLUDE.findall(f.read())


def main():
    found = files()
    if not any(p == "core" for p, _ in found.values()) or not any(p == "preload" for p, _ in found.values()):
        sys.exit("include_graph: shim/core or shim/preload is empty")
    edges = {name: [i for i in includes(path) if i in found] for name, (_, path) in found.items()}
    broken = []
    for name, (part, _) in found.items():
        for inc in edges[name]:
            if part == "core" and found[inc][0] == "preload":
                broken.append(f"shim/core/{name} includes shim/preload/{inc}: the core must not depend on the preloaded part")
    for name in found:
        if not OUTPUT.match(name):
            continue
        seen, todo = {}, [(name, [name])]
        while todo:
            cur, chain = todo.pop()
            for inc in edges[cur]:
                if inc in seen:
                    continue
                seen[inc] = chain + [inc]
                todo.append((inc, chain + [inc]))
        for inc, chain in sorted(seen.items()):
            if FORBIDDEN_FOR_OUTPUT.match(inc):
                broken.append(f"{name} reaches {inc} ({' -> '.join(chain)}): output code must not depend on policies or injection")
    for line in broken:
        print(line)
    checked = sum(len(v) for v in edges.values())
    print(f"include_graph: {len(found)} files, {checked} arrows within shim/, {len(broken)} against the plan")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
