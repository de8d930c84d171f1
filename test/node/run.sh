#!/usr/bin/env bash
# Proves every synthesized app in dist/ on a cluster with one real node
# (kubelet, containerd, runc, CNI, kube-proxy, CoreDNS, a NetworkPolicy
# engine): installs the Debian packages it needs, builds (or reuses) the
# pinned binaries, runs the suite, prints a summary line per app and
# "node: N passed, N failed, N skipped".
#
#   test/node/run.sh [go test flags, e.g. -run TestApps/seed]
#
# Environment:
#   STAGECRAFT_DIST             apps to prove (default: <repo>/dist)
#   STAGECRAFT_CRDS             folders (colon-separated) of CRDs the target
#                               cluster has (default: <repo>/imports/crds)
#   STAGECRAFT_E2E_CACHE        binary cache (default: ~/.cache/stagecraft-e2e)
#   STAGECRAFT_NODE_APP_TIMEOUT wait for one app's workloads (default 4m)
#   STAGECRAFT_NODE_TIMEOUT     go test -timeout (default 30m)
#   STAGECRAFT_NODE_KEEP        set to keep the scratch dir (logs) of a failed run
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
caller="$PWD"
cd "$here"
start=$SECONDS

if [[ $EUID -ne 0 ]]; then
	echo "node: runs a kubelet and containerd: run as root" >&2
	exit 1
fi

# Debian packages: the CNI plugins (bridge, host-local, loopback, portmap),
# iptables for kube-proxy and kube-router, ipset for kube-router,
# libseccomp for building runc, iproute2 for the node's network.
need=()
[[ -x /usr/lib/cni/bridge ]] || need+=(containernetworking-plugins)
command -v iptables-restore >/dev/null || need+=(iptables)
command -v ipset >/dev/null || need+=(ipset)
[[ -e /usr/include/seccomp.h ]] || need+=(libseccomp-dev)
command -v ip >/dev/null || need+=(iproute2)
if [[ ${#need[@]} -gt 0 ]]; then
	echo "== node: apt-get install ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
pkgs_s=$((SECONDS - start))

echo "== node: binaries"
bins_start=$SECONDS
./build-bins.sh >/dev/null
bins_s=$((SECONDS - bins_start))

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
log="$(mktemp -t stagecraft-node-log.XXXXXX)"
trap 'rm -f "$log"' EXIT

echo "== node: go test (apps from ${STAGECRAFT_DIST:-$(cd ../.. && pwd)/dist})"
test_start=$SECONDS
set +e
go test -v -count=1 -timeout "${STAGECRAFT_NODE_TIMEOUT:-30m}" "$@" . ./workload 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
test_s=$((SECONDS - test_start))

count() { grep -cE "^ *--- $1: " "$log" || true; }
passed="$(count PASS)"
failed="$(count FAIL)"
skipped="$(count SKIP)"

echo
echo "== node summary"
grep -E '^node-summary: ' "$log" | sed 's/^node-summary: /  /' || true
notes="$(grep -E '^node-note: ' "$log" | sed 's/^node-note: //' | sort -u || true)"
if [[ -n "$notes" ]]; then
	echo "  notes:"
	echo "$notes" | sed 's/^/    /'
fi
grep -E '^ *--- (FAIL|SKIP): ' "$log" | sed 's/^ */  /' || true
grep -E '^ *--- SKIP: ' -A1 "$log" | grep -vE '^ *--- SKIP|^--$' | sed 's/^ */  skip reason: /' || true
echo "  time: packages ${pkgs_s}s, binaries ${bins_s}s, tests ${test_s}s, total $((SECONDS - start))s"
if [[ $rc -ne 0 && $failed -eq 0 ]]; then
	echo "  go test exited $rc without a failed test (build error, panic or timeout): see above"
fi
echo "node: $passed passed, $failed failed, $skipped skipped"
exit "$rc"
