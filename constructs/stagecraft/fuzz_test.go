package stagecraft

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/robfig/cron/v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// The fuzz targets map fuzzer-provided primitives onto the props of one
// small app (a pipeline and one or two constructs) and check the property
//
//	Validate(app) returns a *ValidationError, or Manifests(app) succeeds
//	and every object it renders (a) decodes strictly into its k8s.io/api
//	type, (b) has pod templates that pass Pod Security "restricted"
//	(k8s.io/pod-security-admission) and (c) has names, labels and fields
//	that the API server accepts (the checks of fzCheckFiles, a subset of
//	the API server's validation)
//
// and that nothing panics. Run one with
//
//	go test ./constructs/stagecraft -run '^$' -fuzz '^FuzzProcessor$' -fuzztime 60s
//
// Helpers of this file are prefixed with fz.

// fzFinish reports the result of one input: problems are the violations of
// the property.
func fzFinish(t *testing.T, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Fatalf("property violated:\n%s", strings.Join(problems, "\n"))
	}
}

// fzProperty builds an app with build and returns how it violates the
// property. It logs (go test -v) whether the input was valid.
func fzProperty(t *testing.T, build func(c cdk8s.Chart)) []string {
	t.Helper()
	app, panicked, err := vtRun(build)
	if panicked != nil {
		return []string{fmt.Sprintf("panic while building or validating: %v", panicked)}
	}
	if err != nil {
		t.Logf("invalid input: %v", err)
		var verr *ValidationError
		if !errors.As(err, &verr) {
			return []string{fmt.Sprintf("Validate returned %T, not *ValidationError: %v", err, err)}
		}
		var out []string
		if len(verr.Problems) == 0 {
			out = append(out, "ValidationError without problems")
		}
		for _, p := range verr.Problems {
			if p.Construct == "" || p.Detail == "" {
				out = append(out, fmt.Sprintf("problem without construct or detail: %#v", p))
			}
		}
		return out
	}
	files, err := vtManifests(app)
	if err != nil {
		return []string{"Validate passed but Manifests failed: " + err.Error()}
	}
	kinds, errs := fzCheckFiles(files)
	t.Logf("valid input, rendered %v", kinds)
	vtExport(t, files)
	return errs
}

// fzWorkload is the part of the fuzz input that fills a Workload.
type fzWorkload struct {
	image              string
	allowLatest        bool
	cpuReq, memLimit   string
	defCPULimit        string // the pipeline's Defaults.Resources.CPULimit
	pullPolicy         string // the pipeline's Defaults.ImagePullPolicy
	envName, envValue  string
	envFrom            uint8 // 0 literal, 1 Secret, 2 ConfigMap, 3 both
	annKey, annVal     string
	scratch            string // "" default; "-" none; else the one scratch path
	runAsUser          int64
	mountPath, subPath string // mountPath "" mounts nothing
	readOnly           bool
}

func (w fzWorkload) build(data *PipelineStorage) Workload {
	out := Workload{
		Image: w.image, AllowLatestTag: w.allowLatest,
		Resources: Resources{CPURequest: w.cpuReq, MemoryLimit: w.memLimit},
	}
	out.Security.RunAsUser = w.runAsUser
	switch w.scratch {
	case "":
	case "-":
		out.Security.ScratchPaths = []string{}
	default:
		out.Security.ScratchPaths = []string{w.scratch}
	}
	if w.envName != "" {
		e := EnvVar{Name: w.envName, Value: w.envValue}
		ref := &KeyRef{Name: "creds", Key: "token"}
		if w.envFrom&1 != 0 {
			e.Secret = ref
		}
		if w.envFrom&2 != 0 {
			e.ConfigMap = ref
		}
		if e.Secret != nil || e.ConfigMap != nil {
			e.Value = ""
			if w.envFrom&4 != 0 {
				e.Value = w.envValue
			}
		}
		out.Env = []EnvVar{e}
	}
	if w.annKey != "" {
		out.Annotations = map[string]string{w.annKey: w.annVal}
	}
	if w.mountPath != "" && data != nil {
		out.Mounts = []Mount{{Storage: data, Path: w.mountPath, SubPath: w.subPath, ReadOnly: w.readOnly}}
	}
	return out
}

// fzPipeline creates the pipeline "p" with the fuzzed namespace and label,
// and storage "data" with modes (comma-separated) when the workload mounts.
func fzPipeline(c cdk8s.Chart, ns, labelKey, labelVal string, w fzWorkload, modes string) (*Pipeline, *PipelineStorage) {
	props := PipelineProps{Namespace: ns, Defaults: Defaults{Resources: Resources{CPULimit: w.defCPULimit}, ImagePullPolicy: w.pullPolicy}}
	if labelKey != "" {
		props.Labels = map[string]string{labelKey: labelVal}
	}
	p := NewPipeline(c, "p", props)
	if w.mountPath == "" {
		return p, nil
	}
	return p, NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi", AccessModes: fzList(modes)})
}

func fzList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func fzMillis(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }

// fzLimits are the lengths at which the API server's string rules change:
// a DNS label or label value (63), a DNS subdomain (253), and one past
// each.
var fzLimits = []int{63, 64, 253, 254}

// fzSeeds adds the seeds of a fuzz target, and variants of the first in
// which one string argument at a time is stretched to each of fzLimits, so
// that every string prop is tried at and just past each limit, not only
// where the mutator happens to grow it.
func fzSeeds(f *testing.F, seeds ...[]any) {
	for _, s := range seeds {
		f.Add(s...)
	}
	for i, v := range seeds[0] {
		str, ok := v.(string)
		if !ok {
			continue
		}
		for _, n := range fzLimits {
			variant := append([]any(nil), seeds[0]...)
			variant[i] = fzStretch(str, n)
			f.Add(variant...)
		}
	}
}

// fzStretch makes s n bytes long by repeating a character after its first
// letter or digit, so that it keeps its shape ("/data" becomes
// "/daaa…ta"); an empty s becomes n letters.
func fzStretch(s string, n int) string {
	if len(s) >= n {
		return s
	}
	at := strings.IndexFunc(s, func(r rune) bool {
		return r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	if at < 0 {
		return s + strings.Repeat("a", n-len(s))
	}
	fill := "a"
	if c := s[at]; c >= 'A' && c <= 'Z' {
		fill = "A"
	}
	return s[:at+1] + strings.Repeat(fill, n-len(s)) + s[at+1:]
}

// FuzzProcessor fuzzes ProcessorStageProps (with the pipeline's namespace
// and labels, and a mounted storage).
func FuzzProcessor(f *testing.F) {
	fzSeeds(f,
		[]any{"", "team", "data", "web", "ghcr.io/acme/web:1.2.3", false, "250m", "512Mi", "2", "Always", "LOG_LEVEL", "info", uint8(0), "example.com/owner", "ml", "", int64(0),
			"/data", "", true, "ReadWriteMany", int32(2),
			"http", int32(8080), int32(80), "", "", "", int64(10000), uint8(1),
			true, "web.example.com", "/", "Prefix", "web-tls",
			false, "", "", "", ""},
		[]any{"ns1", "", "", "cache", "redis@" + vtDigest, false, "", "", "", "", "", "", uint8(1), "", "", "-", int64(1000),
			"", "", false, "", int32(1),
			"tcp", int32(6379), int32(0), "TCP", "", "tcp", int64(0), uint8(2),
			false, "", "", "", "",
			true, "state", "/var/lib/state", "5Gi", "ReadWriteOncePod"},
		[]any{"", "", "", "api", "api:latest", true, "1", "1Gi", "4", "IfNotPresent", "TOKEN", "", uint8(1), "", "", "/scratch", int64(0),
			"/models", "v1", true, "ReadOnlyMany", int32(3),
			"grpc", int32(9000), int32(9000), "", "/healthz", "", int64(4000), uint8(3),
			true, "*.example.com", "/api", "Exact", "",
			false, "", "", "", ""},
	)
	f.Fuzz(func(t *testing.T, ns, labelKey, labelVal, id, image string, allowLatest bool, cpuReq, memLimit, defCPULimit, pullPolicy, envName, envValue string, envFrom uint8, annKey, annVal, scratch string, runAsUser int64,
		mountPath, subPath string, readOnly bool, modes string, replicas int32,
		portName string, containerPort, servicePort int32, protocol, probePath, probePort string, probeMillis int64, probeKind uint8,
		ingress bool, host, ingPath, pathType, tls string,
		stateful bool, volName, volPath, volSize, volModes string) {
		w := fzWorkload{image: image, allowLatest: allowLatest, cpuReq: cpuReq, memLimit: memLimit, defCPULimit: defCPULimit, pullPolicy: pullPolicy, envName: envName, envValue: envValue, envFrom: envFrom,
			annKey: annKey, annVal: annVal, scratch: scratch, runAsUser: runAsUser, mountPath: mountPath, subPath: subPath, readOnly: readOnly}
		problems := fzProperty(t, func(c cdk8s.Chart) {
			p, data := fzPipeline(c, ns, labelKey, labelVal, w, modes)
			props := ProcessorStageProps{Workload: w.build(data), Replicas: ptr.To(replicas)}
			if portName != "" {
				props.Ports = []Port{{Name: portName, ContainerPort: containerPort, ServicePort: servicePort, Protocol: protocol}}
			}
			if probeKind%4 != 0 {
				pr := &Probe{HTTPPath: probePath, Port: probePort, Period: fzMillis(probeMillis), InitialDelay: fzMillis(probeMillis / 2)}
				if probePath == "-" {
					pr.HTTPPath, pr.Command = "", []string{"/bin/check"}
				}
				switch probeKind % 4 {
				case 1:
					props.Readiness = pr
				case 2:
					props.Liveness = pr
				case 3:
					props.Startup = pr
				}
			}
			if ingress {
				props.Ingress = &Ingress{Host: host, Path: ingPath, PathType: pathType, TLSSecretName: tls}
			}
			if stateful {
				props.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: volName, Path: volPath, Size: volSize, AccessModes: fzList(volModes)}}}
			}
			NewProcessorStage(p, id, props)
		})
		fzFinish(t, problems)
	})
}

// FuzzBatch fuzzes BatchStageProps.
func FuzzBatch(f *testing.F) {
	fzSeeds(f,
		[]any{"", "team", "data", "prep", "ghcr.io/acme/prep:1.0.0", false, "", "", "", "Never", "INPUT", "/data/in", uint8(0), "", "", "", int64(0),
			"/data", "", false, "ReadWriteMany",
			uint8(7), int32(4), int32(2), int32(10), int64(3600000), int64(0), "gpu-batch"},
		[]any{"jobs", "", "", "train", "trainer@" + vtDigest, false, "500m", "8Gi", "", "", "KEY", "", uint8(2), "example.com/run", "7", "-", int64(2000),
			"/ckpt", "run-1", false, "ReadWriteOnce",
			uint8(1), int32(0), int32(1), int32(1), int64(0), int64(0), ""},
	)
	f.Fuzz(func(t *testing.T, ns, labelKey, labelVal, id, image string, allowLatest bool, cpuReq, memLimit, defCPULimit, pullPolicy, envName, envValue string, envFrom uint8, annKey, annVal, scratch string, runAsUser int64,
		mountPath, subPath string, readOnly bool, modes string,
		jobFlags uint8, backoff, parallelism, completions int32, deadlineMillis, ttlMillis int64, queue string) {
		w := fzWorkload{image: image, allowLatest: allowLatest, cpuReq: cpuReq, memLimit: memLimit, defCPULimit: defCPULimit, pullPolicy: pullPolicy, envName: envName, envValue: envValue, envFrom: envFrom,
			annKey: annKey, annVal: annVal, scratch: scratch, runAsUser: runAsUser, mountPath: mountPath, subPath: subPath, readOnly: readOnly}
		job := fzJob(jobFlags, backoff, parallelism, completions, deadlineMillis, ttlMillis)
		job.Queue = queue
		problems := fzProperty(t, func(c cdk8s.Chart) {
			p, data := fzPipeline(c, ns, labelKey, labelVal, w, modes)
			NewBatchStage(p, id, BatchStageProps{Workload: w.build(data), JobSettings: job})
		})
		fzFinish(t, problems)
	})
}

func fzJob(flags uint8, backoff, parallelism, completions int32, deadlineMillis, ttlMillis int64) JobSettings {
	j := JobSettings{ActiveDeadline: fzMillis(deadlineMillis), TTLAfterFinished: fzMillis(ttlMillis)}
	if flags&1 != 0 {
		j.BackoffLimit = ptr.To(backoff)
	}
	if flags&2 != 0 {
		j.Parallelism = ptr.To(parallelism)
	}
	if flags&4 != 0 {
		j.Completions = ptr.To(completions)
	}
	return j
}

// FuzzScheduled fuzzes ScheduledStageProps.
func FuzzScheduled(f *testing.F) {
	fzSeeds(f,
		[]any{"", "", "", "nightly", "ghcr.io/acme/cleanup:2.0.1", false, "", "", "", "", "", "", uint8(0), "", "", "", int64(0),
			"/data", "", false, "ReadWriteMany",
			uint8(0), int32(0), int32(0), int32(0), int64(0), int64(0),
			"0 2 * * *", "", "", int64(0), int32(0), int32(0), false, ""},
		[]any{"cron", "team", "ops", "report", "report:3", false, "500m", "1Gi", "2", "Always", "MODE", "full", uint8(0), "", "", "", int64(0),
			"/reports", "out", false, "ReadWriteOncePod",
			uint8(3), int32(2), int32(1), int32(0), int64(600000), int64(3600000),
			"@hourly", "Europe/Berlin", "Replace", int64(120000), int32(1), int32(5), true, "reports"},
	)
	f.Fuzz(func(t *testing.T, ns, labelKey, labelVal, id, image string, allowLatest bool, cpuReq, memLimit, defCPULimit, pullPolicy, envName, envValue string, envFrom uint8, annKey, annVal, scratch string, runAsUser int64,
		mountPath, subPath string, readOnly bool, modes string,
		jobFlags uint8, backoff, parallelism, completions int32, deadlineMillis, ttlMillis int64,
		schedule, tz, concurrency string, startingMillis int64, successful, failed int32, suspend bool, queue string) {
		w := fzWorkload{image: image, allowLatest: allowLatest, cpuReq: cpuReq, memLimit: memLimit, defCPULimit: defCPULimit, pullPolicy: pullPolicy, envName: envName, envValue: envValue, envFrom: envFrom,
			annKey: annKey, annVal: annVal, scratch: scratch, runAsUser: runAsUser, mountPath: mountPath, subPath: subPath, readOnly: readOnly}
		job := fzJob(jobFlags, backoff, parallelism, completions, deadlineMillis, ttlMillis)
		job.Queue = queue
		problems := fzProperty(t, func(c cdk8s.Chart) {
			p, data := fzPipeline(c, ns, labelKey, labelVal, w, modes)
			props := ScheduledStageProps{Workload: w.build(data), JobSettings: job, Schedule: schedule, TimeZone: tz,
				ConcurrencyPolicy: concurrency, StartingDeadline: fzMillis(startingMillis), Suspend: suspend}
			if jobFlags&8 != 0 {
				props.SuccessfulJobsHistoryLimit = ptr.To(successful)
			}
			if jobFlags&16 != 0 {
				props.FailedJobsHistoryLimit = ptr.To(failed)
			}
			NewScheduledStage(p, id, props)
		})
		fzFinish(t, problems)
	})
}

// FuzzStorage fuzzes PipelineStorageProps, with a stage that mounts the
// storage.
func FuzzStorage(f *testing.F) {
	fzSeeds(f,
		[]any{"", "", "", "data", "100Gi", "", "", "", uint8(0), "", "", "", "", "tier", "hot",
			uint8(1), int32(2), "/data", false, ""},
		[]any{"store", "team", "ml", "models", "1Ti", "ReadOnlyMany", "", "", uint8(1), "nfs.example.com", "/exports/models", "", "nfsvers=4.1", "", "",
			uint8(2), int32(4), "/models", true, ""},
		[]any{"", "", "", "vol", "20Gi", "ReadWriteOnce", "gp3", "Block", uint8(2), "ebs.csi.aws.com", "vol-0123", "ext4", "", "", "",
			uint8(3), int32(1), "/dev-data", false, "Replace"},
	)
	f.Fuzz(func(t *testing.T, ns, labelKey, labelVal, id, size, modes, class, volumeMode string, existing uint8, server, exportPath, fsType, mountOption, stLabelKey, stLabelVal string,
		stageKind uint8, pods int32, mountPath string, readOnly bool, concurrency string) {
		props := PipelineStorageProps{Size: size, AccessModes: fzList(modes), StorageClassName: class, VolumeMode: volumeMode}
		if stLabelKey != "" {
			props.Labels = map[string]string{stLabelKey: stLabelVal}
		}
		var opts []string
		if mountOption != "" {
			opts = []string{mountOption}
		}
		switch existing % 5 {
		case 1:
			props.Existing = &ExistingVolume{NFS: &NFSVolume{Server: server, Path: exportPath}, MountOptions: opts}
		case 2:
			props.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: server, VolumeHandle: exportPath, FSType: fsType}, MountOptions: opts}
		case 3:
			props.Existing = &ExistingVolume{NFS: &NFSVolume{Server: server, Path: exportPath}, CSI: &CSIVolume{Driver: server, VolumeHandle: exportPath}}
		case 4:
			props.Existing = &ExistingVolume{}
		}
		problems := fzProperty(t, func(c cdk8s.Chart) {
			pp := PipelineProps{Namespace: ns}
			if labelKey != "" {
				pp.Labels = map[string]string{labelKey: labelVal}
			}
			p := NewPipeline(c, "p", pp)
			st := NewPipelineStorage(p, id, props)
			w := Workload{Image: vtImage, Mounts: []Mount{{Storage: st, Path: mountPath, ReadOnly: readOnly}}}
			switch stageKind % 4 {
			case 1:
				NewProcessorStage(p, "user", ProcessorStageProps{Workload: w, Replicas: ptr.To(pods)})
			case 2:
				NewBatchStage(p, "user", BatchStageProps{Workload: w, JobSettings: JobSettings{Parallelism: ptr.To(pods)}})
			case 3:
				NewScheduledStage(p, "user", ScheduledStageProps{Workload: w, Schedule: "@daily", ConcurrencyPolicy: concurrency, JobSettings: JobSettings{Parallelism: ptr.To(pods)}})
			}
		})
		fzFinish(t, problems)
	})
}

func fzBadIngressPath(p, pathType string) bool {
	if pathType == "ImplementationSpecific" {
		return false
	}
	for _, s := range []string{"//", "/./", "/../", "%2f", "%2F"} {
		if strings.Contains(p, s) {
			return true
		}
	}
	return strings.HasSuffix(p, "/..") || strings.HasSuffix(p, "/.")
}

// --- Checks of rendered manifests ---

var fzEvaluator = sync.OnceValues(func() (policy.Evaluator, error) {
	return policy.NewEvaluator(policy.DefaultChecks(), nil)
})

// fzErrs collects the violations of one object.
type fzErrs struct {
	where string
	list  *[]string
}

func (e fzErrs) add(format string, args ...any) {
	*e.list = append(*e.list, e.where+": "+fmt.Sprintf(format, args...))
}

func (e fzErrs) msgs(field string, value any, msgs []string) {
	for _, m := range msgs {
		e.add("%s %q: %s", field, fmt.Sprint(value), m)
	}
}

// fzWorld is what the objects of one app refer to across objects.
type fzWorld struct {
	services  map[string]*corev1.Service // namespace/name
	claims    map[string]bool
	templates []fzTemplate
	ingresses []*networkingv1.Ingress
	stateful  []*appsv1.StatefulSet
}

type fzTemplate struct {
	namespace string
	labels    map[string]string
	ports     map[string]bool
}

// fzCheckFiles parses every YAML document of files and checks it; it
// returns the number of objects of each kind and the violations.
func fzCheckFiles(files map[string][]byte) (map[string]int, []string) {
	var errs []string
	kinds := map[string]int{}
	world := &fzWorld{services: map[string]*corev1.Service{}, claims: map[string]bool{}}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, name := range names {
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(files[name])))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: read document %d: %v", name, i, err))
				break
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var u map[string]any
			if err := yaml.Unmarshal(doc, &u); err != nil {
				errs = append(errs, fmt.Sprintf("%s: document %d: %v", name, i, err))
				continue
			}
			kind, _ := u["kind"].(string)
			md, _ := u["metadata"].(map[string]any)
			where := fmt.Sprintf("%s: %s %v/%v", name, kind, md["namespace"], md["name"])
			key := fmt.Sprintf("%s/%v/%v", kind, md["namespace"], md["name"])
			if seen[key] {
				errs = append(errs, where+": rendered twice")
			}
			seen[key] = true
			kinds[kind]++
			fzCheckObject(fzErrs{where: where, list: &errs}, u, world)
		}
	}
	fzCheckWorld(&errs, world)
	return kinds, errs
}

// fzDecode decodes the unstructured object u into out, refusing unknown
// fields.
func fzDecode(e fzErrs, u map[string]any, out any) bool {
	j, err := json.Marshal(u)
	if err != nil {
		e.add("marshal: %v", err)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		e.add("strict decode into %T: %v", out, err)
		return false
	}
	return true
}

func fzCheckObject(e fzErrs, u map[string]any, w *fzWorld) {
	apiVersion, _ := u["apiVersion"].(string)
	kind, _ := u["kind"].(string)
	want := map[string]string{
		"Namespace": "v1", "Service": "v1", "PersistentVolume": "v1", "PersistentVolumeClaim": "v1",
		"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1", "Ingress": "networking.k8s.io/v1",
		"PodDisruptionBudget": "policy/v1", "HorizontalPodAutoscaler": "autoscaling/v2", "NetworkPolicy": "networking.k8s.io/v1",
		"ServiceAccount": "v1", "ConfigMap": "v1", "Role": "rbac.authorization.k8s.io/v1", "RoleBinding": "rbac.authorization.k8s.io/v1",
	}[kind]
	if want == "" {
		e.add("unexpected kind %q", kind)
		return
	}
	if apiVersion != want {
		e.add("apiVersion %q, want %q", apiVersion, want)
	}
	label := validation.IsDNS1123Label
	sub := validation.IsDNS1123Subdomain
	maxLen := func(n int, f func(string) []string) func(string) []string {
		return func(s string) []string {
			msgs := f(s)
			if len(s) > n {
				msgs = append(msgs, validation.MaxLenError(n))
			}
			return msgs
		}
	}
	switch kind {
	case "Namespace":
		var o corev1.Namespace
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, label, false)
			if o.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				e.add("namespace does not enforce Pod Security restricted: %v", o.Labels)
			}
		}
	case "Service":
		var o corev1.Service
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, label, true) // DNS-1123 label: RelaxedServiceNameValidation is on by default since 1.36
			fzService(e, &o)
			w.services[o.Namespace+"/"+o.Name] = &o
		}
	case "PersistentVolumeClaim":
		var o corev1.PersistentVolumeClaim
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, sub, true)
			fzClaimSpec(e, "spec", o.Spec)
			w.claims[o.Namespace+"/"+o.Name] = true
		}
	case "PersistentVolume":
		var o corev1.PersistentVolume
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, sub, false)
			fzVolume(e, &o)
		}
	case "Deployment":
		var o appsv1.Deployment
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, maxLen(63, sub), true)
			fzNonNegative(e, "spec.replicas", o.Spec.Replicas)
			fzSelector(e, o.Spec.Selector, o.Spec.Template.Labels)
			if r := o.Spec.Template.Spec.RestartPolicy; r != "" && r != corev1.RestartPolicyAlways {
				e.add("restartPolicy %q", r)
			}
			switch o.Spec.Strategy.Type {
			case "", appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType:
			default:
				e.add("strategy %q", o.Spec.Strategy.Type)
			}
			fzPod(e, "spec.template", o.Namespace, o.Spec.Template, nil, w)
		}
	case "StatefulSet":
		var o appsv1.StatefulSet
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, maxLen(52, label), true)
			fzNonNegative(e, "spec.replicas", o.Spec.Replicas)
			fzSelector(e, o.Spec.Selector, o.Spec.Template.Labels)
			claims := map[string]bool{}
			for i, c := range o.Spec.VolumeClaimTemplates {
				f := fmt.Sprintf("spec.volumeClaimTemplates[%d]", i)
				e.msgs(f+".name", c.Name, label(c.Name))
				if claims[c.Name] {
					e.add("%s.name %q: duplicate", f, c.Name)
				}
				claims[c.Name] = true
				fzClaimSpec(e, f+".spec", c.Spec)
			}
			fzPod(e, "spec.template", o.Namespace, o.Spec.Template, claims, w)
			w.stateful = append(w.stateful, &o)
		}
	case "Job":
		var o batchv1.Job
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, maxLen(63, sub), true)
			fzJobSpec(e, "spec", o.Namespace, o.Spec, w)
		}
	case "CronJob":
		var o batchv1.CronJob
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, maxLen(52, sub), true)
			fzCronJob(e, &o, w)
		}
	case "Ingress":
		var o networkingv1.Ingress
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, sub, true)
			fzIngress(e, &o)
			w.ingresses = append(w.ingresses, &o)
		}
	case "PodDisruptionBudget":
		var o policyv1.PodDisruptionBudget
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, sub, true)
			if (o.Spec.MinAvailable == nil) == (o.Spec.MaxUnavailable == nil) {
				e.add("spec: set exactly one of minAvailable and maxUnavailable")
			}
			for _, v := range []*intstr.IntOrString{o.Spec.MinAvailable, o.Spec.MaxUnavailable} {
				if v == nil {
					continue
				}
				if n, err := intstr.GetScaledValueFromIntOrPercent(v, 100, true); err != nil || n < 0 || (v.Type == intstr.String && n > 100) {
					e.add("spec: invalid count or percentage %q", v.String())
				}
			}
			if o.Spec.Selector == nil || len(o.Spec.Selector.MatchLabels) == 0 {
				e.add("spec.selector: empty")
			} else {
				fzLabels(e, "spec.selector.matchLabels", o.Spec.Selector.MatchLabels)
			}
		}
	case "HorizontalPodAutoscaler":
		var o autoscalingv2.HorizontalPodAutoscaler
		if fzDecode(e, u, &o) {
			fzMeta(e, o.ObjectMeta, sub, true)
			if m := o.Spec.MinReplicas; m != nil && *m < 1 {
				e.add("spec.minReplicas = %d, must be >= 1", *m)
			}
			if o.Spec.MaxReplicas < 1 || (o.Spec.MinReplicas != nil && o.Spec.MaxReplicas < *o.Spec.MinReplicas) {
				e.add("spec.maxReplicas = %d, must be >= 1 and >= minReplicas", o.Spec.MaxReplicas)
			}
			e.msgs("spec.scaleTargetRef.name", o.Spec.ScaleTargetRef.Name, sub(o.Spec.ScaleTargetRef.Name))
			for i, m := range o.Spec.Metrics {
				if r := m.Resource; r != nil && r.Target.AverageUtilization != nil && *r.Target.AverageUtilization < 1 {
					e.add("spec.metrics[%d]: averageUtilization must be >= 1", i)
				}
			}
			if b := o.Spec.Behavior; b != nil && b.ScaleDown != nil && b.ScaleDown.StabilizationWindowSeconds != nil {
				if v := *b.ScaleDown.StabilizationWindowSeconds; v < 0 || v > 3600 {
					e.add("spec.behavior.scaleDown.stabilizationWindowSeconds = %d, must be 0..3600", v)
				}
			}
		}
	default: // kinds stagecraft may emit and checks by their metadata only
		var o struct {
			metav1.TypeMeta   `json:",inline"`
			metav1.ObjectMeta `json:"metadata"`
		}
		j, _ := json.Marshal(u)
		if err := json.Unmarshal(j, &o); err == nil {
			fzMeta(e, o.ObjectMeta, sub, true)
		}
	}
}

func fzMeta(e fzErrs, m metav1.ObjectMeta, name func(string) []string, namespaced bool) {
	e.msgs("metadata.name", m.Name, name(m.Name))
	if namespaced {
		e.msgs("metadata.namespace", m.Namespace, validation.IsDNS1123Label(m.Namespace))
	} else if m.Namespace != "" {
		e.add("cluster-scoped object in namespace %q", m.Namespace)
	}
	fzLabels(e, "metadata.labels", m.Labels)
	fzAnnotations(e, "metadata.annotations", m.Annotations)
	if m.Labels[labelManagedBy] != managedBy {
		e.add("metadata.labels lack %s=%s: %v", labelManagedBy, managedBy, m.Labels)
	}
}

func fzLabels(e fzErrs, field string, l map[string]string) {
	for k, v := range l {
		e.msgs(field+" key", k, validation.IsQualifiedName(k))
		e.msgs(field+"["+k+"]", v, validation.IsValidLabelValue(v))
	}
}

func fzAnnotations(e fzErrs, field string, a map[string]string) {
	total := 0
	for k, v := range a {
		e.msgs(field+" key", k, validation.IsQualifiedName(strings.ToLower(k)))
		total += len(k) + len(v)
	}
	if total > 256*1024 {
		e.add("%s: %d bytes, more than 256 KiB", field, total)
	}
}

func fzNonNegative[T int32 | int64](e fzErrs, field string, v *T) {
	if v != nil && *v < 0 {
		e.add("%s = %d, must be >= 0", field, *v)
	}
}

func fzSelector(e fzErrs, s *metav1.LabelSelector, labels map[string]string) {
	if s == nil || len(s.MatchLabels) == 0 {
		e.add("empty selector")
		return
	}
	fzLabels(e, "spec.selector.matchLabels", s.MatchLabels)
	for k, v := range s.MatchLabels {
		if labels[k] != v {
			e.add("selector %s=%s does not match the template labels %v", k, v, labels)
		}
	}
}

func fzAccessModes(e fzErrs, field string, modes []corev1.PersistentVolumeAccessMode) {
	if len(modes) == 0 {
		e.add("%s: at least one access mode is required", field)
	}
	seen := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		switch m {
		case corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod:
		default:
			e.add("%s: unsupported access mode %q", field, m)
		}
		seen[m] = true
	}
	if seen[corev1.ReadWriteOncePod] && len(modes) > 1 {
		e.add("%s %v: ReadWriteOncePod may not be used with other access modes", field, modes)
	}
}

func fzPositive(e fzErrs, field string, q resource.Quantity, ok bool) {
	if !ok {
		e.add("%s is missing", field)
	} else if q.Sign() <= 0 {
		e.add("%s = %s, must be greater than zero", field, q.String())
	}
}

func fzVolumeMode(e fzErrs, field string, m *corev1.PersistentVolumeMode) {
	if m != nil && *m != corev1.PersistentVolumeFilesystem && *m != corev1.PersistentVolumeBlock {
		e.add("%s %q", field, *m)
	}
}

func fzClaimSpec(e fzErrs, field string, s corev1.PersistentVolumeClaimSpec) {
	fzAccessModes(e, field+".accessModes", s.AccessModes)
	q, ok := s.Resources.Requests[corev1.ResourceStorage]
	fzPositive(e, field+".resources.requests.storage", q, ok)
	if s.StorageClassName != nil && *s.StorageClassName != "" {
		e.msgs(field+".storageClassName", *s.StorageClassName, validation.IsDNS1123Subdomain(*s.StorageClassName))
	}
	if s.VolumeName != "" {
		e.msgs(field+".volumeName", s.VolumeName, validation.IsDNS1123Subdomain(s.VolumeName))
	}
	fzVolumeMode(e, field+".volumeMode", s.VolumeMode)
}

func fzVolume(e fzErrs, pv *corev1.PersistentVolume) {
	s := pv.Spec
	fzAccessModes(e, "spec.accessModes", s.AccessModes)
	q, ok := s.Capacity[corev1.ResourceStorage]
	fzPositive(e, "spec.capacity.storage", q, ok)
	fzVolumeMode(e, "spec.volumeMode", s.VolumeMode)
	if s.StorageClassName != "" {
		e.msgs("spec.storageClassName", s.StorageClassName, validation.IsDNS1123Subdomain(s.StorageClassName))
	}
	sources := 0
	if n := s.NFS; n != nil {
		sources++
		if n.Server == "" {
			e.add("spec.nfs.server is required")
		}
		if !path.IsAbs(n.Path) {
			e.add("spec.nfs.path %q must be an absolute path", n.Path)
		}
	}
	if c := s.CSI; c != nil {
		sources++
		// ValidateCSIDriverName of the API server.
		if len(c.Driver) > 63 {
			e.add("spec.csi.driver %q: must be no more than 63 characters", c.Driver)
		}
		e.msgs("spec.csi.driver", c.Driver, validation.IsDNS1123Subdomain(strings.ToLower(c.Driver)))
		if c.VolumeHandle == "" {
			e.add("spec.csi.volumeHandle is required")
		}
	}
	if sources != 1 {
		e.add("spec has %d volume sources, want exactly 1", sources)
	}
	if s.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain {
		e.add("reclaim policy %q, want Retain", s.PersistentVolumeReclaimPolicy)
	}
	if r := s.ClaimRef; r == nil || r.Name == "" || r.Namespace == "" {
		e.add("spec.claimRef is incomplete: %+v", r)
	}
}

func fzService(e fzErrs, s *corev1.Service) {
	headless := s.Spec.ClusterIP == corev1.ClusterIPNone
	if len(s.Spec.Ports) == 0 && !headless {
		e.add("spec.ports: required for a service that is not headless")
	}
	fzLabels(e, "spec.selector", s.Spec.Selector)
	names := map[string]bool{}
	ports := map[string]bool{}
	for i, p := range s.Spec.Ports {
		f := fmt.Sprintf("spec.ports[%d]", i)
		if len(s.Spec.Ports) > 1 || p.Name != "" {
			e.msgs(f+".name", p.Name, validation.IsDNS1123Label(p.Name))
		}
		if names[p.Name] {
			e.add("%s.name %q: duplicate", f, p.Name)
		}
		names[p.Name] = true
		e.msgs(f+".port", p.Port, validation.IsValidPortNum(int(p.Port)))
		key := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if ports[key] {
			e.add("%s: duplicate port %s", f, key)
		}
		ports[key] = true
		fzProtocol(e, f+".protocol", p.Protocol)
		fzPortRef(e, f+".targetPort", p.TargetPort, nil)
	}
}

func fzProtocol(e fzErrs, field string, p corev1.Protocol) {
	switch p {
	case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
	default:
		e.add("%s %q", field, p)
	}
}

// fzPortRef checks a port given by number or name; names must be among
// known when known is not nil.
func fzPortRef(e fzErrs, field string, p intstr.IntOrString, known map[string]bool) {
	if p.Type == intstr.Int {
		e.msgs(field, p.IntVal, validation.IsValidPortNum(int(p.IntVal)))
		return
	}
	e.msgs(field, p.StrVal, validation.IsValidPortName(p.StrVal))
	if known != nil && !known[p.StrVal] {
		e.add("%s %q: the container has no port of that name", field, p.StrVal)
	}
}

func fzIngress(e fzErrs, in *networkingv1.Ingress) {
	if c := in.Spec.IngressClassName; c != nil {
		e.msgs("spec.ingressClassName", *c, validation.IsDNS1123Subdomain(*c))
	}
	fzHost := func(f, h string) {
		if net.ParseIP(h) != nil {
			e.add("%s %q: must be a DNS name, not an IP address", f, h)
		}
		if strings.HasPrefix(h, "*.") {
			e.msgs(f, h, validation.IsWildcardDNS1123Subdomain(h))
		} else {
			e.msgs(f, h, validation.IsDNS1123Subdomain(h))
		}
	}
	for i, r := range in.Spec.Rules {
		f := fmt.Sprintf("spec.rules[%d]", i)
		if r.Host != "" {
			fzHost(f+".host", r.Host)
		}
		if r.HTTP == nil || len(r.HTTP.Paths) == 0 {
			e.add("%s.http.paths: required", f)
			continue
		}
		for j, p := range r.HTTP.Paths {
			pf := fmt.Sprintf("%s.http.paths[%d]", f, j)
			if p.PathType == nil {
				e.add("%s.pathType: required", pf)
				continue
			}
			switch *p.PathType {
			case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
				if !strings.HasPrefix(p.Path, "/") {
					e.add("%s.path %q: must be an absolute path", pf, p.Path)
				}
				if fzBadIngressPath(p.Path, string(*p.PathType)) {
					e.add("%s.path %q: contains an invalid sequence", pf, p.Path)
				}
			case networkingv1.PathTypeImplementationSpecific:
				if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
					e.add("%s.path %q: must be an absolute path", pf, p.Path)
				}
			default:
				e.add("%s.pathType %q", pf, *p.PathType)
			}
			b := p.Backend.Service
			if b == nil {
				e.add("%s.backend.service: required", pf)
				continue
			}
			e.msgs(pf+".backend.service.name", b.Name, validation.IsDNS1123Label(b.Name))
			if (b.Port.Name == "") == (b.Port.Number == 0) {
				e.add("%s.backend.service.port: set exactly one of name and number: %+v", pf, b.Port)
			} else if b.Port.Name != "" {
				e.msgs(pf+".backend.service.port.name", b.Port.Name, validation.IsValidPortName(b.Port.Name))
			}
		}
	}
	for i, t := range in.Spec.TLS {
		f := fmt.Sprintf("spec.tls[%d]", i)
		for _, h := range t.Hosts {
			fzHost(f+".hosts", h)
		}
		if t.SecretName != "" {
			e.msgs(f+".secretName", t.SecretName, validation.IsDNS1123Subdomain(t.SecretName))
		}
	}
}

func fzJobSpec(e fzErrs, field, ns string, s batchv1.JobSpec, w *fzWorld) {
	fzNonNegative(e, field+".backoffLimit", s.BackoffLimit)
	fzNonNegative(e, field+".parallelism", s.Parallelism)
	fzNonNegative(e, field+".completions", s.Completions)
	fzNonNegative(e, field+".ttlSecondsAfterFinished", s.TTLSecondsAfterFinished)
	if d := s.ActiveDeadlineSeconds; d != nil && *d <= 0 {
		e.add("%s.activeDeadlineSeconds = %d, must be > 0", field, *d)
	}
	switch s.Template.Spec.RestartPolicy {
	case corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure:
	default:
		e.add("%s.template.spec.restartPolicy %q: a Job needs Never or OnFailure", field, s.Template.Spec.RestartPolicy)
	}
	if s.Selector != nil || s.ManualSelector != nil {
		e.add("%s: a Job's selector is generated", field)
	}
	fzPod(e, field+".template", ns, s.Template, nil, w)
}

var fzCronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func fzCronJob(e fzErrs, c *batchv1.CronJob, w *fzWorld) {
	s := c.Spec
	if strings.Contains(s.Schedule, "TZ") {
		e.add("spec.schedule %q: TZ and CRON_TZ are not allowed", s.Schedule)
	}
	if _, err := fzCronParser.Parse(s.Schedule); err != nil {
		e.add("spec.schedule %q: %v", s.Schedule, err)
	}
	if tz := s.TimeZone; tz != nil {
		if *tz == "" || strings.EqualFold(*tz, "Local") {
			e.add("spec.timeZone %q: must be an explicit time zone", *tz)
		} else if _, err := time.LoadLocation(*tz); err != nil {
			e.add("spec.timeZone %q: %v", *tz, err)
		}
	}
	switch s.ConcurrencyPolicy {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
	default:
		e.add("spec.concurrencyPolicy %q", s.ConcurrencyPolicy)
	}
	fzNonNegative(e, "spec.startingDeadlineSeconds", s.StartingDeadlineSeconds)
	fzNonNegative(e, "spec.successfulJobsHistoryLimit", s.SuccessfulJobsHistoryLimit)
	fzNonNegative(e, "spec.failedJobsHistoryLimit", s.FailedJobsHistoryLimit)
	fzLabels(e, "spec.jobTemplate.metadata.labels", s.JobTemplate.Labels)
	fzJobSpec(e, "spec.jobTemplate.spec", c.Namespace, s.JobTemplate.Spec, w)
}

// fzPod checks a pod template: Pod Security restricted, then names, volumes,
// mounts, ports, environment, probes and resources. claims are the names of
// a StatefulSet's claim templates.
func fzPod(e fzErrs, field, ns string, t corev1.PodTemplateSpec, claims map[string]bool, w *fzWorld) {
	fzLabels(e, field+".metadata.labels", t.Labels)
	fzAnnotations(e, field+".metadata.annotations", t.Annotations)

	ev, err := fzEvaluator()
	if err != nil {
		e.add("pod security evaluator: %v", err)
	} else {
		lv := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
		meta, spec := t.ObjectMeta, t.Spec
		for _, r := range ev.EvaluatePod(lv, &meta, &spec) {
			if !r.Allowed {
				e.add("%s violates Pod Security restricted: %s (%s)", field, r.ForbiddenReason, r.ForbiddenDetail)
			}
		}
	}

	s := t.Spec
	f := field + ".spec"
	volumes := map[string]bool{}
	for i, v := range s.Volumes {
		vf := fmt.Sprintf("%s.volumes[%d]", f, i)
		e.msgs(vf+".name", v.Name, validation.IsDNS1123Label(v.Name))
		if volumes[v.Name] {
			e.add("%s.name %q: duplicate", vf, v.Name)
		}
		if claims[v.Name] {
			e.add("%s.name %q: also the name of a volume claim template, which replaces this volume", vf, v.Name)
		}
		volumes[v.Name] = true
		switch {
		case v.EmptyDir != nil:
			if l := v.EmptyDir.SizeLimit; l != nil && l.Sign() <= 0 {
				e.add("%s.emptyDir.sizeLimit %s", vf, l.String())
			}
		case v.PersistentVolumeClaim != nil:
			c := v.PersistentVolumeClaim.ClaimName
			e.msgs(vf+".persistentVolumeClaim.claimName", c, validation.IsDNS1123Subdomain(c))
			if !w.claims[ns+"/"+c] {
				// Claims are rendered before the stages that mount them.
				e.add("%s: claim %q is not rendered in namespace %q", vf, c, ns)
			}
		case v.Projected != nil, v.ConfigMap != nil, v.Secret != nil, v.DownwardAPI != nil, v.CSI != nil, v.Ephemeral != nil, v.Image != nil:
			// Allowed by Pod Security restricted, which checks the rest.
		default:
			e.add("%s: no or unexpected volume source", vf)
		}
	}
	for k := range claims {
		volumes[k] = true
	}
	if s.ServiceAccountName != "" {
		e.msgs(f+".serviceAccountName", s.ServiceAccountName, validation.IsDNS1123Subdomain(s.ServiceAccountName))
	}
	if s.PriorityClassName != "" {
		e.msgs(f+".priorityClassName", s.PriorityClassName, validation.IsDNS1123Subdomain(s.PriorityClassName))
	}
	fzNonNegative(e, f+".terminationGracePeriodSeconds", s.TerminationGracePeriodSeconds)
	for i, c := range s.TopologySpreadConstraints {
		cf := fmt.Sprintf("%s.topologySpreadConstraints[%d]", f, i)
		if c.MaxSkew < 1 {
			e.add("%s.maxSkew = %d, must be >= 1", cf, c.MaxSkew)
		}
		e.msgs(cf+".topologyKey", c.TopologyKey, validation.IsQualifiedName(c.TopologyKey))
		if c.WhenUnsatisfiable != corev1.DoNotSchedule && c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			e.add("%s.whenUnsatisfiable %q", cf, c.WhenUnsatisfiable)
		}
	}
	for i, tl := range s.Tolerations {
		tf := fmt.Sprintf("%s.tolerations[%d]", f, i)
		if tl.Key != "" {
			e.msgs(tf+".key", tl.Key, validation.IsQualifiedName(tl.Key))
		}
		switch tl.Operator {
		case "", corev1.TolerationOpEqual:
		case corev1.TolerationOpExists:
			if tl.Value != "" {
				e.add("%s.value must be empty with operator Exists", tf)
			}
		default:
			e.add("%s.operator %q", tf, tl.Operator)
		}
		switch tl.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			e.add("%s.effect %q", tf, tl.Effect)
		}
	}
	fzLabels(e, f+".nodeSelector", s.NodeSelector)
	if len(s.Containers) == 0 {
		e.add("%s.containers: required", f)
	}
	containers := map[string]bool{}
	podPorts := map[string]bool{}
	w.templates = append(w.templates, fzTemplate{namespace: ns, labels: t.Labels, ports: podPorts})
	all := append(append([]corev1.Container(nil), s.InitContainers...), s.Containers...)
	for i, c := range all {
		cf := fmt.Sprintf("%s.containers[%d]", f, i-len(s.InitContainers))
		if i < len(s.InitContainers) {
			cf = fmt.Sprintf("%s.initContainers[%d]", f, i)
		}
		e.msgs(cf+".name", c.Name, validation.IsDNS1123Label(c.Name))
		if containers[c.Name] {
			e.add("%s.name %q: duplicate", cf, c.Name)
		}
		containers[c.Name] = true
		if c.Image == "" || strings.TrimSpace(c.Image) != c.Image {
			e.add("%s.image %q: required, without surrounding space", cf, c.Image)
		}
		ports := map[string]bool{}
		numbers := map[string]bool{}
		for j, p := range c.Ports {
			pf := fmt.Sprintf("%s.ports[%d]", cf, j)
			if p.Name != "" {
				e.msgs(pf+".name", p.Name, validation.IsValidPortName(p.Name))
				if ports[p.Name] {
					e.add("%s.name %q: duplicate", pf, p.Name)
				}
				ports[p.Name] = true
			}
			e.msgs(pf+".containerPort", p.ContainerPort, validation.IsValidPortNum(int(p.ContainerPort)))
			key := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
			if numbers[key] {
				e.add("%s: duplicate port %s", pf, key)
			}
			numbers[key] = true
			fzProtocol(e, pf+".protocol", p.Protocol)
		}
		for n := range ports {
			podPorts[n] = true
		}
		envs := map[string]bool{}
		for j, v := range c.Env {
			ef := fmt.Sprintf("%s.env[%d]", cf, j)
			e.msgs(ef+".name", v.Name, validation.IsRelaxedEnvVarName(v.Name))
			if envs[v.Name] {
				e.add("%s.name %q: duplicate", ef, v.Name)
			}
			envs[v.Name] = true
			if v.ValueFrom != nil {
				if v.Value != "" {
					e.add("%s: value and valueFrom are exclusive", ef)
				}
				refs := 0
				check := func(name, key string) {
					refs++
					e.msgs(ef+".valueFrom name", name, validation.IsDNS1123Subdomain(name))
					e.msgs(ef+".valueFrom key", key, validation.IsConfigMapKey(key))
				}
				if r := v.ValueFrom.SecretKeyRef; r != nil {
					check(r.Name, r.Key)
				}
				if r := v.ValueFrom.ConfigMapKeyRef; r != nil {
					check(r.Name, r.Key)
				}
				if refs != 1 {
					e.add("%s.valueFrom: %d sources, want 1", ef, refs)
				}
			}
		}
		mounts := map[string]bool{}
		for j, m := range c.VolumeMounts {
			mf := fmt.Sprintf("%s.volumeMounts[%d]", cf, j)
			if !volumes[m.Name] {
				e.add("%s.name %q: no such volume", mf, m.Name)
			}
			if m.MountPath == "" || strings.Contains(m.MountPath, ":") {
				e.add("%s.mountPath %q: required, without ':'", mf, m.MountPath)
			}
			if mounts[m.MountPath] {
				e.add("%s.mountPath %q: must be unique", mf, m.MountPath)
			}
			mounts[m.MountPath] = true
			if m.SubPath != "" && (path.IsAbs(m.SubPath) || hasDotDot(m.SubPath)) {
				e.add("%s.subPath %q: must be a relative path without '..'", mf, m.SubPath)
			}
		}
		for name, p := range map[string]*corev1.Probe{"readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe, "startupProbe": c.StartupProbe} {
			fzProbe(e, cf+"."+name, p, ports)
		}
		fzResources(e, cf+".resources", c.Resources)
	}
}

func fzProbe(e fzErrs, field string, p *corev1.Probe, ports map[string]bool) {
	if p == nil {
		return
	}
	for name, v := range map[string]int32{"initialDelaySeconds": p.InitialDelaySeconds, "timeoutSeconds": p.TimeoutSeconds,
		"periodSeconds": p.PeriodSeconds, "successThreshold": p.SuccessThreshold, "failureThreshold": p.FailureThreshold} {
		if v < 0 {
			e.add("%s.%s = %d, must be >= 0", field, name, v)
		}
	}
	handlers := 0
	if p.Exec != nil {
		handlers++
		if len(p.Exec.Command) == 0 {
			e.add("%s.exec.command: required", field)
		}
	}
	if h := p.HTTPGet; h != nil {
		handlers++
		fzPortRef(e, field+".httpGet.port", h.Port, ports)
		if h.Host != "" {
			e.add("%s.httpGet.host %q: not allowed by Pod Security baseline", field, h.Host)
		}
	}
	if s := p.TCPSocket; s != nil {
		handlers++
		fzPortRef(e, field+".tcpSocket.port", s.Port, ports)
	}
	if handlers != 1 {
		e.add("%s: %d handlers, want 1", field, handlers)
	}
}

func fzResources(e fzErrs, field string, r corev1.ResourceRequirements) {
	for name, q := range r.Requests {
		if q.Sign() < 0 {
			e.add("%s.requests.%s = %s, must be >= 0", field, name, q.String())
		}
		if l, ok := r.Limits[name]; ok && q.Cmp(l) > 0 {
			e.add("%s.requests.%s = %s, above the limit %s", field, name, q.String(), l.String())
		}
	}
	for name, q := range r.Limits {
		if q.Sign() < 0 {
			e.add("%s.limits.%s = %s, must be >= 0", field, name, q.String())
		}
	}
}

// fzCheckWorld checks references between objects: Ingress backends and
// StatefulSet services exist, and Services target pods with their ports.
func fzCheckWorld(errs *[]string, w *fzWorld) {
	e := fzErrs{where: "app", list: errs}
	for _, in := range w.ingresses {
		for _, r := range in.Spec.Rules {
			if r.HTTP == nil {
				continue
			}
			for _, p := range r.HTTP.Paths {
				b := p.Backend.Service
				if b == nil {
					continue
				}
				svc := w.services[in.Namespace+"/"+b.Name]
				if svc == nil {
					e.add("Ingress %s/%s routes to missing Service %q", in.Namespace, in.Name, b.Name)
					continue
				}
				found := false
				for _, sp := range svc.Spec.Ports {
					if (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number) {
						found = true
					}
				}
				if !found {
					e.add("Ingress %s/%s routes to port %+v, which Service %q lacks", in.Namespace, in.Name, b.Port, b.Name)
				}
			}
		}
	}
	for _, s := range w.stateful {
		svc := w.services[s.Namespace+"/"+s.Spec.ServiceName]
		if svc == nil || svc.Spec.ClusterIP != corev1.ClusterIPNone {
			e.add("StatefulSet %s/%s: service %q is missing or not headless", s.Namespace, s.Name, s.Spec.ServiceName)
		}
	}
	for _, svc := range w.services {
		var target *fzTemplate
		for i, t := range w.templates {
			if t.namespace != svc.Namespace {
				continue
			}
			match := len(svc.Spec.Selector) > 0
			for k, v := range svc.Spec.Selector {
				if t.labels[k] != v {
					match = false
				}
			}
			if match {
				if target != nil {
					e.add("Service %s/%s selects the pods of two workloads", svc.Namespace, svc.Name)
				}
				target = &w.templates[i]
			}
		}
		if target == nil {
			e.add("Service %s/%s selects no pods", svc.Namespace, svc.Name)
			continue
		}
		for _, p := range svc.Spec.Ports {
			if p.TargetPort.Type == intstr.String && !target.ports[p.TargetPort.StrVal] {
				e.add("Service %s/%s targets port %q, which its pods lack", svc.Namespace, svc.Name, p.TargetPort.StrVal)
			}
		}
	}
}

// TestFuzzCheckerRejectsBrokenManifests makes sure the checks of the fuzz
// targets catch what they are meant to catch.
func TestFuzzCheckerRejectsBrokenManifests(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "namespace": "ns", "labels": map[string]any{labelManagedBy: managedBy, "app": "web"}},
			"spec": map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
				"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
					"spec": map[string]any{
						"securityContext": map[string]any{"runAsNonRoot": true, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
						"containers": []any{map[string]any{"name": "web", "image": "web:1",
							"securityContext": map[string]any{"allowPrivilegeEscalation": false, "capabilities": map[string]any{"drop": []any{"ALL"}}}}}}}}}
	}
	check := func(u map[string]any) []string {
		y, err := yaml.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		_, errs := fzCheckFiles(map[string][]byte{"x.k8s.yaml": y})
		return errs
	}
	if errs := check(base()); len(errs) != 0 {
		t.Fatalf("valid Deployment rejected: %v", errs)
	}
	for name, tc := range map[string]struct {
		mutate func(u map[string]any)
		want   string
	}{
		"unknown field": {func(u map[string]any) { u["spec"].(map[string]any)["replicaz"] = 1 }, "unknown field"},
		"privileged": {func(u map[string]any) {
			c := fzNested(u, "spec", "template", "spec")["containers"].([]any)[0].(map[string]any)
			c["securityContext"].(map[string]any)["privileged"] = true
		}, "Pod Security restricted"},
		"long name": {func(u map[string]any) { u["metadata"].(map[string]any)["name"] = vtLong(64) }, "63"},
		"bad volume name": {func(u map[string]any) {
			fzNested(u, "spec", "template", "spec")["volumes"] = []any{map[string]any{"name": "A", "emptyDir": map[string]any{}}}
		}, "RFC 1123"},
		"negative probe": {func(u map[string]any) {
			c := fzNested(u, "spec", "template", "spec")["containers"].([]any)[0].(map[string]any)
			c["readinessProbe"] = map[string]any{"exec": map[string]any{"command": []any{"x"}}, "periodSeconds": -1}
		}, "must be >= 0"},
	} {
		u := base()
		tc.mutate(u)
		errs := check(u)
		if !strings.Contains(strings.Join(errs, "\n"), tc.want) {
			t.Errorf("%s: errors %v lack %q", name, errs, tc.want)
		}
	}
}

func fzNested(u map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		u = u[k].(map[string]any)
	}
	return u
}

// TestFuzzFindings replays, as plain inputs, the ways the fuzz property was
// found to break (or could break): each row must yield a ValidationError
// or valid manifests.
func TestFuzzFindings(t *testing.T) {
	long := func(n int) string { return strings.Repeat("d", n) }
	for _, tc := range []struct {
		name  string
		build func(c cdk8s.Chart)
	}{
		{"DEL in a mount path", vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/data\x7f"}} })},
		{"DEL in an env value", vtWork(func(w *Workload) { w.Env = []EnvVar{Env("A", "x\x7fy")} })},
		{"C1 control in an argument", vtWork(func(w *Workload) { w.Args = []string{"--sep=\u0080"} })},
		{"C1 control in an annotation", vtWork(func(w *Workload) { w.Annotations = map[string]string{"note": "\u009b"} })},
		{"NEL and C0 controls render", vtWork(func(w *Workload) { w.Env = []EnvVar{Env("A", "\u0085\x01\t\x1b")} })},
		{"empty processor id", func(c cdk8s.Chart) { NewProcessorStage(vtPipeline(c), "", ProcessorStageProps{Workload: vtW()}) }},
		{"empty batch id", func(c cdk8s.Chart) { NewBatchStage(vtPipeline(c), "", BatchStageProps{Workload: vtW()}) }},
		{"empty scheduled id", func(c cdk8s.Chart) {
			NewScheduledStage(vtPipeline(c), "", ScheduledStageProps{Workload: vtW(), Schedule: "@daily"})
		}},
		{"empty storage id", func(c cdk8s.Chart) { NewPipelineStorage(vtPipeline(c), "", PipelineStorageProps{Size: "1Gi"}) }},
		{"empty pipeline id", func(c cdk8s.Chart) { NewPipeline(c, "", PipelineProps{Namespace: "ns"}) }},
		{"empty stage id outside pipeline", func(c cdk8s.Chart) { NewBatchStage(c, "", BatchStageProps{Workload: vtW()}) }},
		{"storage outside any pipeline mounted", func(c cdk8s.Chart) {
			d := NewPipelineStorage(c, "data", PipelineStorageProps{Size: "1Gi"})
			NewBatchStage(vtPipeline(c), "s", BatchStageProps{Workload: vtW(Mount{Storage: d, Path: "/data"})})
		}},
		{"storage id of 55 characters mounted", func(c cdk8s.Chart) {
			p := vtPipeline(c)
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(Mount{Storage: NewPipelineStorage(p, long(55), PipelineStorageProps{Size: "1Gi"}), Path: "/data"})})
		}},
		{"storage id of 56 characters mounted", func(c cdk8s.Chart) {
			p := vtPipeline(c)
			NewBatchStage(p, "s", BatchStageProps{Workload: vtW(Mount{Storage: NewPipelineStorage(p, long(56), PipelineStorageProps{Size: "1Gi"}), Path: "/data"})})
		}},
		{"storage id of 63 characters mounted by processor", func(c cdk8s.Chart) {
			p := vtPipeline(c)
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: vtW(Mount{Storage: NewPipelineStorage(p, long(63), PipelineStorageProps{Size: "1Gi"}), Path: "/data"})})
		}},
		{"apparmor unconfined annotation", vtWork(func(w *Workload) {
			w.Annotations = map[string]string{corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + "s": "unconfined"}
		})},
		{"apparmor runtime default annotation", vtWork(func(w *Workload) {
			w.Annotations = map[string]string{corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix + "s": "runtime/default"}
		})},
		{"mount at default scratch path", vtData(func(d *PipelineStorage) []Mount { return []Mount{{Storage: d, Path: "/tmp"}} })},
		{"stateful volume at scratch path", vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "state", Path: "/tmp", Size: "1Gi"}}}
		})},
		{"stateful volume at mount path", vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			s.Mounts = []Mount{{Storage: NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi"}), Path: "/data"}}
			s.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "state", Path: "/data", Size: "1Gi"}}}
		})},
		{"two stateful volumes at one path", vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "a", Path: "/state", Size: "1Gi"}, {Name: "b", Path: "/state", Size: "1Gi"}}}
		})},
		{"stateful volume named scratch", vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "scratch", Path: "/state", Size: "1Gi"}}}
		})},
		{"stateful volume named like a storage volume", vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			s.Mounts = []Mount{{Storage: NewPipelineStorage(p, "data", PipelineStorageProps{Size: "1Gi"}), Path: "/data"}}
			s.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "storage-data", Path: "/state", Size: "1Gi"}}}
		})},
		{"stateful volume modes with ReadWriteOncePod", vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "state", Path: "/state", Size: "1Gi", AccessModes: []string{"ReadWriteOnce", "ReadWriteOncePod"}}}}
		})},
		{"service port taken by a default service port", vtProc(func(_ *Pipeline, s *ProcessorStageProps) {
			s.Ports = []Port{{Name: "a", ContainerPort: 8080, ServicePort: 80}, {Name: "b", ContainerPort: 80}}
		})},
		{"probe period of 80 years", vtWeb(func(s *ProcessorStageProps) { s.Liveness = &Probe{Period: 80 * 365 * 24 * time.Hour} })},
		{"ttl of 80 years", vtJob(func(j *JobSettings) { j.TTLAfterFinished = 80 * 365 * 24 * time.Hour })},
		{"ttl of 68 years", vtJob(func(j *JobSettings) { j.TTLAfterFinished = 2147483647 * time.Second })},
		{"ingress ip host", vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Host: "192.168.1.10"} })},
		{"ingress path with dot segment", vtWeb(func(s *ProcessorStageProps) { s.Ingress = &Ingress{Path: "/a/./b", PathType: "Exact"} })},
		{"ingress implementation specific path", vtWeb(func(s *ProcessorStageProps) {
			s.Ingress = &Ingress{Path: "/a//b", PathType: "ImplementationSpecific"}
		})},
		{"csi driver of 64 characters", vtStore(func(s *PipelineStorageProps) {
			s.Existing = &ExistingVolume{CSI: &CSIVolume{Driver: long(52) + ".example.com", VolumeHandle: "h"}}
		})},
		{"stage id starting with a digit", func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), "1st", ProcessorStageProps{Workload: vtW(), Ports: []Port{{Name: "http", ContainerPort: 80}}})
		}},
		{"processor id of 63 characters with ports", func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), long(63), ProcessorStageProps{Workload: vtW(), Ports: []Port{{Name: "http", ContainerPort: 80}},
				Ingress: &Ingress{Host: "x.example.com"}})
		}},
		{"stateful id of 52 characters", func(c cdk8s.Chart) {
			NewProcessorStage(vtPipeline(c), long(52), ProcessorStageProps{Workload: vtW(), Stateful: &Stateful{
				Volumes: []VolumeClaim{{Name: long(63), Path: "/state", Size: "1Gi"}}}})
		}},
		{"namespace of 63 characters with existing storage", func(c cdk8s.Chart) {
			p := NewPipeline(c, "p", PipelineProps{Namespace: long(63)})
			NewPipelineStorage(p, long(55), PipelineStorageProps{Size: "1Gi", Existing: &ExistingVolume{NFS: &NFSVolume{Server: "nfs", Path: "/x"}}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := fzProperty(t, tc.build)
			if len(problems) > 0 {
				t.Errorf("property violated:\n%s", strings.Join(problems, "\n"))
			}
		})
	}
}
