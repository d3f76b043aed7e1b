package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest/bundletest"
)

// largeBundle is bigBundle with weights of directMin bytes or more (the
// size from which pulls write through the read-ahead), and those weights.
func largeBundle(t *testing.T, env map[string]string) (pushOptions, []byte) {
	t.Helper()
	opts := bigBundle(t, env)
	w := bundletest.Safetensors(nil, append(bundletest.Linear("net.0", 4, 3), bundletest.Linear("net.2", 4096, 4096)...)...)
	if len(w) < directMin || len(w) < artifact.ReadAheadMin {
		t.Fatalf("the weights are %d bytes, want at least directMin (%d) and ReadAheadMin (%d)", len(w), directMin, artifact.ReadAheadMin)
	}
	if err := os.WriteFile(opts.weights, w, 0o644); err != nil {
		t.Fatal(err)
	}
	return opts, w
}

// TestPullCutOffExit1 pulls a bundle through a proxy that cuts the
// connection halfway through the weights, after a Content-Length of the
// whole blob: a network failure, so pull exits 1 naming it, and does not
// refuse the bundle as corrupt (exit 3, digest-mismatch), which would send
// a deploy script after a blob that is fine. Nothing is written.
func TestPullCutOffExit1(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts, w := largeBundle(t, env)
	regctl(t, env, "", opts.args("team/large:v1")...).must(t, exitOK, "push")
	weights := artifact.FromBytes(artifact.SHA256, w).String()
	proxy := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+host+r.URL.RequestURI(), nil)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			rw.Header()[k] = vs
		}
		rw.WriteHeader(resp.StatusCode)
		if path.Base(r.URL.Path) == weights && r.Method == http.MethodGet && r.Header.Get("Range") == "" {
			io.CopyN(rw, resp.Body, int64(len(w)/2))
			panic(http.ErrAbortHandler) // the connection closes mid-body
		}
		io.Copy(rw, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	out := filepath.Join(t.TempDir(), "out")
	r := regctl(t, env, "", "pull", strings.TrimPrefix(proxy.URL, "http://")+"/team/large:v1", "-o", out)
	if r.code != exitError || !strings.Contains(r.stderr, "unexpected EOF") || !strings.Contains(r.stderr, "not a corrupt bundle") || strings.Contains(r.stderr, "digest-mismatch") {
		t.Fatalf("pull cut off mid-blob: exit %d, stderr %q; want exit 1 naming the unexpected EOF, no digest-mismatch", r.code, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed pull left %s: %v", out, err)
	}
}
