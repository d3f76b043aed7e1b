package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/artifact"
)

// TestDigestCachePrune: once a day a put removes the entries of files that
// are gone or edited, and corrupt entries, and keeps the entries of files
// as they are; between prunings stale entries stay (they never match).
func TestDigestCachePrune(t *testing.T) {
	dir := t.TempDir()
	c := &digestCache{dir: filepath.Join(dir, "digests")}
	d := artifact.Digest("sha256:" + strings.Repeat("0", 64))
	keyFor := func(name, content string) fileKey {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		k, ok := keyOf(path, st)
		if !ok {
			t.Fatal("no key on Linux")
		}
		return k
	}
	entries := func() []string {
		t.Helper()
		es, err := os.ReadDir(c.dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}
	kept, edited, gone := keyFor("kept", "a"), keyFor("edited", "b"), keyFor("gone", "c")
	c.put(kept, d, "") // the first put prunes (no stamp yet) an empty cache
	c.put(edited, d, "")
	c.put(gone, d, "")
	if err := os.WriteFile(filepath.Join(dir, "edited"), []byte("b, edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "gone")); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(c.dir, "corrupt")
	if err := os.WriteFile(corrupt, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := len(entries()); got != 4 {
		t.Fatalf("%d entries before pruning, want 4", got)
	}
	stamp, err := os.Stat(c.dir + ".pruned")
	if err != nil {
		t.Fatal(err)
	}
	c.pruneIfDue(stamp.ModTime().Add(pruneEvery - time.Minute))
	if got := len(entries()); got != 4 {
		t.Fatalf("%d entries after a pruning that was not due, want 4", got)
	}
	c.pruneIfDue(stamp.ModTime().Add(pruneEvery))
	want := []string{filepath.Base(c.entryPath(kept))}
	if got := entries(); !slices.Equal(got, want) {
		t.Fatalf("entries after pruning %v, want only the unchanged file's %v", got, want)
	}
	if got, ok := c.get(kept); !ok || got.Digest != d {
		t.Fatalf("the kept entry reads %q, %v", got.Digest, ok)
	}
}
