package synth_test

// upgradeCase is one edit of version 1 of the upgrade test's app, and the
// changes the upgrade check must refuse ("Object field").
type upgradeCase struct {
	name string
	edit func(v *version)
	want []string
}

func upgradeCases() []upgradeCase {
	return []upgradeCase{
		// Accepted by the API server: nothing to refuse.
		{"image bump of a batch stage (a new run)", func(v *version) { v.fillImage = "1.1.0" }, nil},
		{"storage grown", func(v *version) { v.dataSize = "20Gi" }, nil},
		{"stage added and removed", func(v *version) { v.noState = true }, nil},

		// Refused by the API server on update.
		{"stateful claim template grown", func(v *version) { v.stateSize = "10Gi" },
			[]string{"StatefulSet up/index spec.volumeClaimTemplates[state].spec.resources.requests.storage"}},
		{"stateful claim template shrunk", func(v *version) { v.stateSize = "1Gi" },
			[]string{"StatefulSet up/index spec.volumeClaimTemplates[state].spec.resources.requests.storage"}},
		{"stateful claim template class", func(v *version) { v.stateClass = "fast" },
			[]string{"StatefulSet up/index spec.volumeClaimTemplates[state].spec.storageClassName"}},
		{"stateful claim template added", func(v *version) { v.cacheTemplate = true },
			[]string{"StatefulSet up/index spec.volumeClaimTemplates[cache]"}},
		{"stateful pod management", func(v *version) { v.parallel = true },
			[]string{"StatefulSet up/index spec.podManagementPolicy"}},
		{"processor made stateful (headless Service)", func(v *version) { v.apiStateful = true },
			[]string{"Service up/api spec.clusterIP"}},
		{"Deployment selector", func(v *version) { v.apiSelector = true },
			[]string{"Deployment up/api spec.selector.matchLabels.tier"}},
		{"claim storage class", func(v *version) { v.dataClass = "fast" },
			[]string{"PersistentVolumeClaim up/data spec.storageClassName"}},
		{"claim access modes", func(v *version) { v.dataModes = []string{"ReadOnlyMany"} },
			[]string{"PersistentVolumeClaim up/data spec.accessModes[0]"}},
		{"claim volume mode", func(v *version) { v.dataBlock = true },
			[]string{"PersistentVolumeClaim up/data spec.volumeMode"}},
		{"claim shrunk", func(v *version) { v.dataSize = "5Gi" },
			[]string{"PersistentVolumeClaim up/data spec.resources.requests.storage"}},
		{"existing volume's source", func(v *version) { v.archiveServer = "nas2" },
			[]string{"PersistentVolume up-archive spec.nfs.server"}},
		{"Job with a fixed name changed", func(v *version) { v.fixedImage = "1.1.0" },
			[]string{"Job up/fixed spec.template.spec.containers[0].image"}},
		{"Job with a fixed name queued", func(v *version) { v.fixedQueue = "gpu" },
			[]string{"Job up/fixed metadata.labels[kueue.x-k8s.io/queue-name]"}},

		// Data deleted when pruned.
		{"storage removed", func(v *version) { v.noData = true },
			[]string{"PersistentVolumeClaim up/data "}},
		{"existing storage removed", func(v *version) { v.noArchive = true },
			[]string{"PersistentVolume up-archive ", "PersistentVolumeClaim up/archive "}},
		{"namespace renamed", func(v *version) { v.namespace = "up2" },
			[]string{"Namespace up ", "PersistentVolume up-archive ", "PersistentVolumeClaim up/archive ", "PersistentVolumeClaim up/data "}},
	}
}
