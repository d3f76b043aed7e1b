package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
)

// parseReference splits a manifest reference into a tag or a digest: a
// reference containing ':' is a digest, anything else a tag.
func parseReference(ref string) (tag string, d artifact.Digest, err error) {
	if strings.Contains(ref, ":") {
		d, err = artifact.ParseDigest(ref)
		return "", d, err
	}
	return ref, "", artifact.ValidateTag(ref)
}

// resolve returns the digest a manifest reference names in repo.
func (s *server) resolve(ctx context.Context, repo, ref string) (artifact.Digest, error) {
	tag, d, err := parseReference(ref)
	if err != nil || tag == "" {
		return d, err
	}
	return s.store.Tags.Resolve(ctx, repo, tag)
}

// manifestGet serves GET and HEAD /v2/<name>/manifests/<reference> with the
// stored bytes and the media type they were pushed with.
func (s *server) manifestGet(c echo.Context, r route) error {
	ctx := c.Request().Context()
	d, err := s.resolve(ctx, r.name, r.ref)
	if err != nil {
		return err
	}
	mf, err := s.store.Manifests.Get(ctx, r.name, d)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Docker-Content-Digest", mf.Digest.String())
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(mf.Data)))
	h.Set(echo.HeaderContentType, mf.MediaType)
	if c.Request().Method == http.MethodHead {
		return c.NoContent(http.StatusOK)
	}
	return c.Blob(http.StatusOK, mf.MediaType, mf.Data)
}

// manifestPut serves PUT /v2/<name>/manifests/<reference>. The body (at most
// manifest.MaxSize bytes) must be a valid manifest whose media type agrees
// with the Content-Type and whose blobs (image) or child manifests (index)
// the repository holds. Its digest is sha256, unless the reference is a
// digest of another algorithm; a reference digest must match the body. The
// reference tag and any ?tag= parameters are pointed at the manifest.
func (s *server) manifestPut(c echo.Context, r route) error {
	tag, want, err := parseReference(r.ref)
	if err != nil {
		return err
	}
	tags, err := putTags(tag, c.QueryParams()["tag"])
	if err != nil {
		return err
	}
	m, mf, err := readManifest(c.Request(), want)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.checkReferences(ctx, r.name, m); err != nil {
		return err
	}
	if err := s.precheckTags(ctx, r.name, tags, mf.Digest); err != nil {
		return err
	}
	if err := s.guardManifest(ctx, r.name, m, mf.Data); err != nil {
		return err
	}
	if err := s.storeManifest(ctx, r.name, m, mf, tags, principal(c)); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderLocation, "/v2/"+r.name+"/manifests/"+mf.Digest.String())
	h.Set("Docker-Content-Digest", mf.Digest.String())
	if m.Subject != nil {
		h.Set("OCI-Subject", m.Subject.Digest.String())
	}
	if len(c.QueryParams()["tag"]) > 0 {
		h.Set("OCI-Tag", strings.Join(tags, ","))
	}
	return c.NoContent(http.StatusCreated)
}

// readManifest reads a manifest PUT's body (at most manifest.MaxSize bytes;
// one that ends before its Content-Length is ErrManifestInvalid), parses it
// against the request's Content-Type and computes its digest as
// manifestDigest does.
func readManifest(req *http.Request, want artifact.Digest) (*manifest.Manifest, storage.Manifest, error) {
	data, err := io.ReadAll(io.LimitReader(requestBody(req, manifest.ErrManifestInvalid), manifest.MaxSize+1))
	if err != nil {
		return nil, storage.Manifest{}, err
	}
	m, err := manifest.Parse(req.Header.Get(echo.HeaderContentType), data)
	if err != nil {
		return nil, storage.Manifest{}, err
	}
	d, err := manifestDigest(data, want)
	if err != nil {
		return nil, storage.Manifest{}, err
	}
	return m, storage.Manifest{Digest: d, MediaType: m.MediaType, Data: data}, nil
}

// putTags returns the tags a manifest PUT sets: the reference tag (if any)
// and every ?tag= parameter, all validated.
func putTags(refTag string, params []string) ([]string, error) {
	tags := params
	if refTag != "" {
		tags = append([]string{refTag}, params...)
	}
	for _, t := range tags {
		if err := artifact.ValidateTag(t); err != nil {
			return nil, err
		}
	}
	return tags, nil
}

// manifestDigest returns the digest of data: under want's algorithm when the
// client named a digest (which must then match), else sha256.
func manifestDigest(data []byte, want artifact.Digest) (artifact.Digest, error) {
	if want == "" {
		return artifact.FromBytes(artifact.SHA256, data), nil
	}
	if got := artifact.FromBytes(want.Algorithm(), data); got != want {
		return "", fmt.Errorf("%w: manifest hashes to %s, pushed as %s", artifact.ErrDigestMismatch, got, want)
	}
	return want, nil
}

// checkReferences verifies that repo holds what m references: an image's
// config and distributable layers, an index's child manifests. A missing
// one gives errManifestBlobUnknown, a blob whose size is not the
// descriptor's ErrManifestInvalid naming both. The subject may be missing.
func (s *server) checkReferences(ctx context.Context, repo string, m *manifest.Manifest) error {
	for _, b := range m.Blobs() {
		size, err := s.store.Blobs.Stat(ctx, repo, b.Digest)
		if err != nil {
			return unknownReference(err, b.Digest)
		}
		if size != b.Size {
			return fmt.Errorf("%w: the descriptor of %s says %d bytes; the blob is %d bytes", manifest.ErrManifestInvalid, b.Digest, b.Size, size)
		}
	}
	if !m.IsIndex() {
		return nil
	}
	for _, child := range m.Manifests {
		if _, err := s.store.Manifests.Get(ctx, repo, child.Digest); err != nil {
			return unknownReference(err, child.Digest)
		}
	}
	return nil
}

// unknownReference turns a store's "unknown" into errManifestBlobUnknown.
func unknownReference(err error, d artifact.Digest) error {
	if errors.Is(err, storage.ErrBlobUnknown) || errors.Is(err, storage.ErrManifestUnknown) {
		return fmt.Errorf("%w: %s", errManifestBlobUnknown, d)
	}
	return err
}

// storeManifest stores mf, recording it among its subject's referrers, and
// points tags at it (unless a tag is immutable), recording the moves as by;
// a tag already at mf is left alone, no move recorded.
func (s *server) storeManifest(ctx context.Context, repo string, m *manifest.Manifest, mf storage.Manifest, tags []string, by string) error {
	var subject artifact.Digest
	if m.Subject != nil {
		subject = m.Subject.Digest
	}
	if err := s.store.Manifests.Put(ctx, repo, mf, subject, m.Referrer(mf.Digest, int64(len(mf.Data)))); err != nil {
		return err
	}
	for _, t := range tags {
		err := s.store.Tags.Set(ctx, repo, t, mf.Digest, by, s.immutable.allowSet(repo, t, mf.Digest))
		if err != nil && !errors.Is(err, errTagUnchanged) {
			return err
		}
	}
	return nil
}

// manifestDelete serves DELETE /v2/<name>/manifests/<reference>: by tag it
// removes the tag, by digest the manifest and the tags pointing to it.
func (s *server) manifestDelete(c echo.Context, r route) error {
	tag, d, err := parseReference(r.ref)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if tag != "" {
		err = s.store.Tags.Delete(ctx, r.name, tag, principal(c), s.immutable.allowDelete(r.name, tag))
	} else {
		err = s.deleteManifest(ctx, r.name, d, principal(c))
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}
