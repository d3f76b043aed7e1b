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

// TestVerifiedReadAhead checks that the verifying read-ahead yields the
// source's bytes and ends with io.EOF only when they match the digest and
// size, and otherwise with the mismatch, through Read and WriteTo alike.
func TestVerifiedReadAhead(t *testing.T) {
	data := make([]byte, readAheadBuffers*readAheadSize*2+12345)
	rand.Read(data)
	d := FromBytes(SHA256, data)
	size := int64(len(data))
	boom := errors.New("boom")
	for _, c := range []struct {
		name string
		src  io.Reader
		d    Digest
		size int64
		want error // nil: a clean end
	}{
		{"match", bytes.NewReader(data), d, size, nil},
		{"size unknown", bytes.NewReader(data), d, -1, nil},
		{"other content", bytes.NewReader(append(data[:len(data)-1:len(data)-1], data[len(data)-1]+1)), d, size, ErrDigestMismatch},
		{"short", bytes.NewReader(data[:len(data)-1]), d, size, ErrSizeMismatch},
		{"long", io.MultiReader(bytes.NewReader(data), bytes.NewReader([]byte{0})), d, size, ErrSizeMismatch},
		{"failing source", io.MultiReader(bytes.NewReader(data[:readAheadSize+7]), errReader{boom}), d, size, boom},
		// A connection cut off mid-body is a failure to read, not content
		// that ended short: not a size mismatch, which would blame the blob.
		{"cut off", io.MultiReader(bytes.NewReader(data[:readAheadSize+7]), errReader{io.ErrUnexpectedEOF}), d, size, io.ErrUnexpectedEOF},
	} {
		read, err := io.ReadAll(NewVerifiedReadAhead(c.src, c.d, c.size))
		if c.want == nil && (err != nil || !bytes.Equal(read, data)) {
			t.Errorf("%s: Read gave %d bytes, %v; want the %d source bytes", c.name, len(read), err, len(data))
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: Read ended with %v, want %v", c.name, err, c.want)
		}
	}
	var out bytes.Buffer
	a := NewVerifiedReadAhead(bytes.NewReader(data), d, size)
	defer a.Stop()
	if n, err := a.WriteTo(&out); err != nil || n != size || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("WriteTo gave %d bytes, %v", n, err)
	}
	other := FromBytes(SHA256, []byte("other"))
	b := NewVerifiedReadAhead(bytes.NewReader(data), other, size)
	defer b.Stop()
	if n, err := b.WriteTo(io.Discard); !errors.Is(err, ErrDigestMismatch) || n != size {
		t.Fatalf("WriteTo under another digest gave %d bytes, %v", n, err)
	}
	s := NewVerifiedReadAhead(bytes.NewReader(data), d, size)
	if _, err := io.ReadFull(s, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	s.Stop() // must not hang with the ring full
}
