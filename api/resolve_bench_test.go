package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
)

// BenchmarkHeadManifestByTag is a tag resolve, HEAD
// /v2/<name>/manifests/<tag>, through the whole handler (middleware,
// routing, the tag and manifest reads on the fs driver) without the
// network, with request lines logged (level info, the default) and not
// (level error).
func BenchmarkHeadManifestByTag(b *testing.B) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelError} {
		b.Run("log="+level.String(), func(b *testing.B) {
			h, size := taggedRegistry(b, level)
			req := httptest.NewRequest(http.MethodHead, "/v2/bench/model/manifests/v1", nil)
			w := &headWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.header)
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK || w.header.Get("Content-Length") != size {
					b.Fatalf("status %d, Content-Length %q; want 200, %s", w.status, w.header.Get("Content-Length"), size)
				}
			}
		})
	}
}

// taggedRegistry returns a registry handler on a fresh fs store whose
// bench/model:v1 is an image manifest, logging at level to io.Discard, and
// the manifest's size.
func taggedRegistry(b *testing.B, level slog.Level) (http.Handler, string) {
	d, err := fs.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	store, ctx := storage.New(d), context.Background()
	body := imageManifest("", nil, []byte("{}"), []byte("layer"))
	mf := storage.Manifest{Digest: artifact.FromBytes(artifact.SHA256, body), MediaType: manifest.MediaTypeImageManifest, Data: body}
	if err := store.Manifests.Put(ctx, "bench/model", mf, "", artifact.Descriptor{}); err != nil {
		b.Fatal(err)
	}
	if err := store.Tags.Set(ctx, "bench/model", "v1", mf.Digest, "", nil); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))
	return api.New(api.Config{Store: store, Logger: log}), strconv.Itoa(len(body))
}

// headWriter is a ResponseWriter that keeps the status and headers and
// drops the body.
type headWriter struct {
	header http.Header
	status int
}

func (w *headWriter) Header() http.Header         { return w.header }
func (w *headWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *headWriter) WriteHeader(status int)      { w.status = status }
