package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// Manifests keeps manifests per repository, the referrers index and the
// catalog of repositories. It keeps the bytes of manifests it has read in a
// bounded cache by digest (content under a digest never changes); whether a
// repository holds a manifest is read from storage on every call, so
// deletes, by any process, are seen at once.
type Manifests struct {
	d     Driver
	cache digestCache
}

// Manifest is a stored manifest.
type Manifest struct {
	Digest    artifact.Digest
	MediaType string
	Data      []byte
}

// manifestLink is what a repository's manifest link holds.
type manifestLink struct {
	MediaType string          `json:"mediaType"`
	Subject   artifact.Digest `json:"subject,omitempty"`
}

// maxLinkSize bounds the small JSON objects the stores keep (links, tag
// states, moves, descriptors, upload sessions).
const maxLinkSize = 64 << 10

// Put stores mf in repo; mf.Digest must be the digest of mf.Data (else an
// error wrapping artifact.ErrDigestMismatch, and nothing is stored), and
// mf.MediaType the media type mf.Data declares, if it declares one (else
// manifest.ErrManifestInvalid). When subject is non-empty, ref (mf's
// descriptor with its artifactType and annotations) is recorded among
// subject's referrers. Validation of the manifest's content is the
// caller's (manifest package).
func (m *Manifests) Put(ctx context.Context, repo string, mf Manifest, subject artifact.Digest, ref artifact.Descriptor) error {
	if err := checkPut(repo, mf, subject); err != nil {
		return err
	}
	if _, err := storeBlob(ctx, m.d, mf.Digest, int64(len(mf.Data)), bytes.NewReader(mf.Data)); err != nil {
		return err
	}
	if subject != "" {
		if err := putJSON(ctx, m.d, referrerKey(repo, subject, mf.Digest), ref); err != nil {
			return err
		}
	}
	link := manifestLink{MediaType: mf.MediaType, Subject: subject}
	if err := putJSON(ctx, m.d, manifestKey(repo, mf.Digest), link); err != nil {
		return err
	}
	return register(ctx, m.d, repo)
}

// checkPut validates Put's arguments before anything is stored.
func checkPut(repo string, mf Manifest, subject artifact.Digest) error {
	if err := checkRepoDigest(repo, mf.Digest); err != nil {
		return err
	}
	if declared := declaredMediaType(mf.Data); declared != "" && declared != mf.MediaType {
		return fmt.Errorf("%w: stored as %q, the manifest declares %q", manifest.ErrManifestInvalid, mf.MediaType, declared)
	}
	if subject == "" {
		return nil
	}
	_, err := artifact.ParseDigest(string(subject))
	return err
}

// declaredMediaType is the mediaType field of the JSON manifest data, as
// the manifest package reads it; "" when data has none or is not JSON.
func declaredMediaType(data []byte) string {
	var v struct {
		MediaType string `json:"mediaType"`
	}
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	return v.MediaType
}

// putJSON stores v as JSON under key.
func putJSON(ctx context.Context, d Driver, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return d.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
}

// getJSON reads the JSON object at key into v and returns its version.
func getJSON(ctx context.Context, d Driver, key string, v any) (string, error) {
	data, version, err := d.Get(ctx, key, maxLinkSize)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return version, nil
}

// Get returns the manifest of repo with digest d, or ErrManifestUnknown.
// The returned Data may be shared with other callers: it must not be
// modified. When the cached bytes declare their media type (which Put
// made the link's), only the link's presence is read.
func (m *Manifests) Get(ctx context.Context, repo string, d artifact.Digest) (Manifest, error) {
	if err := artifact.ValidateRepository(repo); err != nil {
		return Manifest{}, err
	}
	// Only digests that m.link has checked are ever cached.
	if c, ok := m.cache.get(d); ok && c.mediaType != "" {
		if _, err := m.d.Stat(ctx, manifestKey(repo, d)); err != nil {
			return Manifest{}, manifestUnknown(repo, d, err)
		}
		return Manifest{Digest: d, MediaType: c.mediaType, Data: c.data}, nil
	}
	link, err := m.link(ctx, repo, d)
	if err != nil {
		return Manifest{}, err
	}
	c, err := m.content(ctx, d)
	if err != nil {
		return Manifest{}, manifestUnknown(repo, d, err)
	}
	return Manifest{Digest: d, MediaType: link.MediaType, Data: c.data}, nil
}

// content returns manifest d's bytes from the cache, else from storage
// (then cached).
func (m *Manifests) content(ctx context.Context, d artifact.Digest) (cachedManifest, error) {
	if c, ok := m.cache.get(d); ok {
		return c, nil
	}
	data, err := getBlob(ctx, m.d, d, manifest.MaxSize)
	if err != nil {
		return cachedManifest{}, err
	}
	c := cachedManifest{data: data, mediaType: declaredMediaType(data)}
	m.cache.add(d, c)
	return c, nil
}

// cachedManifest is a manifest's bytes and the media type they declare.
type cachedManifest struct {
	data      []byte
	mediaType string // "" when the bytes declare none
}

// digestCacheBytes bounds the manifest bytes a digestCache holds.
const digestCacheBytes = 16 << 20

// digestCache holds manifests by digest, at most digestCacheBytes of their
// bytes in all. The zero value is an empty cache, safe for concurrent use.
type digestCache struct {
	mu    sync.Mutex
	items map[artifact.Digest]cachedManifest
	bytes int
}

// get returns the manifest cached under d.
func (c *digestCache) get(d artifact.Digest) (cachedManifest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	item, ok := c.items[d]
	return item, ok
}

// add caches item under d, first dropping arbitrary entries until it fits.
func (c *digestCache) add(d artifact.Digest, item cachedManifest) {
	if len(item.data) > digestCacheBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		c.items = map[artifact.Digest]cachedManifest{}
	}
	for k, old := range c.items {
		if c.bytes+len(item.data) <= digestCacheBytes {
			break
		}
		delete(c.items, k)
		c.bytes -= len(old.data)
	}
	c.bytes += len(item.data) - len(c.items[d].data)
	c.items[d] = item
}

// link reads repo's link to manifest d, or ErrManifestUnknown.
func (m *Manifests) link(ctx context.Context, repo string, d artifact.Digest) (manifestLink, error) {
	var link manifestLink
	if err := checkRepoDigest(repo, d); err != nil {
		return link, err
	}
	_, err := getJSON(ctx, m.d, manifestKey(repo, d), &link)
	return link, manifestUnknown(repo, d, err)
}

// manifestUnknown turns ErrNotFound into ErrManifestUnknown and passes other errors.
func manifestUnknown(repo string, d artifact.Digest, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s@%s: %w", repo, d, ErrManifestUnknown)
	}
	return err
}

// Delete removes the manifest and its referrers entry; ErrManifestUnknown if absent.
func (m *Manifests) Delete(ctx context.Context, repo string, d artifact.Digest) error {
	link, err := m.link(ctx, repo, d)
	if err != nil {
		return err
	}
	if link.Subject != "" {
		if err := m.d.Delete(ctx, referrerKey(repo, link.Subject, d)); err != nil {
			return err
		}
	}
	return m.d.Delete(ctx, manifestKey(repo, d))
}

// Referrers lists the descriptors of repo's manifests whose subject is d,
// ordered by their digests.
func (m *Manifests) Referrers(ctx context.Context, repo string, d artifact.Digest) ([]artifact.Descriptor, error) {
	if err := checkRepoDigest(repo, d); err != nil {
		return nil, err
	}
	dir := referrersDir(repo, d)
	refs := []artifact.Descriptor{}
	err := listAll(ctx, m.d, dir, func(name string) error {
		var ref artifact.Descriptor
		_, err := getJSON(ctx, m.d, dir+name, &ref)
		if errors.Is(err, ErrNotFound) { // deleted since listed
			return nil
		}
		refs = append(refs, ref)
		return err
	})
	return refs, err
}

// Repositories lists repository names after `after`, at most n, in path
// order: component by component, so "a/b" comes before "a-b".
func (m *Manifests) Repositories(ctx context.Context, after string, n int) ([]string, error) {
	names, err := m.d.List(ctx, catalogDir, catalogName(after), n)
	for i, name := range names {
		names[i] = catalogRepo(name)
	}
	return names, err
}

// RepositoryKnown reports whether anything (a blob, a manifest) was ever
// pushed to repo: whether it is in the catalog.
func (m *Manifests) RepositoryKnown(ctx context.Context, repo string) (bool, error) {
	if err := artifact.ValidateRepository(repo); err != nil {
		return false, err
	}
	_, err := m.d.Stat(ctx, catalogKey(repo))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
