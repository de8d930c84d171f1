package stagecraft

import (
	"fmt"
	"time"

	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stagecraft-dev/stagecraft/imports/monitoringcoreoscom"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Metrics has the Prometheus Operator scrape a stage's metrics: through a
// ServiceMonitor for a ProcessorStage, a PodMonitor for batch and
// scheduled stages. The NetworkPolicies let the monitoring namespace reach
// the port.
type Metrics struct {
	// Port is the name of the port serving metrics. For a ProcessorStage it
	// must be one of its Ports. Default: "metrics".
	Port string
	// ContainerPort is the port number, for a BatchStage or ScheduledStage,
	// which have no Ports: the container gets a port named Port. Required
	// there; not allowed on a ProcessorStage.
	ContainerPort int32
	// Path of the metrics endpoint. Default: "/metrics".
	Path string
	// Interval between scrapes. Default: 30s.
	Interval time.Duration
}

func resolveMetrics(m *Metrics) *Metrics {
	if m == nil {
		return nil
	}
	r := *m
	if r.Port == "" {
		r.Port = "metrics"
	}
	if r.Path == "" {
		r.Path = "/metrics"
	}
	if r.Interval == 0 {
		r.Interval = 30 * time.Second
	}
	return &r
}

// validateMetrics checks a stage's Metrics; ports are the stage's Ports,
// nil for batch and scheduled stages.
func validateMetrics(ps *problems, m *Metrics, ports []Port, processor bool) {
	if m == nil {
		return
	}
	fld := field.NewPath("Metrics")
	r := resolveMetrics(m)
	if processor {
		if m.ContainerPort != 0 {
			ps.add(fld.Child("ContainerPort"), m.ContainerPort, "a ProcessorStage serves metrics on one of its Ports; name it in Port")
		}
		if !hasPort(ports, r.Port) {
			ps.add(fld.Child("Port"), r.Port, "the container exposes no port of that name; allowed: "+portNames(ports))
		}
	} else {
		ps.addAll(fld.Child("Port"), r.Port, validation.IsValidPortName(r.Port))
		if m.ContainerPort == 0 {
			ps.required(fld.Child("ContainerPort"), "the port number the container serves metrics on")
		} else {
			ps.addAll(fld.Child("ContainerPort"), m.ContainerPort, validation.IsValidPortNum(int(m.ContainerPort)))
		}
	}
	if m.Path != "" && m.Path[0] != '/' {
		ps.add(fld.Child("Path"), m.Path, "must start with '/'")
	}
	if m.Interval != 0 && (m.Interval < time.Second || m.Interval%time.Second != 0) {
		ps.add(fld.Child("Interval"), m.Interval.String(), "must be a whole number of seconds, at least 1s")
	}
}

// metricsPorts is the container port a batch or scheduled stage, which
// has no Ports, declares for its metrics.
func metricsPorts(m *Metrics) []Port {
	if m == nil {
		return nil
	}
	return []Port{{Name: m.Port, ContainerPort: m.ContainerPort}}
}

// monitor returns the ServiceMonitor (processors) or PodMonitor (batch and
// scheduled stages) that scrapes a stage's metrics, or nil without Metrics.
func (s *stage) monitor(scope constructs.Construct, m *Metrics, kind string) []object {
	if m == nil {
		return nil
	}
	labels := map[string]*string{}
	for k, v := range s.selector().MatchLabels {
		labels[k] = jsii.String(v)
	}
	port, path, interval := jsii.String(m.Port), jsii.String(m.Path), jsii.String(promDuration(m.Interval))
	var spec any
	if kind == "ServiceMonitor" {
		endpoints := []*monitoringcoreoscom.ServiceMonitorSpecEndpoints{{Port: port, Path: path, Interval: interval}}
		spec = monitoringcoreoscom.ServiceMonitorSpec{
			Selector:  &monitoringcoreoscom.ServiceMonitorSpecSelector{MatchLabels: &labels},
			Endpoints: &endpoints,
		}
	} else {
		endpoints := []*monitoringcoreoscom.PodMonitorSpecPodMetricsEndpoints{{Port: port, Path: path, Interval: interval}}
		spec = monitoringcoreoscom.PodMonitorSpec{
			Selector:            &monitoringcoreoscom.PodMonitorSpecSelector{MatchLabels: &labels},
			PodMetricsEndpoints: &endpoints,
		}
	}
	return []object{{scope: scope, id: kind, obj: &customObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: kind},
		ObjectMeta: s.meta(),
		Spec:       spec,
	}}}
}

// promDuration writes a whole number of seconds as Prometheus does: "30s",
// "1m", "2h" rather than Go's "1m0s".
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
