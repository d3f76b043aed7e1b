package storage

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/normreg/normreg/artifact"
)

// TestDigestCacheBound: the cache never holds more than digestCacheBytes,
// keeps the newest entry, and refuses an entry larger than the bound.
func TestDigestCacheBound(t *testing.T) {
	var c digestCache
	entry := cachedManifest{data: make([]byte, digestCacheBytes/5)}
	var last artifact.Digest
	for i := range 12 {
		last = artifact.FromBytes(artifact.SHA256, fmt.Appendf(nil, "%d", i))
		c.add(last, entry)
		c.add(last, entry) // again: counted once
		if c.bytes > digestCacheBytes || c.bytes != len(c.items)*len(entry.data) {
			t.Fatalf("after %d adds: %d bytes in %d entries, bound %d", i+1, c.bytes, len(c.items), digestCacheBytes)
		}
	}
	if _, ok := c.get(last); !ok {
		t.Error("the newest entry was dropped")
	}
	big := artifact.FromBytes(artifact.SHA256, []byte("big"))
	c.add(big, cachedManifest{data: make([]byte, digestCacheBytes+1)})
	if _, ok := c.get(big); ok {
		t.Error("an entry larger than the bound was cached")
	}
}

// TestParseSetTagState: the reflection-free reader agrees with
// json.Unmarshal on what apply writes, and leaves every other form to it.
func TestParseSetTagState(t *testing.T) {
	d := artifact.FromBytes(artifact.SHA256, []byte("m"))
	for _, st := range []tagState{{Digest: d, Seq: 1}, {Digest: d, Seq: 1 << 40}} {
		data, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := parseSetTagState(data); !ok || got != st {
			t.Errorf("parseSetTagState(%s) = %+v, %v; want %+v", data, got, ok, st)
		}
	}
	for _, other := range []string{`{"seq":3}`, `{"seq":3,"digest":"sha256:ab"}`, `{"digest":"sha\"256","seq":1}`,
		`{"digest":"sha256:ab","seq":1,"x":2}`, `{"digest":"sha256:ab","seq":1.5}`, ` {"digest":"sha256:ab","seq":1}`} {
		if got, ok := parseSetTagState([]byte(other)); ok {
			t.Errorf("parseSetTagState(%s) = %+v, want it left to json.Unmarshal", other, got)
		}
	}
}
