package fs_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/storage/fs"
)

// TestSweep leaves two temp files as a process killed mid-Put would, one
// last written two hours ago and one just now: Sweep of what is older than
// an hour finds the old one only, without remove leaves it, with remove
// removes it, and objects are not touched.
func TestSweep(t *testing.T) {
	root := t.TempDir()
	d, err := fs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Put(ctx, "blobs/a", strings.NewReader("kept"), 4); err != nil {
		t.Fatal(err)
	}
	old, fresh := filepath.Join(root, ".tmp", "put-old"), filepath.Join(root, ".tmp", "put-fresh")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("half a blob"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	twoHoursAgo := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, twoHoursAgo, twoHoursAgo); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Sweep(ctx, time.Now().Add(-time.Hour), false); err != nil || n != 1 {
		t.Fatalf("Sweep without remove = %d, %v; want 1 found", n, err)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("Sweep without remove removed the old temp file: %v", err)
	}
	n, err := d.Sweep(ctx, time.Now().Add(-time.Hour), true)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 removed", n, err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the old temp file is still there: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the fresh temp file (a Put in progress) was removed: %v", err)
	}
	if data, _, err := d.Get(ctx, "blobs/a", 10); err != nil || string(data) != "kept" {
		t.Errorf("after Sweep, blobs/a = %q, %v", data, err)
	}
	if n, err := d.Sweep(ctx, time.Now().Add(time.Second), true); err != nil || n != 1 {
		t.Errorf("Sweep of everything = %d, %v; want the fresh one removed", n, err)
	}
}
