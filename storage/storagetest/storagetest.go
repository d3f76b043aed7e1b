// Package storagetest is the one test suite every storage.Driver passes: the
// driver contract itself, then the stores built on the driver.
package storagetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/normreg/normreg/storage"
)

// PartSize is the largest object a driver under test may write in one
// request; drivers with multipart uploads should be configured with it, so
// that the suite's large objects take the multipart path.
const PartSize = 5 << 20

// Run runs the whole suite. newDriver returns a fresh, empty driver for one
// test; it may register cleanups that check the driver left nothing behind
// (temp files, unfinished uploads).
func Run(t *testing.T, newDriver func(t *testing.T) storage.Driver) {
	t.Run("driver", func(t *testing.T) { runDriver(t, newDriver) })
	t.Run("stores", func(t *testing.T) { runStores(t, newDriver) })
}

// check is one named test of the suite.
type check[T any] struct {
	name string
	run  func(t *testing.T, x T)
}

// runTests runs each check as a subtest on a fresh x from newX.
func runTests[T any](t *testing.T, newX func(t *testing.T) T, checks []check[T]) {
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.run(t, newX(t)) })
	}
}

// stream is a reproducible pseudo-random byte stream of a given length that
// hides its length (like a request body of unknown size).
type stream struct {
	rng  *rand.ChaCha8
	left int64
}

// newStream returns n bytes generated from seed.
func newStream(seed byte, n int64) *stream {
	return &stream{rng: rand.NewChaCha8([32]byte{seed}), left: n}
}

// Read implements io.Reader.
func (s *stream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, _ := s.rng.Read(p)
	s.left -= int64(n)
	return n, nil
}

// sumOf hashes everything r yields.
func sumOf(t *testing.T, r io.Reader) ([32]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	return [32]byte(h.Sum(nil)), n
}

// matchesStream reads r to its end and reports how many bytes it gave and
// whether they are newStream(seed, size)'s from offset on.
func matchesStream(t *testing.T, r io.Reader, seed byte, size, offset int64) (int64, bool) {
	t.Helper()
	want := newStream(seed, size)
	io.CopyN(io.Discard, want, offset)
	got, n := sumOf(t, r)
	return n, got == first(sumOf(t, want)) && n == size-offset
}

// failingReader yields n bytes of a stream, then err.
type failingReader struct {
	r   io.Reader
	err error
}

// Read implements io.Reader.
func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

// canceled returns a context that is already done.
func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// first returns the first of two results.
func first[A, B any](a A, _ B) A { return a }

// errOf returns the error of two results.
func errOf[A any](_ A, err error) error { return err }
