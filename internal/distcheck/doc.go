// Package distcheck holds the checks that every manifest in dist/ must
// pass, whatever app wrote it: Pod Security "restricted", evaluated with
// k8s.io/pod-security-admission, and a strict decode into the Kubernetes
// API types.
package distcheck
