package fs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
	"github.com/normreg/normreg/storage/storagetest"
)

func TestDriver(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		root := t.TempDir()
		t.Cleanup(func() { noTempFiles(t, root) })
		return newDriver(t, root)
	})
}

// TestDriverWithoutMove runs the suite on the fs driver with its Move
// hidden, as the stores see S3: one-chunk uploads are committed by blob
// references to their blob data.
func TestDriverWithoutMove(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		root := t.TempDir()
		t.Cleanup(func() { noTempFiles(t, root) })
		return noMove{newDriver(t, root)}
	})
}

// noMove is a Driver without Move, whatever it wraps.
type noMove struct{ storage.Driver }

// newDriver is an fs driver at root.
func newDriver(t *testing.T, root string) storage.Driver {
	d, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// drivers are the fs driver at root as itself and without Move.
func drivers(t *testing.T, root string) map[string]storage.Driver {
	d := newDriver(t, root)
	return map[string]storage.Driver{"move": d, "no-move": noMove{d}}
}

// noTempFiles fails the test if a temp file or a staged first chunk of an
// upload was left under root.
func noTempFiles(t *testing.T, root string) {
	left, err := os.ReadDir(filepath.Join(root, ".tmp"))
	if err != nil || len(left) > 0 {
		t.Errorf("temp files left behind: %d (%v)", len(left), err)
	}
	if staged, err := os.ReadDir(filepath.Join(root, "uploads", "_staged")); !os.IsNotExist(err) {
		t.Errorf("staged chunks left behind: %d (%v)", len(staged), err)
	}
}

// newSession opens an upload session of repository "m" in a store on d.
func newSession(t *testing.T, d storage.Driver) (*storage.Store, string) {
	s := storage.New(d)
	id, err := s.Uploads.Start(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	return s, id
}

// TestFirstChunkRace: of concurrent first chunks of one session, exactly one
// is stored, and a Commit without a copy (by move, or by reference) gives
// exactly its bytes: a loser's digest is refused.
func TestFirstChunkRace(t *testing.T) {
	for name, d := range drivers(t, t.TempDir()) {
		s, id := newSession(t, d)
		ctx := context.Background()
		const writers = 8
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				_, errs[i] = s.Uploads.Append(ctx, "m", id, 0, -1, strings.NewReader(strings.Repeat(strconv.Itoa(i), 1<<16)))
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil || !errors.Is(err, storage.ErrRangeInvalid):
				t.Fatalf("%s: Append %d: %v (winner %d)", name, i, err, winner)
			}
		}
		for i := range writers {
			content := strings.Repeat(strconv.Itoa(i), 1<<16)
			_, err := s.Uploads.Commit(ctx, "m", id, artifact.FromBytes(artifact.SHA256, []byte(content)), nil)
			if (i == winner) != (err == nil) {
				t.Fatalf("%s: Commit under writer %d's digest (winner %d): %v", name, i, winner, err)
			}
		}
	}
}

// cancelOnRead cancels an upload session when its first byte is read, as a
// DELETE arriving while the chunk is still on its way.
type cancelOnRead struct {
	r      *strings.Reader
	cancel func()
}

func (c *cancelOnRead) Read(p []byte) (int, error) {
	if c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	return c.r.Read(p)
}

// TestChunkOfCancelledSession: a chunk (the first, hashed and moved or
// stored as blob data, or a later one) that arrives for a session cancelled
// while it was being stored gives ErrUploadUnknown and leaves no file under
// uploads/ or blobdata/.
func TestChunkOfCancelledSession(t *testing.T) {
	for _, offset := range []int64{0, 5} {
		root := t.TempDir()
		for name, d := range drivers(t, root) {
			s, id := newSession(t, d)
			ctx := context.Background()
			if offset > 0 {
				if _, err := s.Uploads.Append(ctx, "m", id, 0, -1, strings.NewReader("first")); err != nil {
					t.Fatal(err)
				}
			}
			chunk := &cancelOnRead{r: strings.NewReader("late bytes"), cancel: func() {
				if err := s.Uploads.Cancel(ctx, "m", id); err != nil {
					t.Errorf("Cancel: %v", err)
				}
			}}
			if _, err := s.Uploads.Append(ctx, "m", id, offset, -1, chunk); !errors.Is(err, storage.ErrUploadUnknown) {
				t.Fatalf("%s: chunk at %d of a session cancelled meanwhile: %v, want ErrUploadUnknown", name, offset, err)
			}
			if left := files(t, root, "uploads", "blobdata"); len(left) > 0 {
				t.Errorf("%s: chunk at %d: files left: %q", name, offset, left)
			}
			noTempFiles(t, root)
		}
	}
}

// files lists the files under the given directories of root.
func files(t *testing.T, root string, dirs ...string) []string {
	t.Helper()
	var found []string
	for _, dir := range dirs {
		filepath.WalkDir(filepath.Join(root, dir), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				found = append(found, strings.TrimPrefix(p, root+"/"))
			}
			return nil
		})
	}
	return found
}

// TestCommitByReference: on a driver without Move, a session sent as one
// chunk is committed as a blob reference to the chunk's blob data, not
// copied to the blob's key; a second session with the same bytes, and a
// cancelled one, leave no blob data behind; a session with a second chunk is
// copied to the blob's key and its blob data removed; a manifest whose bytes
// were uploaded that way reads back.
func TestCommitByReference(t *testing.T) {
	root := t.TempDir()
	s, id := newSession(t, noMove{newDriver(t, root)})
	ctx := context.Background()
	body := strings.Repeat("weights ", 1<<14)
	d := artifact.FromBytes(artifact.SHA256, []byte(body))
	if _, err := s.Uploads.Append(ctx, "m", id, 0, -1, strings.NewReader(body)); err != nil {
		t.Fatal(err)
	}
	data := files(t, root, "blobdata")
	if len(data) != 1 {
		t.Fatalf("blob data after the first chunk: %q, want one file", data)
	}
	if n, err := s.Uploads.Commit(ctx, "m", id, d, nil); err != nil || n != int64(len(body)) {
		t.Fatalf("Commit = %d, %v", n, err)
	}
	ref, err := os.ReadFile(filepath.Join(root, "blobrefs", "sha256", d.Hex()))
	if err != nil || !strings.Contains(string(ref), data[0]) {
		t.Fatalf("blob reference %q (%v), want it to name %s", ref, err, data[0])
	}
	if _, err := os.Stat(filepath.Join(root, "blobs", "sha256", d.Hex())); !os.IsNotExist(err) {
		t.Fatalf("the blob's own key after a commit by reference: %v, want none (no copy)", err)
	}
	if size, err := s.Blobs.Stat(ctx, "m", d); err != nil || size != int64(len(body)) {
		t.Fatalf("Stat = %d, %v", size, err)
	}
	if got := storagetest.ReadBlob(t, s, "m", d, 0); got != body {
		t.Fatalf("blob reads %d bytes, want %d", len(got), len(body))
	}

	_, again := newSession(t, noMove{newDriver(t, root)})
	s.Uploads.Append(ctx, "m", again, 0, -1, strings.NewReader(body))
	if _, err := s.Uploads.Commit(ctx, "m", again, d, nil); err != nil {
		t.Fatalf("Commit of a blob stored already: %v", err)
	}
	_, cancelled := newSession(t, noMove{newDriver(t, root)})
	s.Uploads.Append(ctx, "m", cancelled, 0, -1, strings.NewReader("abandoned"))
	if err := s.Uploads.Cancel(ctx, "m", cancelled); err != nil {
		t.Fatal(err)
	}
	if left := files(t, root, "blobdata"); len(left) != 1 || left[0] != data[0] {
		t.Fatalf("blob data after a second commit and a cancel: %q, want only %s", left, data[0])
	}

	_, two := newSession(t, noMove{newDriver(t, root)})
	s.Uploads.Append(ctx, "m", two, 0, -1, strings.NewReader("head "))
	s.Uploads.Append(ctx, "m", two, 5, -1, strings.NewReader("tail"))
	d2 := artifact.FromBytes(artifact.SHA256, []byte("head tail"))
	if n, err := s.Uploads.Commit(ctx, "m", two, d2, nil); err != nil || n != 9 {
		t.Fatalf("Commit of two chunks = %d, %v", n, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "blobs", "sha256", d2.Hex())); err != nil || string(b) != "head tail" {
		t.Fatalf("blob of two chunks at its key: %q, %v", b, err)
	}
	if left := files(t, root, "blobdata", "uploads"); len(left) != 1 {
		t.Fatalf("files left after the two-chunk commit: %q, want only %s", left, data[0])
	}

	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`
	_, up := newSession(t, noMove{newDriver(t, root)})
	s.Uploads.Append(ctx, "m", up, 0, -1, strings.NewReader(manifest))
	md := artifact.FromBytes(artifact.SHA256, []byte(manifest))
	if _, err := s.Uploads.Commit(ctx, "m", up, md, nil); err != nil {
		t.Fatal(err)
	}
	mf := storage.Manifest{Digest: md, MediaType: "application/vnd.oci.image.manifest.v1+json", Data: []byte(manifest)}
	if err := s.Manifests.Put(ctx, "m", mf, "", artifact.Descriptor{}); err != nil {
		t.Fatalf("Put of a manifest whose bytes are a referenced blob: %v", err)
	}
	if m, err := storage.New(noMove{newDriver(t, root)}).Manifests.Get(ctx, "m", md); err != nil || string(m.Data) != manifest {
		t.Fatalf("Get = %q, %v", m.Data, err)
	}
}

// removeOnRef is a driver without Move that cancels an upload session just
// after a blob reference is written, as a DELETE racing the commit.
type removeOnRef struct {
	storage.Driver
	cancel func()
}

func (r removeOnRef) PutIf(ctx context.Context, key string, data []byte, ifVersion string) (string, error) {
	v, err := r.Driver.PutIf(ctx, key, data, ifVersion)
	if strings.HasPrefix(key, "blobrefs/") {
		r.cancel()
	}
	return v, err
}

// TestCommitRacingCancel: a session cancelled while its commit writes the
// blob reference gives ErrUploadUnknown and no blob in the repository; what
// is left is consistent (a reference only with its data), and the next
// upload of the same bytes commits and reads back, also once the data behind
// a reference is gone.
func TestCommitRacingCancel(t *testing.T) {
	root := t.TempDir()
	ctx := context.Background()
	rd := &removeOnRef{Driver: newDriver(t, root)}
	s, id := newSession(t, rd)
	rd.cancel = func() {
		if err := s.Uploads.Cancel(ctx, "m", id); err != nil {
			t.Errorf("Cancel: %v", err)
		}
		rd.cancel = func() {}
	}
	if _, err := s.Uploads.Append(ctx, "m", id, 0, -1, strings.NewReader("racing bytes")); err != nil {
		t.Fatal(err)
	}
	d := artifact.FromBytes(artifact.SHA256, []byte("racing bytes"))
	if _, err := s.Uploads.Commit(ctx, "m", id, d, nil); !errors.Is(err, storage.ErrUploadUnknown) {
		t.Fatalf("Commit of a session cancelled meanwhile: %v, want ErrUploadUnknown", err)
	}
	if _, err := s.Blobs.Stat(ctx, "m", d); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("Stat of the blob: %v, want ErrBlobUnknown", err)
	}
	if refs, data := files(t, root, "blobrefs"), files(t, root, "blobdata"); len(refs) != len(data) {
		t.Fatalf("left: references %q, data %q", refs, data)
	}
	for _, f := range files(t, root, "blobdata") {
		os.Remove(filepath.Join(root, f)) // a reference whose data is gone
	}
	for range 2 {
		_, again := newSession(t, rd)
		s.Uploads.Append(ctx, "m", again, 0, -1, strings.NewReader("racing bytes"))
		if _, err := s.Uploads.Commit(ctx, "m", again, d, nil); err != nil {
			t.Fatalf("Commit of the same bytes again: %v", err)
		}
		if got := storagetest.ReadBlob(t, s, "m", d, 0); got != "racing bytes" {
			t.Fatalf("blob reads %q", got)
		}
	}
	if data := files(t, root, "blobdata"); len(data) != 1 {
		t.Fatalf("blob data after two commits of one blob: %q, want one", data)
	}
}
