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

func TestReadAheadWriteTo(t *testing.T) {
	data := make([]byte, readAheadBuffers*readAheadSize*2+12345)
	rand.Read(data)
	a := NewReadAhead(bytes.NewReader(data))
	defer a.Stop()
	head := make([]byte, 100)
	if _, err := io.ReadFull(a, head); err != nil {
		t.Fatal(err)
	}
	var rest bytes.Buffer
	n, err := a.WriteTo(&rest)
	if err != nil || n != int64(len(data)-100) || !bytes.Equal(append(head, rest.Bytes()...), data) {
		t.Fatalf("Read then WriteTo gave %d bytes (%v), want the %d source bytes", 100+n, err, len(data))
	}

	boom := errors.New("boom")
	b := NewReadAhead(io.MultiReader(bytes.NewReader(data[:readAheadSize+7]), errReader{boom}))
	defer b.Stop()
	if n, err := b.WriteTo(io.Discard); !errors.Is(err, boom) || n != readAheadSize+7 {
		t.Fatalf("a failing source gave %d bytes, %v; want %d, %v", n, err, readAheadSize+7, boom)
	}
}
