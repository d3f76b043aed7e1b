package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
)

// TestManifestGetSeesOtherStores: a store that has read a manifest (and
// keeps its bytes) still sees another store on the same storage delete it
// and push it again, and does not serve it from a repository that never
// held it; for bytes that declare their media type and for bytes that do not.
func TestManifestGetSeesOtherStores(t *testing.T) {
	for name, body := range map[string]string{
		"declared":   `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`,
		"undeclared": `{"schemaVersion":2}`,
	} {
		t.Run(name, func(t *testing.T) {
			root, ctx := t.TempDir(), context.Background()
			a, b := fsStore(t, root), fsStore(t, root)
			mf := storage.Manifest{Digest: artifact.FromBytes(artifact.SHA256, []byte(body)), MediaType: manifest.MediaTypeImageManifest, Data: []byte(body)}
			put(t, b, mf)
			for range 2 {
				if got, err := a.Manifests.Get(ctx, "team/model", mf.Digest); err != nil || string(got.Data) != body || got.MediaType != mf.MediaType {
					t.Fatalf("Get = %+v, %v", got, err)
				}
			}
			if _, err := a.Manifests.Get(ctx, "other", mf.Digest); !errors.Is(err, storage.ErrManifestUnknown) {
				t.Errorf("Get from a repository without the manifest: %v", err)
			}
			if err := b.Manifests.Delete(ctx, "team/model", mf.Digest); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Manifests.Get(ctx, "team/model", mf.Digest); !errors.Is(err, storage.ErrManifestUnknown) {
				t.Errorf("Get after another store's Delete: %v", err)
			}
			put(t, b, mf)
			if got, err := a.Manifests.Get(ctx, "team/model", mf.Digest); err != nil || got.MediaType != mf.MediaType {
				t.Errorf("Get after another store's Put = %+v, %v", got, err)
			}
		})
	}
}

// TestManifestPutMediaType: bytes without a mediaType may be stored under
// any media type, and a later Get returns it; bytes with one only under it.
func TestManifestPutMediaType(t *testing.T) {
	ctx, s := context.Background(), fsStore(t, t.TempDir())
	plain := []byte(`{"schemaVersion":2}`)
	mf := storage.Manifest{Digest: artifact.FromBytes(artifact.SHA256, plain), MediaType: "application/vnd.docker.distribution.manifest.v2+json", Data: plain}
	put(t, s, mf)
	if got, err := s.Manifests.Get(ctx, "team/model", mf.Digest); err != nil || got.MediaType != mf.MediaType {
		t.Errorf("Get = %+v, %v; want media type %s", got, err, mf.MediaType)
	}
	declared := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}`)
	mf = storage.Manifest{Digest: artifact.FromBytes(artifact.SHA256, declared), MediaType: manifest.MediaTypeImageManifest, Data: declared}
	if err := s.Manifests.Put(ctx, "team/model", mf, "", artifact.Descriptor{}); !errors.Is(err, manifest.ErrManifestInvalid) {
		t.Errorf("Put under another media type than declared: %v, want ErrManifestInvalid", err)
	}
	if _, err := s.Manifests.Get(ctx, "team/model", mf.Digest); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("a refused Put stored the manifest: %v", err)
	}
}

// put stores mf in team/model of s.
func put(t *testing.T, s *storage.Store, mf storage.Manifest) {
	t.Helper()
	if err := s.Manifests.Put(context.Background(), "team/model", mf, "", artifact.Descriptor{}); err != nil {
		t.Fatal(err)
	}
}

// fsStore returns a Store on an fs driver at root.
func fsStore(t *testing.T, root string) *storage.Store {
	t.Helper()
	d, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return storage.New(d)
}
