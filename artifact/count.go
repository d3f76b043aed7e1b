package artifact

import "io"

// CountingReader counts the bytes read through it: how much of an upload
// arrived, how far a parser read.
type CountingReader struct {
	R io.Reader
	N int64 // bytes read so far
}

// Read implements io.Reader.
func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}
