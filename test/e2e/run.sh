#!/usr/bin/env bash
# Proves every synthesized app in dist/ on a real control plane: builds (or
# reuses) the pinned binaries, runs the e2e tests, prints a summary.
#
#   test/e2e/run.sh [go test flags, e.g. -run TestApps/rag]
#
# Environment:
#   STAGECRAFT_DIST             apps to prove (default: <repo>/dist)
#   STAGECRAFT_CRDS             folders (colon-separated) of CRDs the target
#                               cluster has (default: <repo>/imports/crds)
#   STAGECRAFT_E2E_CACHE        binary cache (default: ~/.cache/stagecraft-e2e)
#   STAGECRAFT_E2E_REPORT_DIR   where per-app pipeline reports (JSON) go
#                               (default: a new temporary directory)
#   STAGECRAFT_E2E_PIPELINE_TIMEOUT  wait for one app's workloads (default 3m)
#   STAGECRAFT_E2E_TIMEOUT      go test -timeout (default 40m)
#   STAGECRAFT_E2E_KEEP         set to keep scratch dirs (logs, etcd) of failed runs
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
caller="$PWD"
cd "$here"
start=$SECONDS

echo "== e2e: control-plane binaries"
./build-bins.sh >/dev/null
bins_s=$((SECONDS - start))

export STAGECRAFT_E2E_REPORT_DIR="${STAGECRAFT_E2E_REPORT_DIR:-$(mktemp -d -t stagecraft-e2e-reports.XXXXXX)}"

# The upgrade matrix (TestUpgrades): two versions of an app per typical
# edit, written by the library under test.
if [[ -z "${STAGECRAFT_UPGRADE:-}" ]]; then
	STAGECRAFT_UPGRADE="$(mktemp -d -t stagecraft-upgrade.XXXXXX)"
	echo "== e2e: upgrade matrix"
	(cd ../.. && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 go run ./test/upgrade/cmd/matrix -out "$STAGECRAFT_UPGRADE")
fi
export STAGECRAFT_UPGRADE
# go test runs in this folder: make relative paths absolute first.
if [[ -n "${STAGECRAFT_DIST:-}" ]]; then
	STAGECRAFT_DIST="$(cd "$caller" && cd "$STAGECRAFT_DIST" && pwd)"
	export STAGECRAFT_DIST
fi
if [[ -n "${STAGECRAFT_CRDS:-}" ]]; then
	abs=()
	IFS=: read -r -a crds <<<"$STAGECRAFT_CRDS"
	for d in "${crds[@]}"; do
		abs+=("$(cd "$caller" && cd "$d" && pwd)")
	done
	STAGECRAFT_CRDS="$(IFS=:; echo "${abs[*]}")"
	export STAGECRAFT_CRDS
fi
log="$(mktemp -t stagecraft-e2e-log.XXXXXX)"
trap 'rm -f "$log"' EXIT

echo "== e2e: go test (apps from ${STAGECRAFT_DIST:-$(cd ../.. && pwd)/dist})"
test_start=$SECONDS
set +e
go test -v -count=1 -timeout "${STAGECRAFT_E2E_TIMEOUT:-40m}" "$@" ./... 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
test_s=$((SECONDS - test_start))

count() { grep -cE "^ *--- $1: " "$log" || true; }
passed="$(count PASS)"
failed="$(count FAIL)"
skipped="$(count SKIP)"

echo
echo "== e2e summary"
grep -E '^ *--- (PASS|FAIL|SKIP): ' "$log" | sed 's/^/  /' || true
notes="$(grep -oE '(NOT PROVEN \(not a failure\)|ASSUMED): .*' "$log" | sort -u || true)"
upgrades="$(grep -oE 'upgrade( matrix)?: .*' "$log" || true)"
failures="$(grep -oE 'upstream failure: .*' "$log" || true)"
accelerators="$(grep -oE 'accelerators held by waiting pods: .*' "$log" || true)"
if [[ -n "$upgrades" ]]; then
	echo "  upgrade matrix:"
	echo "$upgrades" | sed 's/^/    /'
fi
if [[ -n "$accelerators" ]]; then
	echo "  waiting without waste (one line per app, in order):"
	echo "$accelerators" | sed 's/^/    /'
fi
if [[ -n "$failures" ]]; then
	echo "  fail fast (an upstream Job failed on purpose in each app):"
	echo "$failures" | sed 's/^/    /'
fi
if [[ -n "$notes" ]]; then
	echo "  notes:"
	echo "$notes" | sed 's/^/    /'
fi
grep -E '^ *--- SKIP: ' -A1 "$log" | grep -vE '^ *--- SKIP|^--$' | sed 's/^ */  skip reason: /' || true
echo "  pipeline reports: $STAGECRAFT_E2E_REPORT_DIR"
echo "  time: binaries ${bins_s}s, tests ${test_s}s, total $((SECONDS - start))s"
if [[ $rc -ne 0 && $failed -eq 0 ]]; then
	echo "  go test exited $rc without a failed test (build error, panic or timeout): see above"
fi
echo "e2e: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
