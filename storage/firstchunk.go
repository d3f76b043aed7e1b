package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/normreg/normreg/artifact"
)

// Mover is implemented by drivers that can rename an object (storage/fs;
// not S3, which has no rename).
type Mover interface {
	// Move renames the complete object at from to the key to, atomically and
	// durably: readers of to see nothing or the whole object, and from is
	// gone once Move returns. An existing to is left as it is and gives
	// ErrPreconditionFailed (from then stays); a missing from gives
	// ErrNotFound.
	Move(ctx context.Context, from, to string) error
}

// A session's first chunk (offset 0) is hashed with sha256 while it is
// stored, so that an upload sent as that one chunk is committed under its
// digest without a second copy or a second hashing pass: on a Mover driver
// the chunk is stored as chunk c-0 and moved to the blob's key; on others
// (S3) it is stored as blob data (blobdata/<uuid>) and the commit writes a
// blob reference naming it (blobrefs/<alg>/<hex>, see locateBlob).

// uploadSum is what a session's sum object holds: the sha256 and size of the
// session's first chunk, computed while it was stored, and, on drivers that
// cannot move, the key of the blob data holding it.
type uploadSum struct {
	Digest artifact.Digest `json:"digest"`
	Size   int64           `json:"size"`
	Data   string          `json:"data,omitempty"`
}

// appendFirst stores the session's first chunk while hashing it with sha256
// and records its sum. On a Mover driver the chunk is written under a key of
// its own, then moved to the chunk key only if no other first chunk got
// there meanwhile; on others it is written as blob data, recorded only if no
// other first chunk was recorded meanwhile (nor the session's removal began
// to hold its sum, see holdSum). Either way the loser gets ErrRangeInvalid
// and leaves nothing behind, and the sum describes the chunk for as long as
// it exists. An empty r stores nothing. It returns the chunk's size.
func (u *Uploads) appendFirst(ctx context.Context, id string, size int64, r io.Reader) (int64, error) {
	m, moves := u.d.(Mover)
	staged := blobDataKey(uuid.NewString())
	if moves {
		staged = uploadStagedKey(uuid.NewString())
	}
	h := sha256.New()
	cr := &artifact.CountingReader{R: io.TeeReader(r, h)}
	if err := putFresh(ctx, u.d, staged, cr, size); err != nil {
		return 0, err
	}
	if cr.N == 0 {
		return 0, u.d.Delete(ctx, staged)
	}
	sum := uploadSum{Digest: artifact.FromHash(artifact.SHA256, h), Size: cr.N}
	var err error
	if moves {
		if err = m.Move(ctx, staged, uploadDir(id)+chunkName(0)); err == nil {
			return cr.N, putJSON(ctx, u.d, uploadSumKey(id), sum)
		}
	} else {
		sum.Data = staged
		if err = putJSONIf(ctx, u.d, uploadSumKey(id), sum, ""); err == nil {
			return cr.N, nil
		}
	}
	if errors.Is(err, ErrPreconditionFailed) {
		err = fmt.Errorf("upload %s: another chunk at 0 was stored meanwhile: %w", id, ErrRangeInvalid)
	}
	return 0, errors.Join(err, u.d.Delete(ctx, staged))
}

// sum returns session id's sum, or the zero uploadSum when it has none.
func (u *Uploads) sum(ctx context.Context, id string) (uploadSum, error) {
	var sum uploadSum
	_, err := getJSON(ctx, u.d, uploadSumKey(id), &sum)
	return sum, except(err, ErrNotFound)
}

// commitInPlace commits a session whose only bytes are its first chunk
// (names lists its chunks; no final bytes) under d without copying them:
// by moving the chunk on a Mover driver, else by a blob reference to its
// blob data. It reports false, with no error, when that does not apply (d is
// not sha256, there are other chunks, the chunk has no recorded sum): the
// caller then streams the chunks through the verifier. A recorded sum other
// than d gives an error wrapping artifact.ErrDigestMismatch and leaves the
// session as it is. A blob already stored stays as it is.
func (u *Uploads) commitInPlace(ctx context.Context, repo, id string, d artifact.Digest, sum uploadSum, names []string) (int64, bool, error) {
	m, moves := u.d.(Mover)
	switch {
	case d.Algorithm() != artifact.SHA256 || sum.Digest == "":
		return 0, false, nil
	case moves && (len(names) != 1 || names[0] != chunkName(0)), !moves && len(names) != 0:
		return 0, false, nil
	case sum.Digest != d:
		return 0, true, fmt.Errorf("blob %s: %w: content hashes to %s, expected %s", d, artifact.ErrDigestMismatch, sum.Digest, d)
	}
	var err error
	if moves {
		err = u.commitByMove(ctx, repo, id, m, d, names[0])
	} else {
		err = u.commitByReference(ctx, repo, id, sum)
	}
	if err != nil {
		return 0, true, err
	}
	if err := u.blobs.link(ctx, repo, d); err != nil {
		return 0, true, err
	}
	return sum.Size, true, u.remove(ctx, id)
}

// commitByMove moves the session's chunk to the blob d's key.
func (u *Uploads) commitByMove(ctx context.Context, repo, id string, m Mover, d artifact.Digest, chunk string) error {
	// Consumed first: a concurrent Commit of the session streams instead.
	if err := u.d.Delete(ctx, uploadSumKey(id)); err != nil {
		return err
	}
	err := m.Move(ctx, uploadDir(id)+chunk, blobKey(d))
	if errors.Is(err, ErrNotFound) {
		err = fmt.Errorf("%s upload %q was committed meanwhile: %w", repo, id, ErrUploadUnknown)
	}
	return except(err, ErrPreconditionFailed)
}

// commitByReference makes the session's blob data the blob sum.Digest with
// a blob reference, unless that blob is stored already (remove then deletes
// the data). A reference whose data is gone (see locateBlob) is replaced.
// The reference is written before the session is checked to be still open:
// remove marks the session closing before it looks for a reference to the
// data, so a session seen open here keeps its data. A session closed
// meanwhile (a cancel, an expiry or another Commit racing this one) gives
// ErrUploadUnknown, and its data is left to whichever remove saw the
// reference or not.
func (u *Uploads) commitByReference(ctx context.Context, repo, id string, sum uploadSum) error {
	ref, err := json.Marshal(blobRef{Key: sum.Data})
	if err != nil {
		return err
	}
	for {
		_, _, version, err := locateBlob(ctx, u.d, sum.Digest)
		if !errors.Is(err, ErrNotFound) {
			if err != nil {
				return err
			}
			break // stored already
		}
		if _, err = u.d.PutIf(ctx, blobRefKey(sum.Digest), ref, version); !errors.Is(err, ErrPreconditionFailed) {
			if err != nil {
				return err
			}
			break
		}
	}
	return u.session(ctx, repo, id)
}

// except returns nil when err is target (errors.Is), else err.
func except(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return err
}

// putJSONIf writes v as JSON at key if the key's version is ifVersion, or,
// when ifVersion is "", if key does not exist; else it returns
// ErrPreconditionFailed (see Driver.PutIf).
func putJSONIf(ctx context.Context, d Driver, key string, v any, ifVersion string) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = d.PutIf(ctx, key, data, ifVersion)
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
