package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"testing"

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
// header and the BatchNorm tensors by closed ranges only; the one request
// without a Range is the digest verification's, which must read it all.
func TestVerifyChecksReadWeightsByClosedRanges(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	pinned := pushCase(t, map[string]string{"REGCTL_REGISTRY": host}, "mlp", "verify/mlp")
	phost, rec := recordWeightsReads(t, host, "mlp")
	regctl(t, map[string]string{"REGCTL_REGISTRY": phost}, "", "verify", pinned).must(t, exitOK, "verify through the proxy")
	whole, closed, open := rec.split()
	if whole > 1 || len(open) > 0 || len(closed) < 2 {
		t.Fatalf("weights read whole %d times, by open-ended ranges %v, by closed ranges %v; want at most one whole read (the digest) and the header and BatchNorm tensors by closed ranges",
			whole, open, closed)
	}
}
