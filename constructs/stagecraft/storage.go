package stagecraft

import (
	"strings"

	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PipelineStorageProps configures a PipelineStorage.
type PipelineStorageProps struct {
	// Size is the requested capacity, a Kubernetes quantity such as "100Gi".
	// Required.
	Size string
	// AccessModes of the claim: ReadWriteOnce, ReadOnlyMany, ReadWriteMany or
	// ReadWriteOncePod. Default: ReadWriteMany, since a pipeline's storage
	// is shared between stages running on different nodes.
	AccessModes []string
	// StorageClassName provisions the volume from this class. Default: the
	// cluster's default class; with Existing, no class (static binding).
	StorageClassName string
	// VolumeMode is Filesystem or Block. Default: Filesystem.
	VolumeMode string
	// Existing binds the claim to storage that already exists, through a
	// statically provisioned PersistentVolume with reclaim policy Retain, so
	// that deleting the pipeline never deletes the data. Default: none (the
	// volume is provisioned dynamically).
	Existing *ExistingVolume
	// Labels are added to the claim (and volume). Default: only the
	// recommended labels.
	Labels map[string]string
}

// ExistingVolume is storage outside the cluster that a PipelineStorage
// binds to. Set exactly one of NFS and CSI.
type ExistingVolume struct {
	// NFS is an NFS export.
	NFS *NFSVolume
	// CSI is a volume of a CSI driver, by its handle.
	CSI *CSIVolume
	// MountOptions are passed to the mount. Default: none.
	MountOptions []string
}

// NFSVolume is an NFS export.
type NFSVolume struct {
	// Server is the NFS server's host name or IP address. Required.
	Server string
	// Path is the exported path. Required.
	Path string
}

// CSIVolume is an existing volume of a CSI driver.
type CSIVolume struct {
	// Driver is the CSI driver's name, for example "efs.csi.aws.com". Required.
	Driver string
	// VolumeHandle identifies the volume to the driver. Required.
	VolumeHandle string
	// FSType is the filesystem type. Default: the driver's.
	FSType string
	// VolumeAttributes are passed to the driver. Default: none.
	VolumeAttributes map[string]string
}

// storageNameMax leaves room for the "storage-" prefix of the pod volume
// that mounts the claim (a 63-character label).
const storageNameMax = 63 - len("storage-")

// validateAccessModes checks a claim's access modes.
func validateAccessModes(ps *problems, fld *field.Path, modes []string) {
	seen := map[string]bool{}
	for i, m := range modes {
		switch corev1.PersistentVolumeAccessMode(m) {
		case corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod:
		default:
			ps.add(fld.Index(i), m, "must be one of \"ReadWriteOnce\", \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOncePod\"")
		}
		if seen[m] {
			ps.add(fld.Index(i), m, "listed twice")
		}
		seen[m] = true
	}
	if seen[string(corev1.ReadWriteOncePod)] && len(modes) > 1 {
		ps.add(fld, modes, "ReadWriteOncePod cannot be combined with other access modes")
	}
}

// PipelineStorage is persistent data shared by a pipeline's stages: a
// PersistentVolumeClaim and, for existing storage, the PersistentVolume it
// binds to. Stages attach it through Workload.Mounts.
type PipelineStorage struct {
	constructs.Construct
	stage
	props PipelineStorageProps // resolved
}

// NewPipelineStorage creates storage in a pipeline. Its id is the claim's
// name.
func NewPipelineStorage(scope constructs.Construct, id string, props PipelineStorageProps) *PipelineStorage {
	s := &PipelineStorage{}
	cid := s.init(s, scope, id, componentStorage, storageNameMax, props.Labels)
	s.props = resolveStorage(props)
	s.validate(props)
	constructs.NewConstruct_Override(s, scope, &cid)
	return s
}

func resolveStorage(p PipelineStorageProps) PipelineStorageProps {
	r := p
	r.AccessModes = append([]string(nil), p.AccessModes...)
	if len(r.AccessModes) == 0 {
		r.AccessModes = []string{string(corev1.ReadWriteMany)}
	}
	if r.VolumeMode == "" {
		r.VolumeMode = string(corev1.PersistentVolumeFilesystem)
	}
	return r
}

func (s *PipelineStorage) validate(p PipelineStorageProps) {
	ps := &s.problems
	validateText(ps, p)
	if p.Size == "" {
		ps.required(field.NewPath("Size"), "the capacity, for example \"100Gi\"")
	} else {
		validateQuantity(ps, field.NewPath("Size"), p.Size)
	}
	validateAccessModes(ps, field.NewPath("AccessModes"), p.AccessModes)
	if c := p.StorageClassName; c != "" {
		ps.addAll(field.NewPath("StorageClassName"), c, validation.IsDNS1123Subdomain(c))
	}
	switch corev1.PersistentVolumeMode(p.VolumeMode) {
	case "", corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock:
	default:
		ps.add(field.NewPath("VolumeMode"), p.VolumeMode, "must be \"Filesystem\" or \"Block\"")
	}
	validateLabels(ps, field.NewPath("Labels"), p.Labels)
	validateReservedLabels(ps, field.NewPath("Labels"), p.Labels)
	if e := p.Existing; e != nil {
		fld := field.NewPath("Existing")
		switch {
		case e.NFS == nil && e.CSI == nil:
			ps.required(fld, "set NFS or CSI")
		case e.NFS != nil && e.CSI != nil:
			ps.add(fld, "NFS and CSI", "set exactly one of NFS and CSI")
		case e.NFS != nil:
			if e.NFS.Server == "" {
				ps.required(fld.Child("NFS", "Server"), "the NFS server's host name or address")
			}
			if e.NFS.Path == "" || e.NFS.Path[0] != '/' {
				ps.add(fld.Child("NFS", "Path"), e.NFS.Path, "must be the absolute exported path")
			}
		case e.CSI != nil:
			if e.CSI.Driver == "" {
				ps.required(fld.Child("CSI", "Driver"), "the CSI driver's name")
			} else if len(e.CSI.Driver) > 63 {
				ps.add(fld.Child("CSI", "Driver"), e.CSI.Driver, "must be no more than 63 characters")
			} else {
				// Kubernetes compares driver names case-insensitively.
				ps.addAll(fld.Child("CSI", "Driver"), e.CSI.Driver, validation.IsDNS1123Subdomain(strings.ToLower(e.CSI.Driver)))
			}
			if e.CSI.VolumeHandle == "" {
				ps.required(fld.Child("CSI", "VolumeHandle"), "the volume's handle")
			}
		}
		if p.VolumeMode == string(corev1.PersistentVolumeBlock) && e.NFS != nil {
			ps.add(field.NewPath("VolumeMode"), p.VolumeMode, "an NFS volume is a filesystem; use Filesystem")
		}
	}
}

// ClaimName returns the name of the PersistentVolumeClaim.
func (s *PipelineStorage) ClaimName() string { return s.name }

// volumeName is the cluster-wide name of the static PersistentVolume.
func (s *PipelineStorage) volumeName() string { return s.pipeline.namespace + "-" + s.name }

func (s *PipelineStorage) objects() []object {
	p := s.props
	size := resource.MustParse(p.Size)
	modes := make([]corev1.PersistentVolumeAccessMode, len(p.AccessModes))
	for i, m := range p.AccessModes {
		modes[i] = corev1.PersistentVolumeAccessMode(m)
	}
	mode := corev1.PersistentVolumeMode(p.VolumeMode)
	pvc := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: s.meta(),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: modes,
			VolumeMode:  &mode,
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if p.StorageClassName != "" {
		pvc.Spec.StorageClassName = &p.StorageClassName
	}
	if p.Existing == nil {
		return []object{{scope: s, id: "PersistentVolumeClaim", obj: pvc}}
	}
	class := p.StorageClassName
	pvc.Spec.StorageClassName = &class
	pvc.Spec.VolumeName = s.volumeName()
	pv := &corev1.PersistentVolume{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{Name: s.volumeName(), Labels: s.labels()},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   modes,
			VolumeMode:                    &mode,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              class,
			MountOptions:                  p.Existing.MountOptions,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1", Kind: "PersistentVolumeClaim",
				Namespace: s.pipeline.namespace, Name: s.name,
			},
		},
	}
	switch {
	case p.Existing.NFS != nil:
		pv.Spec.NFS = &corev1.NFSVolumeSource{Server: p.Existing.NFS.Server, Path: p.Existing.NFS.Path}
	case p.Existing.CSI != nil:
		pv.Spec.CSI = &corev1.CSIPersistentVolumeSource{
			Driver: p.Existing.CSI.Driver, VolumeHandle: p.Existing.CSI.VolumeHandle,
			FSType: p.Existing.CSI.FSType, VolumeAttributes: p.Existing.CSI.VolumeAttributes,
		}
	}
	return []object{{scope: s, id: "PersistentVolume", obj: pv}, {scope: s, id: "PersistentVolumeClaim", obj: pvc}}
}
