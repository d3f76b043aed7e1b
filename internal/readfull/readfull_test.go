package readfull

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestRead checks that Read fills the buffer across short reads, reports a
// clean end as io.EOF with the bytes before it, and passes every other error
// on as it came, io.ErrUnexpectedEOF included.
func TestRead(t *testing.T) {
	data := []byte("0123456789")
	buf := make([]byte, 4)
	if n, err := Read(iotest.OneByteReader(bytes.NewReader(data)), buf); n != 4 || err != nil || string(buf) != "0123" {
		t.Errorf("a longer stream: %d %q %v, want 4 \"0123\" nil", n, buf[:n], err)
	}
	big := make([]byte, 16)
	if n, err := Read(iotest.HalfReader(bytes.NewReader(data)), big); n != 10 || err != io.EOF || string(big[:n]) != string(data) {
		t.Errorf("a shorter stream: %d %q %v, want 10 bytes and io.EOF", n, big[:n], err)
	}
	cut := io.MultiReader(bytes.NewReader(data[:3]), iotest.ErrReader(io.ErrUnexpectedEOF))
	if n, err := Read(cut, big); n != 3 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a stream cut off: %d %v, want 3 and io.ErrUnexpectedEOF", n, err)
	}
	boom := errors.New("boom")
	if n, err := Read(iotest.DataErrReader(io.MultiReader(bytes.NewReader(data[:2]), iotest.ErrReader(boom))), big); n != 2 || !errors.Is(err, boom) {
		t.Errorf("a failing stream: %d %v, want 2 and boom", n, err)
	}
}
