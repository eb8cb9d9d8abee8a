#!/bin/sh
# lint.sh [BUILD_DIR]: static analysis of src/ with clang-tidy (checks in
# .clang-tidy, compile flags from BUILD_DIR/compile_commands.json; default
# BUILD_DIR is build) and cppcheck. Prints each finding and exits 1 if there
# is any, 2 if a tool or the build directory is missing.
set -u
cd "$(dirname "$0")/.." || exit 2
build=${1:-build}

if [ ! -f "$build/compile_commands.json" ]; then
    echo "lint: $build/compile_commands.json not found: run 'meson setup $build' first" >&2
    exit 2
fi
tidy=$(command -v clang-tidy || command -v clang-tidy-14) || {
    echo "lint: clang-tidy not found" >&2
    exit 2
}
command -v cppcheck >/dev/null || {
    echo "lint: cppcheck not found" >&2
    exit 2
}
jobs=$(nproc 2>/dev/null || echo 2)
out=$(mktemp "${TMPDIR:-/tmp}/perch-lint.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT INT TERM

status=0

# One clang-tidy per file, in parallel; a finding is any "warning:" or
# "error:" line (.clang-tidy makes every warning an error).
find src -name '*.c' | sort |
    xargs -P "$jobs" -n 1 "$tidy" -p "$build" --quiet --extra-arg=-Wno-unknown-warning-option >"$out" 2>/dev/null
# A header's finding is reported once per file that includes it: dedupe.
grep -E '(warning|error): ' "$out" | sed "s|^$(pwd)/||; s|^[^ ]*\.\./||" | sort -u >"$out.tidy"
cat "$out.tidy"
n=$(wc -l <"$out.tidy")
rm -f "$out.tidy"
[ "$n" -eq 0 ] || status=1
echo "lint: clang-tidy: $n finding(s)"

# cppcheck: the checks that find bugs, not style. Suppressions live in
# .cppcheck-suppressions (one per line, with the reason above it).
if ! cppcheck --quiet --std=c11 --enable=warning,performance,portability \
    --error-exitcode=1 --inline-suppr --suppressions-list=.cppcheck-suppressions \
    -j "$jobs" -I include -I src -I "$build" -D_POSIX_C_SOURCE=200809L \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' src 2>"$out"; then
    status=1
fi
cat "$out"
echo "lint: cppcheck: $(grep -c ': ' "$out") finding(s)"
exit $status
