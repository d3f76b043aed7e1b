package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/normreg/normreg/artifact"
)

// CorruptBlob is a stored blob whose bytes no longer hash to its digest
// (storage damaged, or edited behind the registry's back).
type CorruptBlob struct {
	Digest  artifact.Digest
	Err     error // the mismatch
	Removed bool  // Scrub deleted its bytes
}

// Scrub reads every stored blob back and hashes it, and calls found for
// each one whose bytes do not match its digest. With remove it deletes such
// a blob's bytes (its key, or its reference and the data it names), so that
// the next push of the blob stores it again: a push of a blob the registry
// holds sends or keeps nothing, so without this a damaged blob stays
// damaged. Repository links stay, so the blob reads as unknown (404) until
// then rather than served wrong. It returns how many blobs it checked.
func (b *Blobs) Scrub(ctx context.Context, remove bool, found func(CorruptBlob)) (int, error) {
	checked := 0
	check := func(d artifact.Digest, key string) error {
		err := verifyKey(ctx, b.d, key, d)
		if errors.Is(err, ErrNotFound) { // removed meanwhile
			return nil
		}
		checked++
		if err == nil || !artifact.IsMismatch(err) { // a read that fails is not a verdict on the bytes: stop
			return err
		}
		c := CorruptBlob{Digest: d, Err: err}
		if remove {
			if err := b.removeBytes(ctx, d, key); err != nil {
				return err
			}
			c.Removed = true
		}
		found(c)
		return nil
	}
	// Blobs under their own key, then those held by reference (unless their
	// own key exists too: checked already).
	err := listDigests(ctx, b.d, blobsDir, func(d artifact.Digest) error { return check(d, blobKey(d)) })
	if err == nil {
		err = listDigests(ctx, b.d, blobRefsDir, func(d artifact.Digest) error {
			key, _, _, err := locateBlob(ctx, b.d, d)
			if errors.Is(err, ErrNotFound) || err == nil && key == blobKey(d) {
				return nil
			}
			if err != nil {
				return err
			}
			return check(d, key)
		})
	}
	return checked, err
}

// verifyKey hashes the object at key against digest d.
func verifyKey(ctx context.Context, d Driver, key string, dg artifact.Digest) error {
	rc, err := d.Open(ctx, key, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, artifact.NewVerifyReader(rc, dg, -1))
	return err
}

// removeBytes deletes the bytes of blob d held at key: the blob's own key,
// or the blob data its reference names, and then the reference.
func (b *Blobs) removeBytes(ctx context.Context, d artifact.Digest, key string) error {
	if err := b.d.Delete(ctx, key); err != nil {
		return fmt.Errorf("removing corrupt blob %s: %w", d, err)
	}
	if key == blobKey(d) {
		return nil
	}
	if err := b.d.Delete(ctx, blobRefKey(d)); err != nil {
		return fmt.Errorf("removing corrupt blob %s: %w", d, err)
	}
	return nil
}

// OrphanData is blob data (blobdata/<uuid>, see commitByReference) that no
// blob reference and no upload session names: what a registry killed while
// it stored an upload's first chunk, or a failed single PutObject's empty
// placeholder (storage/s3, single-put-max), leaves. Nothing reads it.
type OrphanData struct {
	Key      string
	Size     int64
	Modified time.Time
	Removed  bool // ScrubData deleted it
}

// ScrubData calls found for each orphan blob data object last written
// before `before`, and with remove deletes it. Blob data written since may
// belong to an upload whose first chunk is still being stored, or was
// stored but not yet recorded in its session, so the caller passes the
// upload TTL ago: an upload idle for that long is expired anyway. It is
// safe while registries serve the storage: the sessions' sums are read
// before the blob references, and a session's removal deletes its sum only
// after its data is gone or a blob reference names it (see Uploads.remove),
// so data a commit hands from its session to a blob reference meanwhile is
// seen named by one or the other.
func (b *Blobs) ScrubData(ctx context.Context, before time.Time, remove bool, found func(OrphanData)) error {
	named, err := b.namedData(ctx)
	if err != nil {
		return err
	}
	return listAll(ctx, b.d, blobDataDir, func(name string) error {
		key := blobDataKey(name)
		if named[key] {
			return nil
		}
		info, err := b.d.Stat(ctx, key)
		if err != nil || !info.Modified.Before(before) {
			return except(err, ErrNotFound)
		}
		o := OrphanData{Key: key, Size: info.Size, Modified: info.Modified}
		if remove {
			if err := b.d.Delete(ctx, key); err != nil {
				return fmt.Errorf("removing orphan blob data %s: %w", key, err)
			}
			o.Removed = true
		}
		found(o)
		return nil
	})
}

// namedData returns the set of blob data keys that upload sessions' sums
// name, then those that blob references name (in that order: see
// ScrubData).
func (b *Blobs) namedData(ctx context.Context) (map[string]bool, error) {
	named := map[string]bool{}
	read := func(key string, v any) error {
		_, err := getJSON(ctx, b.d, key, v)
		return except(err, ErrNotFound) // removed meanwhile: names nothing
	}
	err := listAll(ctx, b.d, uploadSumDir, func(id string) error {
		var sum uploadSum
		err := read(uploadSumKey(id), &sum)
		named[sum.Data] = true
		return err
	})
	if err == nil {
		err = listDigests(ctx, b.d, blobRefsDir, func(d artifact.Digest) error {
			var ref blobRef
			err := read(blobRefKey(d), &ref)
			named[ref.Key] = true
			return err
		})
	}
	return named, err
}
