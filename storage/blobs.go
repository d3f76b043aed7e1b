package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/normreg/normreg/artifact"
)

// Blobs keeps content once per digest and links it into repositories.
// Deleting a blob unlinks it; the bytes stay for other repositories (there
// is no garbage collection yet).
type Blobs struct{ d Driver }

// Put streams r into the blob with digest expected (size < 0: unknown),
// verifying while writing; on a mismatch it returns an error wrapping
// artifact.ErrDigestMismatch or artifact.ErrSizeMismatch and nothing is
// stored. A blob already stored is not written again, but r is still read
// and verified. On success the blob is linked into repo and Put returns its
// size.
func (b *Blobs) Put(ctx context.Context, repo string, expected artifact.Digest, size int64, r io.Reader) (int64, error) {
	if err := checkRepoDigest(repo, expected); err != nil {
		return 0, err
	}
	n, err := storeBlob(ctx, b.d, expected, size, r)
	if err != nil {
		return 0, err
	}
	return n, b.link(ctx, repo, expected)
}

// storeBlob streams r into the blob with the valid digest expected, as
// Blobs.Put describes, without linking it anywhere.
func storeBlob(ctx context.Context, d Driver, expected artifact.Digest, size int64, r io.Reader) (int64, error) {
	vr := artifact.NewVerifyReader(r, expected, size)
	_, _, _, err := locateBlob(ctx, d, expected)
	switch {
	case err == nil:
		_, err = io.Copy(io.Discard, vr)
	case errors.Is(err, ErrNotFound):
		err = putAhead(ctx, d, blobKey(expected), vr, size)
	}
	if err != nil {
		return 0, fmt.Errorf("blob %s: %w", expected, err)
	}
	return vr.Size(), nil
}

// putAhead puts r at key, reading (and so verifying) r ahead of the
// driver's writes when it may be large (size unknown or at least
// artifact.ReadAheadMin), so receiving and hashing overlap with writing.
func putAhead(ctx context.Context, d Driver, key string, r io.Reader, size int64) error {
	if size >= 0 && size < artifact.ReadAheadMin {
		return d.Put(ctx, key, r, size)
	}
	a := artifact.NewReadAhead(r)
	defer a.Stop()
	return d.Put(ctx, key, a, size)
}

// link records that blob d belongs to repo, and repo in the catalog.
func (b *Blobs) link(ctx context.Context, repo string, d artifact.Digest) error {
	if err := b.d.Put(ctx, blobLinkKey(repo, d), strings.NewReader(""), 0); err != nil {
		return err
	}
	return register(ctx, b.d, repo)
}

// Stat returns the size of a blob linked into repo, or ErrBlobUnknown.
func (b *Blobs) Stat(ctx context.Context, repo string, d artifact.Digest) (int64, error) {
	_, size, err := b.locate(ctx, repo, d)
	return size, err
}

// locate returns the key holding blob d's bytes and their count if d is
// linked into repo, else ErrBlobUnknown.
func (b *Blobs) locate(ctx context.Context, repo string, d artifact.Digest) (string, int64, error) {
	if err := checkRepoDigest(repo, d); err != nil {
		return "", 0, err
	}
	if _, err := b.d.Stat(ctx, blobLinkKey(repo, d)); err != nil {
		return "", 0, blobUnknown(repo, d, err)
	}
	key, size, _, err := locateBlob(ctx, b.d, d)
	return key, size, blobUnknown(repo, d, err)
}

// size returns the size of the stored blob d, or ErrBlobUnknown.
func (b *Blobs) size(ctx context.Context, d artifact.Digest) (int64, error) {
	_, size, _, err := locateBlob(ctx, b.d, d)
	if err != nil {
		return 0, blobUnknown("", d, err)
	}
	return size, nil
}

// blobRef is what a blob reference holds: the key of the blob data that
// holds the blob's bytes.
type blobRef struct {
	Key string `json:"key"`
}

// locateBlob returns the key that holds blob d's bytes, and their count:
// the blob's own key, else the blob data its reference names (an upload
// committed without a copy on a driver that cannot move, see
// commitByReference). ErrNotFound if neither exists, or if the reference's
// data is gone (a commit raced by a cancel can leave such a reference; it
// is replaced by the next commit of the blob). refVersion is the version of
// the reference read, "" when none was.
func locateBlob(ctx context.Context, d Driver, dg artifact.Digest) (key string, size int64, refVersion string, err error) {
	info, err := d.Stat(ctx, blobKey(dg))
	if !errors.Is(err, ErrNotFound) {
		return blobKey(dg), info.Size, "", err
	}
	ref, refVersion, err := getRef(ctx, d, dg)
	if err != nil {
		return "", 0, "", err
	}
	info, err = d.Stat(ctx, ref.Key)
	return ref.Key, info.Size, refVersion, err
}

// getBlob reads the small blob dg whole (at most max bytes, else
// ErrTooLarge), from its own key or the blob data its reference names.
func getBlob(ctx context.Context, d Driver, dg artifact.Digest, max int64) ([]byte, error) {
	data, _, err := d.Get(ctx, blobKey(dg), max)
	if !errors.Is(err, ErrNotFound) {
		return data, err
	}
	ref, _, err := getRef(ctx, d, dg)
	if err != nil {
		return nil, err
	}
	data, _, err = d.Get(ctx, ref.Key, max)
	return data, err
}

// refersTo reports whether blob sum.Digest's reference names sum.Data.
func refersTo(ctx context.Context, d Driver, sum uploadSum) (bool, error) {
	ref, _, err := getRef(ctx, d, sum.Digest)
	return err == nil && ref.Key == sum.Data, except(err, ErrNotFound)
}

// getRef reads blob dg's reference and its version; ErrNotFound if it has none.
func getRef(ctx context.Context, d Driver, dg artifact.Digest) (blobRef, string, error) {
	var ref blobRef
	version, err := getJSON(ctx, d, blobRefKey(dg), &ref)
	return ref, version, err
}

// blobUnknown turns ErrNotFound into ErrBlobUnknown and passes other errors.
func blobUnknown(repo string, d artifact.Digest, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s@%s: %w", repo, d, ErrBlobUnknown)
	}
	return err
}

// Open reads a blob of repo from offset and returns it with the blob's
// whole size; ErrBlobUnknown if not linked, ErrRangeInvalid if offset is
// beyond the end.
func (b *Blobs) Open(ctx context.Context, repo string, d artifact.Digest, offset int64) (io.ReadCloser, int64, error) {
	key, size, err := b.locate(ctx, repo, d)
	if err != nil {
		return nil, 0, err
	}
	if offset < 0 || offset > size {
		return nil, 0, fmt.Errorf("%s: offset %d of %d bytes: %w", d, offset, size, ErrRangeInvalid)
	}
	rc, err := b.d.Open(ctx, key, offset)
	if err != nil {
		return nil, 0, blobUnknown(repo, d, err)
	}
	return rc, size, nil
}

// Delete unlinks the blob from repo; ErrBlobUnknown if not linked.
func (b *Blobs) Delete(ctx context.Context, repo string, d artifact.Digest) error {
	if _, err := b.Stat(ctx, repo, d); err != nil {
		return err
	}
	return b.d.Delete(ctx, blobLinkKey(repo, d))
}

// Mount links a blob into repo from repository from, or, when from is "",
// from anywhere it is stored, and returns its size. ErrBlobUnknown when
// there is nothing to mount.
func (b *Blobs) Mount(ctx context.Context, repo, from string, d artifact.Digest) (int64, error) {
	if err := checkRepoDigest(repo, d); err != nil {
		return 0, err
	}
	size, err := b.mountable(ctx, from, d)
	if err != nil {
		return 0, err
	}
	return size, b.link(ctx, repo, d)
}

// mountable returns the size of blob d if it is linked into from, or, when
// from is "", stored at all.
func (b *Blobs) mountable(ctx context.Context, from string, d artifact.Digest) (int64, error) {
	if from == "" {
		return b.size(ctx, d)
	}
	return b.Stat(ctx, from, d)
}
