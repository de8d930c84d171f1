#!/usr/bin/env bash
# Synth speed benchmark (issues 7 and 19): stagecraft vs native cdk8s
# (JavaScript, same cdk8s version, plain ApiObjects) vs a plain-Go floor, at
# 10, 100 and 1000 stages; CPU, wall and memory summed over every process.
# Writes test/bench/RESULTS.md. Takes a few minutes on 2 cores.
#
#   bash test/bench/run.sh                       # the full run
#   bash test/bench/run.sh -sizes 10,100 -reps 3 # a quicker one
#
# Arguments go to the driver (go run ./test/bench/cmd/bench -h lists them).
set -euo pipefail
cd "$(dirname "$0")/../.."

# jsii's documented switch for the end-of-life banner of Node 20.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

bin=$(mktemp -d "${TMPDIR:-/tmp}/stagecraft-bench-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT

echo "bench: building the programs" >&2
go build -o "$bin/" ./test/bench/cmd/...

echo "bench: installing the pinned native cdk8s (npm ci)" >&2
(cd test/bench/native && npm ci --no-audit --no-fund --loglevel=error)

"$bin/bench" -bin "$bin" -native test/bench/native -out test/bench/RESULTS.md "$@"
