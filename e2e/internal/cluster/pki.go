package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pkiFiles are the credentials one test cluster needs, written under dir.
type pkiFiles struct {
	caCert, serverCert, serverKey string // serving certificate signed by a throwaway CA
	saKey                         string // service-account token signing key
	tokens                        string // --token-auth-file
	caPEM                         []byte
	token                         string // bearer token of a system:masters user
	// The aggregator's front proxy: a CA of its own (--requestheader-client-ca-file)
	// and the client certificate the API server presents to aggregated API
	// servers (--proxy-client-cert-file/--proxy-client-key-file).
	frontProxyCA, proxyClientCert, proxyClientKey string
	frontProxyCAPEM                               []byte
}

// FrontProxyClientName is the common name of the aggregator's client
// certificate, the one name --requestheader-allowed-names allows.
const FrontProxyClientName = "front-proxy-client"

// writePKI creates a CA, a serving certificate for 127.0.0.1/localhost, a
// service-account key and a token file. ECDSA P-256 keeps it fast.
func writePKI(dir string) (pkiFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return pkiFiles{}, err
	}
	f := pkiFiles{
		caCert:     filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey:  filepath.Join(dir, "apiserver.key"),
		saKey:      filepath.Join(dir, "service-account.key"),
		tokens:     filepath.Join(dir, "tokens.csv"),

		frontProxyCA:    filepath.Join(dir, "front-proxy-ca.crt"),
		proxyClientCert: filepath.Join(dir, "front-proxy-client.crt"),
		proxyClientKey:  filepath.Join(dir, "front-proxy-client.key"),
	}
	now := time.Now()

	ca, caKey, caPEM, err := newCA("platform-e2e-ca", now)
	if err != nil {
		return f, err
	}
	f.caPEM = caPEM

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}, ca, &serverKey.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	serverKeyPEM, err := keyPEM(serverKey)
	if err != nil {
		return f, err
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	saKeyPEM, err := keyPEM(saKey)
	if err != nil {
		return f, err
	}

	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return f, err
	}
	f.token = hex.EncodeToString(secret)
	// token,user,uid,"group,..."; system:masters is cluster admin even
	// without AlwaysAllow.
	tokens := fmt.Sprintf("%s,e2e-admin,e2e-admin,\"system:masters\"\n", f.token)

	// A second CA, as kubeadm and EKS do: an aggregated API server trusts
	// requests signed by it only, never the cluster CA's client certificates.
	fpCA, fpCAKey, fpCAPEM, err := newCA("platform-e2e-front-proxy-ca", now)
	if err != nil {
		return f, err
	}
	f.frontProxyCAPEM = fpCAPEM
	proxyKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	proxyDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: FrontProxyClientName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, fpCA, &proxyKey.PublicKey, fpCAKey)
	if err != nil {
		return f, err
	}
	proxyKeyPEM, err := keyPEM(proxyKey)
	if err != nil {
		return f, err
	}

	for path, data := range map[string][]byte{
		f.frontProxyCA:    fpCAPEM,
		f.proxyClientCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxyDER}),
		f.proxyClientKey:  proxyKeyPEM,
		f.caCert:          f.caPEM,
		f.serverCert:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverDER}),
		f.serverKey:       serverKeyPEM,
		f.saKey:           saKeyPEM,
		f.tokens:          []byte(tokens),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// newCA makes a self-signed CA valid for a day.
func newCA(name string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
