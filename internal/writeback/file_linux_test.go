package writeback

import (
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
