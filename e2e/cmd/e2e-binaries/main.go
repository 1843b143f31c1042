// Command e2e-binaries builds (or finds) the kube-apiserver and etcd the
// end-to-end tests run, and prints their paths. Run it ahead of the tests to
// warm the cache, e.g. in CI before the test timeout starts counting.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p, err := binaries.Ensure(ctx, binaries.Options{Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e-binaries:", err)
		os.Exit(1)
	}
	fmt.Printf("KUBE_APISERVER=%s\nETCD=%s\n", p.KubeAPIServer, p.Etcd)
}
