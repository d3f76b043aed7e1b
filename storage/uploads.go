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

// uploadInfo is what a session's info object holds.
type uploadInfo struct {
	Repo    string    `json:"repo"`
	Started time.Time `json:"started"`
}

// Start opens a session for repo and returns its id (a uuid).
func (u *Uploads) Start(ctx context.Context, repo string) (string, error) {
	if err := artifact.ValidateRepository(repo); err != nil {
		return "", err
	}
	id := uuid.NewString()
	return id, putJSON(ctx, u.d, uploadInfoKey(id), uploadInfo{Repo: repo, Started: time.Now().UTC()})
}

// session returns ErrUploadUnknown unless id is an open session of repo.
func (u *Uploads) session(ctx context.Context, repo, id string) error {
	if err := artifact.ValidateRepository(repo); err != nil {
		return err
	}
	unknown := fmt.Errorf("%s upload %q: %w", repo, id, ErrUploadUnknown)
	if parsed, err := uuid.Parse(id); err != nil || parsed.String() != id {
		return unknown
	}
	var info uploadInfo
	_, err := getJSON(ctx, u.d, uploadInfoKey(id), &info)
	if errors.Is(err, ErrNotFound) || err == nil && info.Repo != repo {
		return unknown
	}
	return err
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
// stored as blob data, else zeros.
func (u *Uploads) dataEnd(ctx context.Context, id string) (int64, time.Time, error) {
	sum, err := u.sum(ctx, id)
	if err != nil || sum.Data == "" {
		return 0, time.Time{}, err
	}
	info, err := u.d.Stat(ctx, sum.Data)
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
		return 0, err
	}
	return n, u.remove(ctx, id)
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

// Cancel removes the session and its data.
func (u *Uploads) Cancel(ctx context.Context, repo, id string) error {
	if err := u.session(ctx, repo, id); err != nil {
		return err
	}
	return u.remove(ctx, id)
}

// remove deletes the session's sum (first, so that it never describes a
// later chunk), its blob data unless a blob reference names it (see
// commitByReference), its chunks, then its info.
func (u *Uploads) remove(ctx context.Context, id string) error {
	sum, err := u.sum(ctx, id)
	if err != nil {
		return err
	}
	if err := u.d.Delete(ctx, uploadSumKey(id)); err != nil {
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
