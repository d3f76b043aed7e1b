package api_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
)

// streamedBody is a blob big enough to be written in many reads.
var streamedBody = bytes.Repeat([]byte("streamed weights "), 1<<16)

// onFS starts a registry on a fresh fs driver and returns it with its root.
func onFS(t *testing.T) (*registry, string) {
	root := t.TempDir()
	d, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	b := backend{name: "fs", driver: func(*testing.T) storage.Driver { return d }}
	return b.start(t), root
}

// startSession POSTs a new session in repo and returns its answer.
func (r *registry) startSession(t *testing.T, repo string) response {
	t.Helper()
	resp := r.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil)
	resp.expect(t, 202, "")
	return resp
}

// patchWhole starts a session and sends data as its one PATCH, the way a
// streaming client does, and returns the session's location.
func (r *registry) patchWhole(t *testing.T, repo string, data []byte) string {
	t.Helper()
	loc := r.startSession(t, repo).header.Get("Location")
	r.do(t, "PATCH", loc, data, "Content-Type: application/octet-stream").expect(t, 202, "")
	return loc
}

// inode returns the inode number of the file at path.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// expectBlob fails unless repo serves blob d with exactly data.
func (r *registry) expectBlob(t *testing.T, repo string, d artifact.Digest, data []byte) {
	t.Helper()
	got := r.do(t, "GET", "/v2/"+repo+"/blobs/"+d.String(), nil)
	if got.status != 200 || !bytes.Equal(got.body, data) {
		t.Fatalf("GET blob %s: %d, %d bytes, want 200, %d bytes", d, got.status, len(got.body), len(data))
	}
}

// blobFile is where the fs driver under root keeps blob d.
func blobFile(root string, d artifact.Digest) string {
	return filepath.Join(root, "blobs", "sha256", d.Hex())
}

// TestStreamedUploadMovesChunk: on fs, one PATCH and a PUT with an empty
// body commit the blob by moving the chunk: the blob file is the chunk's
// inode, and the session is gone.
func TestStreamedUploadMovesChunk(t *testing.T) {
	r, root := onFS(t)
	d := artifact.FromBytes(artifact.SHA256, streamedBody)
	resp := r.startSession(t, "team/model")
	if got := resp.header.Get("Normreg-Streamed-Upload"); got != "sha256" {
		t.Fatalf("Normreg-Streamed-Upload on fs = %q, want sha256", got)
	}
	loc, id := resp.header.Get("Location"), resp.header.Get("Docker-Upload-UUID")
	r.do(t, "PATCH", loc, streamedBody, "Content-Type: application/octet-stream").expect(t, 202, "")
	chunk := filepath.Join(root, "uploads", id, "c-00000000000000000000")
	ino := inode(t, chunk)
	r.do(t, "PUT", loc+"?digest="+d.String(), nil, "Content-Length: 0").expect(t, 201, "")
	r.expectBlob(t, "team/model", d, streamedBody)
	if got := inode(t, blobFile(root, d)); got != ino {
		t.Fatalf("blob file inode %d, the chunk's was %d: the chunk was copied", got, ino)
	}
	for _, left := range []string{filepath.Join(root, "uploads", id), filepath.Join(root, "uploads", "_sum", id)} {
		if _, err := os.Stat(left); !os.IsNotExist(err) {
			t.Errorf("%s after commit: %v", left, err)
		}
	}
	r.do(t, "GET", loc, nil).expect(t, 404, "BLOB_UPLOAD_UNKNOWN")
}

// TestStreamedUploadWrongDigest: a PUT under a digest the chunk does not
// hash to stores nothing and leaves the session to be resumed.
func TestStreamedUploadWrongDigest(t *testing.T) {
	r, root := onFS(t)
	d := artifact.FromBytes(artifact.SHA256, streamedBody)
	wrong := artifact.FromBytes(artifact.SHA256, []byte("something else"))
	loc := r.patchWhole(t, "team/model", streamedBody)
	r.do(t, "PUT", loc+"?digest="+wrong.String(), nil).expect(t, 400, "DIGEST_INVALID")
	if _, err := os.Stat(blobFile(root, wrong)); !os.IsNotExist(err) {
		t.Fatalf("content address of the wrong digest: %v", err)
	}
	r.do(t, "HEAD", "/v2/team/model/blobs/"+wrong.String(), nil).expect(t, 404, "")
	status := r.do(t, "GET", loc, nil)
	if want := "0-" + strconv.Itoa(len(streamedBody)-1); status.status != 204 || status.header.Get("Range") != want {
		t.Fatalf("session after a wrong digest: %d Range %q, want 204 %s", status.status, status.header.Get("Range"), want)
	}
	r.do(t, "PUT", loc+"?digest="+d.String(), nil).expect(t, 201, "")
	r.expectBlob(t, "team/model", d, streamedBody)
}

// TestStreamedUploadBlobPresent: committing a blob the registry already
// holds drops the session and leaves the stored blob as it was.
func TestStreamedUploadBlobPresent(t *testing.T) {
	r, root := onFS(t)
	d := r.pushBlob(t, "team/a", streamedBody)
	ino := inode(t, blobFile(root, d))
	resp := r.startSession(t, "team/b")
	loc, id := resp.header.Get("Location"), resp.header.Get("Docker-Upload-UUID")
	r.do(t, "PATCH", loc, streamedBody).expect(t, 202, "")
	r.do(t, "PUT", loc+"?digest="+d.String(), nil).expect(t, 201, "")
	if got := inode(t, blobFile(root, d)); got != ino {
		t.Fatalf("blob file inode %d, was %d: the stored blob was replaced", got, ino)
	}
	r.expectBlob(t, "team/b", d, streamedBody)
	if _, err := os.Stat(filepath.Join(root, "uploads", id)); !os.IsNotExist(err) {
		t.Fatalf("session dir after commit: %v", err)
	}
}

// TestStreamedUploadInPlace: on every backend, one PATCH and a PUT with an
// empty body commit the blob without copying it: on fs the chunk is moved to
// the blob's key, on S3 a blob reference names the chunk's object and
// nothing is written at the blob's key. A wrong digest first stores nothing.
func TestStreamedUploadInPlace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		d := artifact.FromBytes(artifact.SHA256, streamedBody)
		wrong := artifact.FromBytes(artifact.SHA256, []byte("something else"))
		loc := r.patchWhole(t, "team/model", streamedBody)
		r.do(t, "PUT", loc+"?digest="+wrong.String(), nil).expect(t, 400, "DIGEST_INVALID")
		r.do(t, "HEAD", "/v2/team/model/blobs/"+wrong.String(), nil).expect(t, 404, "")
		r.do(t, "PUT", loc+"?digest="+d.String(), nil, "Content-Length: 0").expect(t, 201, "")
		r.expectBlob(t, "team/model", d, streamedBody)
		ranged := r.do(t, "GET", "/v2/team/model/blobs/"+d.String(), nil, "Range: bytes=17-33")
		if ranged.status != 206 || !bytes.Equal(ranged.body, streamedBody[17:34]) {
			t.Fatalf("ranged GET: %d %q", ranged.status, ranged.body)
		}
		drv, ctx := b.driver(t), context.Background()
		_, ownErr := drv.Stat(ctx, "blobs/sha256/"+d.Hex())
		_, refErr := drv.Stat(ctx, "blobrefs/sha256/"+d.Hex())
		if own, ref := ownErr == nil, refErr == nil; own != (b.name == "fs") || ref != (b.name == "s3") {
			t.Fatalf("on %s: bytes at the blob's key %v (%v), a blob reference %v (%v)", b.name, own, ownErr, ref, refErr)
		}
	})
}

// TestStreamedUploadOtherShapes: uploads that are not one chunk and an empty
// PUT (two PATCHes; a PATCH and a PUT with a body) are streamed through the
// verifier, on every backend, which offers the streamed upload.
func TestStreamedUploadOtherShapes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		if offered := r.startSession(t, "team/model").header.Get("Normreg-Streamed-Upload"); offered != "sha256" {
			t.Fatalf("Normreg-Streamed-Upload on %s = %q, want sha256", b.name, offered)
		}
		d := artifact.FromBytes(artifact.SHA256, streamedBody)
		half := len(streamedBody) / 2
		loc := r.patchWhole(t, "team/two", streamedBody[:half])
		r.do(t, "PATCH", loc, streamedBody[half:], "Content-Range: "+strconv.Itoa(half)+"-"+strconv.Itoa(len(streamedBody)-1)).expect(t, 202, "")
		r.do(t, "PUT", loc+"?digest="+d.String(), nil).expect(t, 201, "")
		r.expectBlob(t, "team/two", d, streamedBody)

		loc = r.patchWhole(t, "team/final", streamedBody[:half])
		r.do(t, "PUT", loc+"?digest="+d.String(), streamedBody[half:]).expect(t, 201, "")
		r.expectBlob(t, "team/final", d, streamedBody)

		loc = r.patchWhole(t, "team/one", streamedBody)
		r.do(t, "PUT", loc+"?digest="+d.String(), nil).expect(t, 201, "")
		r.expectBlob(t, "team/one", d, streamedBody)
	})
}
