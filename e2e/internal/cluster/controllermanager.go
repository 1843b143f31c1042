package cluster

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// StartControllerManager runs kube-controller-manager against the cluster
// with only the named controllers (e.g. "garbagecollector": foreground and
// background deletion of dependents, and removal of the foregroundDeletion
// finalizer, are its work, not the API server's). Stop stops it too.
func (c *Cluster) StartControllerManager(bin string, controllers ...string) error {
	return c.StartControllerManagerWith(bin, controllers, nil)
}

// StartControllerManagerWith is StartControllerManager with extra flags
// (e.g. the twin's shortened node-monitor grace period).
func (c *Cluster) StartControllerManagerWith(bin string, controllers, args []string) error {
	if c.controllerManager != nil {
		return fmt.Errorf("kube-controller-manager already started")
	}
	kubeconfig := filepath.Join(c.dir, "controller-manager.kubeconfig")
	if err := WriteKubeconfig(kubeconfig, c.Config, ""); err != nil {
		return err
	}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var ports []int
		if ports, err = freePorts(1); err != nil {
			return err
		}
		c.controllerManager, err = startProcessWith(args, bin, filepath.Join(c.dir, "kube-controller-manager.log"),
			"--kubeconfig="+kubeconfig,
			// Its own HTTPS endpoint (health, metrics) checks callers through
			// the API server, with the same admin credentials.
			"--authentication-kubeconfig="+kubeconfig,
			"--authorization-kubeconfig="+kubeconfig,
			"--bind-address=127.0.0.1",
			"--secure-port="+strconv.Itoa(ports[0]),
			"--controllers="+strings.Join(controllers, ","),
			"--leader-elect=false",
			"--v=1",
		)
		if err == nil {
			return nil
		}
		c.controllerManager = nil
		if !errors.Is(err, errAddrInUse) {
			return err
		}
	}
	return err
}

// WriteKubeconfig writes cfg (a Cluster's Config: server, CA, bearer token)
// as a kubeconfig, its context defaulting to namespace (empty: default).
func WriteKubeconfig(path string, cfg *rest.Config, namespace string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["e2e"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "admin", Namespace: namespace}
	kc.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*kc, path)
}

// ControllerManagerMaxRSS is kube-controller-manager's peak resident memory so
// far, in bytes (zero if not started, ended, or not Linux).
func (c *Cluster) ControllerManagerMaxRSS() int64 { return c.controllerManager.MaxRSS() }
