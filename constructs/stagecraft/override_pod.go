package stagecraft

import (
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// More of the API server's rules of a pod spec, for pod templates that an
// override changed, with apimachinery's validators: the names and values
// the API server checks, its enumerations, and the ranges of its numbers.

// oneOf returns the problem of v when it is not one of allowed ("" is
// allowed when the API server defaults it).
func oneOf[T ~string](fld *field.Path, v T, allowed ...T) field.ErrorList {
	if v == "" || len(allowed) == 0 {
		return nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		if v == a {
			return nil
		}
		names[i] = "\"" + string(a) + "\""
	}
	return field.ErrorList{notSupported(fld, string(v), "must be one of "+strings.Join(names, ", "))}
}

// validatePodFields checks the pod-level fields of a pod template;
// restart lists the restart policies its kind allows.
func validatePodFields(path *field.Path, spec *corev1.PodSpec, restart ...corev1.RestartPolicy) field.ErrorList {
	fld := path.Child("spec")
	errs := oneOf(fld.Child("restartPolicy"), spec.RestartPolicy, restart...)
	errs = append(errs, oneOf(fld.Child("dnsPolicy"), spec.DNSPolicy, corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone)...)
	for name, v := range map[string]string{"hostname": spec.Hostname, "subdomain": spec.Subdomain} {
		if v != "" {
			errs = append(errs, each(fld.Child(name), v, validation.IsDNS1123Label(v))...)
		}
	}
	for name, v := range map[string]string{"priorityClassName": spec.PriorityClassName, "serviceAccountName": spec.ServiceAccountName, "schedulerName": spec.SchedulerName} {
		if v != "" {
			errs = append(errs, each(fld.Child(name), v, validation.IsDNS1123Subdomain(v))...)
		}
	}
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		errs = append(errs, invalid(fld.Child("terminationGracePeriodSeconds"), *g, "must be greater than or equal to 0"))
	}
	if d := spec.ActiveDeadlineSeconds; d != nil && *d <= 0 {
		errs = append(errs, invalid(fld.Child("activeDeadlineSeconds"), *d, "must be greater than 0"))
	}
	for k, v := range spec.NodeSelector {
		errs = append(errs, each(fld.Child("nodeSelector").Key(k), k, validation.IsQualifiedName(k))...)
		errs = append(errs, each(fld.Child("nodeSelector").Key(k), v, validation.IsValidLabelValue(v))...)
	}
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil {
		if r := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution; r != nil && len(r.NodeSelectorTerms) == 0 {
			errs = append(errs, required(fld.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"), "must have at least one node selector term"))
		}
	}
	for i, t := range spec.Tolerations {
		errs = append(errs, validatePodToleration(fld.Child("tolerations").Index(i), t)...)
	}
	if sc := spec.SecurityContext; sc != nil {
		errs = append(errs, validateIDs(fld.Child("securityContext"), sc.RunAsUser, sc.RunAsGroup, sc.FSGroup)...)
	}
	for i, v := range spec.Volumes {
		errs = append(errs, each(fld.Child("volumes").Index(i).Child("name"), v.Name, validation.IsDNS1123Label(v.Name))...)
		errs = append(errs, validateVolumeSource(fld.Child("volumes").Index(i), &v.VolumeSource)...)
	}
	for i, c := range spec.TopologySpreadConstraints {
		cf := fld.Child("topologySpreadConstraints").Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, invalid(cf.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		errs = append(errs, each(cf.Child("topologyKey"), c.TopologyKey, validation.IsQualifiedName(c.TopologyKey))...)
		errs = append(errs, oneOf(cf.Child("whenUnsatisfiable"), c.WhenUnsatisfiable, corev1.DoNotSchedule, corev1.ScheduleAnyway)...)
	}
	return errs
}

// validatePodToleration checks a toleration's key, operator and effect.
func validatePodToleration(fld *field.Path, t corev1.Toleration) field.ErrorList {
	var errs field.ErrorList
	if t.Key != "" {
		errs = append(errs, each(fld.Child("key"), t.Key, validation.IsQualifiedName(t.Key))...)
	}
	errs = append(errs, oneOf(fld.Child("operator"), t.Operator, corev1.TolerationOpExists, corev1.TolerationOpEqual)...)
	if t.Operator == corev1.TolerationOpExists && t.Value != "" {
		errs = append(errs, invalid(fld.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
	}
	if t.Key == "" && t.Operator != corev1.TolerationOpExists {
		errs = append(errs, invalid(fld.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
	}
	return append(errs, oneOf(fld.Child("effect"), t.Effect, corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute)...)
}

// validateIDs checks user and group IDs.
func validateIDs(fld *field.Path, user, group, fsGroup *int64) field.ErrorList {
	var errs field.ErrorList
	if user != nil {
		errs = append(errs, each(fld.Child("runAsUser"), *user, validation.IsValidUserID(*user))...)
	}
	for name, g := range map[string]*int64{"runAsGroup": group, "fsGroup": fsGroup} {
		if g != nil {
			errs = append(errs, each(fld.Child(name), *g, validation.IsValidGroupID(*g))...)
		}
	}
	return errs
}

// validateVolumeSource checks that a volume has exactly one source, and
// the modes and sizes of the common ones.
func validateVolumeSource(fld *field.Path, v *corev1.VolumeSource) field.ErrorList {
	var errs field.ErrorList
	set := 0
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		if !rv.Field(i).IsNil() {
			set++
		}
	}
	if set != 1 {
		errs = append(errs, forbidden(fld, set, "must specify exactly 1 volume type"))
	}
	mode := func(f *field.Path, m *int32) {
		if m != nil && (*m < 0 || *m > 0o777) {
			errs = append(errs, invalid(f, *m, "must be a number between 0 and 0777 (octal), both inclusive"))
		}
	}
	if s := v.Secret; s != nil {
		mode(fld.Child("secret", "defaultMode"), s.DefaultMode)
	}
	if c := v.ConfigMap; c != nil {
		mode(fld.Child("configMap", "defaultMode"), c.DefaultMode)
	}
	if p := v.Projected; p != nil {
		mode(fld.Child("projected", "defaultMode"), p.DefaultMode)
	}
	if e := v.EmptyDir; e != nil && e.SizeLimit != nil && e.SizeLimit.Sign() < 0 {
		errs = append(errs, invalid(fld.Child("emptyDir", "sizeLimit"), e.SizeLimit.String(), "must be a non-negative quantity"))
	}
	return errs
}

// validateContainerFields checks what the API server checks of one
// container beyond validatePodRules: enumerations, port names, variable
// names and sources, probes, quantities and IDs.
func validateContainerFields(fld *field.Path, c *corev1.Container) field.ErrorList {
	errs := oneOf(fld.Child("imagePullPolicy"), c.ImagePullPolicy, corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)
	errs = append(errs, oneOf(fld.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)...)
	ports := map[string]bool{}
	for i, p := range c.Ports {
		pf := fld.Child("ports").Index(i)
		if p.Name != "" {
			errs = append(errs, each(pf.Child("name"), p.Name, validation.IsValidPortName(p.Name))...)
			if ports[p.Name] {
				errs = append(errs, duplicate(pf.Child("name"), p.Name, "port names must be unique in a container"))
			}
			ports[p.Name] = true
		}
		errs = append(errs, oneOf(pf.Child("protocol"), p.Protocol, corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)...)
	}
	env := map[string]bool{}
	for i, e := range c.Env {
		ef := fld.Child("env").Index(i)
		errs = append(errs, each(ef.Child("name"), e.Name, validation.IsRelaxedEnvVarName(e.Name))...)
		if env[e.Name] {
			errs = append(errs, duplicate(ef.Child("name"), e.Name, "hides an earlier variable of the name, which a deploy tool's apply may drop"))
		}
		env[e.Name] = true
		errs = append(errs, validateEnvSource(ef, e)...)
	}
	for i, m := range c.VolumeMounts {
		if p := m.SubPath; p != "" && (strings.HasPrefix(p, "/") || slices.Contains(strings.Split(p, "/"), "..")) {
			errs = append(errs, invalid(fld.Child("volumeMounts").Index(i).Child("subPath"), p, "must be a relative path without '..'"))
		}
	}
	for name, rl := range map[string]corev1.ResourceList{"requests": c.Resources.Requests, "limits": c.Resources.Limits} {
		for res, q := range rl {
			errs = append(errs, each(fld.Child("resources", name).Key(string(res)), string(res), validation.IsQualifiedName(string(res)))...)
			if q.Sign() < 0 {
				errs = append(errs, invalid(fld.Child("resources", name).Key(string(res)), q.String(), "must be greater than or equal to 0"))
			}
		}
	}
	for name, p := range map[string]*corev1.Probe{"livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe, "startupProbe": c.StartupProbe} {
		errs = append(errs, validateProbeNumbers(fld.Child(name), p)...)
	}
	if sc := c.SecurityContext; sc != nil {
		errs = append(errs, validateIDs(fld.Child("securityContext"), sc.RunAsUser, sc.RunAsGroup, nil)...)
	}
	if l := c.Lifecycle; l != nil {
		for name, h := range map[string]*corev1.LifecycleHandler{"postStart": l.PostStart, "preStop": l.PreStop} {
			if h != nil {
				errs = append(errs, oneHandler(fld.Child("lifecycle", name), h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.Sleep != nil)...)
			}
		}
	}
	return errs
}

// oneHandler returns the problem of a probe or hook without exactly one
// handler (set lists which are set).
func oneHandler(fld *field.Path, set ...bool) field.ErrorList {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	switch n {
	case 1:
		return nil
	case 0:
		return field.ErrorList{required(fld, "must specify a handler type")}
	}
	return field.ErrorList{forbidden(fld, n, "may not specify more than 1 handler type")}
}

// validateEnvSource checks that a variable has a value or one source.
func validateEnvSource(fld *field.Path, e corev1.EnvVar) field.ErrorList {
	if e.ValueFrom == nil {
		return nil
	}
	if e.Value != "" {
		return field.ErrorList{invalid(fld.Child("valueFrom"), "", "may not be specified when `value` is not empty")}
	}
	f := e.ValueFrom
	set := 0
	for _, p := range []bool{f.FieldRef != nil, f.ResourceFieldRef != nil, f.ConfigMapKeyRef != nil, f.SecretKeyRef != nil, f.FileKeyRef != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return field.ErrorList{invalid(fld.Child("valueFrom"), set, "must specify exactly one of fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef or fileKeyRef")}
	}
	var errs field.ErrorList
	key := func(kf *field.Path, name, k string) {
		if name == "" {
			errs = append(errs, required(kf.Child("name"), "the name of the object that holds the key"))
		}
		if k == "" {
			errs = append(errs, required(kf.Child("key"), "the key"))
		} else {
			errs = append(errs, each(kf.Child("key"), k, validation.IsConfigMapKey(k))...)
		}
	}
	if r := f.ConfigMapKeyRef; r != nil {
		key(fld.Child("valueFrom", "configMapKeyRef"), r.Name, r.Key)
	}
	if r := f.SecretKeyRef; r != nil {
		key(fld.Child("valueFrom", "secretKeyRef"), r.Name, r.Key)
	}
	return errs
}

// validateProbeNumbers checks a probe's handler and numbers.
func validateProbeNumbers(fld *field.Path, p *corev1.Probe) field.ErrorList {
	if p == nil {
		return nil
	}
	h := p.ProbeHandler
	errs := oneHandler(fld, h.Exec != nil, h.HTTPGet != nil, h.TCPSocket != nil, h.GRPC != nil)
	for name, v := range map[string]int32{"initialDelaySeconds": p.InitialDelaySeconds, "timeoutSeconds": p.TimeoutSeconds,
		"periodSeconds": p.PeriodSeconds, "successThreshold": p.SuccessThreshold, "failureThreshold": p.FailureThreshold} {
		if v < 0 {
			errs = append(errs, invalid(fld.Child(name), v, "must be greater than or equal to 0"))
		}
	}
	return errs
}
