package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/normreg/normreg/artifact"
)

// Mover is implemented by drivers that can rename an object (storage/fs;
// not S3, which has no rename). On such a driver an upload sent as one
// chunk is committed by moving the chunk to the blob's key, without a second
// copy or a second hashing pass: Uploads hashes a session's first chunk while
// it is stored.
type Mover interface {
	// Move renames the complete object at from to the key to, atomically and
	// durably: readers of to see nothing or the whole object, and from is
	// gone once Move returns. An existing to is left as it is and gives
	// ErrPreconditionFailed (from then stays); a missing from gives
	// ErrNotFound.
	Move(ctx context.Context, from, to string) error
}

// uploadSum is what a session's sum object holds: the sha256 and size of the
// session's first chunk, computed while it was stored.
type uploadSum struct {
	Digest artifact.Digest `json:"digest"`
	Size   int64           `json:"size"`
}

// CommitsByMove reports whether an upload whose bytes came as one chunk at
// offset 0 is committed under its sha256 by renaming the chunk, with no
// second copy: true when the driver is a Mover.
func (u *Uploads) CommitsByMove() bool {
	_, ok := u.d.(Mover)
	return ok
}

// appendFirst stores the session's first chunk while hashing it with sha256.
// The chunk is written under a key of its own, then moved to the chunk key
// only if no other first chunk got there meanwhile (else ErrRangeInvalid).
// A chunk key is therefore never replaced, and the sum recorded after the
// move describes the chunk for as long as it exists. An empty r stores
// nothing. It returns the chunk's size.
func (u *Uploads) appendFirst(ctx context.Context, m Mover, id string, r io.Reader) (int64, error) {
	staged := uploadStagedKey(uuid.NewString())
	h := sha256.New()
	cr := &artifact.CountingReader{R: io.TeeReader(r, h)}
	if err := u.d.Put(ctx, staged, cr, -1); err != nil {
		return 0, err
	}
	if cr.N == 0 {
		return 0, u.d.Delete(ctx, staged)
	}
	if err := m.Move(ctx, staged, uploadDir(id)+chunkName(0)); err != nil {
		if errors.Is(err, ErrPreconditionFailed) {
			err = fmt.Errorf("upload %s: another chunk at 0 was stored meanwhile: %w", id, ErrRangeInvalid)
		}
		return 0, errors.Join(err, u.d.Delete(ctx, staged))
	}
	sum := uploadSum{Digest: artifact.FromHash(artifact.SHA256, h), Size: cr.N}
	return cr.N, putJSON(ctx, u.d, uploadSumKey(id), sum)
}

// commitByMove commits a session that holds exactly the one chunk names
// lists, with no final bytes, by moving that chunk to the blob d's key. It
// reports false, with no error, when it does not apply (the driver is no
// Mover, d is not sha256, the chunk is not the first or has no recorded sum):
// the caller then streams the chunks through the verifier. A recorded sum
// other than d gives an error wrapping artifact.ErrDigestMismatch and leaves
// the session as it is. A blob already stored stays as it is.
func (u *Uploads) commitByMove(ctx context.Context, repo, id string, d artifact.Digest, names []string) (int64, bool, error) {
	m, ok := u.d.(Mover)
	if !ok || d.Algorithm() != artifact.SHA256 || len(names) != 1 || names[0] != chunkName(0) {
		return 0, false, nil
	}
	var sum uploadSum
	if _, err := getJSON(ctx, u.d, uploadSumKey(id), &sum); err != nil {
		return 0, false, except(err, ErrNotFound)
	}
	if sum.Digest != d {
		return 0, true, fmt.Errorf("blob %s: %w: content hashes to %s, expected %s", d, artifact.ErrDigestMismatch, sum.Digest, d)
	}
	// Consumed first: a concurrent Commit of the session streams instead.
	if err := u.d.Delete(ctx, uploadSumKey(id)); err != nil {
		return 0, true, err
	}
	err := m.Move(ctx, uploadDir(id)+names[0], blobKey(d))
	if errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("%s upload %q was committed meanwhile: %w", repo, id, ErrUploadUnknown)
	}
	if err != nil && !errors.Is(err, ErrPreconditionFailed) {
		return 0, true, err
	}
	if err := u.blobs.link(ctx, repo, d); err != nil {
		return 0, true, err
	}
	return sum.Size, true, u.remove(ctx, id)
}

// except returns nil when err is target (errors.Is), else err.
func except(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return err
}

// peekEmpty reports whether r (nil: none) yields no bytes, reading at most
// one, and returns a reader of everything r yields.
func peekEmpty(r io.Reader) (io.Reader, bool, error) {
	if r == nil {
		return nil, true, nil
	}
	var b [1]byte
	n, err := io.ReadFull(r, b[:])
	if n == 0 {
		return nil, errors.Is(err, io.EOF), except(err, io.EOF)
	}
	return io.MultiReader(bytes.NewReader(b[:]), r), false, nil
}
