package api

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
)

// principal returns the name of the token the request was made with (see
// PrincipalKey), "" when anonymous or auth is off. Tag moves record it.
func principal(c echo.Context) string {
	name, _ := c.Get(PrincipalKey).(string)
	return name
}

// immutableTags are the --immutable-tags patterns: a tag matching one can
// be set once; afterwards it can neither be moved to another digest nor
// deleted (storage.ErrTagImmutable, answered 403 DENIED). Setting it again
// to the digest it holds is allowed.
type immutableTags []string

// errTagUnchanged is allowSet's veto of a move that would not change the
// tag, so that no move is recorded; the caller treats it as success.
var errTagUnchanged = errors.New("tag already points to the digest")

// allowSet is the Tags.Set veto for moving tag in repo to d: a tag already
// at d gives errTagUnchanged, an immutable tag elsewhere ErrTagImmutable.
func (p immutableTags) allowSet(repo, tag string, d artifact.Digest) func(old artifact.Digest) error {
	return func(old artifact.Digest) error {
		if old == d {
			return errTagUnchanged
		}
		if old == "" || !matchAny(p, tag) {
			return nil
		}
		return fmt.Errorf("%w: %s:%s matches --immutable-tags and points to %s; it cannot be moved to %s", storage.ErrTagImmutable, repo, tag, old, d)
	}
}

// allowDelete is the Tags.Delete veto for tag in repo.
func (p immutableTags) allowDelete(repo, tag string) func(old artifact.Digest) error {
	return func(old artifact.Digest) error {
		if !matchAny(p, tag) {
			return nil
		}
		return fmt.Errorf("%w: %s:%s matches --immutable-tags and points to %s; it cannot be deleted", storage.ErrTagImmutable, repo, tag, old)
	}
}

// precheckTags refuses, before anything is stored, a manifest push that
// would move an immutable tag. Tags.Set checks again inside its
// compare-and-swap, which is what holds under concurrent pushers.
func (s *server) precheckTags(ctx context.Context, repo string, tags []string, d artifact.Digest) error {
	for _, t := range tags {
		if !matchAny(s.immutable, t) {
			continue
		}
		old, err := s.store.Tags.Resolve(ctx, repo, t)
		if errors.Is(err, storage.ErrManifestUnknown) {
			continue // unset
		}
		if err != nil {
			return err
		}
		if err := s.immutable.allowSet(repo, t, d)(old); err != nil && !errors.Is(err, errTagUnchanged) {
			return err
		}
	}
	return nil
}

// blobProtected refuses (ErrTagImmutable) to unlink blob d from repo while
// a manifest an immutable tag of repo points to references it: the tag
// could not be moved, yet its bundle could no longer be pulled.
func (s *server) blobProtected(ctx context.Context, repo string, d artifact.Digest) error {
	if len(s.immutable) == 0 {
		return nil
	}
	byDigest, err := s.tagsByDigest(ctx, repo)
	if err != nil {
		return err
	}
	for md, tags := range byDigest {
		i := slices.IndexFunc(tags, func(t string) bool { return matchAny(s.immutable, t) })
		if i < 0 {
			continue
		}
		mf, err := s.store.Manifests.Get(ctx, repo, md)
		if errors.Is(err, storage.ErrManifestUnknown) {
			continue
		}
		if err != nil {
			return err
		}
		m, err := manifest.Parse(mf.MediaType, mf.Data)
		if err != nil {
			continue // stored, so once accepted; it names no blob this registry reads
		}
		if slices.ContainsFunc(m.Blobs(), func(b artifact.Descriptor) bool { return b.Digest == d }) {
			return fmt.Errorf("%w: blob %s is in %s:%s, which matches --immutable-tags; it cannot be deleted", storage.ErrTagImmutable, d, repo, tags[i])
		}
	}
	return nil
}

// errTagMoved is deleteManifest's veto of deleting a tag that has moved
// away from the manifest since the tags were read: that tag stays.
var errTagMoved = errors.New("tag no longer points to the manifest")

// deleteManifest deletes manifest d of repo and, first, the tags pointing
// to it (as distribution does), so that no tag is left pointing to nothing
// or comes back if the manifest is pushed again. If an immutable tag points
// to d, nothing is deleted. A tag is deleted only if it still points to d
// inside its compare-and-swap, and its history records the deletion by
// `by`, the requester.
func (s *server) deleteManifest(ctx context.Context, repo string, d artifact.Digest, by string) error {
	byDigest, err := s.tagsByDigest(ctx, repo)
	if err != nil {
		return err
	}
	tags := byDigest[d]
	for _, t := range tags {
		if matchAny(s.immutable, t) {
			return fmt.Errorf("%w: %s:%s matches --immutable-tags and points to %s; the manifest cannot be deleted", storage.ErrTagImmutable, repo, t, d)
		}
	}
	for _, t := range tags {
		err := s.store.Tags.Delete(ctx, repo, t, by, func(old artifact.Digest) error {
			if old != d {
				return errTagMoved
			}
			return nil
		})
		if err != nil && !errors.Is(err, errTagMoved) && !errors.Is(err, storage.ErrManifestUnknown) {
			return err
		}
	}
	return s.store.Manifests.Delete(ctx, repo, d)
}
