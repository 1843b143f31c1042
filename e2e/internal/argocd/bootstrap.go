package argocd

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Resource kinds of Argo CD the tests read and write.
var (
	ApplicationGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
	AppProjectGVR  = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}
)

// Bootstrap creates what Argo CD's install manifests (manifests/install.yaml)
// and argocd-server would create before the controllers run: the argocd
// namespace, the settings ConfigMaps and Secret (empty but for the
// reconciliation period: every setting has a default), and the `default`
// AppProject, which argocd-server creates at start and which the root
// app-of-apps names. The Argo CD CRDs must be installed already.
// tlsCerts go into argocd-tls-certs-cm (host name -> PEM), for the record:
// outside a pod the repo-server reads them from files (Options.TLSCerts).
// cm is argocd-cm's data beside the reconciliation period (ReadSettings).
func Bootstrap(ctx context.Context, cfg *rest.Config, reconciliation time.Duration, tlsCerts map[string][]byte, cm map[string]string) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	// Argo CD only reads settings objects labelled part-of=argocd.
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: Namespace, Labels: map[string]string{
			"app.kubernetes.io/name":    name,
			"app.kubernetes.io/part-of": "argocd",
		}}
	}
	cmData := map[string]string{}
	for k, v := range cm {
		cmData[k] = v
	}
	// How often Applications are compared with git; the controller's
	// --app-resync says the same (in a pod it is read from here).
	cmData["timeout.reconciliation"] = reconciliation.String()
	cmData["timeout.reconciliation.jitter"] = "0s"
	cms := []*corev1.ConfigMap{
		{ObjectMeta: meta("argocd-cm"), Data: cmData},
		{ObjectMeta: meta("argocd-cmd-params-cm")},
		{ObjectMeta: meta("argocd-rbac-cm")},
		{ObjectMeta: meta("argocd-ssh-known-hosts-cm")},
		{ObjectMeta: meta("argocd-tls-certs-cm"), Data: pemData(tlsCerts)},
		{ObjectMeta: meta("argocd-gpg-keys-cm")},
	}
	for _, cm := range cms {
		if _, err := cs.CoreV1().ConfigMaps(Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("ConfigMap %s: %w", cm.Name, err)
		}
	}
	secret := &corev1.Secret{ObjectMeta: meta("argocd-secret"), Type: corev1.SecretTypeOpaque}
	if _, err := cs.CoreV1().Secrets(Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("Secret argocd-secret: %w", err)
	}

	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	// The spec argocd-server gives the default project (server.go,
	// initializeDefaultProject): any repo, any destination, any kind.
	project := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "AppProject",
		"metadata":   map[string]any{"name": "default", "namespace": Namespace},
		"spec": map[string]any{
			"sourceRepos":              []any{"*"},
			"destinations":             []any{map[string]any{"server": "*", "namespace": "*"}},
			"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
		},
	}}
	if _, err := dyn.Resource(AppProjectGVR).Namespace(Namespace).Create(ctx, project, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("AppProject default: %w", err)
	}
	return nil
}

func pemData(certs map[string][]byte) map[string]string {
	m := map[string]string{}
	for host, pem := range certs {
		m[host] = string(pem)
	}
	return m
}
