package storagetest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
)

// testMove checks the storage.Mover contract; runDriver runs it only on
// drivers that implement Mover.
func testMove(t *testing.T, d storage.Driver) {
	ctx := context.Background()
	m := d.(storage.Mover)
	put(t, d, "from/a", "moved bytes")
	if err := m.Move(ctx, "from/a", "to/deep/b"); err != nil {
		t.Fatalf("Move to a new key: %v", err)
	}
	if got := readAll(t, d, "to/deep/b", 0); got != "moved bytes" {
		t.Fatalf("moved object reads %q", got)
	}
	if _, err := d.Stat(ctx, "from/a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat of the moved-from key: %v", err)
	}
	put(t, d, "taken", "old")
	if err := m.Move(ctx, "to/deep/b", "taken"); !errors.Is(err, storage.ErrPreconditionFailed) {
		t.Fatalf("Move onto an existing key: %v", err)
	}
	if got := readAll(t, d, "taken", 0) + "|" + readAll(t, d, "to/deep/b", 0); got != "old|moved bytes" {
		t.Fatalf("after a refused Move, target|source read %q", got)
	}
	if err := m.Move(ctx, "no/such", "elsewhere"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Move of a missing key: %v", err)
	}
}

// testUploadOneChunk checks sessions sent as one chunk at offset 0, which
// Mover drivers commit by moving the chunk and others by streaming it: the
// results must be the same.
func testUploadOneChunk(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	const repo, content = "team/model", "one chunk, committed"
	d := digestOf(artifact.SHA256, content)
	id := appendOne(t, s, repo, content)
	if _, err := s.Uploads.Append(ctx, repo, id, 0, -1, strings.NewReader("again")); !errors.Is(err, storage.ErrRangeInvalid) {
		t.Fatalf("a second chunk at 0: %v", err)
	}
	wrong := digestOf(artifact.SHA256, "other")
	if _, err := s.Uploads.Commit(ctx, repo, id, wrong, strings.NewReader("")); !errors.Is(err, artifact.ErrDigestMismatch) {
		t.Fatalf("Commit under a wrong digest: %v", err)
	}
	if _, err := s.Blobs.Stat(ctx, repo, wrong); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Fatalf("after a wrong Commit, Stat of its digest: %v", err)
	}
	if n, err := s.Uploads.Size(ctx, repo, id); err != nil || n != int64(len(content)) {
		t.Fatalf("after a wrong Commit, Size = %d, %v", n, err)
	}
	if n, err := s.Uploads.Commit(ctx, repo, id, d, strings.NewReader("")); err != nil || n != int64(len(content)) {
		t.Fatalf("Commit = %d, %v", n, err)
	}
	if got := ReadBlob(t, s, repo, d, 0); got != content {
		t.Fatalf("committed blob = %q", got)
	}
	if _, err := s.Uploads.Size(ctx, repo, id); !errors.Is(err, storage.ErrUploadUnknown) {
		t.Fatalf("Size after Commit: %v", err)
	}
	again := appendOne(t, s, "team/other", content)
	if n, err := s.Uploads.Commit(ctx, "team/other", again, d, nil); err != nil || n != int64(len(content)) {
		t.Fatalf("Commit of a blob already stored = %d, %v", n, err)
	}
	if got := ReadBlob(t, s, "team/other", d, 0); got != content {
		t.Fatalf("blob linked by the second Commit = %q", got)
	}
	if _, err := s.Uploads.Size(ctx, "team/other", again); !errors.Is(err, storage.ErrUploadUnknown) {
		t.Fatalf("Size after a Commit of a stored blob: %v", err)
	}
}

// testUploadFirstChunkEmpty checks that an empty chunk at 0 leaves the
// session empty, so the next chunk may start at 0 again, and that a final
// body after one chunk is committed with it.
func testUploadFirstChunkEmpty(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	id := appendOne(t, s, "m", "")
	if n, err := s.Uploads.Append(ctx, "m", id, 0, -1, strings.NewReader("head ")); err != nil || n != 5 {
		t.Fatalf("Append at 0 after an empty chunk = %d, %v", n, err)
	}
	d := digestOf(artifact.SHA256, "head tail")
	if n, err := s.Uploads.Commit(ctx, "m", id, d, strings.NewReader("tail")); err != nil || n != 9 {
		t.Fatalf("Commit with a final body = %d, %v", n, err)
	}
	if got := ReadBlob(t, s, "m", d, 0); got != "head tail" {
		t.Fatalf("committed blob = %q", got)
	}
}

// testUploadLargeChunk checks a session's first chunk of declared length
// beyond a part (which an S3 driver with single-put-max streams with one
// PutObject): one that breaks off at its end stores nothing and leaves the
// session empty, a whole one is committed.
func testUploadLargeChunk(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	const repo, size = "team/model", 2*PartSize + 3
	id, err := s.Uploads.Start(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("client went away")
	if _, err := s.Uploads.Append(ctx, repo, id, 0, size, &failingReader{r: newStream(6, size), err: boom}); !errors.Is(err, boom) {
		t.Fatalf("Append of a chunk failing at its end: %v", err)
	}
	if n, err := s.Uploads.Size(ctx, repo, id); err != nil || n != 0 {
		t.Fatalf("Size after a failed first chunk = %d, %v", n, err)
	}
	if n, err := s.Uploads.Append(ctx, repo, id, 0, size, newStream(6, size)); err != nil || n != size {
		t.Fatalf("Append = %d, %v", n, err)
	}
	d := streamDigest(t, 6, size)
	if n, err := s.Uploads.Commit(ctx, repo, id, d, nil); err != nil || n != size {
		t.Fatalf("Commit = %d, %v", n, err)
	}
	rc, _, err := s.Blobs.Open(ctx, repo, d, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if n, ok := matchesStream(t, rc, 6, size, 0); !ok {
		t.Fatalf("committed blob: %d bytes with another hash", n)
	}
}

// appendOne starts a session in repo and appends content at 0.
func appendOne(t *testing.T, s *storage.Store, repo, content string) string {
	t.Helper()
	ctx := context.Background()
	id, err := s.Uploads.Start(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Uploads.Append(ctx, repo, id, 0, -1, strings.NewReader(content)); err != nil || n != int64(len(content)) {
		t.Fatalf("Append = %d, %v", n, err)
	}
	return id
}
