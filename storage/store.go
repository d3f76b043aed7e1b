package storage

import (
	"context"
	"errors"
	"strings"

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
	// ErrRangeInvalid: a chunk does not start where the upload ends, or a
	// read starts beyond the end of a blob.
	ErrRangeInvalid = errors.New("requested range not satisfiable")
	// ErrTagImmutable: the tag matches an immutable pattern and is already set.
	ErrTagImmutable = errors.New("tag is immutable")
	// ErrRepositoryUnknown: nothing was ever pushed to the repository.
	ErrRepositoryUnknown = errors.New("repository name not known to registry")
)

// Store is everything the registry keeps, built once on any Driver. Its only
// state of its own is a bounded cache of manifest bytes by digest, which
// never change (whether a manifest is in a repository is read from storage
// every time), so any number of Stores (in any number of processes) can
// share one Driver's storage.
type Store struct {
	Blobs     *Blobs
	Manifests *Manifests
	Tags      *Tags
	Uploads   *Uploads
}

// New builds the stores on d.
func New(d Driver) *Store {
	blobs := &Blobs{d: d}
	return &Store{
		Blobs:     blobs,
		Manifests: &Manifests{d: d},
		Tags:      &Tags{d: d},
		Uploads:   &Uploads{d: d, blobs: blobs},
	}
}

// listPage is how many names the stores ask a Driver for at once.
const listPage = 1000

// listAll calls fn with every name in dir, in order.
func listAll(ctx context.Context, d Driver, dir string, fn func(name string) error) error {
	for after := ""; ; {
		names, err := d.List(ctx, dir, after, listPage)
		if err != nil || len(names) == 0 {
			return err
		}
		for _, name := range names {
			if err := fn(name); err != nil {
				return err
			}
		}
		after = names[len(names)-1]
	}
}

// listDigests calls fn with every digest stored under dir as
// dir/<alg>/<hex> (see digestPath), algorithm by algorithm, in order:
// Driver.List lists objects, not folders, so each algorithm is listed.
func listDigests(ctx context.Context, d Driver, dir string, fn func(artifact.Digest) error) error {
	for _, alg := range []artifact.Algorithm{artifact.SHA256, artifact.SHA512} {
		err := listAll(ctx, d, dir+string(alg)+"/", func(hex string) error {
			return fn(artifact.Digest(string(alg) + ":" + hex))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// listNames returns every name in dir, in order.
func listNames(ctx context.Context, d Driver, dir string) ([]string, error) {
	var names []string
	err := listAll(ctx, d, dir, func(name string) error {
		names = append(names, name)
		return nil
	})
	return names, err
}

// checkRepoDigest validates a repository name and a digest before they are
// made into keys.
func checkRepoDigest(repo string, d artifact.Digest) error {
	if err := artifact.ValidateRepository(repo); err != nil {
		return err
	}
	_, err := artifact.ParseDigest(string(d))
	return err
}

// register records repo in the catalog, unless it is there already.
func register(ctx context.Context, d Driver, repo string) error {
	key := catalogKey(repo)
	_, err := d.Stat(ctx, key)
	if errors.Is(err, ErrNotFound) {
		err = d.Put(ctx, key, strings.NewReader(""), 0)
	}
	return err
}
