package oracle

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// The objects the controllers of kube-controller-manager v1.36.3 create
// from a workload, built as those controllers build them (read from
// pkg/controller/{cronjob,job,statefulset,deployment,replicaset}), so that
// what the API server refuses only when a controller creates it (a Job
// label the Job strategy also sets, an Indexed pod's hostname, a CronJob's
// Job name) is found too.

// scheduledTime is the run a CronJob's Job is built for; its minutes since
// the epoch name the Job.
var scheduledTime = time.Date(2031, 1, 1, 2, 0, 0, 0, time.UTC)

// podTemplateHash stands for the hash a Deployment's ReplicaSet is named
// after: the longest it can be.
const podTemplateHash = "5d8f9c7b6d"

// controllerCreates returns what the controller of a defaulted, prepared
// object creates from it.
func controllerCreates(obj runtime.Object) ([]child, error) {
	switch o := obj.(type) {
	case *batchv1.CronJob:
		return encode(cronJobRun(o))
	case *batchv1.Job:
		return encode(jobPods(o)...)
	case *appsv1.StatefulSet:
		return encode(statefulSetCreates(o)...)
	case *appsv1.Deployment:
		return encode(deploymentReplicaSet(o))
	case *appsv1.ReplicaSet:
		return encode(podFromTemplate(&o.Spec.Template, o.Namespace, o.Name+"-", ref(o, "apps/v1", "ReplicaSet")))
	}
	return nil, nil
}

func encode(objs ...runtime.Object) ([]child, error) {
	var out []child
	for _, o := range objs {
		js, err := json.Marshal(o)
		if err != nil {
			return out, err
		}
		out = append(out, child{json: js})
	}
	return out, nil
}

func ref(o metav1.Object, apiVersion, kind string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: o.GetName(), UID: o.GetUID(),
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

// cronJobRun is the Job the CronJob controller creates for one run.
func cronJobRun(cj *batchv1.CronJob) *batchv1.Job {
	tmpl := cj.Spec.JobTemplate
	loc, err := time.LoadLocation(ptr.Deref(cj.Spec.TimeZone, ""))
	if err != nil {
		loc = time.UTC // the CronJob's own validation reports the zone
	}
	ann := map[string]string{}
	for k, v := range tmpl.Annotations {
		ann[k] = v
	}
	ann[batchv1.CronJobScheduledTimestampAnnotation] = scheduledTime.In(loc).Format(time.RFC3339)
	labels := map[string]string{}
	for k, v := range tmpl.Labels {
		labels[k] = v
	}
	j := &batchv1.Job{
		TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            fmt.Sprintf("%s-%d", cj.Name, scheduledTime.Unix()/60),
			Namespace:       cj.Namespace,
			Labels:          labels,
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{ref(cj, "batch/v1", "CronJob")},
		},
	}
	tmpl.Spec.DeepCopyInto(&j.Spec)
	return j
}

// jobPods are the pods the Job controller creates: one of a NonIndexed
// Job; the first and the last index of an Indexed one.
func jobPods(j *batchv1.Job) []runtime.Object {
	owner := ref(j, "batch/v1", "Job")
	tmpl := j.Spec.Template.DeepCopy()
	tmpl.Finalizers = append(tmpl.Finalizers, batchv1.JobTrackingFinalizer)
	if ptr.Deref(j.Spec.CompletionMode, batchv1.NonIndexedCompletion) != batchv1.IndexedCompletion {
		return []runtime.Object{podFromTemplate(tmpl, j.Namespace, j.Name+"-", owner)}
	}
	for i := range tmpl.Spec.InitContainers {
		addIndexEnv(&tmpl.Spec.InitContainers[i])
	}
	for i := range tmpl.Spec.Containers {
		addIndexEnv(&tmpl.Spec.Containers[i])
	}
	var pods []runtime.Object
	for _, i := range firstAndLast(j.Spec.Completions) {
		t := tmpl.DeepCopy()
		idx := strconv.Itoa(i)
		t.Annotations = with(t.Annotations, batchv1.JobCompletionIndexAnnotation, idx)
		t.Labels = with(t.Labels, batchv1.JobCompletionIndexAnnotation, idx)
		t.Spec.Hostname = j.Name + "-" + idx
		generate := j.Name + "-" + idx + "-"
		if len(generate) > 58 {
			generate = generate[:58-len(idx)-2] + "-" + idx + "-"
		}
		pods = append(pods, podFromTemplate(t, j.Namespace, generate, owner))
	}
	return pods
}

func addIndexEnv(c *corev1.Container) {
	for _, e := range c.Env {
		if e.Name == "JOB_COMPLETION_INDEX" {
			return
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['" + batchv1.JobCompletionIndexAnnotation + "']"},
	}})
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		if mk != k {
			out[mk] = mv
		}
	}
	return out
}

// podFromTemplate is a pod as the controllers create it from a template.
func podFromTemplate(t *corev1.PodTemplateSpec, ns, generateName string, owner metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName, Namespace: ns,
			Labels: t.Labels, Annotations: t.Annotations, Finalizers: t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{owner},
		},
		Spec: *t.Spec.DeepCopy(),
	}
}

// firstAndLast are the first and the last of count indexes (1 when nil):
// the pods the oracle checks stand for all, since only their numbers differ.
func firstAndLast(count *int32) []int {
	if last := int(ptr.Deref(count, 1)) - 1; last > 0 {
		return []int{0, last}
	}
	return []int{0}
}

// statefulSetCreates are the first and the last pod of a StatefulSet and
// their volume claims.
func statefulSetCreates(s *appsv1.StatefulSet) []runtime.Object {
	owner := ref(s, "apps/v1", "StatefulSet")
	var out []runtime.Object
	for _, o := range firstAndLast(s.Spec.Replicas) {
		name := s.Name + "-" + strconv.Itoa(o)
		p := podFromTemplate(&s.Spec.Template, s.Namespace, "", owner)
		p.GenerateName, p.Name = "", name
		p.Labels = with(with(with(p.Labels, appsv1.StatefulSetPodNameLabel, name),
			appsv1.PodIndexLabel, strconv.Itoa(o)), appsv1.ControllerRevisionHashLabelKey, s.Name+"-"+podTemplateHash)
		p.Spec.Hostname, p.Spec.Subdomain = name, s.Spec.ServiceName
		for _, ct := range s.Spec.VolumeClaimTemplates {
			claim := ct.Name + "-" + name
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: ct.Name, VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
			pvc := &corev1.PersistentVolumeClaim{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
				ObjectMeta: metav1.ObjectMeta{Name: claim, Namespace: s.Namespace, Labels: ct.Labels, Annotations: ct.Annotations},
				Spec:       *ct.Spec.DeepCopy(),
			}
			if s.Spec.Selector != nil {
				for k, v := range s.Spec.Selector.MatchLabels {
					pvc.Labels = with(pvc.Labels, k, v)
				}
			}
			out = append(out, pvc)
		}
		out = append(out, p)
	}
	return out
}

// deploymentReplicaSet is the ReplicaSet of a Deployment's template.
func deploymentReplicaSet(d *appsv1.Deployment) *appsv1.ReplicaSet {
	t := d.Spec.Template.DeepCopy()
	t.Labels = with(t.Labels, appsv1.DefaultDeploymentUniqueLabelKey, podTemplateHash)
	sel := d.Spec.Selector.DeepCopy()
	if sel == nil {
		sel = &metav1.LabelSelector{}
	}
	sel.MatchLabels = with(sel.MatchLabels, appsv1.DefaultDeploymentUniqueLabelKey, podTemplateHash)
	return &appsv1.ReplicaSet{
		TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + podTemplateHash, Namespace: d.Namespace,
			Labels:          with(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, podTemplateHash),
			OwnerReferences: []metav1.OwnerReference{ref(d, "apps/v1", "Deployment")},
		},
		Spec: appsv1.ReplicaSetSpec{Replicas: d.Spec.Replicas, MinReadySeconds: d.Spec.MinReadySeconds, Selector: sel, Template: *t},
	}
}
