package storage

import (
	"context"
	"io"
)

// FreshPutter is implemented by drivers that can store an object faster
// when no one else writes or reads its key before the call returns (a key
// made of a fresh UUID, as an upload's first chunk is staged under).
type FreshPutter interface {
	// PutFresh is Put for such a key. It need not be atomic to readers. If
	// it fails it leaves no data under key, at most an empty object. A
	// stream of declared size (size >= 0) that is shorter or longer fails.
	PutFresh(ctx context.Context, key string, r io.Reader, size int64) error
}

// putFresh stores r under the fresh key with PutFresh where d has it, else
// with Put.
func putFresh(ctx context.Context, d Driver, key string, r io.Reader, size int64) error {
	if f, ok := d.(FreshPutter); ok {
		return f.PutFresh(ctx, key, r, size)
	}
	return d.Put(ctx, key, r, size)
}
