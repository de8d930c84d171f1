#!/usr/bin/env bash
# Proves the Argo Workflows objects in dist/ against Argo Workflows itself
# (pinned in go.mod): the subset CRDs against the upstream ones, Argo's own
# validation, and the workflow-controller running each chain on the e2e
# control plane with simulated nodes. Prints a summary.
#
#   test/argo/run.sh [go test flags, e.g. -run TestArgoValidation]
#
# Environment:
#   STAGECRAFT_DIST        apps to prove (default: <repo>/dist)
#   STAGECRAFT_E2E_CACHE   binary cache shared with test/e2e
#                          (default: ~/.cache/stagecraft-e2e)
#   STAGECRAFT_E2E_KEEP    set to keep scratch dirs (logs, etcd) of failed runs
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
caller="$PWD"
cd "$here"
start=$SECONDS
cache="${STAGECRAFT_E2E_CACHE:-$HOME/.cache/stagecraft-e2e}"

echo "== argo: control-plane binaries (test/e2e/build-bins.sh)"
../e2e/build-bins.sh >/dev/null
bins_s=$((SECONDS - start))

# The workflow-controller, built from the module go.mod pins, cached by
# its version like the control-plane binaries.
version="$(go list -m -f '{{.Version}}' github.com/argoproj/argo-workflows/v4)"
ctrl="$cache/argo-workflows-$version/workflow-controller"
ctrl_start=$SECONDS
if [[ ! -x "$ctrl" ]]; then
	echo "== argo: building workflow-controller $version"
	mkdir -p "$(dirname "$ctrl")"
	CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly" go build -trimpath -o "$ctrl.tmp" github.com/argoproj/argo-workflows/v4/cmd/workflow-controller
	mv "$ctrl.tmp" "$ctrl"
fi
ctrl_s=$((SECONDS - ctrl_start))
export STAGECRAFT_ARGO_CONTROLLER="$ctrl"
if [[ -n "${STAGECRAFT_DIST:-}" ]]; then
	STAGECRAFT_DIST="$(cd "$caller" && cd "$STAGECRAFT_DIST" && pwd)"
	export STAGECRAFT_DIST
fi

log="$(mktemp -t stagecraft-argo-log.XXXXXX)"
trap 'rm -f "$log"' EXIT
echo "== argo: go test"
test_start=$SECONDS
set +e
# The flags the controller is built with (no cgo, -trimpath): the Argo and
# Kubernetes packages the test imports then compile once for both.
CGO_ENABLED=0 go test -mod=readonly -trimpath -v -count=1 -timeout "${STAGECRAFT_ARGO_TIMEOUT:-30m}" "$@" ./... 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
test_s=$((SECONDS - test_start))

count() { grep -cE "^ *--- $1: " "$log" || true; }
passed="$(count PASS)"
failed="$(count FAIL)"
skipped="$(count SKIP)"
echo
echo "== argo summary"
grep -E '^ *--- (PASS|FAIL|SKIP): ' "$log" | sed 's/^/  /' || true
grep -oE '(subset CRD|argo validation|strict apply|Argo Workflows v4|executor RBAC|dag order|pods:|retries:|cron:|submitted Workflow).*' "$log" | sed 's/^/  /' || true
echo "  time: control-plane binaries ${bins_s}s, workflow-controller ${ctrl_s}s, tests ${test_s}s, total $((SECONDS - start))s"
if [[ $rc -ne 0 && $failed -eq 0 ]]; then
	echo "  go test exited $rc without a failed test (build error, panic or timeout): see above"
fi
echo "argo: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
