package writeback

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWriter writes 20 MiB and a bit in 1 MiB steps: the file holds exactly
// those bytes, and writeback was started at each whole flushBehind.
func TestWriter(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "blob"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := New(f)
	var want bytes.Buffer
	for i := range 20 {
		chunk := bytes.Repeat([]byte{byte(i)}, 1<<20)
		want.Write(chunk)
		if n, err := w.Write(chunk); err != nil || n != len(chunk) {
			t.Fatalf("Write %d: %d, %v", i, n, err)
		}
	}
	w.Write([]byte("end"))
	want.WriteString("end")
	if w.started != 2*flushBehind || w.written != int64(want.Len()) {
		t.Errorf("writeback started up to %d of %d bytes, want %d", w.started, w.written, 2*flushBehind)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("file holds %d bytes (%v), want the %d written", len(got), err, want.Len())
	}
}

// TestSyncDir syncs a directory and refuses one that does not exist.
func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Fatalf("SyncDir(%s): %v", dir, err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Fatalf("SyncDir of a missing directory: %v, want not-exist", err)
	}
}
