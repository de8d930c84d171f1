package stagecraft

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Every default value of stagecraft, in one place. The resolve functions
// (resolve*.go and the resolve methods of each construct) are the only code
// that reads them; the doc comments of the props say what each default does.

// Pod security and resources.
const (
	// defaultUID is the user, group and fsGroup of every pod: a non-root ID
	// that distroless images also use.
	defaultUID = 65532
	// defaultImagePullPolicy: images are pinned (see validateImage), so a
	// node may reuse one it already has.
	defaultImagePullPolicy = corev1.PullIfNotPresent
	// defaultScratchPath is the one writable directory under the read-only
	// root filesystem.
	defaultScratchPath = "/tmp"
	// defaultScratchSize limits each scratch directory.
	defaultScratchSize = "1Gi"
	// homeEnv is set to the first scratch directory, so that the non-root
	// user has a writable home (and ~/.cache).
	homeEnv = "HOME"
)

// defaultResources are the requests and limits of a container whose stage
// and pipeline set none. Memory is requested at its limit, so that the pod
// is not killed first when its node runs short.
var defaultResources = Resources{
	CPURequest: "100m", CPULimit: "1",
	MemoryRequest: "256Mi", MemoryLimit: "256Mi",
	EphemeralStorageRequest: "64Mi", EphemeralStorageLimit: "1Gi",
}

// Processors.
const (
	// defaultReplicas of a ProcessorStage without an autoscaler.
	defaultReplicas = 1
	// defaultProcessorGrace gives a stopping processor time to drain the
	// requests it is serving.
	defaultProcessorGrace = 60 * time.Second
	// defaultIngressPath and defaultIngressPathType route everything.
	defaultIngressPath = "/"
	// defaultMaxUnavailable of a PodDisruptionBudget never blocks a drain,
	// even at one pod, and keeps a drain from evicting every pod at once.
	defaultMaxUnavailable = "1"
	// defaultCPUUtilization is the HorizontalPodAutoscaler's target when no
	// metric is given.
	defaultCPUUtilization = 80
	// defaultScaleDownWindow keeps the autoscaler from removing pods after a
	// short dip in load.
	defaultScaleDownWindow = 5 * time.Minute
	// defaultCooldown and defaultPolling configure KEDA's ScaledObject.
	defaultCooldown = 5 * time.Minute
	defaultPolling  = 30 * time.Second
)

// Run-to-completion stages.
const (
	// defaultBackoffLimit is the number of retries of a Job.
	defaultBackoffLimit = 4
	// defaultTimeZone of a schedule, so that it does not depend on the zone
	// of the cluster's controller manager.
	defaultTimeZone = "Etc/UTC"
	// defaultStartingDeadline skips a run missed by more than this rather
	// than starting it at an arbitrary time.
	defaultStartingDeadline = time.Hour
	// defaultHistoryLimit is the number of finished (and of failed) Jobs a
	// CronJob keeps.
	defaultHistoryLimit = 3
)

// Accelerators.
const (
	// defaultAccelerator is the extended resource of NVIDIA's device plugin.
	defaultAccelerator = "nvidia.com/gpu"
)

// defaultProductLabels are the node labels that name the accelerator
// product, by the resource's domain.
var defaultProductLabels = map[string]string{
	"nvidia.com": "nvidia.com/gpu.product",
	"amd.com":    "amd.com/gpu.product-name",
}

// Metrics.
const (
	defaultMetricsPort     = "metrics"
	defaultMetricsPath     = "/metrics"
	defaultMetricsInterval = 30 * time.Second
)

// Network isolation and waits.
const (
	defaultIngressControllerNamespace = "ingress-nginx"
	defaultMonitoringNamespace        = "monitoring"
	defaultDNSNamespace               = "kube-system"
	// defaultGateImage runs stagecraft's gate (internal/gate), built by
	// make gate-image.
	defaultGateImage = "ghcr.io/stagecraft-dev/gate:0.1.0"
	// defaultWaitTimeout is how long a stage waits for its upstream Jobs.
	defaultWaitTimeout = 24 * time.Hour
)

// defaultAPIServerPorts are the API server's ports as pods reach them,
// after the kubernetes Service's address translation.
var defaultAPIServerPorts = []int32{443, 6443}

// Argo Workflows.
const (
	// defaultRetryBackoff, defaultRetryFactor and defaultRetryCap space a
	// task's retries as the Job controller spaces a Job's: 10s, doubling,
	// at most 6m.
	defaultRetryBackoff = "10s"
	defaultRetryFactor  = 2
	defaultRetryCap     = "6m"
)

// defaultExecutorResources are the requests and limits of Argo's executor
// containers: the init container copies the executor, the wait container
// reports the task's result.
var defaultExecutorResources = Resources{
	CPURequest: "10m", CPULimit: "500m",
	MemoryRequest: "64Mi", MemoryLimit: "128Mi",
	EphemeralStorageRequest: "16Mi", EphemeralStorageLimit: "64Mi",
}
