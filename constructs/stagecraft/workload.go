package stagecraft

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Workload holds what every stage's pods share: the container to run, its
// environment, resources and mounts, and the pod's security settings. Each
// stage's props embed it.
type Workload struct {
	// Image is the container image, with a tag or a digest. Required.
	// A missing tag or the tag "latest" is an error unless AllowLatestTag is
	// set, because such an image changes under a running pipeline.
	Image string
	// AllowLatestTag accepts an image without a tag or tagged "latest".
	// Default: false (rejected).
	AllowLatestTag bool
	// Command replaces the image's entrypoint. Default: the image's.
	Command []string
	// Args are the arguments to the command. Default: the image's.
	Args []string
	// Env lists environment variables, in order. Build them with Env,
	// EnvFromSecret and EnvFromConfigMap. Default: none.
	Env []EnvVar
	// Resources are the container's requests and limits. An empty field
	// takes the pipeline's default, then stagecraft's (see Resources).
	Resources Resources
	// Mounts attach PipelineStorage volumes to the container. Default: none.
	Mounts []Mount
	// Labels are added to every object of the stage and to its pods.
	// Default: only stagecraft's recommended labels.
	Labels map[string]string
	// Annotations are added to the stage's pods. Default: none.
	Annotations map[string]string
	// ImagePullPolicy is Always, IfNotPresent or Never. Default: the
	// pipeline's, else IfNotPresent.
	ImagePullPolicy string
	// NodeSelector constrains the nodes the pods run on. Default: the
	// pipeline's, else none. A stage's selector replaces the pipeline's.
	NodeSelector map[string]string
	// ServiceAccountName runs the pods as this service account. Default:
	// the pipeline's, else the namespace's default account.
	ServiceAccountName string
	// ServiceAccountToken mounts an API token into the pods, for stages that
	// call the Kubernetes API. Default: false (no token is mounted).
	ServiceAccountToken bool
	// Security overrides the pods' secure defaults.
	Security Security
	// Accelerators asks for GPUs or other accelerators. Default: none.
	Accelerators *Accelerators
	// SharedMemory mounts a memory-backed /dev/shm of this size (PyTorch
	// data loaders exchange batches through it). Default: none, or for a
	// stage with Accelerators half of its memory limit.
	SharedMemory string
	// PriorityClassName gives the pods this PriorityClass, so that the
	// scheduler may preempt lower-priority pods for them. Default: the
	// cluster's default priority.
	PriorityClassName string
	// Metrics has Prometheus scrape the stage. Default: none.
	Metrics *Metrics
	// Egress lets the stage reach addresses outside the cluster (object
	// stores, model hubs, LLM APIs); all other egress is denied, except DNS
	// and the calls declared with Calls. Default: none.
	Egress []EgressRule
	// TerminationGracePeriod is how long a stopping pod has to finish its
	// work after SIGTERM. Default: 60s for a ProcessorStage (time to drain
	// in-flight requests), Kubernetes' 30s for other stages.
	TerminationGracePeriod time.Duration
}

// Resources are a container's requests and limits, as Kubernetes quantities
// ("250m", "2Gi"). An empty field takes the pipeline's default, and then
// stagecraft's: CPU 100m requested and 1 as the limit, memory 256Mi
// requested and as the limit (so the pod is not killed when the node runs
// short), ephemeral storage 64Mi requested and 1Gi as the limit.
type Resources struct {
	// CPURequest is the CPU the scheduler reserves. Default: 100m.
	CPURequest string
	// CPULimit caps the container's CPU. Default: 1.
	CPULimit string
	// MemoryRequest is the memory the scheduler reserves. Default: 256Mi.
	MemoryRequest string
	// MemoryLimit caps the container's memory. Default: 256Mi.
	MemoryLimit string
	// EphemeralStorageRequest is the local disk (logs, /tmp) the scheduler
	// reserves. Default: 64Mi.
	EphemeralStorageRequest string
	// EphemeralStorageLimit caps the local disk. Default: 1Gi.
	EphemeralStorageLimit string
}

// Security overrides a stage's secure defaults. The pods always run as a
// non-root user, without privilege escalation, with every capability
// dropped and the RuntimeDefault seccomp profile, so that they pass Pod
// Security "restricted".
type Security struct {
	// RunAsUser is the user ID of the container's processes. Default: 65532.
	RunAsUser int64
	// RunAsGroup is their primary group ID. Default: 65532.
	RunAsGroup int64
	// FSGroup owns the mounted volumes. Default: 65532.
	FSGroup int64
	// WritableRootFilesystem lets the container write to its image's
	// filesystem. Default: false (read-only; write to ScratchPaths).
	WritableRootFilesystem bool
	// ScratchPaths are writable emptyDir mounts for temporary files.
	// Default: ["/tmp"].
	ScratchPaths []string
	// ScratchSize limits each scratch directory. Default: "1Gi".
	ScratchSize string
}

// EnvVar is one environment variable: a literal value or a key of a
// ConfigMap or Secret. Secrets are referenced, never copied into the YAML.
type EnvVar struct {
	// Name of the variable.
	Name string
	// Value is a literal value, used when neither ConfigMap nor Secret is set.
	Value string
	// ConfigMap takes the value from a key of a ConfigMap.
	ConfigMap *KeyRef
	// Secret takes the value from a key of a Secret.
	Secret *KeyRef
}

// KeyRef names a key of a ConfigMap or Secret in the pipeline's namespace.
type KeyRef struct {
	// Name of the ConfigMap or Secret.
	Name string
	// Key inside it.
	Key string
	// Optional lets the pod start when the object or key is missing.
	// Default: false.
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
	// Path is the absolute mount path in the container. Required.
	Path string
	// SubPath mounts this relative path of the volume instead of its root.
	// Default: the root.
	SubPath string
	// ReadOnly mounts the volume read-only. Default: false (read-write).
	ReadOnly bool
}

// Probe checks a container's health. Set HTTPPath for an HTTP GET, Command
// for a command run in the container, or neither for a TCP connection.
type Probe struct {
	// HTTPPath is the path of an HTTP GET probe, for example "/healthz".
	HTTPPath string
	// Command is run in the container; exit status 0 is healthy.
	Command []string
	// Port is the name of the container port to probe (HTTP and TCP).
	// Default: the stage's first port.
	Port string
	// InitialDelay before the first probe. Default: none.
	InitialDelay time.Duration
	// Period between probes. Default: 10s.
	Period time.Duration
	// Timeout of one probe. Default: 1s.
	Timeout time.Duration
	// FailureThreshold is the number of failures in a row that count as
	// unhealthy. Default: 3.
	FailureThreshold int32
}

const (
	defaultUID          = 65532
	defaultImagePull    = corev1.PullIfNotPresent
	defaultScratchSize  = "1Gi"
	defaultScratchPath  = "/tmp"
	sharedMemoryPath    = "/dev/shm"
	managedBy           = "stagecraft"
	labelName           = "app.kubernetes.io/name"
	labelPartOf         = "app.kubernetes.io/part-of"
	labelComponent      = "app.kubernetes.io/component"
	labelManagedBy      = "app.kubernetes.io/managed-by"
	componentProcessor  = "processor"
	componentBatch      = "batch"
	componentScheduled  = "scheduled"
	componentStorage    = "storage"
	componentPipeline   = "pipeline"
	containerTerminated = "FallbackToLogsOnError"
)

var libraryResources = Resources{
	CPURequest: "100m", CPULimit: "1",
	MemoryRequest: "256Mi", MemoryLimit: "256Mi",
	EphemeralStorageRequest: "64Mi", EphemeralStorageLimit: "1Gi",
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

// resolveWorkload returns a copy of w with every default filled in from the
// pipeline and from stagecraft. It never modifies w.
func resolveWorkload(w Workload, d Defaults) Workload {
	r := w
	r.Command = append([]string(nil), w.Command...)
	r.Args = append([]string(nil), w.Args...)
	r.Env = append([]EnvVar(nil), w.Env...)
	r.Mounts = append([]Mount(nil), w.Mounts...)
	r.Egress = append([]EgressRule(nil), w.Egress...)
	r.Resources = w.Resources.merge(d.Resources).merge(libraryResources)
	if r.ImagePullPolicy == "" {
		r.ImagePullPolicy = d.ImagePullPolicy
	}
	if r.ImagePullPolicy == "" {
		r.ImagePullPolicy = string(defaultImagePull)
	}
	if r.NodeSelector == nil {
		r.NodeSelector = d.NodeSelector
	}
	if r.ServiceAccountName == "" {
		r.ServiceAccountName = d.ServiceAccountName
	}
	s := &r.Security
	if s.RunAsUser == 0 {
		s.RunAsUser = defaultUID
	}
	if s.RunAsGroup == 0 {
		s.RunAsGroup = defaultUID
	}
	if s.FSGroup == 0 {
		s.FSGroup = defaultUID
	}
	if s.ScratchPaths == nil {
		s.ScratchPaths = []string{defaultScratchPath}
	} else {
		s.ScratchPaths = append([]string(nil), s.ScratchPaths...)
	}
	if s.ScratchSize == "" {
		s.ScratchSize = defaultScratchSize
	}
	r.Accelerators = resolveAccelerators(w.Accelerators)
	r.Metrics = resolveMetrics(w.Metrics)
	r.SharedMemory = sharedMemorySize(r)
	return r
}

// validateWorkload checks the props a user set (w) and their resolved form
// (r), adding every problem to ps.
// extra are more mount paths of the container (a StatefulSet's claims),
// checked for clashes with the others.
func validateWorkload(ps *problems, p *Pipeline, w, r Workload, extra ...namedPath) {
	validateImage(ps, field.NewPath("Image"), w.Image, w.AllowLatestTag)
	for i, e := range w.Env {
		validateEnv(ps, field.NewPath("Env").Index(i), e)
	}
	validateEnvUnique(ps, w.Env)
	validateResources(ps, field.NewPath("Resources"), w.Resources, r.Resources)
	validateLabels(ps, field.NewPath("Labels"), w.Labels)
	validateReservedLabels(ps, field.NewPath("Labels"), w.Labels)
	validateAnnotations(ps, field.NewPath("Annotations"), w.Annotations)
	validatePodAnnotations(ps, field.NewPath("Annotations"), w.Annotations)
	validatePullPolicy(ps, field.NewPath("ImagePullPolicy"), w.ImagePullPolicy)
	validateLabels(ps, field.NewPath("NodeSelector"), w.NodeSelector)
	if w.ServiceAccountName != "" {
		ps.addAll(field.NewPath("ServiceAccountName"), w.ServiceAccountName, validation.IsDNS1123Subdomain(w.ServiceAccountName))
	}
	sec := field.NewPath("Security")
	for _, id := range []struct {
		name string
		v    int64
	}{{"RunAsUser", w.Security.RunAsUser}, {"RunAsGroup", w.Security.RunAsGroup}, {"FSGroup", w.Security.FSGroup}} {
		if id.v < 0 || id.v > 2147483647 {
			ps.add(sec.Child(id.name), id.v, "must be a user or group ID from 1 to 2147483647 (0, root, is not allowed by Pod Security \"restricted\")")
		}
	}
	mountPaths := map[string]string{}
	claim := func(fld *field.Path, p string) {
		if prev, ok := mountPaths[path.Clean(p)]; ok {
			ps.add(fld, p, "mount path is already used by "+prev)
			return
		}
		mountPaths[path.Clean(p)] = fld.String()
	}
	for i, sp := range r.Security.ScratchPaths {
		fld := sec.Child("ScratchPaths").Index(i)
		if w.Security.ScratchPaths == nil || validateMountPath(ps, fld, sp) {
			claim(fld, sp)
		}
	}
	if w.Security.ScratchSize != "" {
		validateQuantity(ps, sec.Child("ScratchSize"), w.Security.ScratchSize)
	}
	defer func() {
		for _, e := range extra {
			if e.path != "" && path.IsAbs(e.path) {
				claim(e.field, e.path)
			}
		}
	}()
	validateAccelerators(ps, field.NewPath("Accelerators"), w.Accelerators)
	validateEgress(ps, w.Egress)
	validateSharedMemory(ps, w, r)
	if r.SharedMemory != "" {
		claim(field.NewPath("SharedMemory"), sharedMemoryPath)
	}
	if w.PriorityClassName != "" {
		ps.addAll(field.NewPath("PriorityClassName"), w.PriorityClassName, validation.IsDNS1123Subdomain(w.PriorityClassName))
	}
	if g := w.TerminationGracePeriod; g < 0 || g%time.Second != 0 {
		ps.add(field.NewPath("TerminationGracePeriod"), g.String(), "must be zero (the default) or a positive whole number of seconds")
	}
	for i, m := range w.Mounts {
		fld := field.NewPath("Mounts").Index(i)
		if m.Storage == nil {
			ps.required(fld.Child("Storage"), "the PipelineStorage to mount")
		} else if m.Storage.pipeline == nil {
			ps.add(fld.Child("Storage"), m.Storage.path, "the storage is not part of any pipeline; create it in the stage's pipeline")
		} else if m.Storage.pipeline != p {
			ps.add(fld.Child("Storage"), m.Storage.path, fmt.Sprintf("storage belongs to pipeline %q (namespace %q); a stage can mount only storage of its own pipeline %q, since a claim is bound inside one namespace", m.Storage.pipeline.path, m.Storage.pipeline.namespace, p.path))
		}
		if validateMountPath(ps, fld.Child("Path"), m.Path) {
			claim(fld.Child("Path"), m.Path)
		}
		if m.SubPath != "" {
			if path.IsAbs(m.SubPath) || hasDotDot(m.SubPath) {
				ps.add(fld.Child("SubPath"), m.SubPath, "must be a relative path inside the volume, without '..'")
			}
		}
	}
}

// namedPath is a mount path and the prop it comes from.
type namedPath struct {
	field *field.Path
	path  string
}

func hasDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func validateMountPath(ps *problems, fld *field.Path, p string) bool {
	if p == "" {
		ps.required(fld, "an absolute path in the container")
		return false
	}
	if !path.IsAbs(p) || hasDotDot(p) || strings.Contains(p, ":") {
		ps.add(fld, p, "must be an absolute path without '..' or ':'")
		return false
	}
	return true
}

func validateImage(ps *problems, fld *field.Path, image string, allowLatest bool) {
	if image == "" {
		ps.required(fld, "a container image with a tag or digest, for example \"ghcr.io/acme/worker:1.4.2\"")
		return
	}
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		ps.add(fld, image, "not a valid image reference: "+err.Error())
		return
	}
	if allowLatest {
		return
	}
	if _, ok := ref.(reference.Digested); ok {
		return
	}
	t, ok := ref.(reference.Tagged)
	switch {
	case !ok:
		ps.add(fld, image, "image has no tag or digest; pin a version (\"name:1.2.3\" or \"name@sha256:...\"), or set AllowLatestTag")
	case t.Tag() == "latest":
		ps.add(fld, image, "the tag \"latest\" changes under a running pipeline; pin a version, or set AllowLatestTag")
	}
}

func validateEnv(ps *problems, fld *field.Path, e EnvVar) {
	if e.Name == "" {
		ps.required(fld.Child("Name"), "the variable's name")
	} else {
		ps.addAll(fld.Child("Name"), e.Name, validation.IsEnvVarName(e.Name))
	}
	sources := 0
	for _, ref := range []struct {
		name string
		r    *KeyRef
	}{{"ConfigMap", e.ConfigMap}, {"Secret", e.Secret}} {
		if ref.r == nil {
			continue
		}
		sources++
		f := fld.Child(ref.name)
		if ref.r.Name == "" {
			ps.required(f.Child("Name"), "the "+ref.name+"'s name")
		} else {
			ps.addAll(f.Child("Name"), ref.r.Name, validation.IsDNS1123Subdomain(ref.r.Name))
		}
		if ref.r.Key == "" {
			ps.required(f.Child("Key"), "the key to read")
		} else {
			ps.addAll(f.Child("Key"), ref.r.Key, validation.IsConfigMapKey(ref.r.Key))
		}
	}
	if sources > 1 {
		ps.add(fld, e.Name, "set at most one of ConfigMap and Secret")
	}
	if sources > 0 && e.Value != "" {
		ps.add(fld.Child("Value"), e.Value, "a variable read from a ConfigMap or Secret cannot also have a literal Value")
	}
}

func validateEnvUnique(ps *problems, env []EnvVar) {
	seen := map[string]int{}
	for i, e := range env {
		if j, ok := seen[e.Name]; ok && e.Name != "" {
			ps.add(field.NewPath("Env").Index(i).Child("Name"), e.Name, fmt.Sprintf("duplicates Env[%d]; each variable may be set once", j))
			continue
		}
		seen[e.Name] = i
	}
}

func validateQuantity(ps *problems, fld *field.Path, s string) (resource.Quantity, bool) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		ps.add(fld, s, "must be a Kubernetes quantity, for example \"500m\", \"2\", \"512Mi\" or \"10Gi\"")
		return q, false
	}
	if q.Sign() <= 0 {
		ps.add(fld, s, "must be greater than zero")
		return q, false
	}
	return q, true
}

// validateResources checks the quantities the user set (own) and that no
// resolved request exceeds its limit.
func validateResources(ps *problems, fld *field.Path, own, resolved Resources) {
	pairs := []struct{ req, lim, ownReq, ownLim, reqName, limName string }{
		{resolved.CPURequest, resolved.CPULimit, own.CPURequest, own.CPULimit, "CPURequest", "CPULimit"},
		{resolved.MemoryRequest, resolved.MemoryLimit, own.MemoryRequest, own.MemoryLimit, "MemoryRequest", "MemoryLimit"},
		{resolved.EphemeralStorageRequest, resolved.EphemeralStorageLimit, own.EphemeralStorageRequest, own.EphemeralStorageLimit, "EphemeralStorageRequest", "EphemeralStorageLimit"},
	}
	for _, p := range pairs {
		okOwn := true
		if p.ownReq != "" {
			_, ok := validateQuantity(ps, fld.Child(p.reqName), p.ownReq)
			okOwn = okOwn && ok
		}
		if p.ownLim != "" {
			_, ok := validateQuantity(ps, fld.Child(p.limName), p.ownLim)
			okOwn = okOwn && ok
		}
		if !okOwn || (p.ownReq == "" && p.ownLim == "") {
			continue
		}
		req, err1 := resource.ParseQuantity(p.req)
		lim, err2 := resource.ParseQuantity(p.lim)
		switch {
		case err1 != nil || err2 != nil || req.Cmp(lim) <= 0:
		case p.ownReq != "":
			ps.add(fld.Child(p.reqName), p.req, fmt.Sprintf("request must not be above the limit %s (%s)", p.lim, p.limName))
		default:
			ps.add(fld.Child(p.limName), p.lim, fmt.Sprintf("limit must not be below the request %s, the default %s; set %s too", p.req, p.reqName, p.reqName))
		}
	}
}

func validatePullPolicy(ps *problems, fld *field.Path, v string) {
	switch corev1.PullPolicy(v) {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		ps.add(fld, v, "must be one of \"Always\", \"IfNotPresent\", \"Never\"")
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func validateLabels(ps *problems, fld *field.Path, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		ps.addAll(fld.Key(k), k, validation.IsQualifiedName(k))
		ps.addAll(fld.Key(k), labels[k], validation.IsValidLabelValue(labels[k]))
	}
}

// validateReservedLabels rejects the recommended labels, which stagecraft
// sets (and selects pods by).
func validateReservedLabels(ps *problems, fld *field.Path, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		if k == labelName || k == labelPartOf || k == labelComponent || k == labelManagedBy {
			ps.add(fld.Key(k), k, "this recommended label is set by stagecraft")
		}
	}
}

// validatePodAnnotations rejects annotations that would break Pod Security
// "restricted": an AppArmor profile other than the runtime's default or a
// localhost one.
func validatePodAnnotations(ps *problems, fld *field.Path, ann map[string]string) {
	for _, k := range sortedKeys(ann) {
		if !strings.HasPrefix(k, corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix) {
			continue
		}
		if v := ann[k]; v != "runtime/default" && !strings.HasPrefix(v, "localhost/") {
			ps.add(fld.Key(k), v, "Pod Security \"restricted\" allows only the AppArmor profiles \"runtime/default\" and \"localhost/<name>\"")
		}
	}
}

func validateAnnotations(ps *problems, fld *field.Path, ann map[string]string) {
	total := 0
	for _, k := range sortedKeys(ann) {
		ps.addAll(fld.Key(k), k, validation.IsQualifiedName(strings.ToLower(k)))
		total += len(k) + len(ann[k])
	}
	if total > 256*1024 {
		ps.add(fld, fmt.Sprintf("%d bytes", total), "annotations may hold at most 256 KiB in all")
	}
}

// validateProbe checks a probe against the container's port names.
func validateProbe(ps *problems, fld *field.Path, pr *Probe, ports []Port) {
	if pr == nil {
		return
	}
	if pr.HTTPPath != "" && len(pr.Command) > 0 {
		ps.add(fld, pr.HTTPPath, "set HTTPPath or Command, not both")
	}
	if pr.HTTPPath != "" && !strings.HasPrefix(pr.HTTPPath, "/") {
		ps.add(fld.Child("HTTPPath"), pr.HTTPPath, "must start with '/'")
	}
	if len(pr.Command) == 0 {
		switch {
		case pr.Port != "" && !hasPort(ports, pr.Port):
			ps.add(fld.Child("Port"), pr.Port, "the container exposes no port of that name; allowed: "+portNames(ports))
		case pr.Port == "" && len(ports) == 0:
			ps.add(fld, "no port", "an HTTP or TCP probe needs a container port; add Ports or use Command")
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"InitialDelay", pr.InitialDelay}, {"Period", pr.Period}, {"Timeout", pr.Timeout}} {
		validateSeconds(ps, fld.Child(d.name), d.v, "must be zero or a positive whole number of seconds")
	}
	if pr.FailureThreshold < 0 {
		ps.add(fld.Child("FailureThreshold"), pr.FailureThreshold, "must be zero (default 3) or positive")
	}
}

// maxDuration is the longest duration a Kubernetes field in seconds holds.
const maxDuration = math.MaxInt32 * time.Second

// validateSeconds checks a duration that becomes a field in whole seconds.
func validateSeconds(ps *problems, fld *field.Path, d time.Duration, detail string) {
	switch {
	case d < 0 || d%time.Second != 0:
		ps.add(fld, d.String(), detail)
	case d > maxDuration:
		ps.add(fld, d.String(), "must be at most 2147483647 seconds (about 68 years)")
	}
}

func hasPort(ports []Port, name string) bool {
	for _, p := range ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func portNames(ports []Port) string {
	if len(ports) == 0 {
		return "none (the stage has no Ports)"
	}
	names := make([]string, len(ports))
	for i, p := range ports {
		names[i] = fmt.Sprintf("%q", p.Name)
	}
	return strings.Join(names, ", ")
}

// podTemplate builds the pod template of a stage from its resolved workload.
// extraMounts are mounts of volumes that are not in the pod spec, such as a
// StatefulSet's claim templates.
func podTemplate(s *stage, w Workload, ports []Port, probes [3]*Probe, restart corev1.RestartPolicy, extraMounts []corev1.VolumeMount) corev1.PodTemplateSpec {
	c := corev1.Container{
		Name:                     s.name,
		Image:                    w.Image,
		ImagePullPolicy:          corev1.PullPolicy(w.ImagePullPolicy),
		Command:                  w.Command,
		Args:                     w.Args,
		Resources:                w.Resources.requirements(),
		TerminationMessagePolicy: containerTerminated,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(!w.Security.WritableRootFilesystem),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	for _, e := range w.Env {
		c.Env = append(c.Env, e.toEnvVar())
	}
	for _, cl := range s.calls {
		c.Env = append(c.Env, cl.endpointEnv())
	}
	for _, p := range ports {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: corev1.Protocol(p.protocol())})
	}
	c.ReadinessProbe = probes[0].toProbe(ports)
	c.LivenessProbe = probes[1].toProbe(ports)
	c.StartupProbe = probes[2].toProbe(ports)

	var volumes []corev1.Volume
	scratch := resource.MustParse(w.Security.ScratchSize)
	for i, p := range w.Security.ScratchPaths {
		name := "scratch"
		if i > 0 {
			name = fmt.Sprintf("scratch-%d", i)
		}
		volumes = append(volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &scratch}}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: p})
	}
	mounted := map[*PipelineStorage]bool{}
	for _, m := range w.Mounts {
		vol := "storage-" + m.Storage.name
		if !mounted[m.Storage] {
			mounted[m.Storage] = true
			volumes = append(volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: m.Storage.name},
			}})
		}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: m.Path, SubPath: m.SubPath, ReadOnly: m.ReadOnly})
	}
	c.VolumeMounts = append(c.VolumeMounts, extraMounts...)
	if w.SharedMemory != "" {
		shm := resource.MustParse(w.SharedMemory)
		volumes = append(volumes, corev1.Volume{Name: "shm", VolumeSource: corev1.VolumeSource{
			EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory, SizeLimit: &shm},
		}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "shm", MountPath: sharedMemoryPath})
	}

	spec := corev1.PodSpec{
		Containers:                   []corev1.Container{c},
		Volumes:                      volumes,
		RestartPolicy:                restart,
		ServiceAccountName:           w.ServiceAccountName,
		AutomountServiceAccountToken: ptr.To(w.ServiceAccountToken),
		NodeSelector:                 w.NodeSelector,
		EnableServiceLinks:           ptr.To(false),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To(w.Security.RunAsUser),
			RunAsGroup:     ptr.To(w.Security.RunAsGroup),
			FSGroup:        ptr.To(w.Security.FSGroup),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	if w.PriorityClassName != "" {
		spec.PriorityClassName = w.PriorityClassName
	}
	if w.TerminationGracePeriod > 0 {
		spec.TerminationGracePeriodSeconds = ptr.To(int64(w.TerminationGracePeriod / time.Second))
	}
	applyAccelerators(&spec, w.Accelerators)
	s.addWait(&spec, w)
	tmpl := corev1.PodTemplateSpec{Spec: spec}
	tmpl.Labels = s.labels()
	if len(w.Annotations) > 0 {
		tmpl.Annotations = w.Annotations
	}
	return tmpl
}

func (r Resources) requirements() corev1.ResourceRequirements {
	q := resource.MustParse
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:              q(r.CPURequest),
			corev1.ResourceMemory:           q(r.MemoryRequest),
			corev1.ResourceEphemeralStorage: q(r.EphemeralStorageRequest),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceCPU:              q(r.CPULimit),
			corev1.ResourceMemory:           q(r.MemoryLimit),
			corev1.ResourceEphemeralStorage: q(r.EphemeralStorageLimit),
		},
	}
}

func (e EnvVar) toEnvVar() corev1.EnvVar {
	v := corev1.EnvVar{Name: e.Name, Value: e.Value}
	switch {
	case e.Secret != nil:
		v.Value = ""
		v.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: e.Secret.Name}, Key: e.Secret.Key, Optional: optional(e.Secret.Optional)}}
	case e.ConfigMap != nil:
		v.Value = ""
		v.ValueFrom = &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: e.ConfigMap.Name}, Key: e.ConfigMap.Key, Optional: optional(e.ConfigMap.Optional)}}
	}
	return v
}

func optional(b bool) *bool {
	if b {
		return ptr.To(true)
	}
	return nil
}

func (pr *Probe) toProbe(ports []Port) *corev1.Probe {
	if pr == nil {
		return nil
	}
	port := pr.Port
	if port == "" && len(ports) > 0 {
		port = ports[0].Name
	}
	p := &corev1.Probe{
		InitialDelaySeconds: int32(pr.InitialDelay / time.Second),
		PeriodSeconds:       int32(pr.Period / time.Second),
		TimeoutSeconds:      int32(pr.Timeout / time.Second),
		FailureThreshold:    pr.FailureThreshold,
	}
	switch {
	case len(pr.Command) > 0:
		p.Exec = &corev1.ExecAction{Command: pr.Command}
	case pr.HTTPPath != "":
		p.HTTPGet = &corev1.HTTPGetAction{Path: pr.HTTPPath, Port: intstr.FromString(port)}
	default:
		p.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromString(port)}
	}
	return p
}
