package fs_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/storagetest"
)

// TestScrub stores two blobs, one by Blobs.Put and one by an upload
// committed without a copy (moved into place, or by reference on a driver
// without Move), damages the second's bytes behind the store's back, and
// checks that Scrub names it (and only it), that with remove it deletes
// its bytes so that the blob reads as unknown, and that pushing it again
// stores it again.
func TestScrub(t *testing.T) {
	for _, name := range []string{"move", "no-move"} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			s := storage.New(drivers(t, root)[name])
			ctx := context.Background()
			intact, damaged := "intact blob", "blob that will be damaged"
			putBlob(t, s, intact)
			id, err := s.Uploads.Start(ctx, "m")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Uploads.Append(ctx, "m", id, 0, -1, strings.NewReader(damaged)); err != nil {
				t.Fatal(err)
			}
			d := artifact.FromBytes(artifact.SHA256, []byte(damaged))
			if _, err := s.Uploads.Commit(ctx, "m", id, d, nil); err != nil {
				t.Fatal(err)
			}
			held := bytesOf(t, root, d)
			if byRef := strings.Contains(held, "blobdata"); byRef != (name == "no-move") {
				t.Fatalf("%s: the upload's bytes are at %s", name, held)
			}
			if err := os.WriteFile(held, []byte(strings.ToUpper(damaged)), 0o644); err != nil {
				t.Fatal(err)
			}

			for _, remove := range []bool{false, true} {
				var found []storage.CorruptBlob
				checked, err := s.Blobs.Scrub(ctx, remove, func(c storage.CorruptBlob) { found = append(found, c) })
				if err != nil || checked != 2 || len(found) != 1 || found[0].Digest != d || !errors.Is(found[0].Err, artifact.ErrDigestMismatch) || found[0].Removed != remove {
					t.Fatalf("Scrub(remove=%v) = %d checked, %+v, %v; want 2 checked and %s corrupt", remove, checked, found, err, d)
				}
				if !remove {
					if got := storagetest.ReadBlob(t, s, "m", d, 0); got == damaged {
						t.Fatal("the damage did not take")
					}
				}
			}
			if _, err := s.Blobs.Stat(ctx, "m", d); !errors.Is(err, storage.ErrBlobUnknown) {
				t.Fatalf("after Scrub --remove, Stat = %v, want blob unknown", err)
			}
			putBlob(t, s, damaged)
			if got := storagetest.ReadBlob(t, s, "m", d, 0); got != damaged {
				t.Fatalf("pushed again, the blob reads %q", got)
			}
			if checked, err := s.Blobs.Scrub(ctx, false, func(c storage.CorruptBlob) { t.Errorf("still corrupt: %+v", c) }); err != nil || checked != 2 {
				t.Fatalf("Scrub after the repair: %d checked, %v", checked, err)
			}
		})
	}
}

// putBlob stores content as a blob of repository m.
func putBlob(t *testing.T, s *storage.Store, content string) {
	t.Helper()
	d := artifact.FromBytes(artifact.SHA256, []byte(content))
	if _, err := s.Blobs.Put(context.Background(), "m", d, int64(len(content)), strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
}

// bytesOf is the file under root holding blob d's bytes: its own key, or
// the blob data its reference names (storage/keys.go).
func bytesOf(t *testing.T, root string, d artifact.Digest) string {
	t.Helper()
	own := filepath.Join(root, "blobs", "sha256", d.Hex())
	if _, err := os.Stat(own); err == nil {
		return own
	}
	raw, err := os.ReadFile(filepath.Join(root, "blobrefs", "sha256", d.Hex()))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct{ Key string }
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, filepath.FromSlash(ref.Key))
}
