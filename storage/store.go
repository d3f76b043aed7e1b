package storage

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/normreg/normreg/artifact"
)

// Sentinel errors of the stores.
var (
	// ErrBlobUnknown: the blob is not in the repository.
	ErrBlobUnknown = errors.New("blob unknown to registry")
	// ErrManifestUnknown: no manifest under that tag or digest in the repository.
	ErrManifestUnknown = errors.New("manifest unknown")
	// ErrUploadUnknown: no such upload session (never started, finished, cancelled or expired).
	ErrUploadUnknown = errors.New("blob upload unknown")
	// ErrRangeInvalid: a chunk does not start where the upload ends.
	ErrRangeInvalid = errors.New("requested range not satisfiable")
	// ErrTagImmutable: the tag matches an immutable pattern and is already set.
	ErrTagImmutable = errors.New("tag is immutable")
)

// Store is everything the registry keeps, built once on any Driver.
type Store struct {
	Blobs     *Blobs
	Manifests *Manifests
	Tags      *Tags
	Uploads   *Uploads
}

// New builds the stores on d.
func New(d Driver) *Store {
	panic("TODO(storage helper)")
}

// Blobs keeps content once per digest and links it into repositories.
type Blobs struct{ d Driver }

// Put streams r into the blob with digest expected (size < 0: unknown),
// verifying while writing; on a mismatch it returns an error wrapping
// artifact.ErrDigestMismatch or artifact.ErrSizeMismatch and nothing is
// stored. On success the blob is linked into repo.
func (b *Blobs) Put(ctx context.Context, repo string, expected artifact.Digest, size int64, r io.Reader) (int64, error) {
	panic("TODO")
}

// Stat returns the size of a blob linked into repo, or ErrBlobUnknown.
func (b *Blobs) Stat(ctx context.Context, repo string, d artifact.Digest) (int64, error) {
	panic("TODO")
}

// Open reads a blob of repo from offset; ErrBlobUnknown if not linked.
func (b *Blobs) Open(ctx context.Context, repo string, d artifact.Digest, offset int64) (io.ReadCloser, int64, error) {
	panic("TODO")
}

// Delete unlinks the blob from repo; ErrBlobUnknown if not linked.
func (b *Blobs) Delete(ctx context.Context, repo string, d artifact.Digest) error {
	panic("TODO")
}

// Mount links a blob into repo from repository from, or, when from is "",
// from anywhere it is stored. ErrBlobUnknown when there is nothing to mount.
func (b *Blobs) Mount(ctx context.Context, repo, from string, d artifact.Digest) (int64, error) {
	panic("TODO")
}

// Manifests keeps manifests per repository and the referrers index.
type Manifests struct{ d Driver }

// Manifest is a stored manifest.
type Manifest struct {
	Digest    artifact.Digest
	MediaType string
	Data      []byte
}

// Put stores mf (whose Digest the caller computed from mf.Data) in repo.
// When subject is non-empty, ref (mf's descriptor with its artifactType and
// annotations) is recorded among subject's referrers. Validation is the
// caller's (manifest package).
func (m *Manifests) Put(ctx context.Context, repo string, mf Manifest, subject artifact.Digest, ref artifact.Descriptor) error {
	panic("TODO")
}

// Get returns the manifest of repo with digest d, or ErrManifestUnknown.
func (m *Manifests) Get(ctx context.Context, repo string, d artifact.Digest) (Manifest, error) {
	panic("TODO")
}

// Delete removes the manifest and its referrers entry; ErrManifestUnknown if absent.
func (m *Manifests) Delete(ctx context.Context, repo string, d artifact.Digest) error {
	panic("TODO")
}

// Referrers lists the descriptors of manifests whose subject is d.
func (m *Manifests) Referrers(ctx context.Context, repo string, d artifact.Digest) ([]artifact.Descriptor, error) {
	panic("TODO")
}

// Repositories lists repository names in order, after `after`, at most n.
func (m *Manifests) Repositories(ctx context.Context, after string, n int) ([]string, error) {
	panic("TODO")
}

// Tags maps tags to manifest digests, moved by compare-and-swap.
type Tags struct{ d Driver }

// TagMove is one recorded change of a tag.
type TagMove struct {
	Tag  string          `json:"tag"`
	From artifact.Digest `json:"from,omitempty"`
	To   artifact.Digest `json:"to,omitempty"` // empty: deleted
	By   string          `json:"by,omitempty"`
	At   time.Time       `json:"at"`
}

// Resolve returns the digest tag points to, or ErrManifestUnknown.
func (t *Tags) Resolve(ctx context.Context, repo, tag string) (artifact.Digest, error) {
	panic("TODO")
}

// Set points tag at d. allow, when non-nil, is called with the current
// digest ("" when unset) inside the compare-and-swap and may veto the move
// (for example ErrTagImmutable). Concurrent setters never lose an update.
func (t *Tags) Set(ctx context.Context, repo, tag string, d artifact.Digest, by string, allow func(old artifact.Digest) error) error {
	panic("TODO")
}

// Delete removes tag (recorded as a move to ""); ErrManifestUnknown if unset.
func (t *Tags) Delete(ctx context.Context, repo, tag, by string, allow func(old artifact.Digest) error) error {
	panic("TODO")
}

// List returns repo's tags in order, after `after`, at most n.
func (t *Tags) List(ctx context.Context, repo, after string, n int) ([]string, error) {
	panic("TODO")
}

// History returns the moves of tag, oldest first.
func (t *Tags) History(ctx context.Context, repo, tag string) ([]TagMove, error) {
	panic("TODO")
}

// Uploads keeps resumable upload sessions on the Driver, so any registry
// process on the same storage can continue a session.
type Uploads struct {
	d     Driver
	blobs *Blobs
}

// Start opens a session for repo and returns its id (a uuid).
func (u *Uploads) Start(ctx context.Context, repo string) (string, error) {
	panic("TODO")
}

// Append adds r's bytes at offset, which must equal the session's current
// size (else ErrRangeInvalid), and returns the new size.
func (u *Uploads) Append(ctx context.Context, repo, id string, offset int64, r io.Reader) (int64, error) {
	panic("TODO")
}

// Size returns how many bytes the session holds, or ErrUploadUnknown.
func (u *Uploads) Size(ctx context.Context, repo, id string) (int64, error) {
	panic("TODO")
}

// Commit streams the session's chunks followed by final into the blob d,
// verifying the digest, then removes the session. On a mismatch nothing is
// stored and the session stays open.
func (u *Uploads) Commit(ctx context.Context, repo, id string, d artifact.Digest, final io.Reader) (int64, error) {
	panic("TODO")
}

// Cancel removes the session and its data.
func (u *Uploads) Cancel(ctx context.Context, repo, id string) error {
	panic("TODO")
}

// Expire removes sessions older than ttl and returns how many it removed.
func (u *Uploads) Expire(ctx context.Context, ttl time.Duration) (int, error) {
	panic("TODO")
}
