package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// startRedirecting starts, on one fresh S3 prefix, an open registry that
// seeds and a registry that redirects blob GETs, guarded by auth when not nil.
func startRedirecting(t *testing.T, auth *api.Auth) (open, redirecting *registry) {
	t.Helper()
	b := s3Backend(t)
	if b.unavailable != "" {
		registrytest.Unavailable(t, "%s", b.unavailable)
	}
	return b.start(t), b.startWith(t, api.Config{RedirectBlobs: true, Auth: auth})
}

// getNoFollow sends a GET to the registry and returns the response itself,
// not following a redirect.
func (r *registry) getNoFollow(t *testing.T, path string) response {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest(http.MethodGet, r.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, hc, req)
}

// TestBlobRedirect: with RedirectBlobs on S3, a blob GET is a 307 to a
// presigned URL on the S3 endpoint that gives the exact bytes, Range
// included; HEAD answers itself; an unknown blob, or one only in another
// repository, is BLOB_UNKNOWN with no URL; redirects are counted in /metrics.
func TestBlobRedirect(t *testing.T) {
	open, red := startRedirecting(t, nil)
	data := []byte(rand.Text() + strings.Repeat("0123456789", 10_000))
	d := open.pushBlob(t, "team/app", data)
	other := open.pushBlob(t, "other/app", []byte("only in other/app"))
	path := "/v2/team/app/blobs/" + d.String()

	resp := red.getNoFollow(t, path)
	resp.expect(t, http.StatusTemporaryRedirect, "")
	loc, err := url.Parse(resp.header.Get("Location"))
	if err != nil || !strings.HasPrefix(os.Getenv("NORMREG_TEST_S3_ENDPOINT"), loc.Scheme+"://"+loc.Host) ||
		loc.Query().Get("X-Amz-Expires") != "900" || len(resp.body) != 0 || resp.header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("redirect: Location %q (%v), digest %q, body %q: want a 15-minute presigned URL on the S3 endpoint, %s, no body",
			resp.header.Get("Location"), err, resp.header.Get("Docker-Content-Digest"), resp.body, d)
	}
	if got := red.do(t, "GET", path, nil); got.status != http.StatusOK || !bytes.Equal(got.body, data) {
		t.Fatalf("GET through the redirect: %d, %d bytes; want 200 and the blob's %d bytes", got.status, len(got.body), len(data))
	}
	if got := red.do(t, "GET", path, nil, "Range: bytes=1000-1999"); got.status != http.StatusPartialContent || !bytes.Equal(got.body, data[1000:2000]) {
		t.Fatalf("ranged GET through the redirect: %d, %q; want 206 and bytes 1000-1999", got.status, got.body)
	}
	head := red.do(t, "HEAD", path, nil)
	if head.status != http.StatusOK || head.header.Get("Location") != "" || head.header.Get("Content-Length") != "100026" {
		t.Fatalf("HEAD: %d, Location %q, Content-Length %q; want 200 from the registry with the size", head.status, head.header.Get("Location"), head.header.Get("Content-Length"))
	}
	for _, unknown := range []artifact.Digest{artifact.FromBytes(artifact.SHA256, []byte("never pushed")), other} {
		resp := red.getNoFollow(t, "/v2/team/app/blobs/"+unknown.String())
		resp.expect(t, http.StatusNotFound, "BLOB_UNKNOWN")
		if resp.header.Get("Location") != "" {
			t.Fatalf("blob %s unknown to team/app was redirected to %s", unknown, resp.header.Get("Location"))
		}
	}
	metrics := red.do(t, "GET", "/metrics", nil)
	if !bytes.Contains(metrics.body, []byte(`normreg_http_requests_total{route="/v2/{name}/blobs/{digest}",method="GET",status="307"} 3`+"\n")) {
		t.Fatalf("/metrics does not count the 3 redirects:\n%s", metrics.body)
	}
}

// TestBundlePullThroughRedirectWithToken pulls a bundle as regctl pull does
// (manifest, then manifest.Check's ranged reads, then every blob verified)
// with a token from a guarded registry that redirects blob GETs: the
// token must not follow the redirect to S3, which refuses a request that
// carries two credentials.
func TestBundlePullThroughRedirectWithToken(t *testing.T) {
	open, red := startRedirecting(t, testAuth(t))
	f := buildFixture(t, "mlp", nil)
	open.pushBundle(t, "team/model", "v1", f).expect(t, http.StatusCreated, "")
	ctx := context.Background()
	seen := &authSeen{next: http.DefaultTransport, by: map[string][]string{}}
	c := client.New(strings.TrimPrefix(red.url, "http://"), client.Options{Token: "pull-secret-1", HTTPClient: &http.Client{Transport: seen}})
	_, raw, err := c.FetchManifest(ctx, "team/model", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if _, findings, err := manifest.Check(ctx, raw, c.Fetcher("team/model"), manifest.CheckOptions{}); err != nil || findings.Refused() {
		t.Fatalf("checking the bundle through the redirect: %v, findings %v", err, findings)
	}
	for _, desc := range append(f.built.Manifest.Layers, *f.built.Manifest.Config) {
		rc, err := c.FetchBlob(ctx, "team/model", desc)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("blob %s through the redirect: %v", desc.Digest, err)
		}
	}
	s3Host := strings.TrimPrefix(os.Getenv("NORMREG_TEST_S3_ENDPOINT"), "http://")
	if got := seen.by[s3Host]; len(got) < len(f.built.Manifest.Layers)+1 || slices.ContainsFunc(got, func(a string) bool { return a != "" }) {
		t.Fatalf("Authorization headers sent to S3 at %s: %q; want one empty per redirected blob GET", s3Host, got)
	}
}

// authSeen is a transport that records the Authorization header of each
// request by host:port.
type authSeen struct {
	next http.RoundTripper
	mu   sync.Mutex
	by   map[string][]string
}

// RoundTrip implements http.RoundTripper.
func (a *authSeen) RoundTrip(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.by[req.URL.Host] = append(a.by[req.URL.Host], req.Header.Get("Authorization"))
	a.mu.Unlock()
	return a.next.RoundTrip(req)
}
