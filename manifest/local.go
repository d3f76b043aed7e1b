package manifest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"

	"github.com/normreg/normreg/artifact"
)

// Fetcher returns a Fetcher serving the built bundle before it is pushed, so
// regctl push can run Check on exactly what it will upload: the manifest and
// small blobs from memory, the weights layer from weights, and any other
// content (a parent bundle) from next. With next nil, other content is not
// found (an error wrapping fs.ErrNotExist).
func (b *Built) Fetcher(weights io.ReaderAt, next Fetcher) Fetcher {
	return &localFetcher{built: b, weights: weights, next: next}
}

// localFetcher is the Fetcher of Built.Fetcher.
type localFetcher struct {
	built   *Built
	weights io.ReaderAt
	next    Fetcher
}

// Fetch implements Fetcher.
func (l *localFetcher) Fetch(ctx context.Context, desc artifact.Descriptor, offset, length int64) (io.ReadCloser, error) {
	w := l.built.Manifest.Layers[0]
	switch content, ok := l.built.Blobs[desc.Digest]; {
	case desc.Digest == l.built.Digest:
		return SliceFetched(l.built.ManifestBytes, offset, length)
	case ok:
		return SliceFetched(content, offset, length)
	case desc.Digest == w.Digest && offset <= w.Size:
		return LimitFetched(io.NopCloser(io.NewSectionReader(l.weights, offset, w.Size-offset)), length), nil
	case l.next != nil:
		return l.next.Fetch(ctx, desc, offset, length)
	}
	return nil, fmt.Errorf("%s: %w", desc.Digest, fs.ErrNotExist)
}

// SliceFetched returns a reader of length bytes of b from offset (to b's end
// when length < 0), for Fetch implementations that hold the content.
func SliceFetched(b []byte, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 || offset > int64(len(b)) {
		return nil, fmt.Errorf("offset %d outside %d bytes", offset, len(b))
	}
	return LimitFetched(io.NopCloser(bytes.NewReader(b[offset:])), length), nil
}
