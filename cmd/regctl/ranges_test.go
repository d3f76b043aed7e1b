package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
)

// weightsReads holds the Range header ("" for none) of every GET of a
// weights blob that passed through recordWeightsReads' proxy.
type weightsReads struct {
	mu     sync.Mutex
	ranges []string
}

// recordWeightsReads starts a proxy to the registry at host that records
// the GETs of the named interop cases' weights blobs, and returns the
// proxy's host.
func recordWeightsReads(t *testing.T, host string, cases ...string) (string, *weightsReads) {
	t.Helper()
	weights := map[string]bool{}
	for _, name := range cases {
		b, err := os.ReadFile(fixture(name, "weights.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		weights[artifact.FromBytes(artifact.SHA256, b).String()] = true
	}
	rec := &weightsReads{}
	target, _ := url.Parse("http://" + host)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if weights[path.Base(r.URL.Path)] && r.Method == http.MethodGet {
			rec.mu.Lock()
			rec.ranges = append(rec.ranges, r.Header.Get("Range"))
			rec.mu.Unlock()
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	return strings.TrimPrefix(proxy.URL, "http://"), rec
}

// split returns how many reads had no Range, the closed ranges and the
// open-ended ones (bytes=N-).
func (rec *weightsReads) split() (whole int, closed, open []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.ranges {
		switch {
		case r == "":
			whole++
		case strings.HasSuffix(r, "-"):
			open = append(open, r)
		default:
			closed = append(closed, r)
		}
	}
	return whole, closed, open
}

// TestVerifyChecksReadWeightsByClosedRanges verifies a bundle through a
// proxy that records the weights requests: the checks read the weights
// header and the BatchNorm tensors by closed ranges only (one here: the
// file is smaller than the checks' 64 KiB blocks); the one request without
// a Range is the digest verification's, which must read it all.
func TestVerifyChecksReadWeightsByClosedRanges(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	pinned := pushCase(t, map[string]string{"REGCTL_REGISTRY": host}, "mlp", "verify/mlp")
	phost, rec := recordWeightsReads(t, host, "mlp")
	regctl(t, map[string]string{"REGCTL_REGISTRY": phost}, "", "verify", pinned).must(t, exitOK, "verify through the proxy")
	whole, closed, open := rec.split()
	if whole > 1 || len(open) > 0 || len(closed) == 0 {
		t.Fatalf("weights read whole %d times, by open-ended ranges %v, by closed ranges %v; want at most one whole read (the digest) and the header and BatchNorm tensors by closed ranges",
			whole, open, closed)
	}
}

// TestPullStreamsWhileChecking pulls through a proxy that holds each of the
// checks' reads of the weights (closed ranges) until the download of the
// whole weights blob has begun: a pull that ran its checks first and
// streamed after would find the hold expire, which fails the test.
func TestPullStreamsWhileChecking(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	pinned := pushCase(t, map[string]string{"REGCTL_REGISTRY": host}, "mlp", "overlap/mlp")
	b, err := os.ReadFile(fixture("mlp", "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	weights := artifact.FromBytes(artifact.SHA256, b).String()
	streaming := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var expired []string
	target, _ := url.Parse("http://" + host)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path.Base(r.URL.Path) == weights && r.Method == http.MethodGet {
			if rng := r.Header.Get("Range"); rng == "" {
				once.Do(func() { close(streaming) })
			} else {
				select {
				case <-streaming:
				case <-time.After(3 * time.Second):
					mu.Lock()
					expired = append(expired, rng)
					mu.Unlock()
				}
			}
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	env := map[string]string{"REGCTL_REGISTRY": strings.TrimPrefix(proxy.URL, "http://")}
	out := filepath.Join(t.TempDir(), "out")
	regctl(t, env, "", "pull", pinned, "-o", out).must(t, exitOK, "pull through the proxy")
	mu.Lock()
	defer mu.Unlock()
	if len(expired) > 0 {
		t.Fatalf("the checks read the weights (%v) before the download of the whole blob began; want both at once", expired)
	}
	if got, err := os.ReadFile(filepath.Join(out, "weights.safetensors")); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("pulled weights: %d bytes, %v; want the pushed %d bytes", len(got), err, len(b))
	}
}
