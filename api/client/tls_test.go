package client_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/normreg/normreg/api/client"
)

// TestTrustingHTTPClientRefusesNonPEM: a CA file without a PEM certificate
// is an error, not a client that trusts nothing extra.
func TestTrustingHTTPClientRefusesNonPEM(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := client.TrustingHTTPClient(path); !errors.Is(err, client.ErrCAFileInvalid) {
		t.Fatalf("TrustingHTTPClient(non-PEM) = %v, want ErrCAFileInvalid", err)
	}
	if _, err := client.TrustingHTTPClient(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Fatal("TrustingHTTPClient(missing file) succeeded")
	}
}
