package client_test

import (
	"context"
	"crypto/rand"
	"io"
	"runtime"
	"testing"

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

// TestStreamingMemory pushes and fetches a 256 MiB blob and checks that the
// client allocates far less than the blob's size: it streams both ways.
func TestStreamingMemory(t *testing.T) {
	const size = 256 << 20
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
	rc, err := c.FetchBlob(ctx, "big/blob", desc)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if err != nil || n != size {
		t.Fatalf("fetched %d bytes, %v; want %d verified", n, err, size)
	}
	grew := allocated() - before
	t.Logf("allocated %d KiB to move %d MiB each way", grew>>10, size>>20)
	if grew > size/8 {
		t.Fatalf("moving %d MiB each way allocated %d MiB: not streaming", size>>20, grew>>20)
	}
}

// allocated returns the bytes allocated on the heap so far.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
