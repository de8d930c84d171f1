package stagecraft

import (
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// kedaScalers are the trigger types KEDA builds a scaler for (its
// scalers builder, KEDA 2.16 and later); KEDA answers any other type with
// "no scaler found for type" when it reconciles the ScaledObject, and
// then does not scale the stage at all.
var kedaScalers = []string{
	"activemq", "apache-kafka", "arangodb", "artemis-queue", "aws-cloudwatch", "aws-dynamodb",
	"aws-dynamodb-streams", "aws-kinesis-stream", "aws-sqs-queue", "azure-app-insights", "azure-blob",
	"azure-data-explorer", "azure-eventhub", "azure-log-analytics", "azure-monitor", "azure-pipelines",
	"azure-queue", "azure-servicebus", "beanstalkd", "cassandra", "couchdb", "cpu", "cron", "datadog",
	"dynatrace", "elasticsearch", "etcd", "external", "external-push", "gcp-cloudtasks", "gcp-pubsub",
	"gcp-stackdriver", "gcp-storage", "github-runner", "graphite", "huawei-cloudeye", "ibmmq", "influxdb",
	"kafka", "kubernetes-workload", "liiklus", "loki", "memory", "metrics-api", "mongodb", "mssql", "mysql",
	"nats-jetstream", "new-relic", "nsq", "openstack-metric", "openstack-swift", "postgresql", "predictkube",
	"prometheus", "pulsar", "rabbitmq", "redis", "redis-cluster", "redis-cluster-streams", "redis-sentinel",
	"redis-sentinel-streams", "redis-streams", "selenium-grid", "solace-event-queue", "solr", "splunk", "stan",
}

// validateScalerType checks that KEDA has a scaler of t's type.
func validateScalerType(f *field.Path, t Trigger) field.ErrorList {
	if slices.Contains(kedaScalers, t.Type) {
		return nil
	}
	return field.ErrorList{notSupported(f.Child("Type"), t.Type,
		"KEDA has no scaler of that type and would not scale the stage; KEDA's scalers are "+strings.Join(kedaScalers, ", "))}
}

// cronRule is KEDA's cron scaler: a window from start to end (cron
// schedules of five fields, in the time zone timezone, which KEDA requires)
// in which the stage runs desiredReplicas pods.
var cronRule = scalerRule{params: []scalerParam{
	{name: "timezone", required: true},
	{name: "start", required: true},
	{name: "end", required: true},
	{name: "desiredReplicas", required: true, kind: paramNonNegative},
}, metricTypes: externalMetricTypes, check: checkCronTrigger}

// checkCronTrigger holds the cron scaler's rules across its parameters:
// a time zone KEDA can load, start and end as five-field cron schedules,
// and a window that is not empty.
func checkCronTrigger(f *field.Path, t Trigger) field.ErrorList {
	md := f.Child("Metadata")
	var errs field.ErrorList
	if tz := strings.TrimSpace(t.Metadata["timezone"]); tz != "" {
		if _, err := time.LoadLocation(tz); tz == "Local" || err != nil {
			errs = append(errs, invalid(md.Key("timezone"), tz, "KEDA's cron scaler needs an IANA time zone such as \"Etc/UTC\" or \"Europe/Berlin\""))
		}
	}
	start, end := strings.TrimSpace(t.Metadata["start"]), strings.TrimSpace(t.Metadata["end"])
	for _, k := range []string{"start", "end"} {
		if v := strings.TrimSpace(t.Metadata[k]); v != "" {
			if _, err := cron.ParseStandard(v); err != nil {
				errs = append(errs, invalid(md.Key(k), v, "KEDA's cron scaler needs a cron schedule of five fields, \"0 8 * * 1-5\" for example ("+err.Error()+")"))
			}
		}
	}
	if start != "" && start == end {
		errs = append(errs, invalid(md.Key("end"), end, "KEDA's cron scaler refuses a window that ends when it starts"))
	}
	return errs
}
