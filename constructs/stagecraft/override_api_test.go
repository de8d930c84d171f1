package stagecraft

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// ovTwoReplicas is a ProcessorStage of two replicas, which has a
// PodDisruptionBudget.
var ovTwoReplicas = ovWith(func(p *ProcessorStageProps) { p.Replicas = ptr.To[int32](2) })

// ovEgress is a ProcessorStage that may reach 10.0.0.0/8 on port 443 but
// for 10.1.0.0/16.
var ovEgress = ovWith(func(p *ProcessorStageProps) {
	p.Egress = []EgressRule{{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}, Ports: []int32{443}}}
})

// ovEgressRule changes the egress rule of ovEgress in the stage's policy.
func ovEgressRule(f func(r *networkingv1.NetworkPolicyEgressRule)) func(*networkingv1.NetworkPolicy) {
	return func(n *networkingv1.NetworkPolicy) {
		for i := range n.Spec.Egress {
			for _, to := range n.Spec.Egress[i].To {
				if to.IPBlock != nil && to.IPBlock.CIDR == "10.0.0.0/8" {
					f(&n.Spec.Egress[i])
				}
			}
		}
	}
}

// withGPU gives a Deployment's main container one nvidia.com/gpu.
func withGPU(d *appsv1.Deployment) {
	gpu := resource.MustParse("1")
	ovMain(d).Resources.Limits["nvidia.com/gpu"], ovMain(d).Resources.Requests["nvidia.com/gpu"] = gpu, gpu
}

// ovRunRows are overrides that the API server accepts and that would not
// run: accelerators added to a Deployment that surges (a surge pod waits
// for a spare accelerator for ever), unless the rollout is the user's
// choice (a Rollout, or an override of the strategy).
var ovRunRows = []ovRow{
	{name: "accelerators added to a Deployment that surges", overrides: []func(runtime.Object){onDeployment(withGPU)},
		field: "Override[0]", want: []string{"Deployment p/s", "spec.strategy.rollingUpdate.maxSurge", "25% (the default)", "nvidia.com/gpu", "Accelerators", "Rollout", "maxSurge 0"}},
	{name: "accelerators added to a stage whose Rollout surges", build: ovWith(func(p *ProcessorStageProps) { p.Rollout = &Rollout{MaxSurge: "1"} }),
		overrides: []func(runtime.Object){onDeployment(withGPU)}, field: "Override[0]", want: []string{"maxSurge", `"1"`, "nvidia.com/gpu"}},
	{name: "accelerators added with a surge the override chose", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		withGPU(d)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1))}
	})}},
	{name: "an accelerated stage's surge chosen by an override", build: ovWith(func(p *ProcessorStageProps) { p.Accelerators = &Accelerators{Count: 1} }),
		overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("25%")) })}},
	{name: "a vendor's accelerator added to a Deployment that surges", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		ovMain(d).Resources.Limits["example.com/fpga"] = resource.MustParse("2")
	})}, field: "Override[0]", want: []string{"example.com/fpga"}},
	{name: "accelerators added without surge", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		withGPU(d)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}}
	})}},
	{name: "accelerators added with Recreate", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		withGPU(d)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	})}},
	{name: "an accelerated stage's Rollout surge is the props' choice", build: ovWith(func(p *ProcessorStageProps) {
		p.Accelerators = &Accelerators{Count: 1}
		p.Rollout = &Rollout{MaxSurge: "1"}
	}), overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr.To[int32](3) })}},
}

// ovAPIRows are more of the API server's rules that an override may break
// (override_podspec.go, override_container.go, override_kinds.go): the
// silently invalid overrides of issue 23's red team, and their neighbours.
var ovAPIRows = []ovRow{
	ovPod("dnsPolicy None without dnsConfig", func(d *appsv1.Deployment) { podOf(d).DNSPolicy = corev1.DNSNone }, "spec.template.spec.dnsConfig", "must provide `dnsConfig`"),
	ovPod("a DNS name server that is no IP", func(d *appsv1.Deployment) {
		podOf(d).DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.2.3"}}
	}, "dnsConfig.nameservers[0]", "IP address"),
	ovPod("a DNS search domain that is no DNS name", func(d *appsv1.Deployment) {
		podOf(d).DNSConfig = &corev1.PodDNSConfig{Searches: []string{"bad search!"}}
	}, "dnsConfig.searches[0]"),
	ovPod("a DNS option without a name", func(d *appsv1.Deployment) {
		podOf(d).DNSConfig = &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Value: ptr.To("2")}}}
	}, "dnsConfig.options[0].name", "must not be empty"),
	ovPod("a host alias of a bad IP", func(d *appsv1.Deployment) {
		podOf(d).HostAliases = []corev1.HostAlias{{IP: "999.1.1.1", Hostnames: []string{"x"}}}
	}, "spec.template.spec.hostAliases[0].ip", "999.1.1.1", "valid IP address"),
	ovPod("a host alias of a bad host name", func(d *appsv1.Deployment) {
		podOf(d).HostAliases = []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"Bad_Host"}}}
	}, "hostAliases[0].hostnames[0]", "RFC 1123 subdomain"),
	ovPod("an image with leading whitespace", func(d *appsv1.Deployment) { ovMain(d).Image = " ghcr.io/acme/api:1.0.0" }, "containers[0].image", "leading or trailing whitespace"),
	ovPod("a negative preStop sleep", func(d *appsv1.Deployment) {
		ovMain(d).Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: -5}}}
	}, "lifecycle.preStop.sleep", "non-negative and less than terminationGracePeriodSeconds (60)"),
	ovPod("a preStop sleep beyond the grace period", func(d *appsv1.Deployment) {
		ovMain(d).Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 61}}}
	}, "lifecycle.preStop.sleep", "61"),
	ovPod("recursiveReadOnly on a writable mount", func(d *appsv1.Deployment) {
		ovMain(d).VolumeMounts[0].RecursiveReadOnly = ptr.To(corev1.RecursiveReadOnlyEnabled)
	}, "volumeMounts[0].recursiveReadOnly", "readOnly is true"),
	ovPod("a resourceFieldRef divisor of 3", func(d *appsv1.Deployment) {
		ovMain(d).Env = append(ovMain(d).Env, corev1.EnvVar{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("3")}}})
	}, "env[1].valueFrom.resourceFieldRef.divisor", "not supported with limits.memory", "1Mi"),
	ovPod("a resourceFieldRef of a resource the downward API lacks", func(d *appsv1.Deployment) {
		ovMain(d).Env = append(ovMain(d).Env, corev1.EnvVar{Name: "GPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.nvidia.com/gpu"}}})
	}, "resourceFieldRef.resource", "limits or requests of cpu"),
	ovPod("node affinity In without values", func(d *appsv1.Deployment) {
		podOf(d).Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn}}}}}}}
	}, "nodeSelectorTerms[0].matchExpressions[0].values", "'In' or 'NotIn'"),
	ovPod("a preferred node term of weight 0", func(d *appsv1.Deployment) {
		podOf(d).Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 0,
			Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}}}}}
	}, "preferredDuringSchedulingIgnoredDuringExecution[0].weight", "1-100"),
	ovPod("pod anti-affinity without a topology key", func(d *appsv1.Deployment) {
		podOf(d).Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: d.Spec.Selector}}}}
	}, "podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey"),
	ovPod("a negative pod overhead", func(d *appsv1.Deployment) {
		podOf(d).Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}
	}, "spec.template.spec.overhead[cpu]", "greater than or equal to 0"),
	ovPod("a readiness gate that is no qualified name", func(d *appsv1.Deployment) {
		podOf(d).ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "not a condition!"}}
	}, "readinessGates[0].conditionType"),
	ovPod("a container claim the pod does not have", func(d *appsv1.Deployment) {
		ovMain(d).Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
	}, "containers[0].resources.claims[0]", "spec.resourceClaims"),
	ovPod("a pod resource claim of no source", func(d *appsv1.Deployment) {
		podOf(d).ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu"}}
		ovMain(d).Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
	}, "spec.template.spec.resourceClaims[0]", "exactly one of"),
	ovPod("Recreate with a rollingUpdate", func(d *appsv1.Deployment) {
		d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1))}
	}, "spec.strategy.rollingUpdate", `Forbidden: {"maxSurge":1}`, "set `type` RollingUpdate"),
	ovBuilt("a Job of restartPolicy OnFailure with its pod failure policy", ovBatch, onType(func(j *batchv1.Job) {
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	}), "Job p/s", "spec.template.spec.restartPolicy", `only "Never" is supported when podFailurePolicy is specified`),
	ovBuilt("a success policy on a NonIndexed Job", ovBatch, onType(func(j *batchv1.Job) {
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
	}), "spec.successPolicy", "requires indexed completion mode"),
	ovBuilt("a managedBy that is no domain-prefixed path", ovBatch, onType(func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("not a domain/x") }), "spec.managedBy"),
	ovBuilt("a CronJob name of 53 characters", ovScheduled, onType(func(c *batchv1.CronJob) { c.Name = "s" + strings.Repeat("a", 52) }),
		"CronJob p/saaa", "metadata.name", "no more than 52 characters"),
	ovBuilt("a CronJob job template of restartPolicy Always", ovScheduled, onType(func(c *batchv1.CronJob) {
		c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
	}), "spec.jobTemplate.spec.template.spec.restartPolicy", `"OnFailure", "Never"`),
	ovBuilt("an ExternalName Service without an external name", nil, onType(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }),
		"Service p/s", "spec.externalName", "the DNS name it aliases"),
	ovBuilt("a LoadBalancer source range of /40", nil, onType(func(s *corev1.Service) {
		s.Spec.Type, s.Spec.LoadBalancerSourceRanges = corev1.ServiceTypeLoadBalancer, []string{"10.0.0.0/40"}
	}), "spec.loadBalancerSourceRanges[0]", "10.0.0.0/40", "CIDR"),
	ovBuilt("a source range on a ClusterIP Service", nil, onType(func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} }),
		"spec.loadBalancerSourceRanges[0]", "'LoadBalancer'"),
	ovBuilt("a ClientIP session timeout of 0", nil, onType(func(s *corev1.Service) {
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](0)}}
	}), "sessionAffinityConfig.clientIP.timeoutSeconds", "86400"),
	ovBuilt("an Ingress class that is no DNS name", ovWith(func(p *ProcessorStageProps) { p.Ingress = &Ingress{} }),
		onType(func(i *networkingv1.Ingress) { i.Spec.IngressClassName = ptr.To("Nginx_Class") }), "Ingress p/s", "spec.ingressClassName", "RFC 1123 subdomain"),
	ovBuilt("an Ingress backend of a port name and number", ovWith(func(p *ProcessorStageProps) { p.Ingress = &Ingress{} }),
		onType(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 80 }), "backend.service.port", "cannot set both"),
	ovBuilt("an except of /33", ovEgress, onType(ovEgressRule(func(r *networkingv1.NetworkPolicyEgressRule) {
		r.To[0].IPBlock.Except = append(r.To[0].IPBlock.Except, "192.168.0.0/33")
	})), "NetworkPolicy p/s", "ipBlock.except[1]", "192.168.0.0/33"),
	ovBuilt("an except outside its CIDR", ovEgress, onType(ovEgressRule(func(r *networkingv1.NetworkPolicyEgressRule) {
		r.To[0].IPBlock.Except = append(r.To[0].IPBlock.Except, "192.168.0.0/16")
	})), "ipBlock.except[1]", "strict subset of `cidr`"),
	ovBuilt("an endPort below its port", ovEgress, onType(ovEgressRule(func(r *networkingv1.NetworkPolicyEgressRule) {
		r.Ports[0].EndPort = ptr.To[int32](100)
	})), "ports[0].endPort", "greater than or equal to port"),
	ovBuilt("a PodDisruptionBudget of minAvailable and maxUnavailable", ovTwoReplicas, onType(func(p *policyv1.PodDisruptionBudget) {
		p.Spec.MinAvailable = ptr.To(intstr.FromInt32(1))
	}), "PodDisruptionBudget p/s", "minAvailable and maxUnavailable cannot be both set"),
	ovBuilt("a PodDisruptionBudget of 150%", ovTwoReplicas, onType(func(p *policyv1.PodDisruptionBudget) {
		p.Spec.MaxUnavailable = ptr.To(intstr.FromString("150%"))
	}), "spec.maxUnavailable", "150%", "greater than 100%"),
	ovBuilt("an autoscaler of minReplicas 0", ovWith(func(p *ProcessorStageProps) { p.Autoscaling = &Autoscaling{MinReplicas: 2, MaxReplicas: 4} }),
		onType(func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptr.To[int32](0) }), "HorizontalPodAutoscaler p/s", "spec.minReplicas", "greater than or equal to 1"),
	ovBuilt("an autoscaler metric without its source", ovWith(func(p *ProcessorStageProps) { p.Autoscaling = &Autoscaling{MinReplicas: 2, MaxReplicas: 4} }),
		onType(func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = append(h.Spec.Metrics, autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType})
		}), "spec.metrics[1]", "type Pods"),
	ovBuilt("a claim of storage class Fast_SSD", ovStorage, onType(func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = ptr.To("Fast_SSD") }),
		"PersistentVolumeClaim p/s", "spec.storageClassName", "RFC 1123 subdomain"),
	ovBuilt("a claim of volumeMode Raw", ovStorage, onType(func(c *corev1.PersistentVolumeClaim) {
		c.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeMode("Raw"))
	}), "spec.volumeMode", `"Block", "Filesystem"`),
	ovBuilt("a claim of volume attributes class 'Bad Name'", ovStorage, onType(func(c *corev1.PersistentVolumeClaim) {
		c.Spec.VolumeAttributesClassName = ptr.To("Bad Name")
	}), "spec.volumeAttributesClassName"),
}

// ovDroppedRows are overrides whose result the API server accepts, and
// changes: it drops a claim's data source that is neither a claim nor a
// snapshot, and the claim starts empty.
var ovDroppedRows = []ovRow{
	{name: "a claim whose data source is a Pod", build: ovStorage, overrides: []func(runtime.Object){onType(func(c *corev1.PersistentVolumeClaim) {
		c.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "Pod", Name: "x"}
	})}, field: "Override[0]", want: []string{"spec.dataSource.kind", "'PersistentVolumeClaim'", "drops any other data source"}},
	{name: "a claim cloned from a snapshot", build: ovStorage, overrides: []func(runtime.Object){onType(func(c *corev1.PersistentVolumeClaim) {
		c.Spec.DataSource = &corev1.TypedLocalObjectReference{APIGroup: ptr.To("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "x"}
	})}},
}
