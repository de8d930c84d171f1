package upgrade

import (
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
)

// Edit is one typical change of the app, applied as a second version over
// the first.
type Edit struct {
	// Name says what changes.
	Name string `json:"name"`
	// Change turns the first version into the second.
	Change func(v *Version) `json:"-"`
	// Reruns are the stages whose Jobs must run again (or for the first
	// time): a new Job name each. Every other Job must stay as it is.
	Reruns []string `json:"reruns"`
	// Refused are the changes the upgrade check must refuse, as "Kind name
	// field" (the field the problem names); accepted in code for the second
	// version.
	Refused []string `json:"refused"`
	// Accept are the changes the second version accepts (AcceptChange).
	Accept []stagecraft.Change `json:"accept,omitempty"`
	// Procedure are the kubectl commands, as arguments, that the refusals'
	// messages say to run before the second version is applied; "{ns}"
	// stands for the namespace.
	Procedure [][]string `json:"procedure,omitempty"`
}

// Edits returns the matrix.
func Edits() []Edit {
	return []Edit{
		{Name: "image bump of a processor", Change: func(v *Version) { v.APIImage = "1.1.0" }},
		{Name: "image bump of a stateful processor", Change: func(v *Version) { v.IndexImage = "1.1.0" }},
		{Name: "image bump of a batch stage", Change: func(v *Version) { v.IngestImage = "1.1.0" }, Reruns: []string{"embed", "ingest"}},
		{Name: "image bump of a scheduled stage", Change: func(v *Version) { v.ReportImage = "1.1.0" }},
		{Name: "args of a batch stage", Change: func(v *Version) { v.EmbedArgs = []string{"--model", "large"} }, Reruns: []string{"embed"}},
		{Name: "env of a processor", Change: func(v *Version) { v.APIEnv = "debug" }},
		{Name: "resources of a processor", Change: func(v *Version) { v.APICPU = "200m" }},
		{Name: "replicas of a processor", Change: func(v *Version) { v.APIReplicas = 2 }},
		{Name: "GPU count of a processor", Change: func(v *Version) { v.GPUCount = 2 }},
		{Name: "shard count of a batch stage", Change: func(v *Version) { v.EmbedShards = 4 }, Reruns: []string{"embed"}},
		{Name: "schedule of a scheduled stage", Change: func(v *Version) { v.ReportCron = "30 4 * * *" }},
		{Name: "a stage added", Change: func(v *Version) { v.Extra = true }, Reruns: []string{"extra"}},
		{Name: "a stage removed", Change: func(v *Version) { v.NoReport = true }},
		{Name: "a storage added", Change: func(v *Version) { v.Cache = true }},
		{Name: "a storage grown", Change: func(v *Version) { v.DataSize = "2Gi" }},
		{Name: "a new Calls edge", Change: func(v *Version) { v.EmbedCallsAPI = true }, Reruns: []string{"embed"}},
		{Name: "a stage renamed", Change: func(v *Version) { v.APIName = "web" }},
		{Name: "an upstream change re-runs its downstream", Change: func(v *Version) { v.IngestRev = "2" }, Reruns: []string{"embed", "ingest"}},
		{Name: "a stateful stage's volume grown", Change: func(v *Version) { v.StateSize = "2Gi" },
			Refused: []string{"StatefulSet index spec.volumeClaimTemplates[state].spec.resources.requests.storage"},
			Accept:  []stagecraft.Change{{Kind: "StatefulSet", Name: "index", Field: "spec.volumeClaimTemplates[state]"}},
			Procedure: [][]string{
				{"patch", "pvc", "state-index-0", "-n", "{ns}", "--type", "merge", "-p", `{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}`},
				{"delete", "statefulset", "index", "-n", "{ns}", "--cascade=orphan"},
			}},
		{Name: "a storage removed", Change: func(v *Version) { v.Scratch = false },
			Refused: []string{"PersistentVolumeClaim scratch "},
			Accept:  []stagecraft.Change{{Kind: "PersistentVolumeClaim", Name: "scratch"}}},
	}
}
