package stagecraft

// vtRolloutCases check a ProcessorStage's Rollout as the API server checks
// a Deployment's rollingUpdate.
func vtRolloutCases() []vtCase {
	roll := func(r Rollout) func(s *ProcessorStageProps) {
		return func(s *ProcessorStageProps) { s.Rollout = &r }
	}
	return []vtCase{
		{name: "rollout/valid percentages", build: vtWeb(roll(Rollout{MaxSurge: "50%", MaxUnavailable: "0"}))},
		{name: "rollout/both zero", build: vtWeb(roll(Rollout{MaxSurge: "0", MaxUnavailable: "0%"})),
			want: []vtWant{vtS("Rollout.MaxUnavailable", tInvalid, "0%").saying("no pod could be replaced")}},
		{name: "rollout/negative surge", build: vtWeb(roll(Rollout{MaxSurge: "-1"})),
			want: []vtWant{vtS("Rollout.MaxSurge", tInvalid, "-1").saying("zero or more")}},
		{name: "rollout/not a number", build: vtWeb(roll(Rollout{MaxSurge: "one"})),
			want: []vtWant{vtS("Rollout.MaxSurge", tInvalid, "one").saying("percentage")}},
		{name: "rollout/unavailable above 100%", build: vtWeb(roll(Rollout{MaxUnavailable: "150%"})),
			want: []vtWant{vtS("Rollout.MaxUnavailable", tInvalid, "150%").saying("above 100%")}},
		{name: "rollout/stateful", build: vtWeb(func(s *ProcessorStageProps) {
			s.Stateful, s.Rollout = &Stateful{}, &Rollout{MaxSurge: "1"}
		}), want: []vtWant{vtS("Rollout", tForbidden, "Rollout").saying("never surges")}},
		{name: "rollout/storage of one node", build: vtProc(func(p *Pipeline, s *ProcessorStageProps) {
			s.Mounts = []Mount{{Storage: NewPipelineStorage(p, "cache", PipelineStorageProps{Size: "1Gi", AccessModes: []string{"ReadWriteOnce"}}), Path: "/cache"}}
			s.Rollout = &Rollout{MaxSurge: "1"}
		}), want: []vtWant{vtS("Rollout", tForbidden, "Rollout").saying("Recreate")}},
	}
}
