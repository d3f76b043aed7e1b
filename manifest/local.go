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
func (l *localFetcher) Fetch(ctx context.Context, desc artifact.Descriptor, offset int64) (io.ReadCloser, error) {
	w := l.built.Manifest.Layers[0]
	switch content, ok := l.built.Blobs[desc.Digest]; {
	case desc.Digest == l.built.Digest:
		return sliceFrom(l.built.ManifestBytes, offset)
	case ok:
		return sliceFrom(content, offset)
	case desc.Digest == w.Digest && offset <= w.Size:
		return io.NopCloser(io.NewSectionReader(l.weights, offset, w.Size-offset)), nil
	case l.next != nil:
		return l.next.Fetch(ctx, desc, offset)
	}
	return nil, fmt.Errorf("%s: %w", desc.Digest, fs.ErrNotExist)
}

// sliceFrom returns a reader of b from offset.
func sliceFrom(b []byte, offset int64) (io.ReadCloser, error) {
	if offset < 0 || offset > int64(len(b)) {
		return nil, fmt.Errorf("offset %d outside %d bytes", offset, len(b))
	}
	return io.NopCloser(bytes.NewReader(b[offset:])), nil
}
