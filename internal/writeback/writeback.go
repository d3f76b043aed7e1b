// Package writeback writes large files durably without piling up dirty
// pages (a Writer starts writeback early; a File can bypass the page cache
// with direct I/O), and makes directory entries durable: the registry's fs
// driver and regctl's pull write blobs of gigabytes through it and fsync
// them, and their directories, before they become visible.
package writeback

import (
	"errors"
	"io"
	"os"
)

// flushBehind is how many bytes a file being written may gather before the
// kernel is asked to start writing them to disk.
const flushBehind = 8 << 20

// pageCacheWrite is the largest write a Writer hands the kernel at once. A
// large write lets the page cache take large folios (ext4 has them since
// Linux 6.16), which come from the high-order free blocks a VM with free
// page reporting has handed back to its host: on such a VM a 4 GiB pull
// written in 1 MiB writes spent 9–12 s of system time, in 32 KiB writes
// 3.1–3.8 s (bench/RESULTS.md, change 21).
const pageCacheWrite = 32 << 10

// Writer writes to a file and, every flushBehind bytes, starts the
// writeback of what it wrote without waiting for it (startWriteback), so
// the disk works while the rest arrives: the fsync that makes the file
// durable finds little left to write, and a blob of gigabytes never piles
// up gigabytes of dirty pages (which the kernel would throttle).
type Writer struct {
	f                *os.File
	written, started int64
}

// New returns a Writer appending to f from its current offset, 0.
func New(f *os.File) *Writer { return &Writer{f: f} }

// Write implements io.Writer, in writes of at most pageCacheWrite bytes.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := writePieces(w.f.Write, p, pageCacheWrite)
	w.written += int64(n)
	if w.written-w.started >= flushBehind {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}

// SyncDir fsyncs directory dir, so the names created, renamed or removed in
// it last survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// writePieces writes p through write in pieces of at most piece bytes, in
// order, and stops at the first error.
func writePieces(write func([]byte) (int, error), p []byte, piece int) (int, error) {
	written := 0
	for len(p) > 0 {
		n, err := write(p[:min(piece, len(p))])
		written += n
		if err == nil && n == 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}
