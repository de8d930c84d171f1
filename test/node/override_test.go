package node

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// The test override. It is the only change the suite makes to an app's
// objects, and it is the same rule for every app (the suite prints what it
// did per container):
//
//  1. Every container that does not run the gate program runs the workload
//     instead of the app's command: command ["/workload"], and arguments
//     derived from the container itself: -rootfs when its root file system
//     is read-only; -write for each mount it may write (emptyDir, claims),
//     -readonly for each read-only one; -call for each <CALLEE>_ENDPOINT
//     variable; -absent for the ServiceAccount token when its pod runs the
//     gate program (the token is for the gate's container only); for
//     long-running workloads -serve for each TCP port (or a long sleep
//     without ports); for a Job that another stage waits for, -sleep
//     upstreamSleep, so that the waiting pods exist before it completes and
//     the gate is exercised. The gate program's containers (a gate Job's
//     "gate", the "wait-upstream" init containers) keep their image,
//     command and arguments: they run stagecraft's gate, built from this
//     tree.
//  2. CPU requests above cpuRequest become cpuRequest and memory requests
//     above memoryRequest become memoryRequest, so that every pod of an app
//     fits one small node. Limits (what the kernel enforces) and extended
//     resources (GPUs) are unchanged.
//
// The failure run (TestUpstreamFailure) adds one rule for the Job it fails:
// its workload exits 1 after upstreamSleep, and its backoffLimit becomes 0,
// so that the Job fails at its first exit rather than after four retries
// the Job controller spaces by 10, 20, 40 and 80 seconds (what is measured,
// the gate's reaction, starts when the Job has failed).
const (
	upstreamSleep = "8s"
	cpuRequest    = "10m"
	memoryRequest = "32Mi"
	tokenPath     = "/var/run/secrets/kubernetes.io/serviceaccount"
	// failExit is the exit status of a Job the failure run fails.
	failExit = "1"
)

// overrideOptions says which Jobs others wait for and which the failure
// run fails.
type overrideOptions struct {
	waited map[string]bool
	fail   map[string]bool
}

// containerPlan is what the override did to one container.
type containerPlan struct {
	name string
	args []string
	gate bool // a container of the gate program, unchanged
}

func (p containerPlan) String() string {
	if p.gate {
		return p.name + ": unchanged (the gate program)"
	}
	return p.name + ": /workload " + strings.Join(p.args, " ")
}

// override rewrites t's pod template in its object as described above.
func override(t *template, opts overrideOptions) ([]containerPlan, error) {
	spec := t.spec.DeepCopy()
	var plans []containerPlan
	gated := len(gatesOf(t)) > 0
	failing := t.kind == batchJob && opts.fail[t.obj.u.GetName()]
	rewrite := func(c *corev1.Container, init bool) {
		scaleRequests(c)
		if isGateProgram(*c) {
			plans = append(plans, containerPlan{name: c.Name, gate: true})
			return
		}
		args := workloadArgs(t, spec, c)
		if gated {
			args = append(args, "-absent", tokenPath+"/token")
		}
		switch {
		case init:
		case t.kind == longRunning || (t.kind == barePod && spec.Spec.RestartPolicy != corev1.RestartPolicyNever && spec.Spec.RestartPolicy != corev1.RestartPolicyOnFailure):
			ports := 0
			for _, p := range c.Ports {
				if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
					args = append(args, "-serve", fmt.Sprint(p.ContainerPort))
					ports++
				}
			}
			if ports == 0 {
				args = append(args, "-sleep", "8760h")
			}
		case failing:
			args = append(args, "-sleep", upstreamSleep, "-exit", failExit)
		case t.kind == batchJob && opts.waited[t.obj.u.GetName()]:
			args = append(args, "-sleep", upstreamSleep)
		}
		c.Command = []string{workloadPath}
		c.Args = args
		plans = append(plans, containerPlan{name: c.Name, args: args})
	}
	for i := range spec.Spec.InitContainers {
		rewrite(&spec.Spec.InitContainers[i], spec.Spec.InitContainers[i].RestartPolicy == nil)
	}
	for i := range spec.Spec.Containers {
		rewrite(&spec.Spec.Containers[i], false)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(spec)
	if err != nil {
		return nil, err
	}
	if t.path != nil {
		if err := unstructured.SetNestedMap(t.obj.u.Object, m, t.path...); err != nil {
			return nil, err
		}
	} else { // a bare Pod: the template is the object
		t.obj.u.Object["spec"] = m["spec"]
	}
	t.spec = spec
	if failing {
		field := "backoffLimit"
		if _, ok, _ := unstructured.NestedFieldNoCopy(t.obj.u.Object, "spec", "backoffLimitPerIndex"); ok {
			field = "backoffLimitPerIndex"
		}
		if err := unstructured.SetNestedField(t.obj.u.Object, int64(0), "spec", field); err != nil {
			return nil, err
		}
	}
	return plans, nil
}

// workloadArgs derives the checks of one container from its manifest.
func workloadArgs(t *template, spec *corev1.PodTemplateSpec, c *corev1.Container) []string {
	var args []string
	if ro := c.SecurityContext; ro != nil && ro.ReadOnlyRootFilesystem != nil && *ro.ReadOnlyRootFilesystem {
		args = append(args, "-rootfs")
	}
	vols := map[string]corev1.Volume{}
	for _, v := range spec.Spec.Volumes {
		vols[v.Name] = v
	}
	for _, m := range c.VolumeMounts {
		v, ok := vols[m.Name]
		if !ok && t.claimTemplates[m.Name] {
			v, ok = corev1.Volume{Name: m.Name, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{}}}, true
		}
		if !ok || m.MountPath == tokenPath {
			continue
		}
		// A subPath is checked like any mount: kubelet creates the
		// directory, and the pod's user must be able to write it.
		switch {
		case v.EmptyDir != nil, v.Ephemeral != nil:
		case v.PersistentVolumeClaim != nil:
			if v.PersistentVolumeClaim.ReadOnly {
				m.ReadOnly = true
			}
		default: // Secrets, ConfigMaps, projections: read-only by nature
			continue
		}
		if m.ReadOnly {
			args = append(args, "-readonly", m.MountPath)
		} else {
			args = append(args, "-write", m.MountPath)
		}
	}
	for _, cl := range callsOf(*c) {
		args = append(args, "-call", cl.env+"="+cl.target)
	}
	return args
}

func scaleRequests(c *corev1.Container) {
	for name, max := range map[corev1.ResourceName]resource.Quantity{
		corev1.ResourceCPU:    resource.MustParse(cpuRequest),
		corev1.ResourceMemory: resource.MustParse(memoryRequest),
	} {
		if q, ok := c.Resources.Requests[name]; ok && q.Cmp(max) > 0 {
			c.Resources.Requests[name] = max
		}
	}
}

// effectiveIDs returns the user, group and fsGroup a container runs with
// according to its manifest (container settings win over the pod's).
func effectiveIDs(spec *corev1.PodSpec, c *corev1.Container) (uid, gid, fsGroup *int64) {
	if p := spec.SecurityContext; p != nil {
		uid, gid, fsGroup = p.RunAsUser, p.RunAsGroup, p.FSGroup
	}
	if s := c.SecurityContext; s != nil {
		if s.RunAsUser != nil {
			uid = s.RunAsUser
		}
		if s.RunAsGroup != nil {
			gid = s.RunAsGroup
		}
	}
	return uid, gid, fsGroup
}
