package fs

import "os"

// flushBehind is how many bytes a file being written may gather before the
// driver asks the kernel to start writing them to disk.
const flushBehind = 8 << 20

// writebackFile writes to f and, every flushBehind bytes, starts the
// writeback of what it wrote without waiting for it (startWriteback), so
// the disk works while the rest arrives: the fsync that makes the file
// durable finds little left to write, and a blob of gigabytes never piles
// up gigabytes of dirty pages (which the kernel would throttle).
type writebackFile struct {
	f                *os.File
	written, started int64
}

// Write implements io.Writer.
func (w *writebackFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= flushBehind {
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}
