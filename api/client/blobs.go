package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/normreg/normreg/artifact"
)

// blobPath is the URL path of a blob.
func blobPath(repo string, d artifact.Digest) string { return "/v2/" + repo + "/blobs/" + d.String() }

// StatBlob returns the size of blob d in repo (HEAD); ErrNotFound if the
// registry lacks it, so a pusher can skip uploading what is there.
func (c *Client) StatBlob(ctx context.Context, repo string, d artifact.Digest) (int64, error) {
	resp, err := c.do(ctx, request{method: http.MethodHead, path: blobPath(repo, d)}, http.StatusOK)
	if err != nil {
		return 0, err
	}
	drain(resp)
	return contentLength(resp.Header.Get("Content-Length")), nil
}

// PushBlob uploads desc.Size bytes read from r as blob desc.Digest of repo:
// it opens an upload session (POST) and streams r in one PUT with a known
// Content-Length, so memory does not grow with the size. The registry
// verifies the digest; a mismatch gives an error matching
// artifact.ErrDigestMismatch, and r must yield exactly desc.Size bytes.
func (c *Client) PushBlob(ctx context.Context, repo string, desc artifact.Descriptor, r io.Reader) error {
	up, err := c.StartUpload(ctx, repo)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, request{
		method: http.MethodPut, path: up.Location, query: url.Values{"digest": {desc.Digest.String()}},
		header: http.Header{"Content-Type": {"application/octet-stream"}},
		body:   io.LimitReader(r, desc.Size), size: desc.Size,
	}, http.StatusCreated)
	if err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	return drain(resp)
}

// MountBlob asks the registry to link blob d into repo from repository
// from without sending it (POST ?mount=&from=, a cross-repository mount)
// and reports whether it did (201). A registry that does not (it lacks the
// blob, does not mount, or the caller may not read from) opens an upload
// session instead, as the distribution spec says: MountBlob cancels it and
// reports false, and the caller uploads the blob.
func (c *Client) MountBlob(ctx context.Context, repo, from string, d artifact.Digest) (bool, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/v2/" + repo + "/blobs/uploads/",
		query: url.Values{"mount": {d.String()}, "from": {from}}}, http.StatusCreated, http.StatusAccepted)
	if err != nil {
		return false, err
	}
	drain(resp)
	if resp.StatusCode == http.StatusCreated {
		return true, nil
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		c.CancelUpload(ctx, &Upload{Location: loc}) // best effort: an abandoned session expires
	}
	return false, nil
}

// StreamedUploadHeader is the header a registry sets to "sha256" on its
// answer to opening an upload session when it hashes a session filled by
// one PATCH as the bytes arrive: the client then need not hash a blob before
// sending it (see PushBlobStreamed).
const StreamedUploadHeader = "Normreg-Streamed-Upload"

// Upload is an open upload session.
type Upload struct {
	Location string // where the session continues: a URL, or a path below the registry's base URL
	Streamed bool   // the registry answered StreamedUploadHeader: sha256
}

// StartUpload opens an upload session in repo (POST). The caller fills it
// (PushBlobStreamed) or cancels it (CancelUpload); an abandoned session
// lingers on the registry until it expires.
func (c *Client) StartUpload(ctx context.Context, repo string) (*Upload, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/v2/" + repo + "/blobs/uploads/"}, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	drain(resp)
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("registry %s: upload for %s started without a Location", c.base.Host, repo)
	}
	return &Upload{Location: loc, Streamed: resp.Header.Get(StreamedUploadHeader) == "sha256"}, nil
}

// PushBlobStreamed sends the size bytes of r into session up in one PATCH
// (Content-Length size, no Content-Range), hashing them with sha256 in the
// same pass, then commits the session under the digest computed (PUT
// ?digest= with an empty body) and returns it: r is read once, and the
// caller need not know the digest beforehand. Any failure cancels the
// session (DELETE). r must yield exactly size bytes. On a registry whose
// session lacks Streamed it works too, but the registry then reads the
// session back to hash it.
func (c *Client) PushBlobStreamed(ctx context.Context, up *Upload, r io.Reader, size int64) (artifact.Digest, error) {
	d, err := c.streamInto(ctx, up, r, size)
	if err != nil {
		if cerr := c.CancelUpload(context.WithoutCancel(ctx), up); cerr != nil {
			err = fmt.Errorf("%w (cancelling the upload: %v)", err, cerr)
		}
		return "", err
	}
	return d, nil
}

// streamInto is PushBlobStreamed without the cancel; up.Location follows
// the registry's answers.
func (c *Client) streamInto(ctx context.Context, up *Upload, r io.Reader, size int64) (artifact.Digest, error) {
	h := artifact.SHA256.New()
	resp, err := c.do(ctx, request{
		method: http.MethodPatch, path: up.Location,
		header: http.Header{"Content-Type": {"application/octet-stream"}},
		body:   io.TeeReader(r, h), size: size, // net/http fails a body longer or shorter than size
	}, http.StatusAccepted)
	if err != nil {
		return "", fmt.Errorf("uploading: %w", err)
	}
	drain(resp)
	if loc := resp.Header.Get("Location"); loc != "" {
		up.Location = loc
	}
	d := artifact.FromHash(artifact.SHA256, h)
	resp, err = c.do(ctx, request{method: http.MethodPut, path: up.Location, query: url.Values{"digest": {d.String()}}}, http.StatusCreated)
	if err != nil {
		return "", fmt.Errorf("blob %s: %w", d, err)
	}
	return d, drain(resp)
}

// CancelUpload deletes session up (DELETE), so the registry drops what it holds.
func (c *Client) CancelUpload(ctx context.Context, up *Upload) error {
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: up.Location}, http.StatusNoContent, http.StatusAccepted, http.StatusOK)
	if err != nil {
		return err
	}
	return drain(resp)
}

// FetchBlob streams blob desc of repo. The reader verifies while streaming:
// where the content ends it returns io.EOF only if it hashes to desc.Digest
// and has desc.Size bytes (size < 0: any), else an error wrapping
// artifact.ErrDigestMismatch or artifact.ErrSizeMismatch. The caller closes it.
// A blob of 64 MiB or more goes through a pipeline of three goroutines
// (see artifact.NewVerifiedReadAhead): one receives, one hashes the same
// buffers, and the caller's reads (writing a file) take what is hashed so
// far, so hashing, the slowest stage, never waits for the socket or the
// disk, and no byte is copied between the stages.
func (c *Client) FetchBlob(ctx context.Context, repo string, desc artifact.Descriptor) (io.ReadCloser, error) {
	rc, err := c.openBlob(ctx, repo, desc.Digest, 0, -1)
	if err != nil {
		return nil, err
	}
	if desc.Size < artifact.ReadAheadMin {
		return readCloser{artifact.NewVerifyReader(rc, desc.Digest, desc.Size), rc}, nil
	}
	a := artifact.NewVerifiedReadAhead(rc, desc.Digest, desc.Size)
	return aheadCloser{a, closerFunc(func() error { a.Stop(); return rc.Close() })}, nil
}

// aheadCloser is a ReadAhead with the Close that stops it and the response
// body; its WriteTo, which io.Copy uses, writes the buffers without a copy.
type aheadCloser struct {
	*artifact.ReadAhead
	io.Closer
}

// closerFunc is a func as an io.Closer.
type closerFunc func() error

// Close implements io.Closer.
func (f closerFunc) Close() error { return f() }

// FetchBlobRange streams length bytes of blob d of repo from offset (a Range
// request), for reading part of a large blob such as a weights header. The
// bytes cannot be verified against the digest on their own; the reader ends
// with io.ErrUnexpectedEOF if the blob is shorter.
func (c *Client) FetchBlobRange(ctx context.Context, repo string, d artifact.Digest, offset, length int64) (io.ReadCloser, error) {
	rc, err := c.openBlob(ctx, repo, d, offset, offset+length)
	if err != nil {
		return nil, err
	}
	return readCloser{&exactReader{r: rc, left: length}, rc}, nil
}

// openBlob GETs blob d of repo from offset to end (exclusive; -1: to the
// blob's end), with a Range request unless that is the whole blob.
func (c *Client) openBlob(ctx context.Context, repo string, d artifact.Digest, offset, end int64) (io.ReadCloser, error) {
	r := request{method: http.MethodGet, path: blobPath(repo, d)}
	switch {
	case end >= 0:
		r.header = http.Header{"Range": {fmt.Sprintf("bytes=%d-%d", offset, end-1)}}
	case offset > 0:
		r.header = http.Header{"Range": {fmt.Sprintf("bytes=%d-", offset)}}
	}
	resp, err := c.do(ctx, r, http.StatusOK, http.StatusPartialContent)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK && offset > 0 { // the registry ignored Range: skip to offset
		if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("blob %s: skipping to offset %d: %w", d, offset, err)
		}
	}
	return resp.Body, nil
}

// readCloser pairs a reader with the closer of what it reads from.
type readCloser struct {
	io.Reader
	io.Closer
}

// exactReader yields exactly left bytes, or io.ErrUnexpectedEOF if the source ends early.
type exactReader struct {
	r    io.Reader
	left int64
}

// Read implements io.Reader.
func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, io.ErrUnexpectedEOF
	}
	if e.left == 0 {
		return n, io.EOF
	}
	return n, err
}
