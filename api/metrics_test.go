package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
)

// sampleLine is one sample of the Prometheus text format: name, optional
// {labels}, value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)

// parseMetrics parses a text exposition strictly: every sample belongs to
// a family declared by HELP and TYPE lines before it, every value is a
// number. It returns the samples by "name{labels}".
func parseMetrics(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	samples, types := map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); strings.HasPrefix(line, "# TYPE ") && len(fields) == 4 {
			types[fields[2]] = fields[3]
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample line: %q", line)
		}
		family := m[1]
		if types[family] == "" {
			family = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(family, "_bucket"), "_sum"), "_count")
		}
		if types[family] == "" {
			t.Fatalf("sample %q before its TYPE line", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[m[1]+m[2]] = v
	}
	return samples
}

// TestMetrics makes known requests and reads /metrics back: it parses, and
// counts requests by route pattern and status, bytes in and out, latency
// observations and refused bundles by finding id.
// TestAccessLogRemoteIsThePeer: the access log's remote is the
// connection's peer, not what X-Forwarded-For or X-Real-IP claim (anyone
// can send them).
func TestAccessLogRemoteIsThePeer(t *testing.T) {
	r := backends(t)[0].start(t)
	r.do(t, "GET", "/v2/team/m/tags/list", nil, "X-Forwarded-For: 10.9.8.7", "X-Real-IP: 10.9.8.6")
	if log := r.log.String(); !strings.Contains(log, "remote=127.0.0.1") || strings.Contains(log, "10.9.8.") {
		t.Errorf("access log:\n%s\nwant remote=127.0.0.1, no forwarded address", log)
	}
}

func TestMetrics(t *testing.T) {
	mlp := buildFixture(t, "mlp", nil)
	r := backends(t)[0].start(t)
	blob := r.pushBlob(t, "team/m", []byte("0123456789"))
	r.pushBlob(t, "team/m", []byte("abcde"))
	for range 2 {
		r.do(t, "GET", "/v2/team/m/manifests/missing", nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
	}
	got := r.do(t, "GET", "/v2/team/m/blobs/"+blob.String(), nil)
	m := *mlp.built.Manifest
	m.Layers = m.Layers[:1] // weights only: no scaler
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	r.pushBundle(t, "team/m", "v1", mlp).expect(t, http.StatusCreated, "")
	r.do(t, "PUT", "/v2/team/m/manifests/bad", body, "Content-Type: "+manifest.MediaTypeImageManifest).refusal(t)
	for _, method := range []string{"BREW", "XYZZY"} { // any token is a method to net/http: one label for all
		r.do(t, method, "/healthz", nil)
	}

	resp := r.do(t, "GET", "/metrics", nil)
	resp.expect(t, http.StatusOK, "")
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	s := parseMetrics(t, resp.body)
	const manifests, blobs = `route="/v2/{name}/manifests/{reference}"`, `route="/v2/{name}/blobs/{digest}"`
	// Blobs are pushed in one POST to the collection (?digest=, 201), not on a session's route.
	const uploads, session = `route="/v2/{name}/blobs/uploads/"`, `route="/v2/{name}/blobs/uploads/{id}"`
	uploaded := float64(10 + 5 + len(mlp.weights))
	for _, b := range mlp.built.Blobs {
		uploaded += float64(len(b))
	}
	want := map[string]float64{
		`normreg_http_requests_total{` + manifests + `,method="GET",status="404"}`:  2,
		`normreg_http_requests_total{` + manifests + `,method="PUT",status="400"}`:  1,
		`normreg_http_requests_total{` + manifests + `,method="PUT",status="201"}`:  1,
		`normreg_http_requests_total{` + blobs + `,method="GET",status="200"}`:      1,
		`normreg_http_request_duration_seconds_count{` + manifests + `}`:            4,
		`normreg_http_request_duration_seconds_bucket{` + manifests + `,le="+Inf"}`: 4,
		`normreg_http_request_bytes_total{` + uploads + `}`:                         uploaded,
		`normreg_http_response_bytes_total{` + blobs + `}`:                          float64(len(got.body)),
		`normreg_http_request_bytes_total{` + manifests + `}`:                       float64(len(body) + len(mlp.built.ManifestBytes)),
		`normreg_bundles_rejected_total{finding="scaler-missing"}`:                  1,
		`normreg_http_requests_total{route="/healthz",method="other",status="405"}`: 2,
	}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("%s = %v, want %v", k, s[k], v)
		}
	}
	if n := s[`normreg_http_requests_total{`+uploads+`,method="POST",status="201"}`]; n < 2 {
		t.Errorf("blobs pushed to %s: %v, want at least 2", uploads, n)
	}
	if n := s[`normreg_http_requests_total{`+session+`,method="POST",status="201"}`]; n != 0 {
		t.Errorf("blobs pushed to the collection counted on %s: %v", session, n)
	}
	if s[`normreg_http_request_duration_seconds_bucket{`+manifests+`,le="0.001"}`] > s[`normreg_http_request_duration_seconds_bucket{`+manifests+`,le="30"}`] {
		t.Error("histogram buckets are not cumulative")
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", resp.body)
	}
}

// TestClientGoneIs499: a request whose client goes away while the registry
// waits on storage is logged at info as 499 (nginx's "client closed the
// request"), not as a 500 at error level.
func TestClientGoneIs499(t *testing.T) {
	b := backends(t)[0]
	healthy := b.driver
	b.driver = func(t *testing.T) storage.Driver { return stalledGets{Driver: healthy(t)} }
	r := b.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", r.url+"/v2/team/m/manifests/v1", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request got %d before its client went away", resp.StatusCode)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.log.String(), "status=499"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no 499 logged:\n%s", r.log)
		}
	}
	if log := r.log.String(); strings.Contains(log, "level=ERROR") {
		t.Errorf("a client that went away logged as an error:\n%s", log)
	}
}

// stalledGets is a storage driver whose Gets wait until their request ends.
type stalledGets struct{ storage.Driver }

// Get implements storage.Driver.
func (stalledGets) Get(ctx context.Context, key string, max int64) ([]byte, string, error) {
	<-ctx.Done()
	return nil, "", ctx.Err()
}
