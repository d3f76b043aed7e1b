package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
)

// backend names a storage and builds drivers on one shared location of it,
// so that several registry servers can be started on the same storage.
type backend struct {
	name        string
	driver      func(t *testing.T) storage.Driver
	unavailable string // why the backend cannot run here; "" when it can
}

// backends returns the fs backend and the S3 backend; the latter is
// unavailable unless the environment names an S3 server.
func backends(t *testing.T) []backend {
	root := t.TempDir()
	fsBackend := backend{name: "fs", driver: func(t *testing.T) storage.Driver {
		d, err := fs.New(root)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}}
	return []backend{fsBackend, s3Backend(t)}
}

// forEachBackend runs test as a subtest on every backend.
func forEachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			if b.unavailable != "" {
				registrytest.Unavailable(t, "%s", b.unavailable)
			}
			test(t, b)
		})
	}
}

// registry is a registry server under test.
type registry struct {
	url string
	log *logBuffer
}

// start runs an api server on a fresh driver of b.
func (b backend) start(t *testing.T) *registry {
	t.Helper()
	return b.startWith(t, api.Config{})
}

// startWith runs an api server configured by cfg on a fresh driver of b;
// cfg's Store and Logger are set here.
func (b backend) startWith(t *testing.T, cfg api.Config) *registry {
	t.Helper()
	log := &logBuffer{}
	cfg.Store, cfg.Logger = storage.New(b.driver(t)), slog.New(slog.NewTextHandler(log, nil))
	srv := httptest.NewServer(api.New(cfg))
	t.Cleanup(srv.Close)
	return &registry{url: srv.URL, log: log}
}

// logBuffer is a concurrency-safe request log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// response is what a test request returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to the registry; header is "Key: value" lines.
func (r *registry) do(t *testing.T, method, path string, body []byte, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	return send(t, http.DefaultClient, req)
}

// send sends req with hc and reads the whole response.
func send(t *testing.T, hc *http.Client, req *http.Request) response {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return readResponse(t, resp)
}

// readResponse reads resp whole and closes its body.
func readResponse(t *testing.T, resp *http.Response) response {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// expect fails the test unless the response has the status and, when code
// is not "", carries that OCI error code.
func (resp response) expect(t *testing.T, status int, code string) {
	t.Helper()
	if resp.status != status {
		t.Fatalf("status %d, want %d; body %s", resp.status, status, resp.body)
	}
	if code == "" {
		return
	}
	var e struct {
		Errors []struct {
			Code, Message string
			Detail        json.RawMessage
		}
	}
	if err := json.Unmarshal(resp.body, &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Code != code {
		t.Fatalf("error body %s, want one error with code %s", resp.body, code)
	}
}

// pushBlob uploads data monolithically into repo and returns its digest.
func (r *registry) pushBlob(t *testing.T, repo string, data []byte) artifact.Digest {
	t.Helper()
	d := artifact.FromBytes(artifact.SHA256, data)
	r.do(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), data).expect(t, http.StatusCreated, "")
	return d
}

// imageManifest returns an image manifest over config and layers, with
// artifactType and subject when not empty.
func imageManifest(artifactType string, subject *artifact.Descriptor, config []byte, layers ...[]byte) []byte {
	m := manifest.Manifest{
		SchemaVersion: 2, MediaType: manifest.MediaTypeImageManifest, ArtifactType: artifactType, Subject: subject,
		Config: &artifact.Descriptor{MediaType: "application/vnd.test.config+json", Digest: artifact.FromBytes(artifact.SHA256, config), Size: int64(len(config))},
		Layers: []artifact.Descriptor{},
	}
	for _, l := range layers {
		m.Layers = append(m.Layers, artifact.Descriptor{MediaType: "application/octet-stream", Digest: artifact.FromBytes(artifact.SHA256, l), Size: int64(len(l))})
	}
	data, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return data
}

// pushImage pushes config, layers and an image manifest under ref (by its
// digest when ref is "") and returns the manifest's descriptor.
func (r *registry) pushImage(t *testing.T, repo, ref, artifactType string, subject *artifact.Descriptor, config []byte, layers ...[]byte) artifact.Descriptor {
	t.Helper()
	for _, b := range append([][]byte{config}, layers...) {
		r.pushBlob(t, repo, b)
	}
	body := imageManifest(artifactType, subject, config, layers...)
	d := artifact.FromBytes(artifact.SHA256, body)
	if ref == "" {
		ref = d.String()
	}
	resp := r.do(t, "PUT", "/v2/"+repo+"/manifests/"+ref, body, "Content-Type: "+manifest.MediaTypeImageManifest)
	resp.expect(t, http.StatusCreated, "")
	if got := resp.header.Get("Docker-Content-Digest"); got != d.String() {
		t.Fatalf("Docker-Content-Digest %q, want %s", got, d)
	}
	return artifact.Descriptor{MediaType: manifest.MediaTypeImageManifest, Digest: d, Size: int64(len(body))}
}

// dialRequest opens a raw connection to r and sends the header of a
// request announcing a body of length bytes, for tests that then send less.
func (r *registry) dialRequest(t *testing.T, method, path string, length int) net.Conn {
	t.Helper()
	u, err := url.Parse(r.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", method, path, u.Host, length)
	return conn
}
