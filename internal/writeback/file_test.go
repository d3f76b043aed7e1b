package writeback

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestFileContent writes files of sizes around the alignment and the
// buffer, in writes of odd and of aligned lengths, with and without direct
// I/O: each file holds exactly the bytes written, whichever path they took.
func TestFileContent(t *testing.T) {
	dir := t.TempDir()
	sizes := []int{0, 1, directAlign - 1, directAlign, directAlign + 1, directBuffer - 1, directBuffer, 2*directBuffer + 3*directAlign + 17}
	for _, direct := range []bool{true, false} {
		for _, size := range sizes {
			for _, step := range []int{1000, 1 << 20} {
				name := fmt.Sprintf("direct=%v-size=%d-step=%d", direct, size, step)
				want := make([]byte, size)
				for i := range want {
					want[i] = byte(i*7 + i>>12) // no two aligned blocks alike
				}
				f, err := Create(filepath.Join(dir, name), 0o644, direct)
				if err != nil {
					t.Fatal(err)
				}
				for off := 0; off < size; off += step {
					if n, err := f.Write(want[off:min(off+step, size)]); err != nil || n != min(step, size-off) {
						t.Fatalf("%s: Write at %d: %d, %v", name, off, n, err)
					}
				}
				if err := f.Close(); err != nil {
					t.Fatalf("%s: Close: %v", name, err)
				}
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s: file holds %d bytes (%v), want the %d written", name, len(got), err, size)
				}
			}
		}
	}
}

// TestCreateExisting refuses to write over a file.
func TestCreateExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(path, 0o644, true); !os.IsExist(err) {
		t.Fatalf("Create over an existing file: %v, want exist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "keep" {
		t.Fatalf("the existing file now holds %q", got)
	}
}
