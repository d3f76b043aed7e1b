package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
)

// TestPushBlobStreamed streams a blob without knowing its digest into
// normreg and CNCF distribution: the digest returned is the content's, and
// the blob fetches back verified. Distribution never advertises streamed
// uploads.
func TestPushBlobStreamed(t *testing.T) {
	nh, _ := registrytest.Normreg(t)
	dh, _ := registrytest.Distribution(t)
	content := make([]byte, 3<<20+5)
	rand.Read(content)
	want := artifact.FromBytes(artifact.SHA256, content)
	ctx := context.Background()
	for _, host := range []string{nh, dh} {
		c := client.New(host, client.Options{})
		up, err := c.StartUpload(ctx, "team/blob")
		if err != nil {
			t.Fatal(err)
		}
		if host == dh && up.Streamed {
			t.Errorf("distribution answered %s", client.StreamedUploadHeader)
		}
		d, err := c.PushBlobStreamed(ctx, up, bytes.NewReader(content), int64(len(content)))
		if err != nil || d != want {
			t.Fatalf("%s: PushBlobStreamed = %s, %v; want %s", host, d, err, want)
		}
		rc, err := c.FetchBlob(ctx, "team/blob", artifact.Descriptor{Digest: d, Size: int64(len(content))})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("%s: fetched %d bytes (%v), want the %d pushed", host, len(got), err, len(content))
		}
	}
}

// TestPushBlobStreamedCancelsOnFailure: a reader shorter than the size
// fails the upload, and the session is deleted from the registry's storage;
// a longer one fails too (net/http sends size bytes, then refuses the rest).
func TestPushBlobStreamedCancelsOnFailure(t *testing.T) {
	host, root := registrytest.Normreg(t)
	c := client.New(host, client.Options{})
	ctx := context.Background()
	up, err := c.StartUpload(ctx, "team/blob")
	if err != nil {
		t.Fatal(err)
	}
	if sessions := files(t, filepath.Join(root, "uploads")); len(sessions) == 0 {
		t.Fatal("the registry's storage shows no upload session after StartUpload")
	}
	if _, err := c.PushBlobStreamed(ctx, up, bytes.NewReader(make([]byte, 100)), 1000); err == nil {
		t.Fatal("100 bytes were pushed as 1000 without an error")
	}
	for _, dir := range []string{"uploads", "blobs"} {
		if left := files(t, filepath.Join(root, dir)); len(left) != 0 {
			t.Fatalf("a failed streamed upload left %v", left)
		}
	}
	if up, err = c.StartUpload(ctx, "team/blob"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PushBlobStreamed(ctx, up, bytes.NewReader(make([]byte, 1001)), 1000); err == nil {
		t.Fatal("1001 bytes were pushed as 1000 without an error")
	}
}

// files lists the regular files under dir (none when it does not exist).
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}
