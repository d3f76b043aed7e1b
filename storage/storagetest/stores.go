package storagetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
)

// runStores checks the stores built on a driver.
func runStores(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
	newStore := func(t *testing.T) *storage.Store { return storage.New(newDriver(t)) }
	runTests(t, newStore, []check[*storage.Store]{
		{"Blobs", testBlobs},
		{"BlobMismatch", testBlobMismatch},
		{"Manifests", testManifests},
		{"Referrers", testReferrers},
		{"Catalog", testCatalog},
		{"Tags", testTags},
		{"TagMovers", testTagMovers},
		{"Uploads", testUploads},
		{"UploadOneChunk", testUploadOneChunk},
		{"UploadLargeChunk", testUploadLargeChunk},
		{"UploadFirstChunkEmpty", testUploadFirstChunkEmpty},
		{"UploadExpire", testUploadExpire},
		{"InvalidNames", testInvalidNames},
	})
	runTests(t, func(t *testing.T) *faultyDriver { return &faultyDriver{Driver: newDriver(t)} }, []check[*faultyDriver]{
		{"TagMoveFails", testTagMoveFails},
	})
}

// digestOf returns the digest of s under alg.
func digestOf(alg artifact.Algorithm, s string) artifact.Digest {
	return artifact.FromBytes(alg, []byte(s))
}

// streamDigest returns the sha256 digest of newStream(seed, n).
func streamDigest(t *testing.T, seed byte, n int64) artifact.Digest {
	sum, _ := sumOf(t, newStream(seed, n))
	return artifact.Digest(fmt.Sprintf("sha256:%x", sum))
}

func putBlob(t *testing.T, s *storage.Store, repo, content string) artifact.Digest {
	t.Helper()
	d := digestOf(artifact.SHA256, content)
	if _, err := s.Blobs.Put(context.Background(), repo, d, int64(len(content)), strings.NewReader(content)); err != nil {
		t.Fatalf("Blobs.Put %s: %v", repo, err)
	}
	return d
}

// ReadBlob reads blob d of repo from offset to its end, failing t unless it
// gets as many bytes as Blobs.Open says there are.
func ReadBlob(t *testing.T, s *storage.Store, repo string, d artifact.Digest, offset int64) string {
	t.Helper()
	rc, size, err := s.Blobs.Open(context.Background(), repo, d, offset)
	if err != nil {
		t.Fatalf("Blobs.Open %s@%s: %v", repo, d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil || int64(len(b)) != size-offset {
		t.Fatalf("read %d bytes (%v) of a %d-byte blob from %d", len(b), err, size, offset)
	}
	return string(b)
}

func testBlobs(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	for _, alg := range []artifact.Algorithm{artifact.SHA256, artifact.SHA512} {
		content := "weights for " + string(alg)
		d := digestOf(alg, content)
		n, err := s.Blobs.Put(ctx, "team/model", d, -1, strings.NewReader(content))
		if err != nil || n != int64(len(content)) {
			t.Fatalf("Put %s = %d, %v", alg, n, err)
		}
		if got := ReadBlob(t, s, "team/model", d, 8); got != content[8:] {
			t.Fatalf("read from 8: %q", got)
		}
		if size, err := s.Blobs.Stat(ctx, "team/model", d); err != nil || size != int64(len(content)) {
			t.Fatalf("Stat = %d, %v", size, err)
		}
	}
	d := putBlob(t, s, "team/model", "scaler")
	if _, _, err := s.Blobs.Open(ctx, "team/model", d, 7); !errors.Is(err, storage.ErrRangeInvalid) {
		t.Errorf("Open beyond the end: %v", err)
	}
	if _, err := s.Blobs.Stat(ctx, "other", d); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Errorf("Stat in a repository it was not pushed to: %v", err)
	}
	if n, err := s.Blobs.Mount(ctx, "other", "team/model", d); err != nil || n != 6 {
		t.Fatalf("Mount from team/model = %d, %v", n, err)
	}
	if n, err := s.Blobs.Mount(ctx, "third", "", d); err != nil || n != 6 {
		t.Fatalf("Mount from anywhere = %d, %v", n, err)
	}
	missing := digestOf(artifact.SHA256, "never pushed")
	if _, err := s.Blobs.Mount(ctx, "other", "", missing); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Errorf("Mount of a missing blob: %v", err)
	}
	if _, err := s.Blobs.Mount(ctx, "fourth", "nowhere", d); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Errorf("Mount from a repository without it: %v", err)
	}
	if err := s.Blobs.Delete(ctx, "other", d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Blobs.Stat(ctx, "other", d); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Errorf("Stat after Delete: %v", err)
	}
	if err := s.Blobs.Delete(ctx, "other", d); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Errorf("second Delete: %v", err)
	}
	if got := ReadBlob(t, s, "team/model", d, 0); got != "scaler" {
		t.Errorf("Delete from one repository changed another's blob: %q", got)
	}
}

func testBlobMismatch(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	const big = 2*PartSize + 1
	cases := []struct {
		name string
		d    artifact.Digest
		size int64
		r    func() io.Reader
		want error
	}{
		{"small", digestOf(artifact.SHA256, "good"), -1, func() io.Reader { return strings.NewReader("evil") }, artifact.ErrDigestMismatch},
		{"sha512", digestOf(artifact.SHA512, "good"), 4, func() io.Reader { return strings.NewReader("evil") }, artifact.ErrDigestMismatch},
		{"short", digestOf(artifact.SHA256, "good"), 5, func() io.Reader { return strings.NewReader("good") }, artifact.ErrSizeMismatch},
		{"multipart", streamDigest(t, 4, big), -1, func() io.Reader { return newStream(5, big) }, artifact.ErrDigestMismatch},
		{"large, size declared", streamDigest(t, 4, big), big, func() io.Reader { return newStream(5, big) }, artifact.ErrDigestMismatch},
		{"large, short", streamDigest(t, 4, big), big, func() io.Reader { return newStream(4, big-1) }, artifact.ErrSizeMismatch},
	}
	for _, c := range cases {
		if _, err := s.Blobs.Put(ctx, "repo", c.d, c.size, c.r()); !errors.Is(err, c.want) {
			t.Errorf("%s: Put = %v, want %v", c.name, err, c.want)
		}
		if _, err := s.Blobs.Mount(ctx, "repo", "", c.d); !errors.Is(err, storage.ErrBlobUnknown) {
			t.Errorf("%s: a mismatched Put stored something: %v", c.name, err)
		}
	}
	d := putBlob(t, s, "repo", "good")
	if _, err := s.Blobs.Put(ctx, "other", d, -1, strings.NewReader("evil")); !errors.Is(err, artifact.ErrDigestMismatch) {
		t.Errorf("wrong bytes for a stored blob: %v", err)
	}
	if _, err := s.Blobs.Stat(ctx, "other", d); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Errorf("wrong bytes for a stored blob linked it: %v", err)
	}
}

func putManifest(t *testing.T, s *storage.Store, repo, body string, subject artifact.Digest) storage.Manifest {
	t.Helper()
	mf := storage.Manifest{Digest: digestOf(artifact.SHA256, body), MediaType: "application/vnd.oci.image.manifest.v1+json", Data: []byte(body)}
	ref := artifact.Descriptor{MediaType: mf.MediaType, Digest: mf.Digest, Size: int64(len(body)), ArtifactType: "application/x.report"}
	if err := s.Manifests.Put(context.Background(), repo, mf, subject, ref); err != nil {
		t.Fatalf("Manifests.Put: %v", err)
	}
	return mf
}

func testManifests(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	mf := putManifest(t, s, "team/model", `{"schemaVersion":2}`, "")
	got, err := s.Manifests.Get(ctx, "team/model", mf.Digest)
	if err != nil || string(got.Data) != string(mf.Data) || got.MediaType != mf.MediaType || got.Digest != mf.Digest {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := s.Manifests.Get(ctx, "other", mf.Digest); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("Get from another repository: %v", err)
	}
	wrong := storage.Manifest{Digest: digestOf(artifact.SHA256, "x"), Data: []byte("y")}
	if err := s.Manifests.Put(ctx, "team/model", wrong, "", artifact.Descriptor{}); !errors.Is(err, artifact.ErrDigestMismatch) {
		t.Errorf("Put with a wrong digest: %v", err)
	}
	if _, err := s.Manifests.Get(ctx, "team/model", wrong.Digest); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("a mismatched Put stored a manifest: %v", err)
	}
	if err := s.Manifests.Delete(ctx, "team/model", mf.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Manifests.Get(ctx, "team/model", mf.Digest); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("Get after Delete: %v", err)
	}
	if err := s.Manifests.Delete(ctx, "team/model", mf.Digest); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("second Delete: %v", err)
	}
}

func testReferrers(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	subject := putManifest(t, s, "m", `{"bundle":1}`, "").Digest
	r1 := putManifest(t, s, "m", `{"report":1}`, subject)
	r2 := putManifest(t, s, "m", `{"report":2}`, subject)
	refs, err := s.Manifests.Referrers(ctx, "m", subject)
	want := []artifact.Digest{r1.Digest, r2.Digest}
	slices.Sort(want)
	if err != nil || len(refs) != 2 || refs[0].Digest != want[0] || refs[1].Digest != want[1] || refs[0].ArtifactType != "application/x.report" {
		t.Fatalf("Referrers = %+v, %v; want %v", refs, err, want)
	}
	if err := s.Manifests.Delete(ctx, "m", r1.Digest); err != nil {
		t.Fatal(err)
	}
	if refs, err := s.Manifests.Referrers(ctx, "m", subject); err != nil || len(refs) != 1 || refs[0].Digest != r2.Digest {
		t.Fatalf("Referrers after deleting one = %+v, %v", refs, err)
	}
	if refs, err := s.Manifests.Referrers(ctx, "other", subject); err != nil || refs == nil || len(refs) != 0 {
		t.Fatalf("Referrers in another repository = %#v, %v; want an empty list", refs, err)
	}
}

func testCatalog(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	for _, repo := range []string{"b", "a-b", "a/b", "c/d/e", "a"} {
		putBlob(t, s, repo, "x")
	}
	putManifest(t, s, "m", `{}`, "")
	want := []string{"a", "a/b", "a-b", "b", "c/d/e", "m"}
	if all, err := s.Manifests.Repositories(ctx, "", 100); err != nil || !slices.Equal(all, want) {
		t.Fatalf("Repositories = %v, %v; want %v", all, err, want)
	}
	var paged []string
	for after := ""; ; {
		page, err := s.Manifests.Repositories(ctx, after, 2)
		if err != nil || len(page) > 2 {
			t.Fatalf("page after %q = %v, %v", after, page, err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	if !slices.Equal(paged, want) {
		t.Fatalf("paged Repositories = %v, want %v", paged, want)
	}
}

func testTags(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	d1, d2 := digestOf(artifact.SHA256, "v1"), digestOf(artifact.SHA256, "v2")
	if _, err := s.Tags.Resolve(ctx, "m", "latest"); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("Resolve of an unset tag: %v", err)
	}
	for _, tag := range []string{"stable", "latest", "v1"} {
		if err := s.Tags.Set(ctx, "m", tag, d1, "alice", nil); err != nil {
			t.Fatal(err)
		}
	}
	immutable := func(old artifact.Digest) error {
		if old != "" {
			return storage.ErrTagImmutable
		}
		return nil
	}
	if err := s.Tags.Set(ctx, "m", "v1", d2, "bob", immutable); !errors.Is(err, storage.ErrTagImmutable) {
		t.Errorf("veto: %v", err)
	}
	if err := s.Tags.Set(ctx, "m", "latest", d2, "bob", immutable); !errors.Is(err, storage.ErrTagImmutable) {
		t.Errorf("veto of a set tag: %v", err)
	}
	if err := s.Tags.Set(ctx, "m", "latest", d2, "bob", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Tags.Resolve(ctx, "m", "latest"); err != nil || got != d2 {
		t.Errorf("Resolve = %s, %v; want %s", got, err, d2)
	}
	if err := s.Tags.Delete(ctx, "m", "stable", "carol", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Tags.Delete(ctx, "m", "stable", "carol", nil); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := s.Tags.Resolve(ctx, "m", "stable"); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("Resolve of a deleted tag: %v", err)
	}
	if tags, err := s.Tags.List(ctx, "m", "", 10); err != nil || !slices.Equal(tags, []string{"latest", "v1"}) {
		t.Errorf("List = %v, %v", tags, err)
	}
	if tags, err := s.Tags.List(ctx, "m", "latest", 1); err != nil || !slices.Equal(tags, []string{"v1"}) {
		t.Errorf("List after latest = %v, %v", tags, err)
	}
	moves, err := s.Tags.History(ctx, "m", "latest")
	if err != nil || len(moves) != 2 || moves[0].From != "" || moves[0].To != d1 || moves[0].By != "alice" ||
		moves[1].From != d1 || moves[1].To != d2 || moves[1].By != "bob" || moves[1].At.Before(moves[0].At) {
		t.Errorf("History(latest) = %+v, %v", moves, err)
	}
	if moves, err := s.Tags.History(ctx, "m", "stable"); err != nil || len(moves) != 2 || moves[1].To != "" || moves[1].By != "carol" {
		t.Errorf("History(stable) = %+v, %v", moves, err)
	}
}

// testTagMoveFails: a move whose record was written but whose state write
// failed (an error for its client) is in no History and moves no tag,
// until the next mover applies it before its own move.
func testTagMoveFails(t *testing.T, f *faultyDriver) {
	s := storage.New(f)
	ctx := context.Background()
	d := []artifact.Digest{digestOf(artifact.SHA256, "one"), digestOf(artifact.SHA256, "two"), digestOf(artifact.SHA256, "three")}
	history := func() []artifact.Digest {
		t.Helper()
		moves, err := s.Tags.History(ctx, "m", "v")
		if err != nil {
			t.Fatal(err)
		}
		var to []artifact.Digest
		for _, mv := range moves {
			to = append(to, mv.To)
		}
		return to
	}
	if err := s.Tags.Set(ctx, "m", "v", d[0], "", nil); err != nil {
		t.Fatal(err)
	}
	f.failNext("PutIf", "repos/m/_tags/v")
	if err := s.Tags.Set(ctx, "m", "v", d[1], "", nil); !errors.Is(err, errInjected) {
		t.Fatalf("Set whose state write fails = %v", err)
	}
	if got, err := s.Tags.Resolve(ctx, "m", "v"); err != nil || got != d[0] || !slices.Equal(history(), d[:1]) {
		t.Fatalf("after a failed move: Resolve %s (%v), History %v; want %s and only its move", got, err, history(), d[0])
	}
	if err := s.Tags.Set(ctx, "m", "v", d[2], "", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Tags.Resolve(ctx, "m", "v"); got != d[2] || !slices.Equal(history(), d) {
		t.Fatalf("after the next move: Resolve %s, History %v; want %s after the three", got, history(), d[2])
	}
}

// testTagMovers runs 16 concurrent movers of one tag: no move is lost, each
// move's From is the previous move's To, and the tag ends at the last one.
func testTagMovers(t *testing.T, s *storage.Store) {
	const movers, rounds = 16, 2
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, movers*rounds)
	for i := range movers {
		wg.Go(func() {
			for r := range rounds {
				errs <- s.Tags.Set(ctx, "m", "latest", digestOf(artifact.SHA256, fmt.Sprint(i, r)), fmt.Sprint("mover", i), nil)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	moves, err := s.Tags.History(ctx, "m", "latest")
	if err != nil || len(moves) != movers*rounds {
		t.Fatalf("History has %d moves (%v), want %d", len(moves), err, movers*rounds)
	}
	seen := map[artifact.Digest]bool{}
	for i, mv := range moves {
		if i > 0 && mv.From != moves[i-1].To {
			t.Fatalf("move %d starts at %s, the previous ended at %s", i, mv.From, moves[i-1].To)
		}
		seen[mv.To] = true
	}
	if len(seen) != movers*rounds {
		t.Fatalf("%d distinct targets among the moves, want %d", len(seen), movers*rounds)
	}
	if got, err := s.Tags.Resolve(ctx, "m", "latest"); err != nil || got != moves[len(moves)-1].To {
		t.Fatalf("Resolve = %s, %v; the last move went to %s", got, err, moves[len(moves)-1].To)
	}
}

func testUploads(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	id, err := s.Uploads.Start(ctx, "team/model")
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range []struct {
		offset int64
		data   string
	}{{0, "hello, "}, {7, ""}, {7, "chunked "}} {
		if _, err := s.Uploads.Append(ctx, "team/model", id, chunk.offset, -1, strings.NewReader(chunk.data)); err != nil {
			t.Fatalf("Append at %d: %v", chunk.offset, err)
		}
	}
	if _, err := s.Uploads.Append(ctx, "team/model", id, 3, -1, strings.NewReader("x")); !errors.Is(err, storage.ErrRangeInvalid) {
		t.Errorf("Append at a wrong offset: %v", err)
	}
	if n, err := s.Uploads.Size(ctx, "team/model", id); err != nil || n != 15 {
		t.Fatalf("Size = %d, %v", n, err)
	}
	if _, err := s.Uploads.Size(ctx, "other", id); !errors.Is(err, storage.ErrUploadUnknown) {
		t.Errorf("Size from another repository: %v", err)
	}
	want := "hello, chunked world"
	d := digestOf(artifact.SHA256, want)
	if _, err := s.Uploads.Commit(ctx, "team/model", id, d, strings.NewReader("WORLD")); !errors.Is(err, artifact.ErrDigestMismatch) {
		t.Fatalf("Commit of wrong bytes: %v", err)
	}
	if n, err := s.Uploads.Size(ctx, "team/model", id); err != nil || n != 15 {
		t.Fatalf("after a failed Commit, Size = %d, %v", n, err)
	}
	if n, err := s.Uploads.Commit(ctx, "team/model", id, d, strings.NewReader("world")); err != nil || n != int64(len(want)) {
		t.Fatalf("Commit = %d, %v", n, err)
	}
	if got := ReadBlob(t, s, "team/model", d, 0); got != want {
		t.Fatalf("committed blob = %q", got)
	}
	if _, err := s.Uploads.Size(ctx, "team/model", id); !errors.Is(err, storage.ErrUploadUnknown) {
		t.Errorf("Size after Commit: %v", err)
	}
	cancelled, _ := s.Uploads.Start(ctx, "team/model")
	s.Uploads.Append(ctx, "team/model", cancelled, 0, -1, strings.NewReader("data"))
	if err := s.Uploads.Cancel(ctx, "team/model", cancelled); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Uploads.Commit(ctx, "team/model", cancelled, digestOf(artifact.SHA256, "data"), nil); !errors.Is(err, storage.ErrUploadUnknown) {
		t.Errorf("Commit after Cancel: %v", err)
	}
}

func testUploadExpire(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	var ids []string
	for range 3 {
		id, err := s.Uploads.Start(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		s.Uploads.Append(ctx, "m", id, 0, -1, strings.NewReader("partial"))
		ids = append(ids, id)
	}
	if n, err := s.Uploads.Expire(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("Expire(1h) removed %d (%v), want 0", n, err)
	}
	if n, err := s.Uploads.Expire(ctx, 0); err != nil || n != 3 {
		t.Fatalf("Expire(0) removed %d (%v), want 3", n, err)
	}
	for _, id := range ids {
		if _, err := s.Uploads.Size(ctx, "m", id); !errors.Is(err, storage.ErrUploadUnknown) {
			t.Errorf("Size of an expired session: %v", err)
		}
	}
}

func testInvalidNames(t *testing.T, s *storage.Store) {
	ctx := context.Background()
	good := digestOf(artifact.SHA256, "x")
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"upper-case repo", errOf(s.Blobs.Put(ctx, "Team/Model", good, 1, strings.NewReader("x"))), artifact.ErrInvalidName},
		{"dot-dot repo", errOf(s.Blobs.Stat(ctx, "a/../b", good)), artifact.ErrInvalidName},
		{"underscore component", errOf(s.Tags.List(ctx, "a/_tags", "", 10)), artifact.ErrInvalidName},
		{"bad digest", errOf(s.Blobs.Stat(ctx, "a", "sha256:../../x")), artifact.ErrInvalidDigest},
		{"md5 digest", errOf(s.Manifests.Get(ctx, "a", "md5:d41d8cd98f00b204e9800998ecf8427e")), artifact.ErrUnsupportedAlgorithm},
		{"slash tag", s.Tags.Set(ctx, "a", "x/y", good, "", nil), artifact.ErrInvalidTag},
		{"dot-dot tag", errOf(s.Tags.Resolve(ctx, "a", "..")), artifact.ErrInvalidTag},
		{"bad upload id", errOf(s.Uploads.Size(ctx, "a", "../../blobs")), storage.ErrUploadUnknown},
		{"bad subject", s.Manifests.Put(ctx, "a", storage.Manifest{Digest: good, Data: []byte("x")}, "sha256:nope", artifact.Descriptor{}), artifact.ErrInvalidDigest},
	}
	for _, c := range checks {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
}
