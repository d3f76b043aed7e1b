package writeback

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// TestWritePieces: a write larger than the piece goes down in pieces of at
// most that size, bytes in order; the first error stops it, with the count
// of bytes written before it.
func TestWritePieces(t *testing.T) {
	p := make([]byte, 100_000)
	for i := range p {
		p[i] = byte(i % 251)
	}
	var got bytes.Buffer
	var sizes []int
	record := func(b []byte) (int, error) { sizes = append(sizes, len(b)); return got.Write(b) }
	if n, err := writePieces(record, p, 32<<10); n != len(p) || err != nil || !bytes.Equal(got.Bytes(), p) {
		t.Fatalf("writePieces: %d, %v, %d bytes equal: %v; want all %d", n, err, got.Len(), bytes.Equal(got.Bytes(), p), len(p))
	}
	if want := []int{32 << 10, 32 << 10, 32 << 10, 100_000 - 3*(32<<10)}; !slices.Equal(sizes, want) {
		t.Errorf("pieces %v, want %v", sizes, want)
	}
	full := errors.New("disk full")
	calls := 0
	failSecond := func(b []byte) (int, error) {
		if calls++; calls == 2 {
			return 10, full
		}
		return len(b), nil
	}
	if n, err := writePieces(failSecond, p, 32<<10); n != 32<<10+10 || err != full {
		t.Errorf("writePieces with the second write failing: %d, %v; want %d, %v", n, err, 32<<10+10, full)
	}
	if n, err := writePieces(func([]byte) (int, error) { return 0, nil }, p, 32<<10); n != 0 || err != io.ErrShortWrite {
		t.Errorf("writePieces with a write that takes nothing: %d, %v; want 0, io.ErrShortWrite", n, err)
	}
}
