package stagecraft

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// workloadSpec is a stage's resolved workload: the props as the user gave
// them (for validation, which reports what the user set) and every setting
// with its default applied (for rendering, which applies none).
type workloadSpec struct {
	given Workload

	image          string
	pullPolicy     corev1.PullPolicy
	command, args  []string
	env            []EnvVar
	resources      Resources // every field set
	mounts         []Mount
	annotations    map[string]string
	nodeSelector   map[string]string
	serviceAccount string // "" for the namespace's default account
	token          bool
	security       Security // every field set
	accelerators   *accelSpec
	sharedMemory   string // "" for none
	priorityClass  string
	metrics        *metricsSpec
	egress         []EgressRule
	grace          time.Duration // 0 for Kubernetes' default
	// waitAccount runs the pods when the stage waits for upstream Jobs:
	// the stage's own account, or one stagecraft creates (createAccount).
	waitAccount   string
	createAccount bool
}

// resolveWorkload resolves w, a stage's workload, with the pipeline's
// defaults d, for the stage named name. It copies every slice and map, so
// that a later change to the caller's props changes nothing.
func resolveWorkload(name string, w Workload, d Defaults) workloadSpec {
	r := workloadSpec{
		given:         copyWorkload(w),
		image:         w.Image,
		pullPolicy:    corev1.PullPolicy(firstOf(w.ImagePullPolicy, d.ImagePullPolicy, string(defaultImagePullPolicy))),
		resources:     w.Resources.merge(d.Resources).merge(defaultResources),
		token:         w.ServiceAccountToken,
		priorityClass: w.PriorityClassName,
		grace:         w.TerminationGracePeriod,
	}
	r.command, r.args = r.given.Command, r.given.Args
	r.env, r.mounts, r.egress = r.given.Env, r.given.Mounts, r.given.Egress
	r.annotations = r.given.Annotations
	r.nodeSelector = r.given.NodeSelector
	if r.nodeSelector == nil {
		r.nodeSelector = copyMap(d.NodeSelector)
	}
	r.serviceAccount = firstOf(w.ServiceAccountName, d.ServiceAccountName)
	r.waitAccount, r.createAccount = r.serviceAccount, r.serviceAccount == ""
	if r.createAccount {
		r.waitAccount = name
	}
	r.security = resolveSecurity(w.Security)
	if w.Resources.EphemeralStorageLimit == "" && d.Resources.EphemeralStorageLimit == "" {
		r.resources.EphemeralStorageLimit = scratchLimit(r.resources.EphemeralStorageLimit, r.security)
	}
	r.env = withHome(r.env, r.security.ScratchPaths)
	r.accelerators = resolveAccelerators(w.Accelerators)
	r.metrics = resolveMetrics(w.Metrics)
	r.sharedMemory = sharedMemorySize(w.SharedMemory, r.accelerators != nil, r.resources.MemoryLimit)
	return r
}

// copyWorkload copies the slices and maps of w.
func copyWorkload(w Workload) Workload {
	c := w
	c.Command = append([]string(nil), w.Command...)
	c.Args = append([]string(nil), w.Args...)
	c.Env = append([]EnvVar(nil), w.Env...)
	c.Mounts = append([]Mount(nil), w.Mounts...)
	c.Egress = append([]EgressRule(nil), w.Egress...)
	c.Labels = copyMap(w.Labels)
	c.Annotations = copyMap(w.Annotations)
	c.NodeSelector = copyMap(w.NodeSelector)
	c.NotSecrets = append([]string(nil), w.NotSecrets...)
	if w.Security.ScratchPaths != nil {
		c.Security.ScratchPaths = append([]string{}, w.Security.ScratchPaths...)
	}
	return c
}

func resolveSecurity(s Security) Security {
	r := s
	if r.RunAsUser == 0 {
		r.RunAsUser = defaultUID
	}
	if r.RunAsGroup == 0 {
		r.RunAsGroup = defaultUID
	}
	if r.FSGroup == 0 {
		r.FSGroup = defaultUID
	}
	if r.ScratchPaths == nil {
		r.ScratchPaths = []string{defaultScratchPath}
	} else {
		r.ScratchPaths = append([]string{}, s.ScratchPaths...)
	}
	if r.ScratchSize == "" {
		r.ScratchSize = defaultScratchSize
	}
	return r
}

// scratchTotal is how much the scratch directories may hold together; 0
// when ScratchSize is not a quantity (validation reports it).
func scratchTotal(s Security) resource.Quantity {
	size, err := resource.ParseQuantity(s.ScratchSize)
	if err != nil {
		return resource.Quantity{}
	}
	return *resource.NewQuantity(size.Value()*int64(len(s.ScratchPaths)), resource.BinarySI)
}

// scratchLimit is the ephemeral-storage limit of a container whose
// limit is the default lim: raised to what the scratch directories hold.
func scratchLimit(lim string, s Security) string {
	total := scratchTotal(s)
	if l, err := resource.ParseQuantity(lim); err == nil && total.Cmp(l) > 0 {
		return total.String()
	}
	return lim
}

// withHome puts HOME first in env, at the first scratch directory, unless
// env sets it or there is no scratch directory.
func withHome(env []EnvVar, scratch []string) []EnvVar {
	if len(scratch) == 0 {
		return env
	}
	for _, e := range env {
		if e.Name == homeEnv {
			return env
		}
	}
	return append([]EnvVar{{Name: homeEnv, Value: scratch[0]}}, env...)
}

// sharedMemorySize returns the size of /dev/shm: the one given, else half
// the memory limit for stages with accelerators (a memory-backed volume
// counts against that limit), else none.
func sharedMemorySize(given string, accelerated bool, memoryLimit string) string {
	if given != "" || !accelerated {
		return given
	}
	lim, err := resource.ParseQuantity(memoryLimit)
	if err != nil || lim.Sign() <= 0 {
		return "" // the bad limit is reported by validation
	}
	half := resource.NewQuantity(lim.Value()/2, resource.BinarySI)
	return half.String()
}

// firstOf returns the first non-empty string.
func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// accelSpec is resolved Accelerators.
type accelSpec struct {
	count        int32
	resource     string
	product      string
	productLabel string // "" when no label is known for the resource
	tolerations  []Toleration
	runtimeClass string
}

func resolveAccelerators(a *Accelerators) *accelSpec {
	if a == nil {
		return nil
	}
	r := &accelSpec{count: a.Count, resource: firstOf(a.Resource, defaultAccelerator),
		product: a.Product, productLabel: a.ProductLabel, runtimeClass: a.RuntimeClassName}
	if r.productLabel == "" {
		domain, _, _ := strings.Cut(r.resource, "/")
		r.productLabel = defaultProductLabels[domain]
	}
	if a.Tolerations == nil {
		r.tolerations = []Toleration{{Key: r.resource, Effect: string(corev1.TaintEffectNoSchedule)}}
	} else {
		r.tolerations = append([]Toleration(nil), a.Tolerations...)
	}
	return r
}

// metricsSpec is resolved Metrics.
type metricsSpec struct {
	port          string
	containerPort int32 // batch and scheduled stages only
	path          string
	interval      time.Duration
}

func resolveMetrics(m *Metrics) *metricsSpec {
	if m == nil {
		return nil
	}
	r := &metricsSpec{port: firstOf(m.Port, defaultMetricsPort), containerPort: m.ContainerPort,
		path: firstOf(m.Path, defaultMetricsPath), interval: m.Interval}
	if r.interval == 0 {
		r.interval = defaultMetricsInterval
	}
	return r
}
