package stagecraft

import (
	"github.com/aws/constructs-go/constructs/v10"
	corev1 "k8s.io/api/core/v1"
)

// PipelineStorageProps configures a PipelineStorage.
type PipelineStorageProps struct {
	// Size is the requested capacity (spec.resources.requests.storage,
	// and the volume's spec.capacity), a Kubernetes quantity such as
	// "100Gi". Required.
	Size string
	// AccessModes of the claim (spec.accessModes): ReadWriteOnce,
	// ReadOnlyMany, ReadWriteMany or ReadWriteOncePod. Default: ReadWriteMany, since a pipeline's storage
	// is shared between stages running on different nodes.
	AccessModes []string
	// StorageClassName provisions the volume from this class
	// (spec.storageClassName). Default: the cluster's default class; with
	// Existing, no class ("", static binding).
	StorageClassName string
	// VolumeMode is Filesystem or Block (spec.volumeMode). Default:
	// Filesystem; Block with NFS is a problem.
	VolumeMode string
	// Existing binds the claim to storage that already exists, through a
	// statically provisioned PersistentVolume with reclaim policy Retain, so
	// that deleting the pipeline never deletes the data. Default: none (the
	// volume is provisioned dynamically).
	Existing *ExistingVolume
	// Labels are added to the claim (and volume) (metadata.labels).
	// Default: only the recommended labels.
	Labels map[string]string
	// NotSecrets lists props whose literal values look like secrets but
	// are not, by the field path a problem names them with (for example
	// "Existing.MountOptions[2]"); see Workload.NotSecrets. Default: none.
	NotSecrets []string
}

// ExistingVolume is storage outside the cluster that a PipelineStorage
// binds to: a PersistentVolume named "<namespace>-<storage>", whose
// spec.claimRef names the storage's claim. Set exactly one of NFS and CSI;
// neither, or both, is a problem.
type ExistingVolume struct {
	// NFS is an NFS export (the volume's spec.nfs). Default: nil; set NFS
	// or CSI.
	NFS *NFSVolume
	// CSI is a volume of a CSI driver, by its handle (the volume's
	// spec.csi). Default: nil; set NFS or CSI.
	CSI *CSIVolume
	// MountOptions are passed to the mount (spec.mountOptions). Default:
	// none.
	MountOptions []string
}

// NFSVolume is an NFS export.
type NFSVolume struct {
	// Server is the NFS server's host name or IP address (nfs.server).
	// Required.
	Server string
	// Path is the exported path (nfs.path), absolute. Required.
	Path string
}

// CSIVolume is an existing volume of a CSI driver.
type CSIVolume struct {
	// Driver is the CSI driver's name (csi.driver), at most 63 characters,
	// for example "efs.csi.aws.com". Required.
	Driver string
	// VolumeHandle identifies the volume to the driver (csi.volumeHandle).
	// Required.
	VolumeHandle string
	// FSType is the filesystem type (csi.fsType). Default: the driver's.
	FSType string
	// VolumeAttributes are passed to the driver (csi.volumeAttributes).
	// Default: none.
	VolumeAttributes map[string]string
}

// storageNameMax leaves room for the "storage-" prefix of the pod volume
// that mounts the claim (a 63-character label).
const storageNameMax = 63 - len("storage-")

// PipelineStorage is persistent data shared by a pipeline's stages: a
// PersistentVolumeClaim and, for existing storage, the PersistentVolume it
// binds to. Stages attach it through Workload.Mounts.
type PipelineStorage struct {
	constructs.Construct
	member
	props PipelineStorageProps // as given, for validation
	modes []string             // resolved access modes
	mode  corev1.PersistentVolumeMode
}

// NewPipelineStorage creates storage in a pipeline. Its id is the claim's
// name, at most 55 characters.
func NewPipelineStorage(scope constructs.Construct, id string, props PipelineStorageProps) *PipelineStorage {
	defer lockConstructs()()
	s := &PipelineStorage{}
	cid := s.join(s, scope, id, componentStorage, storageNameMax, props.Labels)
	s.resolve(props)
	s.create(s, scope, cid)
	return s
}

func (s *PipelineStorage) resolve(p PipelineStorageProps) {
	s.props = p
	s.props.AccessModes = append([]string(nil), p.AccessModes...)
	s.modes = s.props.AccessModes
	if len(s.modes) == 0 {
		s.modes = []string{string(corev1.ReadWriteMany)}
	}
	s.mode = corev1.PersistentVolumeMode(firstOf(p.VolumeMode, string(corev1.PersistentVolumeFilesystem)))
	s.props.Labels = copyMap(p.Labels)
	s.props.NotSecrets = append([]string(nil), p.NotSecrets...)
	if e := p.Existing; e != nil {
		c := *e
		c.MountOptions = append([]string(nil), e.MountOptions...)
		if e.NFS != nil {
			nfs := *e.NFS
			c.NFS = &nfs
		}
		if e.CSI != nil {
			csi := *e.CSI
			csi.VolumeAttributes = copyMap(e.CSI.VolumeAttributes)
			c.CSI = &csi
		}
		s.props.Existing = &c
	}
}

// ClaimName returns the name of the PersistentVolumeClaim.
func (s *PipelineStorage) ClaimName() string { return s.name }

// shared reports whether pods on several nodes can mount the storage.
func (s *PipelineStorage) shared() bool {
	for _, m := range s.modes {
		if m == string(corev1.ReadWriteMany) || m == string(corev1.ReadOnlyMany) {
			return true
		}
	}
	return false
}

// onlyMode reports whether mode is the storage's only access mode.
func (s *PipelineStorage) onlyMode(mode corev1.PersistentVolumeAccessMode) bool {
	return len(s.modes) == 1 && s.modes[0] == string(mode)
}

// volumeName is the cluster-wide name of the static PersistentVolume.
func (s *PipelineStorage) volumeName() string { return s.pipeline.namespace + "-" + s.name }
