package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// blob returns n random bytes and their descriptor.
func blob(t *testing.T, n int) ([]byte, artifact.Descriptor) {
	b := make([]byte, n)
	rand.Read(b)
	return b, artifact.Descriptor{MediaType: "application/octet-stream", Digest: artifact.FromBytes(artifact.SHA256, b), Size: int64(n)}
}

// pushImage pushes a config and one layer, and a manifest of them under tag.
func pushImage(t *testing.T, c *client.Client, repo, tag string) (artifact.Digest, []byte) {
	ctx := context.Background()
	cfg := []byte(`{"model":"m"}`)
	cfgDesc := artifact.Descriptor{MediaType: "application/vnd.normreg.config.v1+json", Digest: artifact.FromBytes(artifact.SHA256, cfg), Size: int64(len(cfg))}
	layer, layerDesc := blob(t, 3<<20+17)
	for _, b := range []struct {
		data []byte
		desc artifact.Descriptor
	}{{cfg, cfgDesc}, {layer, layerDesc}} {
		if err := c.PushBlob(ctx, repo, b.desc, bytes.NewReader(b.data)); err != nil {
			t.Fatalf("PushBlob: %v", err)
		}
	}
	mf, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": manifest.MediaTypeImageManifest,
		"artifactType": "application/vnd.test.model", // not a bundle: the registry would check it
		"config":       cfgDesc, "layers": []artifact.Descriptor{layerDesc},
	})
	d, err := c.PushManifest(ctx, repo, tag, manifest.MediaTypeImageManifest, mf)
	if err != nil {
		t.Fatalf("PushManifest: %v", err)
	}
	return d, layer
}

func TestAgainstDistribution(t *testing.T) {
	host, root := registrytest.Distribution(t)
	ctx := context.Background()
	c := client.New(host, client.Options{PageSize: 2})
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	d, layer := pushImage(t, c, "team/model", "v1")
	layerDigest := artifact.FromBytes(artifact.SHA256, layer)

	t.Run("manifest", func(t *testing.T) {
		desc, err := c.ResolveManifest(ctx, "team/model", "v1")
		if err != nil || desc.Digest != d || desc.MediaType != manifest.MediaTypeImageManifest {
			t.Fatalf("ResolveManifest = %+v, %v; want digest %s", desc, err, d)
		}
		got, data, err := c.FetchManifest(ctx, "team/model", d.String())
		if err != nil || got.Digest != d || got.Size != int64(len(data)) || !bytes.Contains(data, []byte(layerDigest)) {
			t.Fatalf("FetchManifest = %+v, %d bytes, %v", got, len(data), err)
		}
	})
	t.Run("blob", func(t *testing.T) {
		if n, err := c.StatBlob(ctx, "team/model", layerDigest); err != nil || n != int64(len(layer)) {
			t.Fatalf("StatBlob = %d, %v; want %d", n, err, len(layer))
		}
		rc, err := c.FetchBlob(ctx, "team/model", artifact.Descriptor{Digest: layerDigest, Size: int64(len(layer))})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, layer) {
			t.Fatalf("FetchBlob: %d bytes, %v", len(got), err)
		}
		rc, err = c.FetchBlobRange(ctx, "team/model", layerDigest, 1000, 8)
		if err != nil {
			t.Fatal(err)
		}
		part, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(part, layer[1000:1008]) {
			t.Fatalf("FetchBlobRange = %x, %v; want %x", part, err, layer[1000:1008])
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := c.ResolveManifest(ctx, "team/model", "nope")
		if !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
			t.Fatalf("resolving an unknown tag: %v, want ErrNotFound naming MANIFEST_UNKNOWN", err)
		}
		_, _, err = c.FetchManifest(ctx, "team/model", "nope")
		if !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
			t.Fatalf("unknown tag: %v, want ErrNotFound naming MANIFEST_UNKNOWN", err)
		}
		_, missing := blob(t, 10)
		if _, err := c.StatBlob(ctx, "team/model", missing.Digest); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("StatBlob of a missing blob: %v, want ErrNotFound", err)
		}
	})
	t.Run("wrong digest", func(t *testing.T) {
		data, desc := blob(t, 1000)
		data[0] ^= 1
		err := c.PushBlob(ctx, "team/model", desc, bytes.NewReader(data))
		if !errors.Is(err, artifact.ErrDigestMismatch) || !strings.Contains(err.Error(), "DIGEST_INVALID") {
			t.Fatalf("PushBlob of wrong bytes: %v, want DIGEST_INVALID", err)
		}
		if _, err := c.StatBlob(ctx, "team/model", desc.Digest); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("wrong bytes were stored: %v", err)
		}
	})
	t.Run("tags and catalog", func(t *testing.T) {
		for _, tag := range []string{"a", "b", "c"} {
			if err := c.Tag(ctx, "team/model", d, tag); err != nil {
				t.Fatal(err)
			}
		}
		pushImage(t, c, "other", "x")
		tags, err := c.Tags(ctx, "team/model")
		if want := []string{"a", "b", "c", "v1"}; err != nil || !slices.Equal(tags, want) {
			t.Fatalf("Tags = %v, %v; want %v (paged by 2)", tags, err, want)
		}
		repos, err := c.Catalog(ctx)
		if want := []string{"other", "team/model"}; err != nil || !slices.Equal(repos, want) {
			t.Fatalf("Catalog = %v, %v; want %v", repos, err, want)
		}
	})
	t.Run("corrupt blob", func(t *testing.T) {
		data, desc := blob(t, 5000)
		if err := c.PushBlob(ctx, "team/model", desc, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		hex := desc.Digest.Hex()
		path := filepath.Join(root, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data")
		data[10] ^= 0xff
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rc, err := c.FetchBlob(ctx, "team/model", desc)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if _, err := io.Copy(io.Discard, rc); !errors.Is(err, artifact.ErrDigestMismatch) {
			t.Fatalf("reading a corrupted blob: %v, want ErrDigestMismatch", err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		od, err := c.ResolveManifest(ctx, "other", "x")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.DeleteManifest(ctx, "other", od.Digest); err != nil {
			t.Fatalf("DeleteManifest: %v", err)
		}
		if _, _, err := c.FetchManifest(ctx, "other", od.Digest.String()); !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("after delete: %v, want ErrNotFound", err)
		}
	})
}

// schemes counts requests per Authorization scheme.
type schemes struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *schemes) add(scheme string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n[scheme]++
}

func (s *schemes) get(scheme string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[scheme]
}

func (s *schemes) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.n)
}

// basicGate is a reverse proxy to a registry that lets through only requests
// with Basic credentials token:secret, answering others 401 with a Basic
// challenge, and counts the requests it saw per Authorization scheme.
func basicGate(t *testing.T, host, secret string) (string, *schemes) {
	target, _ := url.Parse("http://" + host)
	proxy := httputil.NewSingleHostReverseProxy(target)
	seen := &schemes{n: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		seen.add(scheme)
		if u, p, ok := r.BasicAuth(); !ok || u != "token" || p != secret {
			w.Header().Set("WWW-Authenticate", `Basic realm="normreg"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), seen
}

func TestBasicChallenge(t *testing.T) {
	host, _ := registrytest.Distribution(t)
	gate, seen := basicGate(t, host, "s3cret")
	ctx := context.Background()

	anon := client.New(gate, client.Options{})
	err := anon.Ping(ctx)
	if !errors.Is(err, client.ErrUnauthorized) || !strings.Contains(err.Error(), "UNAUTHORIZED: authentication required") {
		t.Fatalf("anonymous Ping: %v, want ErrUnauthorized naming the code", err)
	}
	wrong := client.New(gate, client.Options{Token: "nope"})
	if err := wrong.Ping(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("wrong token: %v, want ErrUnauthorized", err)
	}

	c := client.New(gate, client.Options{Token: "s3cret"})
	seen.reset()
	pushImage(t, c, "gated", "v1")
	if seen.get("Bearer") != 1 || seen.get("Basic") < 4 {
		t.Fatalf("requests per scheme %v: want one Bearer, then Basic only", seen.n)
	}
	if tags, err := c.Tags(ctx, "gated"); err != nil || !slices.Equal(tags, []string{"v1"}) {
		t.Fatalf("Tags through the gate = %v, %v", tags, err)
	}
}
