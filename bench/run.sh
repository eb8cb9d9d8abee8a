#!/bin/sh
# Benchmark perch wasm inspect and diff against wasm-objdump -h.
# usage: bench/run.sh [--quick] [--runs N] [--json FILE] ... (see --help)
exec python3 "$(dirname "$0")/run.py" "$@"
