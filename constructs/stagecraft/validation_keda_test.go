package stagecraft

// vtKEDACases are KEDA's own rules for the scalers' metadata, which KEDA
// checks only when it reconciles the ScaledObject.
func vtKEDACases() []vtCase {
	scaled := func(triggers ...Trigger) func(s *ProcessorStageProps) {
		return func(s *ProcessorStageProps) {
			s.EventScaling = &EventScaling{MinReplicas: 1, MaxReplicas: 4, Triggers: triggers}
		}
	}
	prom := func(md map[string]string, metricType string) Trigger {
		m := map[string]string{"serverAddress": "http://prometheus.monitoring.svc:9090", "query": "sum(rate(requests_total[2m]))"}
		for k, v := range md {
			m[k] = v
		}
		return Trigger{Type: "prometheus", Metadata: m, MetricType: metricType}
	}
	host := []TriggerSecret{{Parameter: "host", Secret: "rabbitmq", Key: "url"}}
	t0 := "EventScaling.Triggers[0]"
	return []vtCase{
		{name: "keda/prometheus valid", build: vtWeb(scaled(prom(map[string]string{"threshold": "0.5", "activationThreshold": "0"}, "Value")))},
		{name: "keda/prometheus without threshold", build: vtWeb(scaled(prom(nil, ""))),
			want: []vtWant{vtS(t0+".Metadata[threshold]", tRequired, vtNone).saying("KEDA's prometheus scaler needs threshold")}},
		{name: "keda/prometheus zero threshold", build: vtWeb(scaled(prom(map[string]string{"threshold": "0"}, ""))),
			want: []vtWant{vtS(t0+".Metadata[threshold]", tInvalid, "0").saying("must be at least 0.001")}},
		{name: "keda/prometheus threshold below a thousandth", build: vtWeb(scaled(prom(map[string]string{"threshold": "0.0004"}, ""))),
			want: []vtWant{vtS(t0+".Metadata[threshold]", tInvalid, "0.0004").saying("in thousandths")}},
		{name: "keda/prometheus threshold not a number", build: vtWeb(scaled(prom(map[string]string{"threshold": "five"}, ""))),
			want: []vtWant{vtS(t0+".Metadata[threshold]", tInvalid, "five").saying("must be a number")}},
		{name: "keda/prometheus Utilization", build: vtWeb(scaled(prom(map[string]string{"threshold": "5"}, "Utilization"))),
			want: []vtWant{vtS(t0+".MetricType", tNotSupported, "Utilization").saying("Utilization is only for the cpu and memory scalers")}},
		{name: "keda/prometheus without query", build: vtWeb(scaled(Trigger{Type: "prometheus", Metadata: map[string]string{"serverAddress": "http://p:9090", "threshold": "5"}})),
			want: []vtWant{vtS(t0+".Metadata[query]", tRequired, vtNone)}},
		{name: "keda/rabbitmq host from a secret", build: vtWeb(scaled(Trigger{Type: "rabbitmq", Metadata: map[string]string{"queueName": "jobs"}, Secrets: host}))},
		{name: "keda/rabbitmq without host", build: vtWeb(scaled(Trigger{Type: "rabbitmq", Metadata: map[string]string{"queueName": "jobs"}})),
			want: []vtWant{vtS(t0+".Metadata[host]", tRequired, vtNone).saying("hostFromEnv")}},
		{name: "keda/rabbitmq mode without value", build: vtWeb(scaled(Trigger{Type: "rabbitmq", Metadata: map[string]string{"queueName": "jobs", "mode": "QueueLength"}, Secrets: host})),
			want: []vtWant{vtS(t0+".Metadata[value]", tRequired, vtNone).saying("target value")}},
		{name: "keda/rabbitmq unknown mode", build: vtWeb(scaled(Trigger{Type: "rabbitmq", Metadata: map[string]string{"queueName": "jobs", "mode": "Length", "value": "5"}, Secrets: host})),
			want: []vtWant{vtS(t0+".Metadata[mode]", tNotSupported, "Length")}},
		{name: "keda/rabbitmq queueLength with mode", build: vtWeb(scaled(Trigger{Type: "rabbitmq", Metadata: map[string]string{"queueName": "jobs", "queueLength": "5", "mode": "QueueLength", "value": "5"}, Secrets: host})),
			want: []vtWant{vtS(t0+".Metadata[queueLength]", tForbidden, "5").saying("deprecated")}},
		{name: "keda/sqs zero queue length", build: vtWeb(scaled(Trigger{Type: "aws-sqs-queue", Metadata: map[string]string{"queueURL": "https://sqs.eu-west-1.amazonaws.com/1/q", "awsRegion": "eu-west-1", "queueLength": "0"}})),
			want: []vtWant{vtS(t0+".Metadata[queueLength]", tInvalid, "0").saying("at least 1")}},
		{name: "keda/sqs without region", build: vtWeb(scaled(Trigger{Type: "aws-sqs-queue", Metadata: map[string]string{"queueURL": "https://sqs.eu-west-1.amazonaws.com/1/q"}})),
			want: []vtWant{vtS(t0+".Metadata[awsRegion]", tRequired, vtNone)}},
		{name: "keda/kafka negative lag threshold", build: vtWeb(scaled(Trigger{Type: "kafka", Metadata: map[string]string{"bootstrapServers": "kafka:9092", "consumerGroup": "g", "lagThreshold": "-1"}})),
			want: []vtWant{vtS(t0+".Metadata[lagThreshold]", tInvalid, "-1")}},
		{name: "keda/kafka fractional lag threshold", build: vtWeb(scaled(Trigger{Type: "kafka", Metadata: map[string]string{"bootstrapServers": "kafka:9092", "consumerGroup": "g", "lagThreshold": "2.5"}})),
			want: []vtWant{vtS(t0+".Metadata[lagThreshold]", tInvalid, "2.5").saying("whole number")}},
		{name: "keda/unknown scaler type", build: vtWeb(scaled(Trigger{Type: "no-such-scaler", Metadata: map[string]string{"a": "b"}})),
			want: []vtWant{vtS(t0+".Type", tNotSupported, "no-such-scaler").saying("KEDA has no scaler of that type")}},
		{name: "keda/cron without timezone", build: vtWeb(scaled(Trigger{Type: "cron", Metadata: map[string]string{"start": "0 8 * * *", "end": "0 18 * * *", "desiredReplicas": "2"}})),
			want: []vtWant{vtS(t0+".Metadata[timezone]", tRequired, vtNone)}},
		{name: "keda/cron with an unknown timezone and a six-field start", build: vtWeb(scaled(Trigger{Type: "cron", Metadata: map[string]string{"timezone": "Mars/Olympus", "start": "0 0 8 * * *", "end": "0 18 * * *", "desiredReplicas": "2"}})),
			want: []vtWant{vtS(t0+".Metadata[timezone]", tInvalid, "Mars/Olympus").saying("IANA time zone"), vtS(t0+".Metadata[start]", tInvalid, "0 0 8 * * *").saying("five fields")}},
		{name: "keda/cron window that ends when it starts", build: vtWeb(scaled(Trigger{Type: "cron", Metadata: map[string]string{"timezone": "Etc/UTC", "start": "0 8 * * *", "end": "0 8 * * *", "desiredReplicas": "2"}})),
			want: []vtWant{vtS(t0+".Metadata[end]", tInvalid, "0 8 * * *").saying("ends when it starts")}},
		{name: "keda/cron without desired replicas", build: vtWeb(scaled(Trigger{Type: "cron", Metadata: map[string]string{"timezone": "Etc/UTC", "start": "0 8 * * *", "end": "0 18 * * *"}})),
			want: []vtWant{vtS(t0+".Metadata[desiredReplicas]", tRequired, vtNone)}},
		{name: "keda/cron working hours", build: vtWeb(scaled(Trigger{Type: "cron", Metadata: map[string]string{"timezone": "Europe/Berlin", "start": "0 8 * * 1-5", "end": "0 18 * * 1-5", "desiredReplicas": "2"}}))},
		{name: "keda/cpu without metric type", build: vtWeb(scaled(Trigger{Type: "cpu", Metadata: map[string]string{"value": "80"}})),
			want: []vtWant{vtS(t0+".MetricType", tNotSupported, "").saying("it sets no default")}},
		{name: "keda/cpu Value", build: vtWeb(scaled(Trigger{Type: "cpu", Metadata: map[string]string{"value": "80"}, MetricType: "Value"})),
			want: []vtWant{vtS(t0+".MetricType", tNotSupported, "Value")}},
		{name: "keda/cpu utilization of zero", build: vtWeb(scaled(Trigger{Type: "cpu", Metadata: map[string]string{"value": "0"}, MetricType: "Utilization"})),
			want: []vtWant{vtS(t0+".Metadata[value]", tInvalid, "0").saying("at least 1")}},
		{name: "keda/memory average value not a quantity", build: vtWeb(scaled(Trigger{Type: "memory", Metadata: map[string]string{"value": "lots"}, MetricType: "AverageValue"})),
			want: []vtWant{vtS(t0+".Metadata[value]", tInvalid, "lots").saying("positive quantity")}},
		{name: "keda/cpu only, scaled to zero", build: vtWeb(func(s *ProcessorStageProps) {
			s.EventScaling = &EventScaling{MaxReplicas: 4, Triggers: []Trigger{{Type: "cpu", Metadata: map[string]string{"value": "80"}, MetricType: "Utilization"}}}
		}), want: []vtWant{vtS("EventScaling.MinReplicas", tInvalid, 0).saying("only cpu and memory triggers")}},
		{name: "keda/cpu only, from one replica", build: vtWeb(func(s *ProcessorStageProps) {
			s.EventScaling = &EventScaling{MinReplicas: 1, MaxReplicas: 4, Triggers: []Trigger{{Type: "cpu", Metadata: map[string]string{"value": "80"}, MetricType: "Utilization"}}}
		})},
		{name: "keda/unknown scaler Utilization", build: vtWeb(scaled(Trigger{Type: "redis", Metadata: map[string]string{"listName": "jobs"}, MetricType: "Utilization"})),
			want: []vtWant{vtS(t0+".MetricType", tNotSupported, "Utilization")}},
	}
}
