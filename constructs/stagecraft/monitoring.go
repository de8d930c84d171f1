package stagecraft

import (
	"fmt"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/stagecraft-dev/stagecraft/imports/monitoringcoreoscom"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Metrics has the Prometheus Operator scrape a stage's metrics: through a
// ServiceMonitor for a ProcessorStage, a PodMonitor for batch and
// scheduled stages. The NetworkPolicies let the monitoring namespace reach
// the port.
type Metrics struct {
	// Port is the name of the port serving metrics (the monitor's
	// endpoint port). For a ProcessorStage it must be one of its Ports.
	// Default: "metrics".
	Port string
	// ContainerPort is the port number, for a BatchStage or ScheduledStage,
	// which have no Ports: the container gets a port named Port. Required
	// there; not allowed on a ProcessorStage.
	ContainerPort int32
	// Path of the metrics endpoint (the endpoint's path), starting with
	// '/'. Default: "/metrics".
	Path string
	// Interval between scrapes (the endpoint's interval), whole seconds of
	// at least 1s. Default: 30s.
	Interval time.Duration
}

// validateMetrics checks the Metrics of workload w. A stage with a
// Service (served) serves metrics on one of its servicePorts; one without
// declares the port itself.
func validateMetrics(w workloadSpec, servicePorts []Port, served bool) field.ErrorList {
	m := w.given.Metrics
	if m == nil {
		return nil
	}
	fld := field.NewPath("Metrics")
	port := w.metrics.port
	var errs field.ErrorList
	if served {
		if m.ContainerPort != 0 {
			errs = append(errs, forbidden(fld.Child("ContainerPort"), m.ContainerPort, "a ProcessorStage serves metrics on one of its Ports; name it in Port"))
		}
		if !hasPort(servicePorts, port) {
			errs = append(errs, notSupported(fld.Child("Port"), port, "the container exposes no port of that name; allowed: "+portNames(servicePorts)))
		}
	} else {
		errs = append(errs, each(fld.Child("Port"), port, validation.IsValidPortName(port))...)
		if m.ContainerPort == 0 {
			errs = append(errs, required(fld.Child("ContainerPort"), "the port number the container serves metrics on"))
		} else {
			errs = append(errs, each(fld.Child("ContainerPort"), m.ContainerPort, validation.IsValidPortNum(int(m.ContainerPort)))...)
		}
	}
	if m.Path != "" && m.Path[0] != '/' {
		errs = append(errs, invalid(fld.Child("Path"), m.Path, "must start with '/'"))
	}
	if m.Interval != 0 && (m.Interval < time.Second || m.Interval%time.Second != 0) {
		errs = append(errs, invalid(fld.Child("Interval"), m.Interval.String(), "must be a whole number of seconds, at least 1s"))
	}
	return errs
}

// metricsPorts is the container port a stage without a Service declares
// for its metrics.
func metricsPorts(m *metricsSpec) []Port {
	if m == nil {
		return nil
	}
	return []Port{{Name: m.port, ContainerPort: m.containerPort, Protocol: string(corev1.ProtocolTCP)}}
}

// monitor returns the Prometheus Operator object that scrapes m's
// metrics: a ServiceMonitor for a stage with a Service, else a PodMonitor.
func monitor(m *member, ms *metricsSpec, service bool) runtime.Object {
	labels := map[string]*string{}
	for k, v := range m.selector().MatchLabels {
		labels[k] = jsii.String(v)
	}
	port, path, interval := jsii.String(ms.port), jsii.String(ms.path), jsii.String(promDuration(ms.interval))
	kind := "PodMonitor"
	var spec any
	if service {
		kind = "ServiceMonitor"
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
	return &customObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: kind},
		ObjectMeta: m.meta(),
		Spec:       spec,
	}
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
