package twin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"
)

// DeschedulerOptions say how the descheduler runs in the twin.
type DeschedulerOptions struct {
	Bin string
	// Policy is the DeschedulerPolicy's content as the rendered chart
	// Application gives it to the chart (deschedulerPolicy; profiles).
	Policy map[string]any
	// APIVersion is the policy's apiVersion (deschedulerPolicyAPIVersion).
	APIVersion string
	// Interval is --descheduling-interval.
	Interval time.Duration
}

// StartDescheduler runs the descheduler as the chart's Deployment does (a
// loop every interval, the policy from the chart values) against the twin.
// It serves healthz and metrics only, over HTTPS with a self-signed
// certificate, on 127.0.0.1 (--bind-address; default 0.0.0.0:10258). No
// leader election, as the chart's single replica.
func (t *Twin) StartDescheduler(ctx context.Context, opts DeschedulerOptions) error {
	if t.descheduler != nil {
		return fmt.Errorf("descheduler already runs")
	}
	policy := map[string]any{"apiVersion": opts.APIVersion, "kind": "DeschedulerPolicy"}
	for k, v := range opts.Policy {
		policy[k] = v
	}
	data, err := yaml.Marshal(policy)
	if err != nil {
		return err
	}
	file := filepath.Join(t.dir, "descheduler-policy.yaml")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return err
	}
	certs := filepath.Join(t.dir, "descheduler-certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return err
	}
	p, err := t.startWithPort(ctx, "descheduler", opts.Bin, nil, func(port int) []string {
		return []string{
			"--kubeconfig=" + t.kubeconfig,
			"--policy-config-file=" + file,
			"--descheduling-interval=" + opts.Interval.String(),
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--cert-dir=" + certs,
			"--leader-elect=false",
			"--v=3",
		}
	})
	if err != nil {
		return err
	}
	t.descheduler = p
	return nil
}
