package stagecraft

import (
	"fmt"
	"path"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// namedPath is a mount path and the prop it comes from.
type namedPath struct {
	field *field.Path
	path  string
}

// validateWorkload checks a stage's workload w in pipeline p. extra are
// more mount paths of the container (a StatefulSet's claims), checked for
// clashes with the others.
func validateWorkload(p *Pipeline, w workloadSpec, extra ...namedPath) field.ErrorList {
	g := w.given
	errs := validateImage(field.NewPath("Image"), g.Image, g.AllowLatestTag, "AllowLatestTag")
	for i, e := range g.Env {
		errs = append(errs, validateEnv(field.NewPath("Env").Index(i), e)...)
	}
	errs = append(errs, validateEnvUnique(g.Env)...)
	errs = append(errs, validateResources(field.NewPath("Resources"), g.Resources, w.resources)...)
	errs = append(errs, validateLabels(field.NewPath("Labels"), g.Labels)...)
	errs = append(errs, validateReservedLabels(field.NewPath("Labels"), g.Labels)...)
	errs = append(errs, validateAnnotations(field.NewPath("Annotations"), g.Annotations)...)
	errs = append(errs, validatePodAnnotations(field.NewPath("Annotations"), g.Annotations)...)
	if v, ok := g.Annotations[queueLabel]; ok {
		errs = append(errs, forbidden(field.NewPath("Annotations").Key(queueLabel), v, "Kueue reads its queue from this annotation too (its older form), which would queue the stage's pods past stagecraft's waits; queue a stage's Job with JobSettings.Queue"))
	}
	if len(g.Command) > 0 && strings.TrimSpace(g.Command[0]) == "" {
		errs = append(errs, invalid(field.NewPath("Command").Index(0), g.Command[0], "the program to run: must not be empty (leave Command unset to run the image's entrypoint)"))
	}
	errs = append(errs, validatePullPolicy(field.NewPath("ImagePullPolicy"), g.ImagePullPolicy)...)
	errs = append(errs, validateLabels(field.NewPath("NodeSelector"), g.NodeSelector)...)
	if g.ServiceAccountName != "" {
		errs = append(errs, each(field.NewPath("ServiceAccountName"), g.ServiceAccountName, validation.IsDNS1123Subdomain(g.ServiceAccountName))...)
	}
	errs = append(errs, validateSecurityIDs(g.Security)...)
	errs = append(errs, validateScratchTotal(w)...)
	errs = append(errs, validateMountPaths(p, w, extra)...)
	errs = append(errs, validateAccelerators(field.NewPath("Accelerators"), g.Accelerators, w.accelerators)...)
	errs = append(errs, validateEgress(g.Egress)...)
	errs = append(errs, validateSharedMemory(g.SharedMemory, w.resources.MemoryLimit)...)
	if g.PriorityClassName != "" {
		errs = append(errs, each(field.NewPath("PriorityClassName"), g.PriorityClassName, validation.IsDNS1123Subdomain(g.PriorityClassName))...)
	}
	if d := g.TerminationGracePeriod; d < 0 || d%time.Second != 0 {
		errs = append(errs, invalid(field.NewPath("TerminationGracePeriod"), d.String(), "must be zero (the default) or a positive whole number of seconds"))
	}
	return errs
}

func validateSecurityIDs(s Security) field.ErrorList {
	sec := field.NewPath("Security")
	var errs field.ErrorList
	for _, id := range []struct {
		name string
		v    int64
	}{{"RunAsUser", s.RunAsUser}, {"RunAsGroup", s.RunAsGroup}, {"FSGroup", s.FSGroup}} {
		if id.v < 0 || id.v > 2147483647 {
			errs = append(errs, invalid(sec.Child(id.name), id.v, "must be a user or group ID from 1 to 2147483647 (0, root, is not allowed by Pod Security \"restricted\")"))
		}
	}
	if s.ScratchSize != "" {
		_, qerrs := validateBytes(sec.Child("ScratchSize"), s.ScratchSize)
		errs = append(errs, qerrs...)
	}
	return errs
}

// validateScratchTotal checks that the scratch directories fit in the
// ephemeral-storage limit: the kubelet evicts a pod whose emptyDirs,
// logs and writable layer together exceed it.
func validateScratchTotal(w workloadSpec) field.ErrorList {
	total := scratchTotal(w.security)
	lim, err := resource.ParseQuantity(w.resources.EphemeralStorageLimit)
	if err != nil || lim.Sign() <= 0 || lim.MilliValue()%1000 != 0 || total.Cmp(lim) <= 0 {
		return nil // a bad limit is reported as such
	}
	s := w.security
	return field.ErrorList{invalid(field.NewPath("Security", "ScratchSize"), s.ScratchSize,
		fmt.Sprintf("%d scratch directories of %s may hold %s, above the ephemeral-storage limit %s (Resources.EphemeralStorageLimit): the kubelet evicts the pod when they fill; raise the limit or lower ScratchSize",
			len(s.ScratchPaths), s.ScratchSize, total.String(), lim.String()))}
}

// validateMountPaths checks every path mounted into the container, its
// storage mounts and that no two mounts share a path.
func validateMountPaths(p *Pipeline, w workloadSpec, extra []namedPath) field.ErrorList {
	var errs field.ErrorList
	used := map[string]string{}
	claim := func(fld *field.Path, mp string) {
		if prev, ok := used[path.Clean(mp)]; ok {
			errs = append(errs, duplicate(fld, mp, "mount path is already used by "+prev))
			return
		}
		used[path.Clean(mp)] = fld.String()
	}
	given := w.given.Security.ScratchPaths
	for i, sp := range w.security.ScratchPaths {
		fld := field.NewPath("Security", "ScratchPaths").Index(i)
		if given == nil {
			claim(fld, sp)
		} else if merrs := validateMountPath(fld, sp); len(merrs) > 0 {
			errs = append(errs, merrs...)
		} else {
			claim(fld, sp)
		}
	}
	if w.sharedMemory != "" {
		claim(field.NewPath("SharedMemory"), sharedMemoryPath)
	}
	for i, m := range w.given.Mounts {
		fld := field.NewPath("Mounts").Index(i)
		errs = append(errs, validateMount(p, fld, m)...)
		if merrs := validateMountPath(fld.Child("Path"), m.Path); len(merrs) > 0 {
			errs = append(errs, merrs...)
		} else {
			claim(fld.Child("Path"), m.Path)
		}
	}
	for _, e := range extra {
		if e.path != "" && path.IsAbs(e.path) {
			claim(e.field, e.path)
		}
	}
	return errs
}

// validateMount checks a mount's storage and sub-path.
func validateMount(p *Pipeline, fld *field.Path, m Mount) field.ErrorList {
	var errs field.ErrorList
	switch {
	case m.Storage == nil:
		errs = append(errs, required(fld.Child("Storage"), "the PipelineStorage to mount"))
	case m.Storage.pipeline == nil:
		errs = append(errs, invalid(fld.Child("Storage"), m.Storage.path, "the storage is not part of any pipeline; create it in the stage's pipeline"))
	case m.Storage.pipeline != p:
		errs = append(errs, invalid(fld.Child("Storage"), m.Storage.path, fmt.Sprintf("storage belongs to pipeline %q (namespace %q); a stage can mount only storage of its own pipeline %q, since a claim is bound inside one namespace", m.Storage.pipeline.path, m.Storage.pipeline.namespace, p.path)))
	case m.Storage.mode == corev1.PersistentVolumeBlock:
		errs = append(errs, forbidden(fld.Child("Storage"), m.Storage.path, "the storage has VolumeMode Block, a raw device without a filesystem, and a mount needs a filesystem (the pod would not start); use VolumeMode Filesystem"))
	}
	if m.SubPath != "" && (path.IsAbs(m.SubPath) || hasDotDot(m.SubPath)) {
		errs = append(errs, invalid(fld.Child("SubPath"), m.SubPath, "must be a relative path inside the volume, without '..'"))
	}
	if m.WaitForWriters != nil && !m.ReadOnly {
		errs = append(errs, forbidden(fld.Child("WaitForWriters"), *m.WaitForWriters, "applies to a read-only mount: a stage that writes the storage is one of its writers"))
	}
	return errs
}

func hasDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

func validateMountPath(fld *field.Path, p string) field.ErrorList {
	if p == "" {
		return field.ErrorList{required(fld, "an absolute path in the container")}
	}
	if !path.IsAbs(p) || hasDotDot(p) || strings.Contains(p, ":") {
		return field.ErrorList{invalid(fld, p, "must be an absolute path without '..' or ':'")}
	}
	return nil
}

func validateEnv(fld *field.Path, e EnvVar) field.ErrorList {
	var errs field.ErrorList
	if e.Name == "" {
		errs = append(errs, required(fld.Child("Name"), "the variable's name"))
	} else {
		errs = append(errs, each(fld.Child("Name"), e.Name, validation.IsEnvVarName(e.Name))...)
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
		errs = append(errs, validateKeyRef(fld.Child(ref.name), ref.name, ref.r)...)
	}
	if sources > 1 {
		errs = append(errs, forbidden(fld, e.Name, "set at most one of ConfigMap and Secret"))
	}
	if sources > 0 && e.Value != "" {
		errs = append(errs, forbidden(fld.Child("Value"), e.Value, "a variable read from a ConfigMap or Secret cannot also have a literal Value"))
	}
	return errs
}

func validateKeyRef(fld *field.Path, kind string, r *KeyRef) field.ErrorList {
	return validateObjectKey(fld.Child("Name"), fld.Child("Key"), kind, r.Name, r.Key)
}

// validateObjectKey checks a reference to a key of a ConfigMap or Secret
// (kind) by its name and key, found at nameFld and keyFld.
func validateObjectKey(nameFld, keyFld *field.Path, kind, name, key string) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, required(nameFld, "the "+kind+"'s name"))
	} else {
		errs = append(errs, each(nameFld, name, validation.IsDNS1123Subdomain(name))...)
	}
	if key == "" {
		errs = append(errs, required(keyFld, "the key in the "+kind))
	} else {
		errs = append(errs, each(keyFld, key, validation.IsConfigMapKey(key))...)
	}
	return errs
}

func validateEnvUnique(env []EnvVar) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]int{}
	for i, e := range env {
		if j, ok := seen[e.Name]; ok && e.Name != "" {
			errs = append(errs, duplicate(field.NewPath("Env").Index(i).Child("Name"), e.Name, fmt.Sprintf("duplicates Env[%d]; each variable may be set once", j)))
			continue
		}
		seen[e.Name] = i
	}
	return errs
}
