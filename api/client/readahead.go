package client

import (
	"io"
	"sync"
)

// Blobs of at least readAheadMin bytes are read ahead: a goroutine reads
// (and verifies) up to readAheadBuffers buffers of readAheadSize bytes while
// the caller writes the previous ones, so receiving and hashing overlap
// with the caller's writes. Memory stays bounded whatever the blob's size.
const (
	readAheadMin     = 64 << 20
	readAheadSize    = 1 << 20
	readAheadBuffers = 4
)

// filled is one buffer read ahead, or the error that ended the stream.
type filled struct {
	buf []byte
	err error
}

// readAhead reads r from a goroutine into a bounded ring of buffers.
type readAhead struct {
	r    io.Reader
	full chan filled
	free chan []byte
	done chan struct{}
	once sync.Once
	cur  filled // what is left of the buffer being read, or the end
	held []byte // the buffer cur points into
}

// newReadAhead starts reading r ahead.
func newReadAhead(r io.Reader) *readAhead {
	a := &readAhead{r: r, full: make(chan filled, readAheadBuffers+1), free: make(chan []byte, readAheadBuffers), done: make(chan struct{})}
	for range readAheadBuffers {
		a.free <- make([]byte, readAheadSize)
	}
	go a.fill()
	return a
}

// fill reads r into free buffers until it ends, fails or the reader is closed.
func (a *readAhead) fill() {
	defer close(a.full)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.done:
			return
		}
		n, err := io.ReadFull(a.r, buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		if n > 0 {
			a.full <- filled{buf: buf[:n]}
		}
		if err != nil {
			a.full <- filled{err: err}
			return
		}
	}
}

// Read implements io.Reader: r's bytes, then r's final error (io.EOF at a clean end).
func (a *readAhead) Read(p []byte) (int, error) {
	for len(a.cur.buf) == 0 {
		if a.cur.err != nil {
			return 0, a.cur.err
		}
		if a.held != nil {
			a.free <- a.held
		}
		next, ok := <-a.full
		if !ok {
			return 0, io.ErrClosedPipe
		}
		a.cur, a.held = next, next.buf[:cap(next.buf)]
		if next.buf == nil {
			a.held = nil
		}
	}
	n := copy(p, a.cur.buf)
	a.cur.buf = a.cur.buf[n:]
	return n, nil
}

// stop ends the goroutine (it finishes the read in progress first).
func (a *readAhead) stop() { a.once.Do(func() { close(a.done) }) }
