package storage

import (
	"context"
	"errors"
	"fmt"
	"io"

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
	for _, alg := range []artifact.Algorithm{artifact.SHA256, artifact.SHA512} {
		// Blobs under their own key, then those held by reference (unless
		// their own key exists too: checked already).
		err := listAll(ctx, b.d, "blobs/"+string(alg)+"/", func(hex string) error {
			d := artifact.Digest(string(alg) + ":" + hex)
			return check(d, blobKey(d))
		})
		if err == nil {
			err = listAll(ctx, b.d, "blobrefs/"+string(alg)+"/", func(hex string) error {
				d := artifact.Digest(string(alg) + ":" + hex)
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
		if err != nil {
			return checked, err
		}
	}
	return checked, nil
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
