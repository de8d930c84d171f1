// The L1 class of cdk8s-plus-28 for each apiVersion/kind stagecraft writes
// (the same table as stagecraft's internal/l1).
'use strict';
exports.L1 = {
  'v1/Namespace': 'KubeNamespace',
  'v1/Service': 'KubeService',
  'v1/ServiceAccount': 'KubeServiceAccount',
  'v1/ConfigMap': 'KubeConfigMap',
  'v1/PersistentVolume': 'KubePersistentVolume',
  'v1/PersistentVolumeClaim': 'KubePersistentVolumeClaim',
  'apps/v1/Deployment': 'KubeDeployment',
  'apps/v1/StatefulSet': 'KubeStatefulSet',
  'batch/v1/Job': 'KubeJob',
  'batch/v1/CronJob': 'KubeCronJob',
  'networking.k8s.io/v1/Ingress': 'KubeIngress',
  'networking.k8s.io/v1/NetworkPolicy': 'KubeNetworkPolicy',
  'autoscaling/v2/HorizontalPodAutoscaler': 'KubeHorizontalPodAutoscalerV2',
  'policy/v1/PodDisruptionBudget': 'KubePodDisruptionBudget',
  'rbac.authorization.k8s.io/v1/Role': 'KubeRole',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'KubeRoleBinding',
};
