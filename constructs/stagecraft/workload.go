package stagecraft

import (
	"time"
)

// Workload holds what every stage's pods share: the container to run, its
// environment, resources and mounts, and the pod's security settings. Each
// stage's props embed it.
type Workload struct {
	// Image is the container image (containers[0].image), with a tag or a
	// digest. Required. A missing tag or the tag "latest" is a problem
	// unless AllowLatestTag is set, because such an image changes under a
	// running pipeline.
	Image string
	// AllowLatestTag accepts an image without a tag or tagged "latest".
	// Default: false (rejected).
	AllowLatestTag bool
	// Command replaces the image's entrypoint (containers[0].command).
	// Default: the image's.
	Command []string
	// Args are the arguments to the command (containers[0].args). Default:
	// the image's.
	Args []string
	// Env lists environment variables (containers[0].env), in order. Build
	// them with Env, EnvFromSecret and EnvFromConfigMap. Default: none but
	// HOME, which is set (first, so that later values may use $(HOME)) to
	// the first of Security.ScratchPaths unless Env sets it: the non-root
	// user has no home directory in most images, and libraries that cache
	// under ~/.cache (model hubs, tokenizers) need a writable one.
	Env []EnvVar
	// Resources are the container's requests and limits
	// (containers[0].resources). An empty field takes the pipeline's
	// default, then stagecraft's (see Resources).
	Resources Resources
	// Mounts attach PipelineStorage volumes to the container. Default: none.
	Mounts []Mount
	// Labels are added to every object of the stage and to its pods
	// (metadata.labels, template.metadata.labels). Default: only
	// stagecraft's recommended labels.
	Labels map[string]string
	// Annotations are added to the stage's pods (template.metadata
	// .annotations). Default: none.
	Annotations map[string]string
	// ImagePullPolicy is Always, IfNotPresent or Never
	// (containers[0].imagePullPolicy). Default: the pipeline's, else
	// IfNotPresent.
	ImagePullPolicy string
	// NodeSelector constrains the nodes the pods run on (spec.nodeSelector).
	// Default (nil): the pipeline's, else none. A stage's selector, even an
	// empty one, replaces the pipeline's.
	NodeSelector map[string]string
	// ServiceAccountName runs the pods as this service account
	// (spec.serviceAccountName). Default: the pipeline's, else the
	// namespace's default account; a stage that waits for upstream Jobs in
	// an init container then gets an account of its own, named after the
	// stage. A stage that waits is granted get on its upstream Jobs through
	// the account it runs as, so every pod that shares a named account
	// shares that grant; "default" with a wait is a problem.
	ServiceAccountName string
	// ServiceAccountToken mounts an API token into the pods
	// (automountServiceAccountToken), for stages that call the Kubernetes
	// API. Default: false (no token is mounted).
	ServiceAccountToken bool
	// Security overrides the pods' secure defaults. Default: the defaults
	// listed on Security.
	Security Security
	// Accelerators asks for GPUs or other accelerators. Default: none.
	Accelerators *Accelerators
	// SharedMemory mounts a memory-backed /dev/shm of this size (an
	// emptyDir volume "shm" with medium Memory and this sizeLimit), a
	// Kubernetes quantity such as "2Gi" (PyTorch data loaders exchange
	// batches through it). Default: none, or for a stage with Accelerators
	// half of its memory limit.
	SharedMemory string
	// PriorityClassName gives the pods this PriorityClass
	// (spec.priorityClassName), so that the scheduler may preempt
	// lower-priority pods for them. Default: the cluster's default priority.
	PriorityClassName string
	// Metrics has Prometheus scrape the stage. Default: none.
	Metrics *Metrics
	// Egress lets the stage reach addresses outside the cluster (object
	// stores, model hubs, LLM APIs); all other egress is denied, except DNS
	// and the calls declared with Calls. Default: none.
	Egress []EgressRule
	// NotSecrets lists props whose literal values look like secrets but are
	// not (a public test key, a checksum), by the field path a problem names
	// them with: "Env[0].Value", "Args[2]", "Annotations[example.com/sig]",
	// "EventScaling.Triggers[0].Metadata[apiKey]"; or a field of one of the
	// construct's objects, as "Kind:json.path" (for a value no prop check
	// reads, such as a probe's path:
	// "Deployment:spec.template.spec.containers[0].livenessProbe.httpGet.path").
	// A value listed is no secret in any object of the pipeline. stagecraft
	// refuses a literal value that looks like a credential (a well-known
	// token shape such as sk-..., ghp_..., hf_... or an AWS key; a URL with a
	// password; a connection string's or a shell command's password; base64
	// of a credential; a literal under a secret-like name such as
	// DB_PASSWORD or --api-key; a long random value under a key-like name),
	// in its props and in every string of the objects it writes, since it
	// would be written into the manifests in plain text: read it from a
	// Secret instead (EnvFromSecret). An entry that names nothing is a
	// problem. Default: none.
	NotSecrets []string
	// TerminationGracePeriod is how long a stopping pod has to finish its
	// work after SIGTERM (terminationGracePeriodSeconds), a whole number of
	// seconds. Default: 60s for a ProcessorStage (time to drain in-flight
	// requests), Kubernetes' 30s for other stages.
	TerminationGracePeriod time.Duration
}

// Resources are a container's requests and limits, as Kubernetes quantities
// ("250m", "2Gi"). An empty field takes the pipeline's default, and then
// stagecraft's: CPU 100m requested and 1 as the limit, memory 256Mi
// requested and as the limit (so the pod is not killed when the node runs
// short), ephemeral storage 64Mi requested and 1Gi as the limit. A request
// above its limit is a problem.
type Resources struct {
	// CPURequest is the CPU the scheduler reserves (requests.cpu).
	// Default: 100m.
	CPURequest string
	// CPULimit caps the container's CPU (limits.cpu). Default: 1.
	CPULimit string
	// MemoryRequest is the memory the scheduler reserves (requests.memory).
	// Default: 256Mi.
	MemoryRequest string
	// MemoryLimit caps the container's memory (limits.memory). Default:
	// 256Mi.
	MemoryLimit string
	// EphemeralStorageRequest is the local disk (logs, /tmp) the scheduler
	// reserves (requests.ephemeral-storage). Default: 64Mi.
	EphemeralStorageRequest string
	// EphemeralStorageLimit caps the local disk (limits.ephemeral-storage).
	// Default: 1Gi.
	EphemeralStorageLimit string
}

// merge returns r with its empty fields taken from d.
func (r Resources) merge(d Resources) Resources {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return Resources{
		CPURequest:              pick(r.CPURequest, d.CPURequest),
		CPULimit:                pick(r.CPULimit, d.CPULimit),
		MemoryRequest:           pick(r.MemoryRequest, d.MemoryRequest),
		MemoryLimit:             pick(r.MemoryLimit, d.MemoryLimit),
		EphemeralStorageRequest: pick(r.EphemeralStorageRequest, d.EphemeralStorageRequest),
		EphemeralStorageLimit:   pick(r.EphemeralStorageLimit, d.EphemeralStorageLimit),
	}
}

// Security overrides a stage's secure defaults. The pods always run as a
// non-root user, without privilege escalation, with every capability
// dropped and the RuntimeDefault seccomp profile, so that they pass Pod
// Security "restricted".
type Security struct {
	// RunAsUser is the user ID of the container's processes
	// (securityContext.runAsUser), from 1 to 2147483647. Default: 65532.
	RunAsUser int64
	// RunAsGroup is their primary group ID (securityContext.runAsGroup).
	// Default: 65532.
	RunAsGroup int64
	// FSGroup owns the mounted volumes (securityContext.fsGroup). Default:
	// 65532.
	FSGroup int64
	// WritableRootFilesystem lets the container write to its image's
	// filesystem (readOnlyRootFilesystem: false). Default: false
	// (read-only; write to ScratchPaths).
	WritableRootFilesystem bool
	// ScratchPaths are writable emptyDir mounts for temporary files
	// (volumes "scratch", "scratch-1", ...), absolute paths. Default: ["/tmp"]; an empty, non-nil list mounts none.
	ScratchPaths []string
	// ScratchSize limits each scratch directory (emptyDir.sizeLimit), a
	// Kubernetes quantity of whole bytes. Default: "1Gi". The scratch
	// directories count against the ephemeral-storage limit: without a
	// Resources.EphemeralStorageLimit (of the stage or the pipeline), the
	// limit is raised to their total when that is above the default.
	ScratchSize string
	// AllowPrivilegedOverride accepts an Override that makes the stage's
	// pods break Pod Security "restricted" (privileged: true, host paths,
	// added capabilities), for a deliberately privileged workload such as
	// a device plugin or a node agent. The pipeline's namespace enforces
	// "restricted" too: lower its pod-security.kubernetes.io/enforce label
	// with the Pipeline's Override, or the API server refuses the pods.
	// Default: false, such an override is a problem.
	AllowPrivilegedOverride bool
}

// EnvVar is one environment variable: a literal value or a key of a
// ConfigMap or Secret. Secrets are referenced, never copied into the YAML.
type EnvVar struct {
	// Name of the variable (env[].name), for example "MODEL_DIR".
	// Required; unique in the container.
	Name string
	// Value is a literal value (env[].value). Default: "", the variable is
	// set and empty. Setting it with ConfigMap or Secret is a problem, and
	// so is a value that looks like a credential (see
	// Workload.NotSecrets).
	Value string
	// ConfigMap takes the value from a key of a ConfigMap
	// (valueFrom.configMapKeyRef). Default: nil, a literal Value.
	ConfigMap *KeyRef
	// Secret takes the value from a key of a Secret
	// (valueFrom.secretKeyRef). Default: nil, a literal Value. Set at most
	// one of ConfigMap and Secret.
	Secret *KeyRef
}

// KeyRef names a key of a ConfigMap or Secret in the pipeline's namespace.
type KeyRef struct {
	// Name of the ConfigMap or Secret (name), a DNS subdomain. Required.
	Name string
	// Key inside it (key). Required.
	Key string
	// Optional lets the pod start when the object or key is missing
	// (optional: true). Default: false, the container does not start
	// until both exist.
	Optional bool
}

// Env returns a literal environment variable.
func Env(name, value string) EnvVar { return EnvVar{Name: name, Value: value} }

// EnvFromSecret returns a variable read from key of the Secret named secret.
func EnvFromSecret(name, secret, key string) EnvVar {
	return EnvVar{Name: name, Secret: &KeyRef{Name: secret, Key: key}}
}

// EnvFromConfigMap returns a variable read from key of the ConfigMap named
// configMap.
func EnvFromConfigMap(name, configMap, key string) EnvVar {
	return EnvVar{Name: name, ConfigMap: &KeyRef{Name: configMap, Key: key}}
}

// Mount attaches a PipelineStorage to a stage's container.
type Mount struct {
	// Storage to mount. Required; it must belong to the stage's pipeline.
	Storage *PipelineStorage
	// Path is the absolute mount path in the container (mountPath).
	// Required.
	Path string
	// SubPath mounts this relative path of the volume instead of its root
	// (subPath). Default: the root.
	SubPath string
	// ReadOnly mounts the volume read-only (readOnly). Default: false
	// (read-write).
	// A stage that mounts storage read-write writes it: the stages that
	// only read it come after the writers in the manifests and the sync
	// waves, and a BatchStage or ScheduledStage that reads it also waits at
	// run time until the writers that are BatchStages have completed.
	ReadOnly bool
	// WaitForWriters says whether the stage, when it only reads the
	// storage, waits at run time until the BatchStages that write it have
	// completed. A BatchStage waits with its pods held by a scheduling gate,
	// holding nothing; a ScheduledStage or ProcessorStage waits in an init
	// container, which gets an API token and egress to the API server, and
	// so must not request accelerators. Either way the stage comes after the
	// writers in the manifests and the Argo CD sync waves. Default (nil):
	// BatchStage and ScheduledStage readers wait; a ProcessorStage starts at
	// once and must cope with data that is not there yet (for example by
	// failing its readiness probe until it is).
	WaitForWriters *bool
}

// Probe checks a container's health. Set HTTPPath for an HTTP GET, Command
// for a command run in the container, or neither for a TCP connection.
type Probe struct {
	// HTTPPath is the path of an HTTP GET probe (httpGet.path), starting
	// with '/', for example "/healthz". Default: none; without HTTPPath and
	// Command the probe opens a TCP connection (tcpSocket). Setting both
	// HTTPPath and Command is a problem.
	HTTPPath string
	// Command is run in the container (exec.command); exit status 0 is
	// healthy. Default: none, an HTTP or TCP probe.
	Command []string
	// Port is the name of the container port to probe (httpGet.port or
	// tcpSocket.port), a TCP port; a Command probe ignores it. Default:
	// the stage's first port; a stage without Ports is a problem unless
	// Command is set.
	Port string
	// InitialDelay before the first probe (initialDelaySeconds), whole
	// seconds. Default: none, probing starts at once.
	InitialDelay time.Duration
	// Period between probes (periodSeconds), whole seconds. Default:
	// Kubernetes' 10s.
	Period time.Duration
	// Timeout of one probe (timeoutSeconds), whole seconds. Default:
	// Kubernetes' 1s.
	Timeout time.Duration
	// FailureThreshold is the number of failures in a row that count as
	// unhealthy (failureThreshold), zero or more. Default: Kubernetes' 3.
	FailureThreshold int32
}

// Labels stagecraft sets on every object, and the value of managed-by.
const (
	labelName      = "app.kubernetes.io/name"
	labelPartOf    = "app.kubernetes.io/part-of"
	labelComponent = "app.kubernetes.io/component"
	labelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "stagecraft"
)

// Components (app.kubernetes.io/component) of stagecraft's constructs.
const (
	componentProcessor = "processor"
	componentBatch     = "batch"
	componentScheduled = "scheduled"
	componentStorage   = "storage"
	componentPipeline  = "pipeline"
	componentGate      = "gate"
)
