#!/usr/bin/env bash
# test.sh: the whole test suite, on a fresh Debian machine or a developer's.
#
#   1. installs missing Debian packages (scripts/deps.sh)
#   2. builds perch with gcc, warnings as errors, and runs every test
#   3. builds again with AddressSanitizer + UndefinedBehaviorSanitizer, runs every test
#   4. builds with clang and the switch dispatch loop, runs every test
#   5. builds the libFuzzer targets and fuzzes each briefly (PERCH_FUZZ_SECONDS, default 20)
#   6. runs clang-tidy and cppcheck (scripts/lint.sh); findings fail the run
#      only with PERCH_LINT_STRICT=1
#
# It closes with one line "tests: N passed, N failed, N skipped" counting the
# test programs of every stage plus the fuzz and lint steps, and exits non-zero
# if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

scripts/deps.sh build modules test || exit 1

passed=0 failed=0 skipped=0
failures=()

# count_log DIR STAGE: add a meson testlog's results to the totals.
count_log() {
  local log="$1/meson-logs/testlog.json" stage=$2 p f s
  if [ ! -f "$log" ]; then
    failed=$((failed + 1)); failures+=("$stage: no test log"); return
  fi
  read -r p f s < <(python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)["result"]
    except (ValueError, KeyError):
        r = "UNREADABLE"
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  [ "$f" -eq 0 ] || failures+=("$stage: $f failed (see $1/meson-logs/testlog.txt)")
  echo "== $stage: $p passed, $f failed, $s skipped"
}

# stage NAME DIR [meson options...]: configure, build and test one configuration.
stage() {
  local name=$1 dir=$2; shift 2
  echo "== $name: configure and build ($dir)"
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1
  else
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
  fi || { cat "$dir.setup.log"; failed=$((failed + 1)); failures+=("$name: configure"); return; }
  rm -f "$dir.setup.log"
  if ! ninja -C "$dir" >"$dir/build-output.log" 2>&1; then
    tail -40 "$dir/build-output.log"
    failed=$((failed + 1)); failures+=("$name: build"); return
  fi
  rm -f "$dir/meson-logs/testlog.json"
  if ! meson test -C "$dir" --print-errorlogs --num-processes 2 --timeout-multiplier "${PERCH_TIMEOUT_MULTIPLIER:-1}" >"$dir/test-output.log" 2>&1 &&
     [ ! -f "$dir/meson-logs/testlog.json" ]; then
    tail -40 "$dir/test-output.log"
  fi
  grep -E '^ *[0-9]+/[0-9]+ ' "$dir/test-output.log" | sed 's/^/   /'
  grep -E 'passed, [0-9]+ failed' "$dir/test-output.log" | sed 's/^/   /' || true
  count_log "$dir" "$name"
}

stage "gcc" build
PERCH_TIMEOUT_MULTIPLIER=4 stage "asan+ubsan" build-asan -Db_sanitize=address,undefined -Db_lundef=false
if meson introspect --buildoptions build 2>/dev/null | grep -q '"name": "dispatch"'; then
  CC=clang stage "clang, switch dispatch" build-clang -Ddispatch=switch
else
  CC=clang stage "clang" build-clang
fi

echo "== fuzz: libFuzzer targets, ${PERCH_FUZZ_SECONDS:-20}s each"
fuzzdir=build-libfuzzer
if [ -f "$fuzzdir/build.ninja" ]; then
  CC=clang meson setup --reconfigure "$fuzzdir" -Dfuzz=true >"$fuzzdir.setup.log" 2>&1
else
  CC=clang meson setup "$fuzzdir" -Dfuzz=true >"$fuzzdir.setup.log" 2>&1
fi
if [ $? -ne 0 ]; then
  cat "$fuzzdir.setup.log"; failed=$((failed + 1)); failures+=("fuzz: configure")
elif ! ninja -C "$fuzzdir" >"$fuzzdir/build-output.log" 2>&1; then
  tail -40 "$fuzzdir/build-output.log"; failed=$((failed + 1)); failures+=("fuzz: build")
elif tests/fuzz/run.sh "${PERCH_FUZZ_SECONDS:-20}" "$fuzzdir"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1)); failures+=("fuzz: a target found a problem")
fi
rm -f "$fuzzdir.setup.log"

echo "== lint: clang-tidy and cppcheck"
# Lint findings fail the suite only with PERCH_LINT_STRICT=1: the analyzer's
# open findings are listed in the output and tracked, not hidden.
if scripts/lint.sh build; then
  passed=$((passed + 1))
elif [ "${PERCH_LINT_STRICT:-0}" = 1 ]; then
  failed=$((failed + 1)); failures+=("lint")
else
  echo "== lint: findings above are reported, not fatal (set PERCH_LINT_STRICT=1 to fail on them)"
  skipped=$((skipped + 1))
fi

echo
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
