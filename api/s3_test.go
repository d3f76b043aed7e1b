package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/s3"
)

// s3Backend returns the S3 backend on a fresh prefix of the bucket that
// NORMREG_TEST_S3_ENDPOINT and NORMREG_TEST_S3_BUCKET name (eval "$(scripts/s3.sh start)"),
// or an unavailable backend when they are not set.
func s3Backend(t *testing.T) backend {
	return s3BackendWith(t, func(*s3.Config) {})
}

// s3BackendWith is s3Backend with its config changed by tune.
func s3BackendWith(t *testing.T, tune func(*s3.Config)) backend {
	endpoint, bucket := os.Getenv("NORMREG_TEST_S3_ENDPOINT"), os.Getenv("NORMREG_TEST_S3_BUCKET")
	if endpoint == "" || bucket == "" {
		return backend{name: "s3", unavailable: `no S3 server: NORMREG_TEST_S3_ENDPOINT and NORMREG_TEST_S3_BUCKET are unset (eval "$(scripts/s3.sh start)")`}
	}
	cfg := s3.Config{
		Bucket: bucket, Endpoint: endpoint, Region: os.Getenv("AWS_REGION"),
		Prefix: fmt.Sprintf("api-test/%s-%d", t.Name(), time.Now().UnixNano()),
	}
	tune(&cfg)
	return backend{name: "s3", driver: func(t *testing.T) storage.Driver {
		d, err := s3.New(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}}
}

// TestStreamedUploadSinglePut: with single-put-max, a blob sent as one
// PATCH of known length beyond a part is stored with one PutObject (its
// object's ETag is a plain MD5, not a multipart ETag ending in -N), and
// committed by reference as any streamed upload.
func TestStreamedUploadSinglePut(t *testing.T) {
	b := s3BackendWith(t, func(cfg *s3.Config) { cfg.PartSize, cfg.SinglePutMax = s3.MinPartSize, 4*s3.MinPartSize })
	if b.unavailable != "" {
		registrytest.Unavailable(t, "%s", b.unavailable)
	}
	r := b.start(t)
	data := bytes.Repeat([]byte("single put "), s3.MinPartSize/10)
	d := artifact.FromBytes(artifact.SHA256, data)
	loc := r.patchWhole(t, "team/model", data)
	r.do(t, "PUT", loc+"?digest="+d.String(), nil).expect(t, 201, "")
	r.expectBlob(t, "team/model", d, data)
	drv, ctx := b.driver(t), context.Background()
	ref, _, err := drv.Get(ctx, "blobrefs/sha256/"+d.Hex(), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	var blobRef struct{ Key string }
	if err := json.Unmarshal(ref, &blobRef); err != nil {
		t.Fatalf("blob reference %q: %v", ref, err)
	}
	info, err := drv.Stat(ctx, blobRef.Key)
	if err != nil || info.Size != int64(len(data)) || strings.Contains(info.Version, "-") {
		t.Fatalf("the blob's data %s: %+v, %v; want %d bytes stored by one PutObject", blobRef.Key, info, err, len(data))
	}
}

// TestStorageDownIs503 runs the registry on S3 through a TCP forwarder and
// then closes the forwarder, as when the S3 server goes down: /readyz and a
// push answer 503 UNAVAILABLE without the cause (the S3 address) in the
// body, where a registry bug would answer 500 UNKNOWN.
func TestStorageDownIs503(t *testing.T) {
	b := s3Backend(t)
	if b.unavailable != "" {
		registrytest.Unavailable(t, "%s", b.unavailable)
	}
	endpoint, _ := url.Parse(os.Getenv("NORMREG_TEST_S3_ENDPOINT"))
	fwd := forward(t, endpoint.Host)
	r := s3BackendWith(t, func(cfg *s3.Config) { cfg.Endpoint = "http://" + fwd.addr() }).start(t)
	r.do(t, "GET", "/readyz", nil).expect(t, 200, "")
	fwd.close()
	for _, req := range []struct{ method, path string }{{"GET", "/readyz"}, {"POST", "/v2/team/model/blobs/uploads/"}} {
		resp := r.do(t, req.method, req.path, nil)
		resp.expect(t, 503, "UNAVAILABLE")
		if strings.Contains(string(resp.body), fwd.addr()) {
			t.Errorf("%s %s: the body names the storage's address: %s", req.method, req.path, resp.body)
		}
	}
}

// s3Target returns the test S3 server's endpoint, for a proxy in front of
// it; the test fails (or skips, outside NORMREG_TEST_REQUIRE) without one.
func s3Target(t *testing.T) *url.URL {
	t.Helper()
	if b := s3Backend(t); b.unavailable != "" {
		registrytest.Unavailable(t, "%s", b.unavailable)
	}
	target, err := url.Parse(os.Getenv("NORMREG_TEST_S3_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	return target
}

// TestS3ServerErrorsAre503 runs the registry on S3 through an HTTP proxy
// that, while told to, answers every S3 request with an S3 error: 503
// SlowDown, 503 ServiceUnavailable, 500 InternalError. Requests that need
// storage then answer 503 UNAVAILABLE (retryable) without the S3 error in
// the body, where they answered 500 UNKNOWN, and all is well again once
// S3 is.
func TestS3ServerErrorsAre503(t *testing.T) {
	target := s3Target(t)
	type s3Error struct {
		status int
		code   string
	}
	var failing atomic.Pointer[s3Error]
	proxy := httputil.NewSingleHostReverseProxy(target)
	s3Server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		e := failing.Load()
		if e == nil {
			proxy.ServeHTTP(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(e.status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the test</Message><RequestId>test</RequestId></Error>`, e.code)
	}))
	t.Cleanup(s3Server.Close)
	r := s3BackendWith(t, func(cfg *s3.Config) { cfg.Endpoint = s3Server.URL }).start(t)
	for _, e := range []s3Error{{503, "SlowDown"}, {503, "ServiceUnavailable"}, {500, "InternalError"}} {
		failing.Store(&e)
		for _, req := range []struct{ method, path string }{{"GET", "/v2/team/model/manifests/v1"}, {"POST", "/v2/team/model/blobs/uploads/"}} {
			resp := r.do(t, req.method, req.path, nil)
			resp.expect(t, 503, "UNAVAILABLE")
			if strings.Contains(string(resp.body), e.code) {
				t.Errorf("S3 %d %s: %s %s: the body names the S3 error: %s", e.status, e.code, req.method, req.path, resp.body)
			}
		}
	}
	failing.Store(nil)
	r.do(t, "GET", "/readyz", nil).expect(t, 200, "")
	r.do(t, "GET", "/v2/team/model/manifests/v1", nil).expect(t, 404, "MANIFEST_UNKNOWN")
}

// TestS3BodyCutOffDuringChecksIs503: an S3 connection broken off in the
// middle of a blob's body, while the push-time checks read the config, the
// weights, the scaler or the BatchNorm statistics, answers the manifest PUT
// 503 UNAVAILABLE and stores nothing; it answered 400 MANIFEST_INVALID
// ("invalid safetensors: ... unexpected EOF"), a scaler-missing refusal, or
// 500 UNKNOWN.
func TestS3BodyCutOffDuringChecksIs503(t *testing.T) {
	target := s3Target(t)
	var cut atomic.Pointer[string] // the hex digest whose GETs are cut off
	proxy := httputil.NewSingleHostReverseProxy(target)
	s3Server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		hex := cut.Load()
		if hex == nil || req.Method != http.MethodGet || !strings.Contains(req.URL.Path, *hex) {
			proxy.ServeHTTP(w, req)
			return
		}
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host, out.RequestURI = target.Scheme, target.Host, "" // Host stays the signed one
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			t.Errorf("proxying %s: %v", req.URL, err)
			return
		}
		defer resp.Body.Close()
		maps.Copy(w.Header(), resp.Header)
		w.WriteHeader(resp.StatusCode)
		io.CopyN(w, resp.Body, 100)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection closes mid-body
	}))
	t.Cleanup(s3Server.Close)
	r := s3BackendWith(t, func(cfg *s3.Config) { cfg.Endpoint = s3Server.URL }).start(t)
	mlp := buildFixture(t, "mlp", nil)
	for _, b := range mlp.built.Blobs {
		r.pushBlob(t, "team/model", b)
	}
	r.pushBlob(t, "team/model", mlp.weights)
	layers := append([]artifact.Descriptor{*mlp.built.Manifest.Config}, mlp.built.Manifest.Layers...)
	for _, l := range layers {
		hex := l.Digest.Hex()
		cut.Store(&hex)
		resp := r.do(t, "PUT", "/v2/team/model/manifests/v1", mlp.built.ManifestBytes, "Content-Type: "+manifest.MediaTypeImageManifest)
		if resp.status != http.StatusServiceUnavailable || !strings.Contains(string(resp.body), "UNAVAILABLE") {
			t.Errorf("%s cut off mid-body: %d %s, want 503 UNAVAILABLE", l.MediaType, resp.status, resp.body)
		}
	}
	cut.Store(nil)
	r.do(t, "GET", "/v2/team/model/manifests/v1", nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
	r.do(t, "PUT", "/v2/team/model/manifests/v1", mlp.built.ManifestBytes, "Content-Type: "+manifest.MediaTypeImageManifest).expect(t, http.StatusCreated, "")
}

// forwarder passes TCP connections on to an address until closed.
type forwarder struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

// forward starts a forwarder to target on a free loopback port.
func forward(t *testing.T, target string) *forwarder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln}
	t.Cleanup(f.close)
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, in, out)
			f.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return f
}

// addr is the forwarder's host:port.
func (f *forwarder) addr() string { return f.ln.Addr().String() }

// close stops accepting and cuts every connection: the address then refuses connections.
func (f *forwarder) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
}
