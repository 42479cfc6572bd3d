// Command kube-plane is a multi-call binary holding the pieces of a local
// Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler. Linking them into one binary lets the large set of shared
// Kubernetes packages compile once, which matters on a 2-core machine.
//
// Usage: kube-plane <etcd|kube-apiserver|kube-controller-manager|kube-scheduler> [flags]
package main

import (
	"fmt"
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

const usage = "usage: kube-plane <etcd|kube-apiserver|kube-controller-manager|kube-scheduler> [flags]"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	component, rest := os.Args[1], os.Args[2:]
	switch component {
	case "etcd":
		etcdmain.Main(append([]string{"etcd"}, rest...))
	case "kube-apiserver":
		runCobra(apiserver.NewAPIServerCommand(), rest)
	case "kube-controller-manager":
		runCobra(controllermanager.NewControllerManagerCommand(), rest)
	case "kube-scheduler":
		runCobra(scheduler.NewSchedulerCommand(), rest)
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q\n%s\n", component, usage)
		os.Exit(2)
	}
}

// runCobra runs a component's own cobra command with the remaining arguments
// and exits with its status, exactly as the standalone binary would.
func runCobra(cmd *cobra.Command, args []string) {
	cmd.SetArgs(args)
	os.Exit(cli.Run(cmd))
}
