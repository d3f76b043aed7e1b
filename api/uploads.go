package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
)

// uploadPost serves POST /v2/<name>/blobs/uploads/: a cross-repository mount
// (?mount=<digest>[&from=<repo>]), a monolithic upload (?digest=<digest> with
// the blob as body), or else a new upload session. A mount of a blob the
// registry does not have falls back to a new session, as the spec asks. A
// new session's answer carries Normreg-Streamed-Upload: sha256: the
// storage commits one-chunk uploads without copying them.
func (s *server) uploadPost(c echo.Context, r route) error {
	if r.ref != "" {
		return errUnsupported
	}
	q := c.QueryParams()
	if q.Has("mount") {
		mounted, err := s.mount(c, r.name, q.Get("mount"), q.Get("from"))
		if mounted || err != nil {
			return err
		}
	}
	if q.Has("digest") {
		d, err := artifact.ParseDigest(q.Get("digest"))
		if err != nil {
			return err
		}
		req := c.Request()
		body := requestBody(req, errUploadInvalid)
		if _, err := s.store.Blobs.Put(req.Context(), r.name, d, req.ContentLength, body); err != nil {
			return body.failed(err)
		}
		return blobCreated(c, r.name, d)
	}
	id, err := s.store.Uploads.Start(c.Request().Context(), r.name)
	if err != nil {
		return err
	}
	c.Response().Header().Set(headerStreamedUpload, "sha256")
	return uploadAccepted(c, r.name, id, 0, http.StatusAccepted)
}

// headerStreamedUpload, on a new session, tells the client that a blob sent
// as one PATCH (no Content-Range) and a PUT with an empty body under its
// sha256 digest is committed without a second copy, so the client may stream
// it without hashing it first: the registry hashes it as it is stored.
const headerStreamedUpload = "Normreg-Streamed-Upload"

// mount links blob digest into repo from repository from (any repository when
// from is ""). It reports false, with no error, when there is nothing to mount.
func (s *server) mount(c echo.Context, repo, digest, from string) (bool, error) {
	d, err := artifact.ParseDigest(digest)
	if err != nil {
		return false, err
	}
	if from != "" {
		if err := artifact.ValidateRepository(from); err != nil {
			return false, err
		}
	}
	_, err = s.store.Blobs.Mount(c.Request().Context(), repo, from, d)
	if errors.Is(err, storage.ErrBlobUnknown) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, blobCreated(c, repo, d)
}

// uploadPatch serves PATCH /v2/<name>/blobs/uploads/<id>: the body is
// appended at the offset its Content-Range names (or at the end when it has
// none); a chunk that does not start where the session ends gives 416.
func (s *server) uploadPatch(c echo.Context, r route) error {
	offset, err := s.chunkOffset(c, r)
	if err != nil {
		return err
	}
	req := c.Request()
	body := requestBody(req, errUploadInvalid)
	size, err := s.store.Uploads.Append(req.Context(), r.name, r.ref, offset, req.ContentLength, body)
	if err != nil {
		return body.failed(err)
	}
	return uploadAccepted(c, r.name, r.ref, size, http.StatusAccepted)
}

// uploadPut serves PUT /v2/<name>/blobs/uploads/<id>?digest=<digest>: the
// body (possibly empty) is the last chunk; the blob is committed only if
// everything hashes to the digest.
func (s *server) uploadPut(c echo.Context, r route) error {
	d, err := artifact.ParseDigest(c.QueryParam("digest"))
	if err != nil {
		return err
	}
	if c.Request().Header.Get("Content-Range") != "" {
		if _, err := s.chunkOffset(c, r); err != nil {
			return err
		}
	}
	body := requestBody(c.Request(), errUploadInvalid)
	if _, err := s.store.Uploads.Commit(c.Request().Context(), r.name, r.ref, d, body); err != nil {
		return body.failed(err)
	}
	return blobCreated(c, r.name, d)
}

// requestBody is req's body, a body that ends before its Content-Length (a
// client that closed its side early, which net/http reports as
// io.ErrUnexpectedEOF) failing with invalid, the OCI error of the request's
// kind (errUploadInvalid for an upload), saying how many bytes it lacked: a
// client error rather than the server's.
func requestBody(req *http.Request, invalid error) *shortBody {
	return &shortBody{r: req.Body, length: req.ContentLength, invalid: invalid}
}

// shortBody is the reader of requestBody. The storage may read it on a
// goroutine of its own (read-ahead).
type shortBody struct {
	r       io.Reader
	length  int64 // the Content-Length; -1 when unknown (chunked)
	n       int64 // bytes read
	invalid error // what an early end wraps

	short atomic.Pointer[error] // the body's early end; nil while it has not ended early
}

// Read implements io.Reader.
func (b *shortBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case !errors.Is(err, io.ErrUnexpectedEOF):
		return n, err
	case b.length < 0:
		err = fmt.Errorf("%w: the request body ended early, after %d bytes", b.invalid, b.n)
	default:
		err = fmt.Errorf("%w: the request body ended after %d bytes, %d short of its Content-Length %d", b.invalid, b.n, b.length-b.n, b.length)
	}
	b.short.Store(&err)
	return n, err
}

// failed is the error of an upload that read b and failed with err: b's
// early end when it ended early (net/http then cancels the request's
// context, which may stop the upload before the body's error reaches it),
// else err.
func (b *shortBody) failed(err error) error {
	if short := b.short.Load(); short != nil {
		return *short
	}
	return err
}

// uploadStatus serves GET /v2/<name>/blobs/uploads/<id>: 204 with the Range
// the session holds, so a client can resume.
func (s *server) uploadStatus(c echo.Context, r route) error {
	size, err := s.store.Uploads.Size(c.Request().Context(), r.name, r.ref)
	if err != nil {
		return err
	}
	return uploadAccepted(c, r.name, r.ref, size, http.StatusNoContent)
}

// uploadCancel serves DELETE /v2/<name>/blobs/uploads/<id>.
func (s *server) uploadCancel(c echo.Context, r route) error {
	if err := s.store.Uploads.Cancel(c.Request().Context(), r.name, r.ref); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// chunkOffset returns where the request's chunk goes: the start of its
// Content-Range, which must be the session's current size (else
// storage.ErrRangeInvalid), or the current size when there is none.
func (s *server) chunkOffset(c echo.Context, r route) (int64, error) {
	size, err := s.store.Uploads.Size(c.Request().Context(), r.name, r.ref)
	if err != nil {
		return 0, err
	}
	cr := c.Request().Header.Get("Content-Range")
	if cr == "" {
		return size, nil
	}
	start, end, err := parseContentRange(cr)
	if err != nil {
		return 0, err
	}
	if n := c.Request().ContentLength; n >= 0 && n != end-start+1 {
		return 0, fmt.Errorf("%w: Content-Range %q but Content-Length %d", errUploadInvalid, cr, n)
	}
	if start != size {
		return 0, fmt.Errorf("%w: chunk starts at %d, the upload holds %d bytes", storage.ErrRangeInvalid, start, size)
	}
	return start, nil
}

// parseContentRange reads an upload chunk's "first-last" (optionally prefixed
// with "bytes " or "bytes=").
func parseContentRange(cr string) (first, last int64, err error) {
	spec := strings.TrimLeft(strings.TrimPrefix(cr, "bytes"), " =")
	a, b, ok := strings.Cut(spec, "-")
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, fmt.Errorf("%w: Content-Range %q is not first-last", storage.ErrRangeInvalid, cr)
	}
	return first, last, nil
}

// uploadAccepted answers a session request: where to continue and what it holds.
func uploadAccepted(c echo.Context, name, id string, size int64, status int) error {
	h := c.Response().Header()
	h.Set(echo.HeaderLocation, "/v2/"+name+"/blobs/uploads/"+id)
	h.Set("Docker-Upload-UUID", id)
	h.Set("Range", fmt.Sprintf("0-%d", max(size-1, 0)))
	h.Set(echo.HeaderContentLength, "0")
	return c.NoContent(status)
}

// blobCreated answers a request that stored or linked blob d.
func blobCreated(c echo.Context, name string, d artifact.Digest) error {
	h := c.Response().Header()
	h.Set(echo.HeaderLocation, "/v2/"+name+"/blobs/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set(echo.HeaderContentLength, "0")
	return c.NoContent(http.StatusCreated)
}
