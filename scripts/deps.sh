#!/usr/bin/env bash
# deps.sh GROUP...: make sure the Debian packages perch needs are installed.
#
# Groups: build (compile perch), modules (build guest modules and examples),
# test (sanitizers, fuzzing, lint), bench (benchmarks).
# As root, missing packages are installed with apt-get. Otherwise the exact
# install line is printed and the script stops with status 1.
set -euo pipefail

declare -A groups=(
  [build]="meson ninja-build pkg-config gcc libc6-dev libcbor-dev libjansson-dev libssl-dev libyaml-dev libcurl4-openssl-dev"
  [modules]="wabt clang lld wasi-libc libclang-rt-dev-wasm32"
  [test]="python3 clang libclang-rt-dev cppcheck clang-tidy"
  [bench]="hyperfine python3"
)

if [ $# -eq 0 ]; then
  echo "usage: scripts/deps.sh GROUP... (groups: ${!groups[*]})" >&2
  exit 2
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps: this script installs Debian packages; on another system install the" >&2
  echo "equivalents of: $(for g in "$@"; do printf '%s ' ${groups[$g]}; done)" >&2
  exit 1
fi

missing=()
for g in "$@"; do
  pkgs=${groups[$g]:-}
  if [ -z "$pkgs" ]; then
    echo "deps: unknown group '$g' (groups: ${!groups[*]})" >&2
    exit 2
  fi
  for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      case " ${missing[*]-} " in *" $p "*) ;; *) missing+=("$p") ;; esac
    fi
  done
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages. Install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
