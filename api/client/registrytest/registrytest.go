// Package registrytest starts real OCI registries and tools for tests:
// normreg's own registry on the fs driver, the CNCF distribution binary, and
// the binaries that scripts/tools.sh installs (distribution, oras, ...).
package registrytest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
)

// Unavailable stops a test that lacks a service: t.Fatal when
// NORMREG_TEST_REQUIRE=1 (CI and make test), else t.Skip.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("NORMREG_TEST_REQUIRE") == "1" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Tool returns the path of a binary that scripts/tools.sh installs,
// running the script when the binary is not yet there.
func Tool(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("NORMREG_TOOLS_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			Unavailable(t, "no cache dir for tools: %v", err)
		}
		dir = filepath.Join(cache, "normreg-tools")
	}
	bin := filepath.Join(dir, "bin", name)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	out, err := exec.Command(filepath.Join(ModuleRoot(), "scripts", "tools.sh"), name).Output()
	if err != nil {
		Unavailable(t, "scripts/tools.sh could not install %s: %v", name, err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), name)
}

// FreeAddr returns a loopback "127.0.0.1:port" that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Distribution starts the CNCF distribution registry on a loopback port,
// storing under a temp dir with deletes enabled, stopped when the test ends.
// It returns the registry's "host:port" and its storage root directory.
func Distribution(t testing.TB) (host, root string) {
	t.Helper()
	bin := Tool(t, "distribution")
	dir := t.TempDir()
	root = filepath.Join(dir, "data")
	host = FreeAddr(t)
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", root, host)
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", cfg)
	log := &tail{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		cancel()
		Unavailable(t, "starting distribution: %v", err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	waitReady(t, "http://"+host+"/v2/", log)
	return host, root
}

// waitReady polls url until it answers, for up to 10 s.
func waitReady(t testing.TB, url string, log *tail) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("registry at %s did not answer within 10s; its log:\n%s", url, log.String())
}

// tail keeps the last 8 KiB written to it.
type tail struct {
	mu sync.Mutex
	b  []byte
}

// Write implements io.Writer.
func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > 8<<10 {
		w.b = w.b[len(w.b)-8<<10:]
	}
	return len(p), nil
}

// String returns what was kept.
func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b)
}

// Normreg serves normreg's registry API (package api) on the fs driver over
// a real HTTP server on loopback, closed when the test ends. It returns the
// "host:port" and the storage root directory.
func Normreg(t testing.TB) (host, root string) {
	t.Helper()
	root = t.TempDir()
	d, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Config{Store: storage.New(d)}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), root
}
