// Package oracle checks what stagecraft writes the way kube-apiserver
// v1.36.3 checks it on create, in process and without a server:
//
//   - built-in kinds are decoded strictly (unknown or duplicate fields are
//     errors, as with kubectl's default fieldValidation=Strict), defaulted,
//     and run through their registry strategy (rest.BeforeCreate:
//     PrepareForCreate, Validate, the metadata checks), from
//     k8s.io/kubernetes at the pinned version; every warning the strategy
//     would send (WarningsOnCreate, such as "fractional byte value") counts
//     as a finding;
//   - every pod template, and every pod, is evaluated against Pod Security
//     "restricted" (k8s.io/pod-security-admission);
//   - a ValidatingAdmissionPolicy's CEL expressions are type-checked against
//     the schemas of the kinds it matches, as kube-controller-manager's
//     policy status controller does (its status.typeChecking warnings count
//     as findings);
//   - a pod held by scheduling gates is also released: the update removing
//     its gates goes through the pod strategy's update validation;
//   - custom resources (KEDA, Prometheus Operator) are pruned, defaulted and
//     validated against the structural schemas of their CRDs in
//     imports/crds, as apiextensions-apiserver does, CEL rules included;
//   - what the controllers create from a workload is built as they build it
//     and checked the same way: the Job each CronJob creates, the pods of a
//     Job (the first and last index of an Indexed one), of a StatefulSet
//     (with their volume claims) and of a Deployment's ReplicaSet.
//
// The tests of this module run the oracle over every golden file and dist/
// folder of the repository, over every valid row of the library's
// validation tables (exported by its tests), and, as fuzz targets, over
// every input stagecraft accepts. A finding fails them.
package oracle
