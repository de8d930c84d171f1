// Command netpol enforces Kubernetes NetworkPolicies on the node suite's
// single node with the controller of sigs.k8s.io/kube-network-policies (the
// implementation kind ships): nftables sends the first packet of every new
// connection of a pod that a policy selects to an NFQUEUE, where the
// controller evaluates the policies and accepts or drops it.
//
// The module's own command reads only an in-cluster configuration; this one
// takes a kubeconfig, since it runs on the node, not in a pod.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	nodeName := flag.String("hostname-override", "", "name of the Node whose pods are enforced")
	queueID := flag.Int("nfqueue-id", 100, "number of the NFQUEUE")
	klog.InitFlags(nil)
	flag.Parse()
	if err := run(*kubeconfig, *nodeName, *queueID); err != nil {
		fmt.Fprintln(os.Stderr, "netpol:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, nodeName string, queueID int) error {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	ctrl, err := networkpolicy.NewController(client,
		factory.Networking().V1().NetworkPolicies(),
		factory.Core().V1().Namespaces(),
		factory.Core().V1().Pods(),
		nil, nil, nil, nil, // no AdminNetworkPolicy: stagecraft writes none
		networkpolicy.Config{QueueID: queueID, NodeName: nodeName},
	)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- ctrl.Run(ctx) }()
	factory.Start(ctx.Done())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return <-errc
	}
}
