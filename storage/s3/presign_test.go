package s3

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// get sends a GET of rawURL with the given headers ("Key: value") and
// returns the status and body.
func get(t *testing.T, rawURL string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestPresignGet: a presigned URL on the configured endpoint reads the
// object (whole and by Range) without credentials, until it expires.
func TestPresignGet(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	d, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(t, d) })
	const content = "0123456789abcdef"
	if err := d.Put(ctx, "blobs/x", strings.NewReader(content), int64(len(content))); err != nil {
		t.Fatal(err)
	}
	signed, err := d.PresignGet(ctx, "blobs/x", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/" + cfg.Bucket + "/" + cfg.Prefix + "/blobs/x"; !strings.HasPrefix(cfg.Endpoint, u.Scheme+"://"+u.Host) || u.Path != want {
		t.Fatalf("presigned URL %s: want endpoint %s and path-style path %s", signed, cfg.Endpoint, want)
	}
	if status, body := get(t, signed); status != http.StatusOK || body != content {
		t.Fatalf("GET: %d %q, want 200 %q", status, body, content)
	}
	if status, body := get(t, signed, "Range: bytes=4-9"); status != http.StatusPartialContent || body != "456789" {
		t.Fatalf("ranged GET: %d %q, want 206 %q", status, body, "456789")
	}
	short, err := d.PresignGet(ctx, "blobs/x", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if status, _ := get(t, short); status != http.StatusForbidden {
		t.Fatalf("GET of an expired URL: %d, want 403", status)
	}
}
