// Package storage keeps content-addressed blobs, manifests, tags and upload
// sessions on a Driver. The stores are written once, on the Driver
// interface; drivers live in storage/fs (the default) and storage/s3.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors every Driver returns (wrapped with the key), tested with errors.Is.
var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPreconditionFailed: a conditional put found another version than expected.
	ErrPreconditionFailed = errors.New("precondition failed")
	// ErrTooLarge: an object read whole is larger than the caller's bound.
	ErrTooLarge = errors.New("object too large")
	// ErrUnavailable: the storage backend could not be reached (an S3 server
	// down or unreachable) or could not serve the request for now (S3's 503
	// SlowDown, 500 InternalError); the request may succeed later.
	ErrUnavailable = errors.New("storage unavailable")
	// ErrFull: a write found no space left (a full disk, an exhausted
	// quota); like any failed write it left nothing behind.
	ErrFull = errors.New("storage is full")
)

// Info describes a stored object.
type Info struct {
	Key      string
	Size     int64
	Version  string // opaque; changes whenever the object's content changes
	Modified time.Time
}

// Driver stores opaque objects under keys. Keys are slash-separated paths of
// non-empty components other than "." and ".."; no key is ever a prefix
// "folder" of another key (the layout in keys.go guarantees it), so a driver
// may store keys as file paths. Every method honours ctx cancellation.
type Driver interface {
	// Open returns a reader of the object's bytes starting at offset
	// (0 <= offset <= size). A missing key gives ErrNotFound.
	Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error)

	// Put stores everything r yields under key, atomically: readers see the
	// old object or the whole new one, never a part. size is the length when
	// known, or -1. If reading r returns an error other than io.EOF (a
	// verifying reader's digest mismatch, a dropped client), Put returns that
	// error, the key keeps its old value, and nothing is left behind (no temp
	// file, no unfinished multipart upload). Memory does not grow with size.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// Stat describes the object at key; a missing key gives ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)

	// List returns, in byte order, the objects directly inside dir (a key
	// prefix ending in "/"), excluding deeper levels, whose names sort after
	// `after`, at most limit of them (limit > 0). Names are relative to dir.
	// An empty or missing dir gives an empty list.
	List(ctx context.Context, dir, after string, limit int) ([]string, error)

	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// Get reads a small object whole with its version; an object larger than
	// max bytes gives ErrTooLarge, a missing key ErrNotFound.
	Get(ctx context.Context, key string, max int64) (data []byte, version string, err error)

	// PutIf writes data under key only if the key's current version is
	// ifVersion, or, when ifVersion is "", only if the key does not exist.
	// Otherwise it returns ErrPreconditionFailed and changes nothing. It is
	// the compare-and-swap primitive: of concurrent callers with the same
	// ifVersion, across processes and machines, exactly one succeeds. It
	// returns the new version.
	PutIf(ctx context.Context, key string, data []byte, ifVersion string) (version string, err error)
}

// A Sweeper is a Driver whose writes, cut off where Put cannot clean up
// after itself, can leave debris under no key: the temp file of a process
// killed mid-Put, a multipart upload whose abort could not reach an S3
// server that had gone away. Sweep counts the debris not written to since
// before and, with remove, removes it; it returns how many pieces it found
// (and removed). Debris written to later may be a Put still in progress
// and is left alone.
type Sweeper interface {
	Sweep(ctx context.Context, before time.Time, remove bool) (int, error)
}
