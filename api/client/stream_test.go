package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
)

// repeatReader yields block over and over, size bytes in all.
func repeatReader(block []byte, size int64) io.Reader {
	return io.LimitReader(&cycle{b: block}, size)
}

type cycle struct {
	b   []byte
	off int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := copy(p, c.b[c.off:])
	c.off = (c.off + n) % len(c.b)
	return n, nil
}

// TestStreamingMemory pushes and fetches a 512 MiB blob and checks that the
// client allocates far less than the blob's size: it streams both ways.
func TestStreamingMemory(t *testing.T) {
	const size = 512 << 20
	host, _ := registrytest.Distribution(t)
	block := make([]byte, 1<<20+7)
	rand.Read(block)
	h := artifact.SHA256.New()
	io.Copy(h, repeatReader(block, size))
	desc := artifact.Descriptor{Digest: artifact.FromHash(artifact.SHA256, h), Size: size}
	c := client.New(host, client.Options{})
	ctx := context.Background()

	before := allocated()
	if err := c.PushBlob(ctx, "big/blob", desc, repeatReader(block, size)); err != nil {
		t.Fatal(err)
	}
	n, err := fetchAll(t, c, desc)
	if err != nil || n != size {
		t.Fatalf("fetched %d bytes, %v; want %d verified", n, err, size)
	}
	grew := allocated() - before
	t.Logf("allocated %d KiB to move %d MiB each way", grew>>10, size>>20)
	if grew > size/8 {
		t.Fatalf("moving %d MiB each way allocated %d MiB: not streaming", size>>20, grew>>20)
	}
}

// fetchAll reads blob desc of big/blob to its end and returns how many
// bytes came and how the reader ended.
func fetchAll(t *testing.T, c *client.Client, desc artifact.Descriptor) (int64, error) {
	t.Helper()
	rc, err := c.FetchBlob(context.Background(), "big/blob", desc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	return io.Copy(io.Discard, rc)
}

// allocated returns the bytes allocated on the heap so far.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestFetchLargeCorruptBlob corrupts the last byte of a stored 80 MiB blob
// (past ReadAheadMin, so FetchBlob pipelines receiving, hashing and the
// caller's reads) and checks the reader ends with ErrDigestMismatch, and
// that closing a reader half-way stops its goroutines.
func TestFetchLargeCorruptBlob(t *testing.T) {
	const size = 80 << 20
	host, root := registrytest.Distribution(t)
	data := make([]byte, size)
	rand.Read(data)
	desc := artifact.Descriptor{Digest: artifact.FromBytes(artifact.SHA256, data), Size: size}
	c := client.New(host, client.Options{})
	ctx := context.Background()
	if err := c.PushBlob(ctx, "big/blob", desc, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	hex := desc.Digest.Hex()
	data[size-1] ^= 0xff
	if err := os.WriteFile(filepath.Join(root, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := fetchAll(t, c, desc); !errors.Is(err, artifact.ErrDigestMismatch) {
		t.Fatalf("reading a corrupted %d-byte blob: %d bytes, %v; want ErrDigestMismatch", size, n, err)
	}
	goroutines := runtime.NumGoroutine()
	for range 5 {
		rc, err := c.FetchBlob(ctx, "big/blob", desc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, rc, 3<<20); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	for i := 0; runtime.NumGoroutine() > goroutines+2 && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > goroutines+2 {
		t.Fatalf("%d goroutines after closing 5 half-read blobs, %d before: the pipeline leaks", g, goroutines)
	}
}
