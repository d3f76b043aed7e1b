package artifact

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"testing"
)

// TestReadAhead checks that read-ahead yields the source's bytes in order
// and then its end, passes a failure on, and can be stopped mid-stream.
func TestReadAhead(t *testing.T) {
	data := make([]byte, readAheadBuffers*readAheadSize*2+12345)
	rand.Read(data)
	got, err := io.ReadAll(NewReadAhead(bytes.NewReader(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes (%v), want the %d source bytes", len(got), err, len(data))
	}

	boom := errors.New("boom")
	_, err = io.ReadAll(NewReadAhead(io.MultiReader(bytes.NewReader(data[:readAheadSize+7]), errReader{boom})))
	if !errors.Is(err, boom) {
		t.Fatalf("a failing source gave %v, want %v", err, boom)
	}

	a := NewReadAhead(bytes.NewReader(data))
	if _, err := io.ReadFull(a, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	a.Stop() // must not hang with the ring full
	a.Stop()
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
