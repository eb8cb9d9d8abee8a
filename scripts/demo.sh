#!/usr/bin/env bash
# demo.sh: perch's main job, end to end, on sample modules built from source.
#
# Installs missing Debian packages, builds perch and the example modules
# (C with the perch SDK, compiled to wasm32-wasi), then shows what a security
# reviewer does with them: inspect a module's declared capabilities, diff two
# versions, embed a manifest into a module that has none, and watch perch
# refuse a malformed module with a tagged error.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build modules
log=$(mktemp)
if [ -f build/build.ninja ]; then
  meson setup --reconfigure build >"$log" 2>&1 || { cat "$log"; exit 1; }
else
  meson setup build >"$log" 2>&1 || { cat "$log"; exit 1; }
fi
echo "building perch and the example modules..."
ninja -C build >"$log" 2>&1 || { cat "$log"; echo "demo: the build failed" >&2; exit 1; }
rm -f "$log"

perch=$(pwd)/build/src/cli/perch
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp build/examples/risk-model-1.4.2.wasm build/examples/risk-model-1.5.0.wasm "$work"
cp build/tests/modules/imports.wasm "$work/plugin.wasm"
cd "$work"

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' reset=$'\033[0m'; else bold= reset=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$reset"; }
show() { printf '$ perch %s\n' "$*"; "$perch" "$@"; }

step "1. What does risk-model 1.4.2 declare it needs? (no code is run or read)"
show wasm inspect risk-model-1.4.2.wasm

step "2. The vendor ships 1.5.0. What changed in what it asks for?"
status=0
show wasm diff risk-model-1.4.2.wasm risk-model-1.5.0.wasm --fail-on-elevated || status=$?
echo "(exit status $status: --fail-on-elevated makes an ELEVATED verdict fail a CI step)"

step "3. The same answer for tools: JSON"
printf '$ perch wasm diff risk-model-1.4.2.wasm risk-model-1.5.0.wasm --format json\n'
"$perch" wasm diff risk-model-1.4.2.wasm risk-model-1.5.0.wasm --format json |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print("verdict:", d["verdict"], " counts:", d["counts"])'

step "4. A module built without the SDK gets its manifest embedded afterwards"
cat > plugin.json <<'JSON'
{
  "schema": 1,
  "name": "plugin",
  "version": "0.3.0",
  "needs_read": ["/data"],
  "needs_net": ["api.example.com:443"],
  "needs_env": [],
  "memory_max": 1048576
}
JSON
show wasm manifest set plugin.wasm plugin.json
show wasm inspect plugin.wasm

step "5. A manifest that breaks the rules is refused before it is embedded"
printf '{"schema":1,"name":"x","version":"1.0.0","needs_read":["/data/../etc"]}' >bad.json
show wasm manifest set plugin.wasm bad.json || echo "(exit status $?)"

step "6. A damaged module is refused with a tagged error and the byte offset"
head -c 200 risk-model-1.4.2.wasm >truncated.wasm
show wasm inspect truncated.wasm || echo "(exit status $?)"

printf '\nDone. See README.md and docs/ for what each command can do.\n'
