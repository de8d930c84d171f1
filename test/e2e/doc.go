// Package e2e proves the synthesized manifests in dist/ on a real Kubernetes
// control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) with kwok simulating the nodes. It is a module of its own
// so that the library's go.mod stays small; everything is in _test.go files.
//
// Run ./run.sh, or ./build-bins.sh once and then
// `go test -v -count=1 -timeout 40m ./...` here.
package e2e
