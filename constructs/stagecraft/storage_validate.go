package stagecraft

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validate checks the storage's props.
func (s *PipelineStorage) validate() field.ErrorList {
	p := s.props
	errs := s.validateID()
	errs = append(errs, validateText(p)...)
	if p.Size == "" {
		errs = append(errs, required(field.NewPath("Size"), "the capacity, for example \"100Gi\""))
	} else {
		_, qerrs := validateBytes(field.NewPath("Size"), p.Size)
		errs = append(errs, qerrs...)
	}
	errs = append(errs, validateAccessModes(field.NewPath("AccessModes"), p.AccessModes)...)
	if c := p.StorageClassName; c != "" {
		errs = append(errs, each(field.NewPath("StorageClassName"), c, validation.IsDNS1123Subdomain(c))...)
	}
	switch corev1.PersistentVolumeMode(p.VolumeMode) {
	case "", corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock:
	default:
		errs = append(errs, notSupported(field.NewPath("VolumeMode"), p.VolumeMode, "must be \"Filesystem\" or \"Block\""))
	}
	errs = append(errs, validateLabels(field.NewPath("Labels"), p.Labels)...)
	errs = append(errs, validateReservedLabels(field.NewPath("Labels"), p.Labels)...)
	if e := p.Existing; e != nil {
		errs = append(errs, validateExisting(e)...)
		if p.VolumeMode == string(corev1.PersistentVolumeBlock) && e.NFS != nil {
			errs = append(errs, invalid(field.NewPath("VolumeMode"), p.VolumeMode, "an NFS volume is a filesystem; use Filesystem"))
		}
	}
	return errs
}

func validateExisting(e *ExistingVolume) field.ErrorList {
	fld := field.NewPath("Existing")
	switch {
	case e.NFS == nil && e.CSI == nil:
		return field.ErrorList{required(fld, "set NFS or CSI")}
	case e.NFS != nil && e.CSI != nil:
		return field.ErrorList{forbidden(fld, "NFS and CSI", "set exactly one of NFS and CSI")}
	case e.NFS != nil:
		var errs field.ErrorList
		if e.NFS.Server == "" {
			errs = append(errs, required(fld.Child("NFS", "Server"), "the NFS server's host name or address"))
		}
		if e.NFS.Path == "" || e.NFS.Path[0] != '/' {
			errs = append(errs, invalid(fld.Child("NFS", "Path"), e.NFS.Path, "must be the absolute exported path"))
		}
		return errs
	}
	var errs field.ErrorList
	f := fld.Child("CSI", "Driver")
	switch {
	case e.CSI.Driver == "":
		errs = append(errs, required(f, "the CSI driver's name"))
	case len(e.CSI.Driver) > 63:
		errs = append(errs, tooLong(f, e.CSI.Driver, "must be no more than 63 characters"))
	default:
		// Kubernetes compares driver names case-insensitively.
		errs = append(errs, each(f, e.CSI.Driver, validation.IsDNS1123Subdomain(strings.ToLower(e.CSI.Driver)))...)
	}
	if e.CSI.VolumeHandle == "" {
		errs = append(errs, required(fld.Child("CSI", "VolumeHandle"), "the volume's handle"))
	}
	return errs
}

// validateAccessModes checks a claim's access modes.
func validateAccessModes(fld *field.Path, modes []string) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, m := range modes {
		switch corev1.PersistentVolumeAccessMode(m) {
		case corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod:
		default:
			errs = append(errs, notSupported(fld.Index(i), m, "must be one of \"ReadWriteOnce\", \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOncePod\""))
		}
		if seen[m] {
			errs = append(errs, duplicate(fld.Index(i), m, "listed twice"))
		}
		seen[m] = true
	}
	if seen[string(corev1.ReadWriteOncePod)] && len(modes) > 1 {
		errs = append(errs, forbidden(fld, modes, "ReadWriteOncePod cannot be combined with other access modes"))
	}
	return errs
}
