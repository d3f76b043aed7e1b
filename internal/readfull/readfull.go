// Package readfull fills buffers from streams without mistaking a stream
// cut off for one that ended.
package readfull

import "io"

// Read reads r into buf until buf is full or r returns an error, and
// returns how many bytes it read and r's error as r returned it (nil when
// buf was filled). Unlike io.ReadFull, which turns a stream's io.EOF after
// some bytes into io.ErrUnexpectedEOF, it keeps the two apart: io.EOF means
// r ended cleanly, while the io.ErrUnexpectedEOF of an HTTP body whose
// connection was cut off before its Content-Length stays an error.
func Read(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
