#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang and runs each for
# SECONDS (default 60) against a copy of its kept corpus; fails on any crash,
# leak, sanitizer report or broken promise of a parser. The repository is
# never written to: new inputs and crash files stay in a temporary directory,
# which is kept (and named) when a target fails.
#   tools/fuzz.sh [SECONDS]
# BUILD_DIR overrides the build directory (default: build-fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "usage: tools/fuzz.sh [SECONDS] (a whole number of seconds, at least 1)" >&2; exit 2; }
build=$(realpath -m "${BUILD_DIR:-build-fuzz}")
source=$PWD/tests/fuzz

cmake -S "$source" -B "$build" -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++}" -DSOCKDIAG_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)"

# The inputs that once failed first: one run each.
status=0
ctest --test-dir "$build" --output-on-failure -R '^fuzz regressions:' || status=1

work=$(mktemp -d "${TMPDIR:-/tmp}/sockdiag-fuzz-XXXXXX")
for name in rules config env record strace replay; do
  corpus=$work/corpus-$name
  cp -r "$source/corpus/$name" "$corpus"
  mkdir -p "$work/artifacts-$name"
  echo "fuzz: fuzz_$name for ${seconds}s on $(ls "$corpus" | wc -l) kept inputs"
  # -rss_limit_mb: a parser that grows without bound is a failure too.
  if ! "$build/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts-$name/" "$corpus" >"$work/fuzz_$name.log" 2>&1; then
    echo "fuzz: fuzz_$name FAILED; its output and the failing input:" >&2
    tail -60 "$work/fuzz_$name.log" >&2
    ls -l "$work/artifacts-$name" >&2
    status=1
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)' "$work/fuzz_$name.log" | sed "s/^/fuzz: fuzz_$name /"
done

if [ "$status" -eq 0 ]; then
  rm -rf "$work"
  echo "fuzz: no crash in ${seconds}s per target"
else
  echo "fuzz: inputs, logs and crash files kept in $work; add each crash file to tests/fuzz/regressions/NAME/ (see its README.md)" >&2
fi
exit "$status"
