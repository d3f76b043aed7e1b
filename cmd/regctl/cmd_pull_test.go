package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

// weightsProxy serves a proxy of the registry at host that passes every
// request on, except that the body of a whole GET of the weights w goes
// through cut, which sends part of it and stops.
func weightsProxy(t *testing.T, host string, w []byte, cut func(rw http.ResponseWriter, r *http.Request, body io.Reader)) string {
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
			cut(rw, r, resp.Body)
			return
		}
		io.Copy(rw, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	return strings.TrimPrefix(proxy.URL, "http://")
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
	proxy := weightsProxy(t, host, w, func(rw http.ResponseWriter, _ *http.Request, body io.Reader) {
		io.CopyN(rw, body, int64(len(w)/2))
		panic(http.ErrAbortHandler) // the connection closes mid-body
	})
	out := filepath.Join(t.TempDir(), "out")
	r := regctl(t, env, "", "pull", proxy+"/team/large:v1", "-o", out)
	if r.code != exitError || !strings.Contains(r.stderr, "unexpected EOF") || !strings.Contains(r.stderr, "not a corrupt bundle") || strings.Contains(r.stderr, "digest-mismatch") {
		t.Fatalf("pull cut off mid-blob: exit %d, stderr %q; want exit 1 naming the unexpected EOF, no digest-mismatch", r.code, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed pull left %s: %v", out, err)
	}
}

// TestPullTerminatedLeavesNothing stops a regctl pull halfway through the
// weights with SIGTERM, as CI cancellation, timeout(1) and Kubernetes do:
// it exits 1 and leaves neither DIR nor its temp dir beside it.
func TestPullTerminatedLeavesNothing(t *testing.T) {
	bin := buildRegctl(t)
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts, w := largeBundle(t, env)
	regctl(t, env, "", opts.args("team/large:v1")...).must(t, exitOK, "push")
	stalled := make(chan struct{})
	var once sync.Once
	proxy := weightsProxy(t, host, w, func(rw http.ResponseWriter, r *http.Request, body io.Reader) {
		io.CopyN(rw, body, int64(len(w)/2))
		rw.(http.Flusher).Flush()
		once.Do(func() { close(stalled) })
		<-r.Context().Done() // until regctl goes
	})
	dir := t.TempDir()
	cmd := exec.Command(bin, "pull", proxy+"/team/large:v1", "-o", filepath.Join(dir, "out"))
	cmd.Env = []string{"HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stalled:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("the pull never reached the weights")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitError || !strings.Contains(stderr.String(), "terminated signal received") {
		t.Errorf("pull stopped by SIGTERM: exit %d (%v), stderr %q; want 1 naming the signal", code, cmd.ProcessState, stderr.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("pull stopped by SIGTERM left %v in %s", entries, dir)
	}
}
