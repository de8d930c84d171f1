#!/usr/bin/env bash
# Builds the binaries the node suite runs, pinned by the wrapper modules'
# go.mod and go.sum, into the cache test/e2e uses, keyed by component and
# version:
#
#   ${STAGECRAFT_E2E_CACHE:-$HOME/.cache/stagecraft-e2e}/<component>-<version>[-<source hash>]/<binary>
#
#   - the control plane (etcd, kube-apiserver, kube-controller-manager,
#     kube-scheduler): test/e2e/build-bins.sh, unchanged;
#   - kubelet, kube-proxy: from the same wrapper module (test/e2e/tools), so
#     the Kubernetes packages they share with the control plane come from
#     Go's build cache instead of compiling again;
#   - containerd, its runc shim, ctr, runc and CoreDNS: from test/node/tools.
#     CoreDNS is a small main of ours around the upstream packages; its cache
#     key adds a hash of that source;
#   - kube-router, the NetworkPolicy engine: from test/node/tools/kube-router,
#     a module of its own (it is built with the libraries it was released
#     with);
#   - the gate's image (stagecraft's own program, internal/gate), built by
#     its cmd/gate-image exactly as `make gate-image` builds it, into
#     gate-image-<hash>/gate-image.tar: the build is reproducible, so the key
#     is a hash of the module's sources, go.mod, go.sum and the Go version.
#
# A binary already in the cache is not rebuilt.
#
#   build-bins.sh           build what is missing, then print name=path lines
#   build-bins.sh --paths   only print name=path lines (no build, no network)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
e2e="$here/../e2e"
cache="${STAGECRAFT_E2E_CACHE:-$HOME/.cache/stagecraft-e2e}"

# binary | main package | wrapper dir | module whose version keys the cache | cache prefix | cgo | source to hash
bins=(
	"kubelet|k8s.io/kubernetes/cmd/kubelet|$e2e/tools|k8s.io/kubernetes|kubernetes|0|"
	"kube-proxy|k8s.io/kubernetes/cmd/kube-proxy|$e2e/tools|k8s.io/kubernetes|kubernetes|0|"
	"containerd|github.com/containerd/containerd/v2/cmd/containerd|$here/tools|github.com/containerd/containerd/v2|containerd|0|"
	"containerd-shim-runc-v2|github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2|$here/tools|github.com/containerd/containerd/v2|containerd|0|"
	"ctr|github.com/containerd/containerd/v2/cmd/ctr|$here/tools|github.com/containerd/containerd/v2|containerd|0|"
	"runc|github.com/opencontainers/runc|$here/tools|github.com/opencontainers/runc|runc|1|"
	"coredns|./coredns|$here/tools|github.com/coredns/coredns|coredns|0|coredns/main.go"
	"kube-router|github.com/cloudnativelabs/kube-router/v2/cmd/kube-router|$here/tools/kube-router|github.com/cloudnativelabs/kube-router/v2|kube-router|0|"
)

# modver DIR MODULE prints the version DIR/go.mod requires.
modver() {
	local v
	# "require M v" on one line, or "M v" inside a require block.
	v="$(awk -v m="$2" '$1 == "require" { $1 = $2; $2 = $3 } $1 == m && $2 ~ /^v/ && !found { print $2; found = 1 }' "$1/go.mod")"
	if [[ -z "$v" ]]; then
		echo "build-bins.sh: $2 is not required in $1/go.mod" >&2
		exit 1
	fi
	echo "$v"
}

# binpath ENTRY prints where the binary of one bins entry lives in the cache.
binpath() {
	local name pkg dir mod prefix cgo src key
	IFS='|' read -r name pkg dir mod prefix cgo src <<<"$1"
	key="$prefix-$(modver "$dir" "$mod")"
	if [[ -n "$src" ]]; then
		key+="-$(sha256sum "$dir/$src" "$dir/go.sum" | sha256sum | cut -c1-12)"
	fi
	echo "$cache/$key/$name"
}

# The gate's image: the tarball `make gate-image` writes, cached by source.
gate_dir="$(cd "$here/../../internal/gate" && pwd)"
gate_key() {
	{
		go version
		cd "$gate_dir"
		find . -name '*.go' ! -name '*_test.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
		sha256sum go.mod go.sum
	} | sha256sum | cut -c1-12
}
gate_tar="$cache/gate-image-$(gate_key)/gate-image.tar"

# Fail early (and not inside a command substitution) on an unknown version.
for e in "${bins[@]}"; do
	IFS='|' read -r _ _ dir mod _ <<<"$e"
	modver "$dir" "$mod" >/dev/null
done

print_paths() {
	"$e2e/build-bins.sh" --paths | grep -E '^(etcd|kube-apiserver|kube-controller-manager|kube-scheduler)='
	local e
	for e in "${bins[@]}"; do
		echo "${e%%|*}=$(binpath "$e")"
	done
	echo "gate-image=$gate_tar"
}

if [[ "${1:-}" == "--paths" ]]; then
	if [[ ! -s "$gate_tar" ]]; then
	echo "build-bins.sh: building the gate's image (internal/gate/cmd/gate-image)" >&2
	start=$SECONDS
	(cd "$gate_dir" && GOFLAGS="${GOFLAGS:-} -mod=readonly" nice -n "${STAGECRAFT_BUILD_NICE:-10}" go run ./cmd/gate-image -o "$tmp/gate-image.tar" >&2)
	mkdir -p "$(dirname "$gate_tar")"
	mv "$tmp/gate-image.tar" "$gate_tar"
	echo "build-bins.sh: built $gate_tar in $((SECONDS - start))s" >&2
fi

print_paths
	exit 0
fi
if [[ $# -gt 0 ]]; then
	echo "usage: $0 [--paths]" >&2
	exit 2
fi

"$e2e/build-bins.sh" >/dev/null

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.build-node.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

k8sver="$(modver "$e2e/tools" k8s.io/kubernetes)"
k8sminor="${k8sver#v1.}"
k8sminor="${k8sminor%%.*}"
cdver="$(modver "$here/tools" github.com/containerd/containerd/v2)"
runcver="$(modver "$here/tools" github.com/opencontainers/runc)"
krver="$(modver "$here/tools/kube-router" github.com/cloudnativelabs/kube-router/v2)"
# Version stamps the binaries report (kubelet tells the API server its
# version; containerd and runc print theirs in the suite's report).
declare -A ldflags=(
	["$e2e/tools"]="-s -w -X k8s.io/component-base/version.gitVersion=$k8sver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$k8sminor -X k8s.io/component-base/version.gitTreeState=clean"
	["$here/tools"]="-s -w -X github.com/containerd/containerd/v2/version.Version=$cdver -X main.version=${runcver#v}"
	["$here/tools/kube-router"]="-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$krver"
)

# build DIR CGO PKG... builds the packages of one wrapper module at once.
build() {
	local dir="$1" cgo="$2"
	shift 2
	local tags=()
	if [[ "$cgo" == 1 ]]; then
		# runc filters system calls with libseccomp (cgo).
		tags=(-tags seccomp)
	fi
	echo "build-bins.sh: building $* (in $dir)" >&2
	local start=$SECONDS
	(
		cd "$dir"
		CGO_ENABLED="$cgo" GOFLAGS="${GOFLAGS:-} -mod=readonly" \
			nice -n "${STAGECRAFT_BUILD_NICE:-10}" go build -trimpath "${tags[@]}" -ldflags="${ldflags[$dir]}" -o "$tmp/" "$@"
	)
	echo "build-bins.sh: go build took $((SECONDS - start))s" >&2
}

# Group the missing binaries by wrapper module and cgo setting.
declare -A groups=()
missing=()
for e in "${bins[@]}"; do
	if [[ -x "$(binpath "$e")" ]]; then
		continue
	fi
	missing+=("$e")
	IFS='|' read -r _ pkg dir _ _ cgo _ <<<"$e"
	groups["$dir|$cgo"]+=" $pkg"
done
for g in "${!groups[@]}"; do
	# shellcheck disable=SC2086
	build "${g%|*}" "${g#*|}" ${groups[$g]}
done

for e in "${missing[@]}"; do
	IFS='|' read -r name pkg _ <<<"$e"
	# go build names a binary after the last element of its package path.
	out="$(basename "$pkg")"
	dest="$(binpath "$e")"
	mkdir -p "$(dirname "$dest")"
	mv "$tmp/$out" "$dest"
	echo "build-bins.sh: built $dest" >&2
done

if [[ ! -s "$gate_tar" ]]; then
	echo "build-bins.sh: building the gate's image (internal/gate/cmd/gate-image)" >&2
	start=$SECONDS
	(cd "$gate_dir" && GOFLAGS="${GOFLAGS:-} -mod=readonly" nice -n "${STAGECRAFT_BUILD_NICE:-10}" go run ./cmd/gate-image -o "$tmp/gate-image.tar" >&2)
	mkdir -p "$(dirname "$gate_tar")"
	mv "$tmp/gate-image.tar" "$gate_tar"
	echo "build-bins.sh: built $gate_tar in $((SECONDS - start))s" >&2
fi

print_paths
