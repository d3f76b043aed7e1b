package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/normreg/normreg/artifact"
)

// Fetcher reads the content of one repository's blobs and manifests.
//
// Fetch returns length bytes of desc's content from byte offset (0 <= offset,
// 0 < length, offset+length <= desc.Size), or, when length < 0, the content
// from offset to its end (offset <= desc.Size). A bounded Fetch should ask
// its source for those bytes only (e.g. a closed HTTP Range): the weights
// are read by such ranges, and may be many gigabytes. A descriptor whose
// MediaType is a manifest media type (MediaTypeImageManifest, ...) names a
// manifest, possibly with Size -1 (unknown); any other names a blob. Fetch
// need not verify the content: the callers in this package verify whatever
// they read whole. Closing the reader early abandons the rest.
type Fetcher interface {
	Fetch(ctx context.Context, desc artifact.Descriptor, offset, length int64) (io.ReadCloser, error)
}

// LimitFetched returns rc cut to length bytes (all of rc when length < 0);
// closing it closes rc. It serves Fetch implementations whose source reads
// to the end.
func LimitFetched(rc io.ReadCloser, length int64) io.ReadCloser {
	if length < 0 {
		return rc
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, length), rc}
}

// readVerified reads desc whole, at most limit bytes, and verifies its size
// and digest. A mismatch wraps artifact.ErrDigestMismatch or
// artifact.ErrSizeMismatch; content over limit wraps ErrInvalidBundle.
func readVerified(ctx context.Context, f Fetcher, desc artifact.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit {
		return nil, fmt.Errorf("%w: %s %s is %d bytes, more than %d", ErrInvalidBundle, desc.MediaType, desc.Digest, desc.Size, limit)
	}
	rc, err := f.Fetch(ctx, desc, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("fetching %s %s: %w", desc.MediaType, desc.Digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(artifact.NewVerifyReader(rc, desc.Digest, desc.Size), limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", desc.MediaType, desc.Digest, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s %s is more than %d bytes", ErrInvalidBundle, desc.MediaType, desc.Digest, limit)
	}
	return b, nil
}

// minRangeRead is the least a rangeReader fetches at once. The checks read
// a weights file's 8-byte header length, its header and each BatchNorm
// statistic; in most files the header and many statistics lie within the
// first few KiB, or next to each other, so one block serves several reads.
const minRangeRead = 64 << 10

// rangeReader reads one blob by ranged fetches: a ReadAt outside the last
// block fetched fetches a new one, of len(p) bytes but at least
// minRangeRead (fewer past the blob's end), at its offset. A fetch that
// fails is a *fetchError; content that ends before the descriptor's size
// is io.ErrUnexpectedEOF.
type rangeReader struct {
	ctx  context.Context
	f    Fetcher
	desc artifact.Descriptor

	mu    sync.Mutex
	off   int64  // where block starts in the blob
	block []byte // the last range fetched
}

// newRangeReader returns a rangeReader of desc.
func newRangeReader(ctx context.Context, f Fetcher, desc artifact.Descriptor) *rangeReader {
	return &rangeReader{ctx: ctx, f: f, desc: desc}
}

// ReadAt implements io.ReaderAt.
func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.desc.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	want := min(int64(len(p)), r.desc.Size-off)
	r.mu.Lock()
	defer r.mu.Unlock()
	if off < r.off || off+want > r.off+int64(len(r.block)) {
		block := make([]byte, min(max(want, minRangeRead), r.desc.Size-off))
		if err := r.fetch(block, off); err != nil {
			return 0, err
		}
		r.off, r.block = off, block
	}
	n := copy(p[:want], r.block[off-r.off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// fetch reads len(p) bytes of the blob at off into p.
func (r *rangeReader) fetch(p []byte, off int64) error {
	rc, err := r.f.Fetch(r.ctx, r.desc, off, int64(len(p)))
	if err != nil {
		return &fetchError{err}
	}
	defer rc.Close()
	_, err = io.ReadFull(rc, p)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return &fetchError{err}
	}
	return err
}

// fetchError is a Fetcher that failed to serve content (its Fetch, or a
// read of what it returned, failed: a registry or storage that is down,
// a blob it does not have), as opposed to content that is not what a bundle
// must be. It says nothing of the bundle, so Check never reports it as
// ErrInvalidBundle.
type fetchError struct{ err error }

// Error is the Fetcher's error.
func (e *fetchError) Error() string { return e.err.Error() }

// Unwrap returns the Fetcher's error, so that callers test it (say, for a
// storage outage) with errors.Is.
func (e *fetchError) Unwrap() error { return e.err }
