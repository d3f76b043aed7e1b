package writeback

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/normreg/normreg/internal/writeback/writebacktest"
)

// TestDirectBypassesPageCache writes 12 MiB and a bit with and without
// direct I/O, then asks the kernel (mincore) which of the file's pages are
// in the page cache: with direct I/O none but the last (the unaligned tail
// goes through the cache), without it all of them.
func TestDirectBypassesPageCache(t *testing.T) {
	dir := t.TempDir()
	size := 3*directBuffer + 100
	for _, direct := range []bool{true, false} {
		path := filepath.Join(dir, map[bool]string{true: "direct", false: "cached"}[direct])
		f, err := Create(path, 0o644, direct)
		if err != nil {
			t.Fatal(err)
		}
		if f.Direct() != direct {
			t.Fatalf("Create(direct=%v) in %s: Direct() = %v", direct, dir, f.Direct())
		}
		if _, err := f.Write(make([]byte, size)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if writebacktest.InPageCache(t, dir) {
			t.Logf("%s is on tmpfs, whose files live in the page cache", dir)
			continue
		}
		resident, pages := writebacktest.ResidentPages(t, path)
		if direct && resident > 1 || !direct && resident != pages {
			t.Errorf("direct=%v: %d of the file's %d pages are in the page cache", direct, resident, pages)
		}
	}
}

// TestDirectFallback: a direct write the device refuses with EINVAL (here
// one whose length is not a multiple of the block size) is written through
// the page cache instead, and so is everything after it; the file holds
// exactly the bytes written, in order.
func TestDirectFallback(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob")
	f, err := Create(path, 0o644, true)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Direct() {
		t.Fatalf("Create(direct=true) in %s: not direct", filepath.Dir(path))
	}
	want := make([]byte, 2*directAlign+100+3*directAlign+7)
	for i := range want {
		want[i] = byte(i*13 + i>>10)
	}
	head, odd, rest := want[:2*directAlign], want[2*directAlign:2*directAlign+100], want[2*directAlign+100:]
	if _, err := f.Write(head); err != nil { // through the aligned buffer, direct
		t.Fatal(err)
	}
	if err := f.flush(); err != nil || !f.Direct() {
		t.Fatalf("flushing %d aligned bytes: %v, direct %v", len(head), err, f.Direct())
	}
	if err := f.writeDirect(odd); err != nil {
		t.Fatalf("a direct write of %d bytes: %v, want it written through the page cache", len(odd), err)
	}
	if f.Direct() {
		t.Fatal("still direct after the device refused a direct write")
	}
	if _, err := f.Write(rest); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes (%v), want the %d written", len(got), err, len(want))
	}
}
