package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
)

// TestManifestGetSeesOtherStores: a store that has read a manifest (and
// keeps its bytes) still sees another store on the same storage delete it,
// push it again with another media type, and does not serve it from a
// repository that never held it.
func TestManifestGetSeesOtherStores(t *testing.T) {
	root, ctx := t.TempDir(), context.Background()
	a, b := fsStore(t, root), fsStore(t, root)
	body := []byte(`{"schemaVersion":2}`)
	mf := storage.Manifest{Digest: artifact.FromBytes(artifact.SHA256, body), MediaType: "application/vnd.oci.image.manifest.v1+json", Data: body}
	if err := b.Manifests.Put(ctx, "team/model", mf, "", artifact.Descriptor{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got, err := a.Manifests.Get(ctx, "team/model", mf.Digest); err != nil || string(got.Data) != string(body) {
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
	mf.MediaType = "application/vnd.docker.distribution.manifest.v2+json"
	if err := b.Manifests.Put(ctx, "team/model", mf, "", artifact.Descriptor{}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Manifests.Get(ctx, "team/model", mf.Digest); err != nil || got.MediaType != mf.MediaType {
		t.Errorf("Get after another store's Put = %+v, %v; want media type %s", got, err, mf.MediaType)
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
