#!/usr/bin/env bash
# Builds sockdiag and runs every test (what CI runs, through .ci/run):
#   1. the whole suite (unit, integration, policies, injection, the command,
#      real programs, stress) on a normal build (Ninja);
#   2. the library's tests again under AddressSanitizer+UndefinedBehaviorSanitizer
#      and under ThreadSanitizer (tools/sanitize.sh; Make);
#   3. the parsers' fuzz targets, FUZZ_SECONDS each (tools/fuzz.sh; default 60).
# BUILD_DIR overrides the build directory of step 1 (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
tools/install-deps.sh
# Ninja here, Make for the sanitizer builds: CI builds with both generators.
# A build directory configured before keeps its own.
generator=(-G Ninja)
[ -f "$build/CMakeCache.txt" ] && generator=()
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
(cd "$build" && ctest --output-on-failure --timeout 300 -j"$(nproc)")
BUILD_DIR=build-address tools/sanitize.sh address
BUILD_DIR=build-thread tools/sanitize.sh thread
BUILD_DIR=build-fuzz tools/fuzz.sh "${FUZZ_SECONDS:-60}"
