package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/normreg/normreg/artifact"
)

// Uploads keeps resumable upload sessions on the Driver, so any registry
// process on the same storage can continue a session. A session is an info
// object and one object per appended chunk (S3 cannot append); Commit
// streams the chunks in order through the verifier into Blobs.
type Uploads struct {
	d     Driver
	blobs *Blobs
}

// uploadInfo is what a session's info object holds. Closing is set when
// the session's removal begins (see remove): from then on it is no longer
// open, but its info stays, so that Expire still finds it, until what it
// holds is gone.
type uploadInfo struct {
	Repo    string    `json:"repo"`
	Started time.Time `json:"started"`
	Closing bool      `json:"closing,omitempty"`
}

// Start opens a session for repo and returns its id (a uuid).
func (u *Uploads) Start(ctx context.Context, repo string) (string, error) {
	if err := artifact.ValidateRepository(repo); err != nil {
		return "", err
	}
	id := uuid.NewString()
	return id, putJSON(ctx, u.d, uploadInfoKey(id), uploadInfo{Repo: repo, Started: time.Now().UTC()})
}

// session returns ErrUploadUnknown unless id is an open session of repo:
// one that exists and whose removal has not begun.
func (u *Uploads) session(ctx context.Context, repo, id string) error {
	closing, err := u.exists(ctx, repo, id)
	if err == nil && closing {
		return uploadUnknown(repo, id)
	}
	return err
}

// exists returns ErrUploadUnknown unless id is a session of repo, open or
// being removed (closing).
func (u *Uploads) exists(ctx context.Context, repo, id string) (closing bool, err error) {
	if err := artifact.ValidateRepository(repo); err != nil {
		return false, err
	}
	if parsed, err := uuid.Parse(id); err != nil || parsed.String() != id {
		return false, uploadUnknown(repo, id)
	}
	var info uploadInfo
	_, err = getJSON(ctx, u.d, uploadInfoKey(id), &info)
	if errors.Is(err, ErrNotFound) || err == nil && info.Repo != repo {
		return false, uploadUnknown(repo, id)
	}
	return info.Closing, err
}

// uploadUnknown is the ErrUploadUnknown of session id of repo.
func uploadUnknown(repo, id string) error {
	return fmt.Errorf("%s upload %q: %w", repo, id, ErrUploadUnknown)
}

// chunks returns the names of the session's chunks, in offset order.
func (u *Uploads) chunks(ctx context.Context, id string) ([]string, error) {
	return listNames(ctx, u.d, uploadDir(id))
}

// end returns the session's size and when its last chunk was written (zero
// when it has none).
func (u *Uploads) end(ctx context.Context, id string) (int64, time.Time, error) {
	names, err := u.chunks(ctx, id)
	if err != nil {
		return 0, time.Time{}, err
	}
	if len(names) == 0 { // a first chunk may be blob data (drivers without Move)
		return u.dataEnd(ctx, id)
	}
	last := names[len(names)-1]
	offset, err := strconv.ParseInt(strings.TrimPrefix(last, "c-"), 10, 64)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("upload %s: chunk %q: %w", id, last, err)
	}
	info, err := u.d.Stat(ctx, uploadDir(id)+last)
	return offset + info.Size, info.Modified, err
}

// dataEnd returns the size and time of session id's first chunk when it is
// stored as blob data, else zeros (also when the session's removal deleted
// the data but did not finish).
func (u *Uploads) dataEnd(ctx context.Context, id string) (int64, time.Time, error) {
	sum, err := u.sum(ctx, id)
	if err != nil || sum.Data == "" {
		return 0, time.Time{}, err
	}
	info, err := u.d.Stat(ctx, sum.Data)
	if errors.Is(err, ErrNotFound) {
		return 0, time.Time{}, nil
	}
	return sum.Size, info.Modified, err
}

// Append adds r's bytes at offset, which must equal the session's current
// size (else ErrRangeInvalid), and returns the new size. size is r's length
// when known (a request's Content-Length), or -1. The first chunk
// (offset 0) is hashed with sha256 while it is stored, so that Commit can
// put it in place without a copy (see appendFirst).
func (u *Uploads) Append(ctx context.Context, repo, id string, offset, size int64, r io.Reader) (int64, error) {
	held, err := u.Size(ctx, repo, id)
	if err != nil {
		return 0, err
	}
	if offset != held {
		return held, fmt.Errorf("upload %s holds %d bytes, chunk starts at %d: %w", id, held, offset, ErrRangeInvalid)
	}
	var n int64
	if offset == 0 {
		n, err = u.appendFirst(ctx, id, size, r)
	} else {
		cr := &artifact.CountingReader{R: r}
		err = u.d.Put(ctx, uploadDir(id)+chunkName(offset), cr, size)
		n = cr.N
	}
	if err != nil {
		return held, err
	}
	return held + n, u.stillOpen(ctx, repo, id)
}

// stillOpen checks, after a chunk was stored, that session id was not
// cancelled or expired while the chunk was on its way; if it was, it
// removes what the chunk left (else nothing would ever delete it) and
// returns ErrUploadUnknown.
func (u *Uploads) stillOpen(ctx context.Context, repo, id string) error {
	err := u.session(ctx, repo, id)
	if errors.Is(err, ErrUploadUnknown) {
		return errors.Join(err, u.remove(ctx, id))
	}
	return err
}

// Size returns how many bytes the session holds, or ErrUploadUnknown.
func (u *Uploads) Size(ctx context.Context, repo, id string) (int64, error) {
	if err := u.session(ctx, repo, id); err != nil {
		return 0, err
	}
	size, _, err := u.end(ctx, id)
	return size, err
}

// Commit stores the session's chunks followed by final (nil: none) as the
// blob d, verifying the digest, then removes the session and returns the
// blob's size. On a mismatch nothing is stored and the session stays open.
// A session of one chunk at offset 0 whose recorded sha256 is d, with no
// final bytes, is committed without a copy (see commitInPlace); any other
// is streamed through the verifier into Blobs.
func (u *Uploads) Commit(ctx context.Context, repo, id string, d artifact.Digest, final io.Reader) (int64, error) {
	if err := checkRepoDigest(repo, d); err != nil {
		return 0, err
	}
	if err := u.session(ctx, repo, id); err != nil {
		return 0, err
	}
	names, err := u.chunks(ctx, id)
	if err != nil {
		return 0, err
	}
	sum, err := u.sum(ctx, id)
	if err != nil {
		return 0, err
	}
	final, empty, err := peekEmpty(final)
	if err != nil {
		return 0, err
	}
	if empty {
		if n, done, err := u.commitInPlace(ctx, repo, id, d, sum, names); done || err != nil {
			return n, err
		}
	}
	var keys []string
	if sum.Data != "" {
		keys = append(keys, sum.Data)
	}
	for _, name := range names {
		keys = append(keys, uploadDir(id)+name)
	}
	chunks := &chunkReader{ctx: ctx, d: u.d, keys: keys}
	defer chunks.Close()
	var r io.Reader = chunks
	if final != nil {
		r = io.MultiReader(chunks, final)
	}
	n, err := u.blobs.Put(ctx, repo, d, -1, r)
	if err != nil {
		return 0, u.removedMeanwhile(ctx, repo, id, err)
	}
	return n, u.remove(ctx, id)
}

// removedMeanwhile is the error of a commit of session id that failed with
// err: ErrUploadUnknown when the session was cancelled or expired while it
// was read (its data then reads short or as nothing, which is no digest
// mismatch of the client's), else err.
func (u *Uploads) removedMeanwhile(ctx context.Context, repo, id string, err error) error {
	if serr := u.session(ctx, repo, id); errors.Is(serr, ErrUploadUnknown) {
		return fmt.Errorf("%s upload %q was cancelled or expired while it was committed: %w", repo, id, ErrUploadUnknown)
	}
	return err
}

// chunkReader reads the objects at keys one after the other, opening each
// when it is reached.
type chunkReader struct {
	ctx  context.Context
	d    Driver
	keys []string
	cur  io.ReadCloser
}

// Read implements io.Reader.
func (c *chunkReader) Read(p []byte) (int, error) {
	for {
		if c.cur == nil {
			if len(c.keys) == 0 {
				return 0, io.EOF
			}
			rc, err := c.d.Open(c.ctx, c.keys[0], 0)
			if err != nil {
				return 0, err
			}
			c.cur, c.keys = rc, c.keys[1:]
		}
		n, err := c.cur.Read(p)
		if !errors.Is(err, io.EOF) {
			return n, err
		}
		c.Close()
		if n > 0 {
			return n, nil
		}
	}
}

// Close closes the chunk being read, if any.
func (c *chunkReader) Close() error {
	if c.cur == nil {
		return nil
	}
	err := c.cur.Close()
	c.cur = nil
	return err
}

// Cancel removes the session and its data. A session whose removal began
// but did not finish (it failed, or its process was killed) is removed
// again.
func (u *Uploads) Cancel(ctx context.Context, repo, id string) error {
	if _, err := u.exists(ctx, repo, id); err != nil {
		return err
	}
	return u.remove(ctx, id)
}

// remove deletes session id and what it holds, in an order that keeps the
// session findable (by Expire, or by Cancel) with its blob data until that
// data is gone or named by a blob reference, whatever step fails or is cut
// off: it marks the session closing (see close), which a commit racing it
// checks after writing its blob reference (see commitByReference); holds
// the sum (see holdSum); deletes the blob data the sum names, unless a blob
// reference names it; and only then deletes the sum, the chunks and the
// info. Any number of removes of one session may run at once.
func (u *Uploads) remove(ctx context.Context, id string) error {
	if err := u.close(ctx, id); err != nil {
		return err
	}
	sum, err := u.holdSum(ctx, id)
	if err != nil {
		return err
	}
	if sum.Data != "" {
		kept, err := refersTo(ctx, u.d, sum)
		if err == nil && !kept {
			err = u.d.Delete(ctx, sum.Data)
		}
		if err != nil {
			return err
		}
	}
	if err := u.d.Delete(ctx, uploadSumKey(id)); err != nil {
		return err
	}
	names, err := u.chunks(ctx, id)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := u.d.Delete(ctx, uploadDir(id)+name); err != nil {
			return err
		}
	}
	return u.d.Delete(ctx, uploadInfoKey(id))
}

// close marks session id closing, unless it is already, or is gone (its
// removal finished: the info is deleted last).
func (u *Uploads) close(ctx context.Context, id string) error {
	var info uploadInfo
	version, err := getJSON(ctx, u.d, uploadInfoKey(id), &info)
	if err != nil || info.Closing {
		return except(err, ErrNotFound)
	}
	info.Closing = true
	// A precondition failure: another remove closed or removed it meanwhile.
	return except(putJSONIf(ctx, u.d, uploadInfoKey(id), info, version), ErrPreconditionFailed)
}

// holdSum returns session id's sum (the zero uploadSum when it has none),
// after recording an empty one if it has none: a first chunk stored from
// then on until remove deletes the sum is not recorded, and deletes its own
// blob data (see appendFirst), so none is recorded after remove read the
// sum and deleted unseen with it. One stored after the sum is deleted finds
// the session gone or closing, and removes it again (see stillOpen).
func (u *Uploads) holdSum(ctx context.Context, id string) (uploadSum, error) {
	for {
		var sum uploadSum
		_, err := getJSON(ctx, u.d, uploadSumKey(id), &sum)
		if !errors.Is(err, ErrNotFound) {
			return sum, err
		}
		err = putJSONIf(ctx, u.d, uploadSumKey(id), uploadSum{}, "")
		if !errors.Is(err, ErrPreconditionFailed) { // else: a sum was recorded meanwhile; read it
			return uploadSum{}, err
		}
	}
}

// Expire removes sessions whose last write (start or chunk) is older than
// ttl and returns how many it removed.
func (u *Uploads) Expire(ctx context.Context, ttl time.Duration) (int, error) {
	ids, err := listNames(ctx, u.d, uploadInfoDir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, id := range ids {
		idle, err := u.idle(ctx, id, ttl)
		if err == nil && idle {
			if err = u.remove(ctx, id); err == nil {
				removed++
			}
		}
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// idle reports whether session id has not been written for ttl; a session
// removed meanwhile is not idle.
func (u *Uploads) idle(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	info, err := u.d.Stat(ctx, uploadInfoKey(id))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, lastChunk, err := u.end(ctx, id)
	last := info.Modified
	if lastChunk.After(last) {
		last = lastChunk
	}
	return time.Since(last) > ttl, err
}
