package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
)

// Scrub stores two blobs on d, one by Blobs.Put and one by an upload
// committed without a copy (moved into place, or by reference on a driver
// without Move; byRef says which d does), damages the second's bytes behind
// the store's back (through d, at the key storage/keys.go documents), and
// checks that Blobs.Scrub names it (and only it), that with remove it
// deletes its bytes so that the blob reads as unknown, and that pushing it
// again stores it again.
func Scrub(t *testing.T, d storage.Driver, byRef bool) {
	s := storage.New(d)
	ctx := context.Background()
	intact, damaged := "intact blob", "blob that will be damaged"
	putBlob(t, s, "m", intact)
	id, err := s.Uploads.Start(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Uploads.Append(ctx, "m", id, 0, -1, strings.NewReader(damaged)); err != nil {
		t.Fatal(err)
	}
	dg := digestOf(artifact.SHA256, damaged)
	if _, err := s.Uploads.Commit(ctx, "m", id, dg, nil); err != nil {
		t.Fatal(err)
	}
	held := bytesKey(t, d, dg)
	if got := strings.HasPrefix(held, "blobdata/"); got != byRef {
		t.Fatalf("the upload's bytes are at %s", held)
	}
	if err := d.Put(ctx, held, strings.NewReader(strings.ToUpper(damaged)), int64(len(damaged))); err != nil {
		t.Fatal(err)
	}
	for _, remove := range []bool{false, true} {
		var found []storage.CorruptBlob
		checked, err := s.Blobs.Scrub(ctx, remove, func(c storage.CorruptBlob) { found = append(found, c) })
		if err != nil || checked != 2 || len(found) != 1 || found[0].Digest != dg || !errors.Is(found[0].Err, artifact.ErrDigestMismatch) || found[0].Removed != remove {
			t.Fatalf("Scrub(remove=%v) = %d checked, %+v, %v; want 2 checked and %s corrupt", remove, checked, found, err, dg)
		}
	}
	if _, err := s.Blobs.Stat(ctx, "m", dg); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("after Scrub with remove, Stat = %v, want blob unknown", err)
	}
	putBlob(t, s, "m", damaged)
	if got := ReadBlob(t, s, "m", dg, 0); got != damaged {
		t.Fatalf("pushed again, the blob reads %q", got)
	}
	if checked, err := s.Blobs.Scrub(ctx, false, func(c storage.CorruptBlob) { t.Errorf("still corrupt: %+v", c) }); err != nil || checked != 2 {
		t.Fatalf("Scrub after the repair: %d checked, %v", checked, err)
	}
}

// bytesKey is the key holding blob dg's bytes: its own, or the blob data
// its reference names (storage/keys.go).
func bytesKey(t *testing.T, d storage.Driver, dg artifact.Digest) string {
	t.Helper()
	own := "blobs/sha256/" + dg.Hex()
	if _, err := d.Stat(context.Background(), own); err == nil {
		return own
	}
	raw, _, err := d.Get(context.Background(), "blobrefs/sha256/"+dg.Hex(), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	var ref struct{ Key string }
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	return ref.Key
}
