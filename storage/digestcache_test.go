package storage

import (
	"fmt"
	"testing"

	"github.com/normreg/normreg/artifact"
)

// TestDigestCacheBound: the cache never holds more than digestCacheBytes,
// keeps the newest entry, and refuses an entry larger than the bound.
func TestDigestCacheBound(t *testing.T) {
	var c digestCache
	entry := make([]byte, digestCacheBytes/5)
	var last artifact.Digest
	for i := range 12 {
		last = artifact.FromBytes(artifact.SHA256, fmt.Appendf(nil, "%d", i))
		c.add(last, entry)
		c.add(last, entry) // again: counted once
		if c.bytes > digestCacheBytes || c.bytes != len(c.data)*len(entry) {
			t.Fatalf("after %d adds: %d bytes in %d entries, bound %d", i+1, c.bytes, len(c.data), digestCacheBytes)
		}
	}
	if _, ok := c.get(last); !ok {
		t.Error("the newest entry was dropped")
	}
	big := artifact.FromBytes(artifact.SHA256, []byte("big"))
	c.add(big, make([]byte, digestCacheBytes+1))
	if _, ok := c.get(big); ok {
		t.Error("an entry larger than the bound was cached")
	}
}
