#!/usr/bin/env bash
# Builds the control-plane binaries the e2e tests run (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl, kwok), pinned by the versions in
# tools/go.mod and tools/go.sum, into a cache keyed by component and version:
#
#   ${STAGECRAFT_E2E_CACHE:-$HOME/.cache/stagecraft-e2e}/<component>-<version>/<binary>
#
# A binary already in the cache is not rebuilt. All missing binaries are built
# by one `go build` so that the packages they share compile once.
#
#   build-bins.sh           build what is missing, then print name=path lines
#   build-bins.sh --paths   only print name=path lines (no build, no network)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="$here/tools"
cache="${STAGECRAFT_E2E_CACHE:-$HOME/.cache/stagecraft-e2e}"

# binary | main package | module whose version keys the cache | cache folder prefix
bins=(
	"etcd|go.etcd.io/etcd/server/v3|go.etcd.io/etcd/server/v3|etcd"
	"kube-apiserver|k8s.io/kubernetes/cmd/kube-apiserver|k8s.io/kubernetes|kubernetes"
	"kube-controller-manager|k8s.io/kubernetes/cmd/kube-controller-manager|k8s.io/kubernetes|kubernetes"
	"kube-scheduler|k8s.io/kubernetes/cmd/kube-scheduler|k8s.io/kubernetes|kubernetes"
	"kubectl|k8s.io/kubernetes/cmd/kubectl|k8s.io/kubernetes|kubernetes"
	"kwok|sigs.k8s.io/kwok/cmd/kwok|sigs.k8s.io/kwok|kwok"
)

# modver MODULE prints the version tools/go.mod requires.
modver() {
	local v
	v="$(awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$tools/go.mod")"
	if [[ -z "$v" ]]; then
		echo "build-bins.sh: $1 is not required in $tools/go.mod" >&2
		exit 1
	fi
	echo "$v"
}

# binpath ENTRY prints where the binary of one bins entry lives in the cache.
binpath() {
	local name pkg mod prefix
	IFS='|' read -r name pkg mod prefix <<<"$1"
	echo "$cache/$prefix-$(modver "$mod")/$name"
}

print_paths() {
	local e
	for e in "${bins[@]}"; do
		echo "${e%%|*}=$(binpath "$e")"
	done
}

if [[ "${1:-}" == "--paths" ]]; then
	print_paths
	exit 0
fi
if [[ $# -gt 0 ]]; then
	echo "usage: $0 [--paths]" >&2
	exit 2
fi

missing=()
pkgs=()
for e in "${bins[@]}"; do
	if [[ -x "$(binpath "$e")" ]]; then
		continue
	fi
	missing+=("$e")
	IFS='|' read -r _ pkg _ _ <<<"$e"
	pkgs+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "build-bins.sh: all binaries cached under $cache" >&2
	print_paths
	exit 0
fi

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

k8sver="$(modver k8s.io/kubernetes)"
k8sminor="${k8sver#v1.}"
k8sminor="${k8sminor%%.*}"
# Without these the Kubernetes binaries report v0.0.0-master.
ldflags="-s -w"
ldflags+=" -X k8s.io/component-base/version.gitVersion=$k8sver"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1"
ldflags+=" -X k8s.io/component-base/version.gitMinor=$k8sminor"
ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"

echo "build-bins.sh: building ${pkgs[*]}" >&2
start=$SECONDS
(
	cd "$tools"
	# -mod=readonly: fail instead of silently changing the pinned go.mod/go.sum.
	CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=readonly" go build -trimpath -ldflags="$ldflags" -o "$tmp/" "${pkgs[@]}"
)
echo "build-bins.sh: go build took $((SECONDS - start))s" >&2

for e in "${missing[@]}"; do
	IFS='|' read -r name pkg _ _ <<<"$e"
	# go build names a binary after the last path element, or the one before
	# it when that is a major-version suffix (go.etcd.io/etcd/server/v3 -> server).
	out="${pkg##*/}"
	if [[ "$out" =~ ^v[0-9]+$ ]]; then
		out="$(basename "$(dirname "$pkg")")"
	fi
	dest="$(binpath "$e")"
	mkdir -p "$(dirname "$dest")"
	mv "$tmp/$out" "$dest"
	echo "build-bins.sh: built $dest" >&2
done

print_paths
