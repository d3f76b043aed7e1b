package storagetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
)

// Orphans checks, on d (a driver without Move, whose uploads' first chunks
// are blob data: storage/keys.go), that blob data is never left named by
// nothing when an upload's removal fails midway (a storage error, or a
// registry killed there): the session stays, and the next Cancel or Expire
// removes its data. And that what a crash still leaves (blob data whose
// session never recorded it, a cut-off first chunk) is found by
// Blobs.ScrubData once older than the given time, and removed with remove,
// while the data of open sessions and of blobs is never touched.
func Orphans(t *testing.T, d storage.Driver) {
	f := &faultyDriver{Driver: d}
	o := &orphanCase{t: t, d: d, f: f, s: storage.New(f)}
	o.failedCancels()
	o.failedCommitAndExpiry()
	o.commitRacingCancel()
	o.scrubFindsCrashLeftovers()
}

// orphanCase is Orphans' store over a faultyDriver of d.
type orphanCase struct {
	t *testing.T
	d storage.Driver
	f *faultyDriver
	s *storage.Store
}

// session starts an upload of "m" with content as its first chunk.
func (o *orphanCase) session(content string) string {
	o.t.Helper()
	return appendOne(o.t, o.s, "m", content)
}

// noData fails the test if any blob data is left.
func (o *orphanCase) noData(when string) {
	o.t.Helper()
	if left := listAllNames(o.t, o.d, "blobdata/"); len(left) > 0 {
		o.t.Fatalf("%s: blob data left: %q", when, left)
	}
}

// failedCancels: a cancel whose check for a blob reference to the
// session's data fails (the tester's 500, then 204) is completed by the next
// cancel; one that fails once the data is gone does not stop Expire.
func (o *orphanCase) failedCancels() {
	t, s, ctx := o.t, o.s, context.Background()
	id := o.session("cancelled")
	o.f.failNext("Get", "blobrefs/")
	if err := s.Uploads.Cancel(ctx, "m", id); !errors.Is(err, errInjected) {
		t.Fatalf("Cancel with a failing read = %v", err)
	}
	if err := s.Uploads.Cancel(ctx, "m", id); err != nil {
		t.Fatalf("Cancel again: %v", err)
	}
	o.noData("a cancel that failed, then succeeded")
	if err := s.Uploads.Cancel(ctx, "m", id); !errors.Is(err, storage.ErrUploadUnknown) {
		t.Fatalf("Cancel of a removed session: %v", err)
	}
	id = o.session("cancelled later")
	o.f.failNext("Delete", "uploads/_sum/")
	if err := s.Uploads.Cancel(ctx, "m", id); !errors.Is(err, errInjected) {
		t.Fatalf("Cancel with a failing delete of the sum = %v", err)
	}
	if n, err := s.Uploads.Expire(ctx, 0); err != nil || n != 1 {
		t.Fatalf("Expire after a cancel that failed midway = %d, %v; want the session removed", n, err)
	}
	o.noData("a cancel that failed after deleting the data")
}

// failedCommitAndExpiry: a commit (streamed: two chunks) whose removal of
// the session fails, and an expiry whose delete of a session's data fails:
// the next expiry removes the data; the committed blob stays whole.
func (o *orphanCase) failedCommitAndExpiry() {
	t, s, ctx := o.t, o.s, context.Background()
	two := o.session("head ")
	if _, err := s.Uploads.Append(ctx, "m", two, 5, -1, strings.NewReader("tail")); err != nil {
		t.Fatal(err)
	}
	dg := digestOf(artifact.SHA256, "head tail")
	o.f.failNext("Get", "blobrefs/sha256/"+digestOf(artifact.SHA256, "head ").Hex())
	if _, err := s.Uploads.Commit(ctx, "m", two, dg, nil); !errors.Is(err, errInjected) {
		t.Fatalf("Commit whose removal fails = %v", err)
	}
	o.session("expired")
	o.f.failNext("Delete", "blobdata/")
	if _, err := s.Uploads.Expire(ctx, 0); !errors.Is(err, errInjected) {
		t.Fatalf("Expire with a failing delete = %v", err)
	}
	if n, err := s.Uploads.Expire(ctx, 0); err != nil || n == 0 {
		t.Fatalf("Expire again = %d, %v; want the sessions left", n, err)
	}
	o.noData("a commit and an expiry that failed midway, then an expiry")
	if got := ReadBlob(t, s, "m", dg, 0); got != "head tail" {
		t.Fatalf("committed blob reads %q", got)
	}
}

// commitRacingCancel: a cancel (on another registry process) removes the
// session and its data after the commit found it open; the commit reports
// the session unknown, not a digest mismatch (its data read as nothing).
func (o *orphanCase) commitRacingCancel() {
	t, s, ctx := o.t, o.s, context.Background()
	racy := o.session("racing")
	o.f.beforeNext("Get", "uploads/_sum/"+racy, func() {
		if err := s.Uploads.Cancel(ctx, "m", racy); err != nil {
			t.Errorf("the racing Cancel: %v", err)
		}
	})
	if _, err := s.Uploads.Commit(ctx, "m", racy, digestOf(artifact.SHA256, "racing"), nil); !errors.Is(err, storage.ErrUploadUnknown) {
		t.Fatalf("Commit racing a Cancel = %v; want ErrUploadUnknown", err)
	}
	o.noData("a commit racing a cancel")
}

// scrubFindsCrashLeftovers: a first chunk stored as blob data whose sum is
// never written (the registry killed between the two), and one that breaks
// off: the sessions expire, the data stays, named by nothing, and ScrubData
// finds and removes it once older than the time given, never the data of a
// blob or of an open session.
func (o *orphanCase) scrubFindsCrashLeftovers() {
	t, s := o.t, o.s
	o.leaveCrashData()
	byRef := putByReference(t, s, "referenced")
	open := o.session("open")
	if _, err := s.Uploads.Append(context.Background(), "m", open, 4, -1, strings.NewReader(" and more")); err != nil {
		t.Fatal(err)
	}
	kept := listAllNames(t, o.d, "blobdata/")
	if found := o.scrub(time.Now().Add(-time.Hour), true); len(found) > 0 {
		t.Fatalf("ScrubData of data older than an hour found %+v; want none (all of it is fresh)", found)
	}
	found := o.scrub(time.Now().Add(time.Minute), false)
	lostData := slices.IndexFunc(found, func(x storage.OrphanData) bool { return x.Size == int64(len("lost chunk")) })
	if lostData < 0 || slices.ContainsFunc(found, func(x storage.OrphanData) bool { return x.Removed || x.Size != 0 && x.Size != int64(len("lost chunk")) }) {
		t.Fatalf("ScrubData found %+v; want the lost chunk's data (and at most empty placeholders)", found)
	}
	removed := o.scrub(time.Now().Add(time.Minute), true)
	if len(removed) != len(found) || !removed[lostData].Removed {
		t.Fatalf("ScrubData with remove = %+v; want %d removed", removed, len(found))
	}
	for _, x := range found {
		kept = slices.DeleteFunc(kept, func(name string) bool { return "blobdata/"+name == x.Key })
	}
	if left := listAllNames(t, o.d, "blobdata/"); !slices.Equal(left, kept) || len(left) != 2 {
		t.Fatalf("blob data after ScrubData with remove: %q; want the referenced blob's and the open session's, %q", left, kept)
	}
	if got := ReadBlob(t, s, "m", byRef, 0); got != "referenced" {
		t.Fatalf("blob held by reference reads %q", got)
	}
	want := "open and more"
	if _, err := s.Uploads.Commit(context.Background(), "m", open, digestOf(artifact.SHA256, want), nil); err != nil {
		t.Fatalf("Commit of the open session: %v", err)
	}
}

// leaveCrashData leaves blob data named by nothing: a first chunk whose
// sum is never written, and one that breaks off (with single-put-max on S3,
// one PutObject, which may leave an empty placeholder); both sessions
// expire.
func (o *orphanCase) leaveCrashData() {
	t, s, ctx := o.t, o.s, context.Background()
	lost, err := s.Uploads.Start(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	o.f.failNext("PutIf", "uploads/_sum/")
	o.f.failNext("Delete", "blobdata/")
	if _, err := s.Uploads.Append(ctx, "m", lost, 0, -1, strings.NewReader("lost chunk")); !errors.Is(err, errInjected) {
		t.Fatalf("Append killed before its sum = %v", err)
	}
	cut, err := s.Uploads.Start(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	const size = 2*PartSize + 3
	boom := errors.New("client went away")
	if _, err := s.Uploads.Append(ctx, "m", cut, 0, size, &failingReader{r: newStream(7, size), err: boom}); !errors.Is(err, boom) {
		t.Fatalf("Append of a chunk failing at its end: %v", err)
	}
	if n, err := s.Uploads.Expire(ctx, 0); err != nil || n != 2 {
		t.Fatalf("Expire = %d, %v; want the 2 sessions", n, err)
	}
	if left := listAllNames(t, o.d, "blobdata/"); len(left) == 0 {
		t.Fatal("no blob data left by a first chunk whose sum was never written")
	}
}

// scrub runs ScrubData for data older than before and returns what it found.
func (o *orphanCase) scrub(before time.Time, remove bool) []storage.OrphanData {
	o.t.Helper()
	var found []storage.OrphanData
	if err := o.s.Blobs.ScrubData(context.Background(), before, remove, func(x storage.OrphanData) { found = append(found, x) }); err != nil {
		o.t.Fatalf("ScrubData: %v", err)
	}
	return found
}

// putByReference stores content as a blob of "m" by an upload of one chunk,
// which a driver without Move commits by a blob reference to its data.
func putByReference(t *testing.T, s *storage.Store, content string) artifact.Digest {
	t.Helper()
	id := appendOne(t, s, "m", content)
	d := digestOf(artifact.SHA256, content)
	if _, err := s.Uploads.Commit(context.Background(), "m", id, d, nil); err != nil {
		t.Fatal(err)
	}
	return d
}

// listAllNames returns every name in dir of d.
func listAllNames(t *testing.T, d storage.Driver, dir string) []string {
	t.Helper()
	var names []string
	for after := ""; ; {
		page, err := d.List(context.Background(), dir, after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return names
		}
		names = append(names, page...)
		after = page[len(page)-1]
	}
}
