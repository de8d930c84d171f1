package stagecraft

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// objects returns the storage's claim, and for existing storage the
// PersistentVolume it binds to, first.
func (s *PipelineStorage) objects() []runtime.Object {
	p := s.props
	size := resource.MustParse(p.Size)
	modes := make([]corev1.PersistentVolumeAccessMode, len(s.modes))
	for i, m := range s.modes {
		modes[i] = corev1.PersistentVolumeAccessMode(m)
	}
	mode := s.mode
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
		return []runtime.Object{pvc}
	}
	class := p.StorageClassName
	pvc.Spec.StorageClassName = &class
	pvc.Spec.VolumeName = s.volumeName()
	return []runtime.Object{s.volume(size, modes, class), pvc}
}

// volume is the static PersistentVolume of existing storage, bound to the
// storage's claim and kept when the claim is deleted.
func (s *PipelineStorage) volume(size resource.Quantity, modes []corev1.PersistentVolumeAccessMode, class string) *corev1.PersistentVolume {
	e := s.props.Existing
	mode := s.mode
	pv := &corev1.PersistentVolume{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{Name: s.volumeName(), Labels: s.labels()},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   modes,
			VolumeMode:                    &mode,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              class,
			MountOptions:                  e.MountOptions,
			ClaimRef: &corev1.ObjectReference{
				APIVersion: "v1", Kind: "PersistentVolumeClaim",
				Namespace: s.pipeline.namespace, Name: s.name,
			},
		},
	}
	switch {
	case e.NFS != nil:
		pv.Spec.NFS = &corev1.NFSVolumeSource{Server: e.NFS.Server, Path: e.NFS.Path}
	case e.CSI != nil:
		pv.Spec.CSI = &corev1.CSIPersistentVolumeSource{
			Driver: e.CSI.Driver, VolumeHandle: e.CSI.VolumeHandle,
			FSType: e.CSI.FSType, VolumeAttributes: e.CSI.VolumeAttributes,
		}
	}
	return pv
}
