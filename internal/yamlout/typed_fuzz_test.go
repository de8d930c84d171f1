package yamlout

import (
	"bytes"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/randfill"
)

// fuzzKinds are the kinds stagecraft writes; the fuzzer fills one of them
// at random.
var fuzzKinds = []func() runtime.Object{
	func() runtime.Object { return &appsv1.Deployment{} },
	func() runtime.Object { return &appsv1.StatefulSet{} },
	func() runtime.Object { return &batchv1.Job{} },
	func() runtime.Object { return &batchv1.CronJob{} },
	func() runtime.Object { return &corev1.Service{} },
	func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
	func() runtime.Object { return &corev1.PersistentVolume{} },
	func() runtime.Object { return &corev1.ConfigMap{} },
	func() runtime.Object { return &networkingv1.NetworkPolicy{} },
	func() runtime.Object { return &networkingv1.Ingress{} },
	func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
	func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
	func() runtime.Object { return &rbacv1.Role{} },
}

var asciiString = randfill.UnicodeRange{First: ' ', Last: '~'}.CustomStringFillFunc(16)

// fuzzFuncs fill the types whose zero-filled internals randfill would
// break (a Quantity's cached form, an IntOrString's type, managed fields'
// raw JSON) with values the
// API can hold, so that both paths see a well-formed object.
var fuzzFuncs = []any{
	// Strings: half of them of printable ASCII, as most of a manifest is,
	// which the direct path writes itself; the others of randfill's mix
	// of Unicode, which sends many objects through ToMap.
	func(s *string, c randfill.Continue) {
		if c.Bool() {
			asciiString(s, c)
			return
		}
		c.FillNoCustom(s)
	},
	func(q *resource.Quantity, c randfill.Continue) {
		formats := []resource.Format{resource.DecimalSI, resource.BinarySI, resource.DecimalExponent}
		*q = *resource.NewMilliQuantity(c.Int63n(1<<40)-1<<20, formats[c.Intn(len(formats))])
	},
	func(v *intstr.IntOrString, c randfill.Continue) {
		if c.Bool() {
			*v = intstr.FromInt32(c.Int31())
			return
		}
		*v = intstr.FromString(c.String(12))
	},
	func(t *metav1.Time, c randfill.Continue) {
		*t = metav1.NewTime(time.Unix(c.Int63n(1<<33), 0).UTC())
	},
	func(v *metav1.FieldsV1, c randfill.Continue) {
		v.SetRawString(`{"f:metadata":{"f:labels":{}}}`)
	},
	func(t *metav1.MicroTime, c randfill.Continue) {
		*t = metav1.NewMicroTime(time.Unix(c.Int63n(1<<33), c.Int63n(1e9)).UTC())
	},
}

// FuzzEncodeObject holds EncodeObject to what it stands in for: for any
// object of the kinds stagecraft writes, filled at random, its bytes are
// Encode(ToMap(obj))'s, or both fail.
func FuzzEncodeObject(f *testing.F) {
	for _, seed := range []string{"", "deployment", "\x02job with a few more bytes of seed", "\x0cRole\x00\x00\x00\xff"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		obj := fuzzKinds[int(data[0])%len(fuzzKinds)]()
		randfill.NewFromGoFuzz(data[1:]).NilChance(0.3).NumElements(0, 2).MaxDepth(12).Funcs(fuzzFuncs...).Fill(obj)
		var want []byte
		m, errMap := ToMap(obj)
		if errMap == nil {
			want, errMap = NewEncoder().Encode(m)
		}
		got, err := NewEncoder().EncodeObject(obj)
		if (err == nil) != (errMap == nil) {
			t.Fatalf("%T: EncodeObject error %v, Encode(ToMap) error %v", obj, err, errMap)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%T: EncodeObject differs from Encode(ToMap):\n--- want\n%s--- got\n%s", obj, want, got)
		}
	})
}
