package twin

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// ExternalSecretsOptions say how External Secrets runs in the twin.
type ExternalSecretsOptions struct {
	Bin string
	// AWSEndpoint serves STS and Secrets Manager: External Secrets' AWS
	// provider sends both there through its custom-endpoint variables
	// (pkg/provider/aws/auth/resolver.go: AWS_STS_ENDPOINT,
	// AWS_SECRETSMANAGER_ENDPOINT).
	AWSEndpoint string
	// StoreRequeue is how often the store reconciler validates each
	// ClusterSecretStore (fetches credentials); default 10 s (upstream 5 min).
	StoreRequeue time.Duration
}

// StartExternalSecrets runs External Secrets' controller (the image's
// default command: ExternalSecret, SecretStore, ClusterSecretStore and
// GeneratorState reconcilers) against the twin. It serves only metrics,
// given on 127.0.0.1 (--metrics-addr, default ":8080"); the webhook and
// cert-controller are other subcommands and do not run. The
// ClusterExternalSecret and (Cluster)PushSecret reconcilers are off: the
// rendered env has none of those objects and the lock holds no CRDs for
// them. No leader election, as the chart's single replica.
func (t *Twin) StartExternalSecrets(ctx context.Context, opts ExternalSecretsOptions) error {
	if t.eso != nil {
		return fmt.Errorf("external-secrets already runs")
	}
	requeue := opts.StoreRequeue
	if requeue == 0 {
		requeue = 10 * time.Second
	}
	none := filepath.Join(t.dir, "no-aws-config")
	env := []string{
		// ctrl.GetConfigOrDie and its provider's TokenRequest client read it.
		"KUBECONFIG=" + t.kubeconfig,
		"AWS_STS_ENDPOINT=" + opts.AWSEndpoint,
		"AWS_SECRETSMANAGER_ENDPOINT=" + opts.AWSEndpoint,
		// Nothing of the machine's AWS setup may reach it: credentials come
		// from the web-identity exchange only.
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none,
		"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_ROLE_ARN=", "AWS_WEB_IDENTITY_TOKEN_FILE=",
	}
	p, err := t.startWithPort(ctx, "external-secrets", opts.Bin, env, func(port int) []string {
		return []string{
			"--metrics-addr=127.0.0.1:" + strconv.Itoa(port),
			"--enable-leader-election=false",
			"--enable-cluster-external-secret-reconciler=false",
			"--enable-push-secret-reconciler=false",
			"--enable-cluster-push-secret-reconciler=false",
			"--store-requeue-interval=" + requeue.String(),
			"--zap-time-encoding=iso8601",
			"--loglevel=info",
		}
	})
	if err != nil {
		return err
	}
	t.eso = p
	return nil
}
