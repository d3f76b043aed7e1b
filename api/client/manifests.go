package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// manifestAccept is the Accept value of manifest requests.
const manifestAccept = manifest.MediaTypeImageManifest + ", " + manifest.MediaTypeImageIndex + ", " +
	manifest.MediaTypeDockerManifest + ", " + manifest.MediaTypeDockerManifestList

// acceptManifests returns a fresh header of a manifest request (newRequest
// hands its value slices to the request, so no two requests share one).
func acceptManifests() http.Header { return http.Header{"Accept": {manifestAccept}} }

// manifestPath is the URL path of a manifest by tag or digest.
func manifestPath(repo, ref string) string { return "/v2/" + repo + "/manifests/" + ref }

// ResolveManifest returns the descriptor (media type, digest, size) of the
// manifest ref (a tag or digest) of repo, with a HEAD request; a registry
// that does not send Docker-Content-Digest, or answers the HEAD with an
// error (which has no body to name its OCI code), gets a GET. ErrNotFound
// if absent.
func (c *Client) ResolveManifest(ctx context.Context, repo, ref string) (artifact.Descriptor, error) {
	resp, err := c.do(ctx, request{method: http.MethodHead, path: manifestPath(repo, ref), header: acceptManifests()}, http.StatusOK)
	var e *Error
	if errors.As(err, &e) && len(e.Entries) == 0 { // a HEAD has no body: GET for the OCI error code
		desc, _, err := c.FetchManifest(ctx, repo, ref)
		return desc, err
	}
	if err != nil {
		return artifact.Descriptor{}, err
	}
	drain(resp)
	d, derr := artifact.ParseDigest(resp.Header.Get("Docker-Content-Digest"))
	size := contentLength(resp.Header.Get("Content-Length"))
	if derr != nil || size < 0 {
		desc, _, err := c.FetchManifest(ctx, repo, ref)
		return desc, err
	}
	return artifact.Descriptor{MediaType: resp.Header.Get("Content-Type"), Digest: d, Size: size}, nil
}

// FetchManifest returns the manifest ref (a tag or digest) of repo and its
// descriptor. Its bytes are verified against the digest when ref is one, else
// against the Docker-Content-Digest the registry sent; a mismatch wraps
// artifact.ErrDigestMismatch. Manifests over manifest.MaxSize are refused.
func (c *Client) FetchManifest(ctx context.Context, repo, ref string) (artifact.Descriptor, []byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: manifestPath(repo, ref), header: acceptManifests()}, http.StatusOK)
	if err != nil {
		return artifact.Descriptor{}, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, manifest.MaxSize+1))
	if err != nil {
		return artifact.Descriptor{}, nil, fmt.Errorf("manifest %s@%s: %w", repo, ref, err)
	}
	if len(data) > manifest.MaxSize {
		return artifact.Descriptor{}, nil, fmt.Errorf("manifest %s@%s is larger than %d bytes", repo, ref, manifest.MaxSize)
	}
	want, derr := artifact.ParseDigest(ref)
	if derr != nil {
		want, derr = artifact.ParseDigest(resp.Header.Get("Docker-Content-Digest"))
	}
	got := artifact.FromBytes(artifact.SHA256, data)
	if derr == nil {
		got = artifact.FromBytes(want.Algorithm(), data)
		if got != want {
			return artifact.Descriptor{}, nil, fmt.Errorf("manifest %s@%s: %w: bytes hash to %s, expected %s", repo, ref, artifact.ErrDigestMismatch, got, want)
		}
	}
	return artifact.Descriptor{MediaType: resp.Header.Get("Content-Type"), Digest: got, Size: int64(len(data))}, data, nil
}

// PushManifest stores data (of mediaType) as the manifest ref of repo, where
// ref is a tag or the manifest's digest, and returns the manifest's sha256
// digest. A registry that validates and refuses it answers with an *Error
// naming the code (MANIFEST_INVALID, ...).
func (c *Client) PushManifest(ctx context.Context, repo, ref, mediaType string, data []byte) (artifact.Digest, error) {
	d := artifact.FromBytes(artifact.SHA256, data)
	if pinned, err := artifact.ParseDigest(ref); err == nil {
		d = artifact.FromBytes(pinned.Algorithm(), data)
		if d != pinned {
			return "", fmt.Errorf("manifest for %s@%s: %w: bytes hash to %s", repo, ref, artifact.ErrDigestMismatch, d)
		}
	}
	resp, err := c.do(ctx, request{
		method: http.MethodPut, path: manifestPath(repo, ref),
		header: http.Header{"Content-Type": {mediaType}},
		body:   bytes.NewReader(data), size: int64(len(data)),
	}, http.StatusCreated, http.StatusOK)
	if err != nil {
		return "", err
	}
	drain(resp)
	if sent := resp.Header.Get("Docker-Content-Digest"); sent != "" && sent != string(d) {
		return "", fmt.Errorf("manifest for %s@%s: registry stored %s, client computed %s: %w", repo, ref, sent, d, artifact.ErrDigestMismatch)
	}
	return d, nil
}

// Tag points tag of repo at the manifest d, by fetching and pushing it again.
func (c *Client) Tag(ctx context.Context, repo string, d artifact.Digest, tag string) error {
	desc, data, err := c.FetchManifest(ctx, repo, d.String())
	if err != nil {
		return err
	}
	_, err = c.PushManifest(ctx, repo, tag, desc.MediaType, data)
	return err
}

// DeleteManifest deletes the manifest d of repo. ErrNotFound if absent;
// ErrUnsupported if the registry does not allow deletes.
func (c *Client) DeleteManifest(ctx context.Context, repo string, d artifact.Digest) error {
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: manifestPath(repo, d.String())}, http.StatusAccepted, http.StatusOK, http.StatusNoContent)
	if err != nil {
		return err
	}
	return drain(resp)
}

// contentLength parses a Content-Length header value; -1 when absent or bad.
func contentLength(v string) int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
