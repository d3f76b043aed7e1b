package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// TestMountBlob mounts a blob of one repository into another on normreg
// and on CNCF distribution without sending it; a blob no repository holds
// is not mounted, and the upload session the registry opened instead is
// cancelled (none is left in normreg's storage).
func TestMountBlob(t *testing.T) {
	nh, root := registrytest.Normreg(t)
	dh, _ := registrytest.Distribution(t)
	content := make([]byte, 1<<20)
	rand.Read(content)
	d := artifact.FromBytes(artifact.SHA256, content)
	missing := artifact.FromBytes(artifact.SHA256, []byte("no repository holds this"))
	ctx := context.Background()
	for _, host := range []string{nh, dh} {
		c := client.New(host, client.Options{})
		if err := c.PushBlob(ctx, "team/a", artifact.Descriptor{Digest: d, Size: int64(len(content))}, bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.StatBlob(ctx, "team/b", d); err == nil {
			t.Fatalf("%s: team/b has the blob before the mount", host)
		}
		if ok, err := c.MountBlob(ctx, "team/b", "team/a", d); !ok || err != nil {
			t.Fatalf("%s: MountBlob from team/a = %v, %v; want mounted", host, ok, err)
		}
		if n, err := c.StatBlob(ctx, "team/b", d); err != nil || n != int64(len(content)) {
			t.Fatalf("%s: after the mount team/b's blob: size %d, %v", host, n, err)
		}
		if ok, err := c.MountBlob(ctx, "team/c", "team/a", missing); ok || err != nil {
			t.Fatalf("%s: MountBlob of a blob nobody has = %v, %v; want false, nil", host, ok, err)
		}
	}
	if left := files(t, filepath.Join(root, "uploads")); len(left) != 0 {
		t.Fatalf("a mount that fell back to an upload session left %v", left)
	}
}

// TestTokenStaysWithTheRegistry: an upload session whose Location names
// another host gets the blob without the registry's token, which only the
// registry's own scheme and host receive.
func TestTokenStaysWithTheRegistry(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{} // "server method" -> Authorization
	record := func(name string, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		seen[name+" "+r.Method] = r.Header.Get("Authorization")
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record("other", r)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(other.Close)
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record("registry", r)
		w.Header().Set("Location", other.URL+"/uploads/1")
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(reg.Close)
	c := client.New(strings.TrimPrefix(reg.URL, "http://"), client.Options{Token: "s3cret"})
	blob := []byte("weights")
	desc := artifact.Descriptor{Digest: artifact.FromBytes(artifact.SHA256, blob), Size: int64(len(blob))}
	if err := c.PushBlob(context.Background(), "team/m", desc, bytes.NewReader(blob)); err != nil {
		t.Fatal(err)
	}
	if seen["registry POST"] != "Bearer s3cret" || seen["other PUT"] != "" {
		t.Errorf("Authorization seen: %q; want the token on the registry's POST only", seen)
	}
}
