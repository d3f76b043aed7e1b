package artifact

import (
	"errors"
	"io"
	"sync"

	"github.com/normreg/normreg/internal/readfull"
)

// ReadAheadMin is the size from which streaming a blob through a ReadAhead
// pays for its goroutine and buffers.
const ReadAheadMin = 64 << 20

// A ReadAhead holds at most readAheadBuffers buffers of readAheadSize bytes.
const (
	readAheadSize    = 1 << 20
	readAheadBuffers = 16
)

// filled is one buffer read ahead, or the error that ended the stream.
type filled struct {
	buf []byte
	err error
}

// ReadAhead reads its source from a goroutine into a bounded ring of
// buffers, so that reading and hashing the source (a socket under a
// VerifyReader) overlap with what the caller does with the bytes (writing a
// file). Memory stays at most 16 MiB whatever the stream's length.
type ReadAhead struct {
	r    io.Reader
	full chan filled
	free chan []byte
	done chan struct{}
	once sync.Once
	cur  filled // what is left of the buffer being read, or the end
	held []byte // the buffer cur points into
}

// NewReadAhead starts reading r ahead. The caller calls Stop when done
// (early or not); r must not be used by anyone else until then.
func NewReadAhead(r io.Reader) *ReadAhead {
	a := newReadAhead(r)
	go a.fill(a.full)
	return a
}

// NewVerifiedReadAhead is NewReadAhead(NewVerifyReader(r, expected, size))
// in three stages without a copy between them: one goroutine reads r into
// the buffers, a second hashes each buffer and hands the same buffer on to
// the reader, and ends the stream with the verdict a VerifyReader gives (io.EOF
// only if everything matched). So receiving, hashing and what the caller
// does with the bytes (writing a file) overlap, and every byte is copied
// once, from r.
func NewVerifiedReadAhead(r io.Reader, expected Digest, size int64) *ReadAhead {
	a := newReadAhead(r)
	read := make(chan filled, readAheadBuffers+1)
	go a.fill(read)
	v := newVerifier(expected, size)
	go a.verify(&v, read)
	return a
}

// newReadAhead returns a ReadAhead of r with its buffers, not yet started.
func newReadAhead(r io.Reader) *ReadAhead {
	a := &ReadAhead{r: r, full: make(chan filled, readAheadBuffers+1), free: make(chan []byte, readAheadBuffers), done: make(chan struct{})}
	for range readAheadBuffers {
		a.free <- nil // allocated when first needed
	}
	return a
}

// verify passes the buffers of read on to the reader after v has hashed
// them, and replaces the stream's end (io.EOF) with v's verdict. Like
// fill's, its sends never block: no more than the buffers and one end are
// ever in the channels.
func (a *ReadAhead) verify(v *verifier, read <-chan filled) {
	defer close(a.full)
	for f := range read {
		if err := v.add(f.buf); err != nil {
			a.full <- filled{err: err}
			return
		}
		if errors.Is(f.err, io.EOF) {
			f.err = v.check()
		}
		a.full <- f
	}
}

// fill reads r into free buffers, sending them to full, until r ends,
// fails or the reader is closed.
func (a *ReadAhead) fill(full chan<- filled) {
	defer close(full)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.done:
			return
		}
		if buf == nil {
			buf = make([]byte, readAheadSize)
		}
		n, err := readfull.Read(a.r, buf) // io.EOF only at a clean end, not when a connection is cut off
		if n > 0 {
			full <- filled{buf: buf[:n]}
		}
		if err != nil {
			full <- filled{err: err}
			return
		}
	}
}

// Read implements io.Reader: r's bytes, then r's final error (io.EOF at a clean end).
func (a *ReadAhead) Read(p []byte) (int, error) {
	for len(a.cur.buf) == 0 {
		if a.cur.err != nil {
			return 0, a.cur.err
		}
		a.advance()
	}
	n := copy(p, a.cur.buf)
	a.cur.buf = a.cur.buf[n:]
	return n, nil
}

// WriteTo implements io.WriterTo: it writes the buffers as they arrive,
// whole (no copy, one Write per MiB), and returns nil at a clean end or
// r's error.
func (a *ReadAhead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(a.cur.buf) > 0 {
			n, err := w.Write(a.cur.buf)
			total += int64(n)
			a.cur.buf = a.cur.buf[n:]
			if err != nil {
				return total, err
			}
			continue
		}
		switch a.cur.err {
		case nil:
			a.advance()
		case io.EOF:
			return total, nil
		default:
			return total, a.cur.err
		}
	}
}

// advance hands the buffer read last back to fill and waits for the next.
func (a *ReadAhead) advance() {
	if a.held != nil {
		a.free <- a.held
	}
	next, ok := <-a.full
	if !ok {
		next = filled{err: io.ErrClosedPipe}
	}
	a.cur, a.held = next, next.buf[:cap(next.buf)]
	if next.buf == nil {
		a.held = nil
	}
}

// Stop ends the goroutine (after the read in progress, if any). It may be called more than once.
func (a *ReadAhead) Stop() { a.once.Do(func() { close(a.done) }) }
