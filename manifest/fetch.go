package manifest

import (
	"context"
	"fmt"
	"io"

	"github.com/normreg/normreg/artifact"
)

// Fetcher reads the content of one repository's blobs and manifests.
//
// Fetch returns desc's content from byte offset to its end (0 <= offset <=
// desc.Size). A descriptor whose MediaType is a manifest media type
// (MediaTypeImageManifest, ...) names a manifest, possibly with Size -1
// (unknown); any other names a blob. Fetch need not verify the content: the
// callers in this package verify whatever they read whole, and read the
// weights by ranges. Closing the reader early abandons the rest.
type Fetcher interface {
	Fetch(ctx context.Context, desc artifact.Descriptor, offset int64) (io.ReadCloser, error)
}

// readVerified reads desc whole, at most limit bytes, and verifies its size
// and digest. A mismatch wraps artifact.ErrDigestMismatch or
// artifact.ErrSizeMismatch; content over limit wraps ErrInvalidBundle.
func readVerified(ctx context.Context, f Fetcher, desc artifact.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit {
		return nil, fmt.Errorf("%w: %s %s is %d bytes, more than %d", ErrInvalidBundle, desc.MediaType, desc.Digest, desc.Size, limit)
	}
	rc, err := f.Fetch(ctx, desc, 0)
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

// rangeReader reads one blob by ranged fetches: each ReadAt is one Fetch at
// its offset, reading only len(p) bytes.
type rangeReader struct {
	ctx  context.Context
	f    Fetcher
	desc artifact.Descriptor
}

// ReadAt implements io.ReaderAt.
func (r rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.desc.Size {
		return 0, io.EOF
	}
	rc, err := r.f.Fetch(r.ctx, r.desc, off)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	return io.ReadFull(rc, p)
}
