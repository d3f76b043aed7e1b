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
		d, err := fs.New(root)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { noTempFiles(t, root) })
		return d
	})
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

// newSession opens an upload session of repository "m" in a store on an fs
// driver at root.
func newSession(t *testing.T, root string) (*storage.Store, string) {
	d, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	s := storage.New(d)
	id, err := s.Uploads.Start(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	return s, id
}

// TestFirstChunkRace: of concurrent first chunks of one session, exactly one
// is stored, and a Commit by move gives exactly its bytes: a loser's digest
// is refused.
func TestFirstChunkRace(t *testing.T) {
	s, id := newSession(t, t.TempDir())
	ctx := context.Background()
	const writers = 8
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = s.Uploads.Append(ctx, "m", id, 0, strings.NewReader(strings.Repeat(strconv.Itoa(i), 1<<16)))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil || !errors.Is(err, storage.ErrRangeInvalid):
			t.Fatalf("Append %d: %v (winner %d)", i, err, winner)
		}
	}
	for i := range writers {
		content := strings.Repeat(strconv.Itoa(i), 1<<16)
		_, err := s.Uploads.Commit(ctx, "m", id, artifact.FromBytes(artifact.SHA256, []byte(content)), nil)
		if (i == winner) != (err == nil) {
			t.Fatalf("Commit under writer %d's digest (winner %d): %v", i, winner, err)
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

// TestChunkOfCancelledSession: a chunk (the first, hashed and moved, or a
// later one) that arrives for a session cancelled while it was being
// stored gives ErrUploadUnknown and leaves no file under uploads/.
func TestChunkOfCancelledSession(t *testing.T) {
	for _, offset := range []int64{0, 5} {
		root := t.TempDir()
		s, id := newSession(t, root)
		ctx := context.Background()
		if offset > 0 {
			if _, err := s.Uploads.Append(ctx, "m", id, 0, strings.NewReader("first")); err != nil {
				t.Fatal(err)
			}
		}
		chunk := &cancelOnRead{r: strings.NewReader("late bytes"), cancel: func() {
			if err := s.Uploads.Cancel(ctx, "m", id); err != nil {
				t.Errorf("Cancel: %v", err)
			}
		}}
		if _, err := s.Uploads.Append(ctx, "m", id, offset, chunk); !errors.Is(err, storage.ErrUploadUnknown) {
			t.Fatalf("chunk at %d of a session cancelled meanwhile: %v, want ErrUploadUnknown", offset, err)
		}
		var left []string
		filepath.WalkDir(filepath.Join(root, "uploads"), func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				left = append(left, p)
			}
			return nil
		})
		if len(left) > 0 {
			t.Errorf("chunk at %d: files left under uploads/: %q", offset, left)
		}
		noTempFiles(t, root)
	}
}
