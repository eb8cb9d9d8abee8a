#!/bin/sh
# run.sh SECONDS BUILD_DIR: run every libFuzzer target built in BUILD_DIR
# (configured with -Dfuzz=true) for SECONDS seconds each, starting from its
# seed corpus, and print one line per target. Exits 1 if any target found a
# crash, a leak, a timeout or ran out of memory; the reproducer is kept in
# BUILD_DIR/tests/fuzz/findings/TARGET/. Exits 2 on a usage error.
set -u

usage() {
    echo "usage: $0 SECONDS BUILD_DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
secs=$1
build=$2
case $secs in '' | *[!0-9]*) usage ;; esac
dir=$build/tests/fuzz
if [ ! -d "$dir" ]; then
    echo "$0: $dir not found: configure with CC=clang meson setup $build -Dfuzz=true" >&2
    exit 2
fi

# Longest input each target is given: a few sections' worth for the
# module reader, a generous manifest for the others.
max_len_of() {
    case $1 in
    fuzz_reader) echo 8192 ;;
    *) echo 4096 ;;
    esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/perch-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT INT TERM

found=0
ran=0
for exe in "$dir"/fuzz_*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    t=$(basename "$exe")
    corpus=$work/$t/corpus
    artifacts=$work/$t/artifacts
    mkdir -p "$corpus" "$artifacts"
    seeds=$dir/seeds/$t
    [ -d "$seeds" ] || seeds=
    log=$work/$t/log
    start=$(date +%s)
    # -error_exitcode / -timeout_exitcode: a finding of any sort is not 0.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$exe" -max_total_time="$secs" -max_len="$(max_len_of "$t")" \
        -timeout=10 -rss_limit_mb=2048 -error_exitcode=77 -timeout_exitcode=78 \
        -detect_leaks=1 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" ${seeds:+"$seeds"} >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    ran=$((ran + 1))
    if [ "$rc" -eq 0 ]; then
        echo "$t: ok (${runs:-?} runs in $((end - start))s, ${cov:-cov: ?})"
        continue
    fi
    found=1
    keep=$dir/findings/$t
    mkdir -p "$keep"
    cp "$artifacts"/* "$keep"/ 2>/dev/null
    cp "$log" "$keep/log"
    what=$(grep -m 1 -o -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [a-zA-Z-]+|runtime error: .*|Timeout|out-of-memory' "$log")
    echo "$t: FOUND (exit $rc): ${what:-see log} (reproducer and log in $keep)"
    grep -m 8 -E '^ *#[0-9]+ ' "$log" | sed 's/^/    /'
done

if [ "$ran" -eq 0 ]; then
    echo "$0: no fuzz targets in $dir" >&2
    exit 2
fi
exit $found
