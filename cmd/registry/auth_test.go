package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/api/client/registrytest"
)

// TestHashTokenAuthFileTLS runs the registry as configured from the command
// line: a token hashed by hash-token in an --auth-file, HTTPS from
// --tls-cert/--tls-key. The token is let in, a wrong one gets 401.
func TestHashTokenAuthFileTLS(t *testing.T) {
	dir := t.TempDir()
	authFile := writeAuthFile(t, dir, "pull")
	cert, key := registrytest.SelfSigned(t, dir)
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	addr := registrytest.FreeAddr(t)
	cfg, err := parseConfig([]string{"--listen", addr, "--storage", "file://" + filepath.Join(dir, "data"),
		"--auth-file", authFile, "--tls-cert", cert, "--tls-key", key}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseConfig([]string{"--tls-cert", cert}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("--tls-cert without --tls-key accepted")
	}
	serveUntilCleanup(t, cfg)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for secret, want := range map[string]int{"s3cret-token": http.StatusOK, "s3cret-tokem": http.StatusUnauthorized} {
		if got := pingStatus(t, hc, "https://"+addr+"/v2/", secret); got != want {
			t.Errorf("token %q: status %d, want %d", secret, got, want)
		}
	}
}

// TestTLSFilesCheckedBeforeServing: a missing or wrong certificate or key
// stops start-up naming the flags, before the registry listens or logs
// "serving" (it logged "serving" with tls true, then failed naming the
// file only).
func TestTLSFilesCheckedBeforeServing(t *testing.T) {
	dir := t.TempDir()
	cert, key := registrytest.SelfSigned(t, dir)
	for name, files := range map[string][2]string{"missing cert": {filepath.Join(dir, "nope.pem"), key}, "key as cert": {key, key}} {
		var logged bytes.Buffer
		cfg := config{listen: registrytest.FreeAddr(t), storage: "file://" + filepath.Join(dir, "data"), uploadTTL: time.Hour, tlsCert: files[0], tlsKey: files[1]}
		err := serve(context.Background(), cfg, slog.New(slog.NewTextHandler(&logged, nil)))
		if err == nil || !strings.Contains(err.Error(), "--tls-cert "+files[0]) || strings.Contains(logged.String(), "serving") {
			t.Errorf("%s: serve = %v, logged %q; want an error naming --tls-cert before serving", name, err, logged.String())
		}
	}
	if _, err := loadTLS(config{tlsCert: cert, tlsKey: key}); err != nil {
		t.Errorf("the right pair: %v", err)
	}
}

// TestHashTokenCommand: hash-token hashes the secret on stdin; --help prints
// its usage (it said "no secret on stdin"), an argument is refused with the
// usage (a secret on the command line would land in the shell's history).
func TestHashTokenCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := hashTokenCommand(nil, strings.NewReader("s3cret\n"), &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "sha256:") {
		t.Errorf("hash-token < secret: %v, %q", err, out.String())
	}
	for arg, want := range map[string]error{"--help": flag.ErrHelp, "-h": flag.ErrHelp, "s3cret": flagError{}} {
		out.Reset()
		errOut.Reset()
		err := hashTokenCommand([]string{arg}, strings.NewReader("s3cret\n"), &out, &errOut)
		var fe flagError
		if ok := errors.Is(err, want) || (want == flagError{} && errors.As(err, &fe)); !ok || out.Len() > 0 || !strings.Contains(errOut.String(), "usage: registry hash-token < FILE") {
			t.Errorf("hash-token %s: %v, stdout %q, stderr %q; want %v and the usage", arg, err, out.String(), errOut.String(), want)
		}
		if refused := strings.Contains(errOut.String(), "the secret comes on stdin"); refused != (want != flag.ErrHelp) {
			t.Errorf("hash-token %s: stderr %q; want the refusal said for an argument only", arg, errOut.String())
		}
	}
}

// writeAuthFile writes dir/auth.json granting the token s3cret-token, hashed
// by hash-token, action on every repository, and returns its path.
func writeAuthFile(t *testing.T, dir, action string) string {
	t.Helper()
	var hash bytes.Buffer
	if err := hashToken(strings.NewReader("s3cret-token\n"), &hash); err != nil {
		t.Fatal(err)
	}
	authFile := filepath.Join(dir, "auth.json")
	doc := fmt.Sprintf(`{"tokens":[{"name":"ci","hash":%q,"scopes":[{"repository":"*","actions":[%q]}]}]}`, strings.TrimSpace(hash.String()), action)
	if err := os.WriteFile(authFile, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return authFile
}

// serveUntilCleanup runs the registry configured by cfg until the test ends.
func serveUntilCleanup(t *testing.T, cfg config) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() { cancel(); <-done })
}

// pingStatus polls url with a Bearer token until the server answers and returns the status.
func pingStatus(t *testing.T, hc *http.Client, url, secret string) int {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		var resp *http.Response
		if resp, err = hc.Do(req); err == nil {
			resp.Body.Close()
			return resp.StatusCode
		}
	}
	t.Fatalf("%s did not answer: %v", url, err)
	return 0
}
