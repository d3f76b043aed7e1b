package registrytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
)

// SelfSigned writes a self-signed certificate for 127.0.0.1 and localhost,
// valid for an hour, and its key into dir as PEM. The certificate is its own
// CA: a client trusts it by trusting certFile.
func SelfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "normreg test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// writePEM writes one PEM block to path.
func writePEM(t testing.TB, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// NormregTLS serves normreg's registry API with auth on the fs driver over
// HTTPS on loopback, with a fresh self-signed certificate, closed when the
// test ends. It returns the "host:port", the certificate file to trust and
// the last 8 KiB of the server's log.
func NormregTLS(t testing.TB, auth *api.Auth) (host, caFile string, log fmt.Stringer) {
	t.Helper()
	dir := t.TempDir()
	d, err := fs.New(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	caFile, keyFile := SelfSigned(t, dir)
	pair, err := tls.LoadX509KeyPair(caFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	logged := &tail{}
	srv := httptest.NewUnstartedServer(api.New(api.Config{Store: storage.New(d), Logger: slog.New(slog.NewTextHandler(logged, nil)), Auth: auth}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://"), caFile, logged
}
