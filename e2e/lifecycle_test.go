package e2e_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ecommerce-platform/gitops/e2e/internal/binaries"
	"github.com/ecommerce-platform/gitops/e2e/internal/cluster"
)

// TestControlPlaneLeavesNothingBehind: after Stop no process started for the
// control plane runs, including when the start itself fails half-way.
func TestControlPlaneLeavesNothingBehind(t *testing.T) {
	t.Run("stop", func(t *testing.T) {
		dir := t.TempDir()
		c, err := cluster.Start(t.Context(), cluster.Options{KubeAPIServer: bins[binaries.KubernetesVersion].KubeAPIServer, Etcd: bins[binaries.KubernetesVersion].Etcd, Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if got := processesUsing(dir); len(got) != 2 {
			t.Errorf("want etcd and kube-apiserver running with %s, got pids %v", dir, got)
		}
		c.Stop()
		c.Stop() // idempotent
		if got := processesUsing(dir); len(got) > 0 {
			t.Errorf("processes still running after Stop: %v", got)
		}
	})
	t.Run("failed start", func(t *testing.T) {
		dir := t.TempDir()
		// etcd starts, the "API server" exits at once: Start must stop etcd.
		_, err := cluster.Start(t.Context(), cluster.Options{KubeAPIServer: "/bin/false", Etcd: bins[binaries.KubernetesVersion].Etcd, Dir: dir})
		if err == nil {
			t.Fatal("want an error from an API server that exits")
		}
		if got := processesUsing(dir); len(got) > 0 {
			t.Errorf("processes still running after a failed Start: %v", got)
		}
	})
}

// processesUsing lists live processes whose command line mentions dir
// (every control-plane process gets its data or cert paths under it).
func processesUsing(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(dir)) {
			// A zombie (exited, not yet reaped) has an empty cmdline, so a
			// match is a live process.
			pids = append(pids, pid)
		}
	}
	return pids
}
