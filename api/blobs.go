package api

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/storage"
)

// blobGet serves GET and HEAD /v2/<name>/blobs/<digest>, streaming from
// storage; a single "Range: bytes=..." gives 206 with that part. With
// redirectBlobs, a GET is redirected instead (blobRedirect).
func (s *server) blobGet(c echo.Context, r route) error {
	d, err := artifact.ParseDigest(r.ref)
	if err != nil {
		return err
	}
	if s.redirectBlobs && c.Request().Method == http.MethodGet {
		return s.blobRedirect(c, r.name, d)
	}
	ctx := c.Request().Context()
	size, err := s.store.Blobs.Stat(ctx, r.name, d)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Accept-Ranges", "bytes")
	h.Set(echo.HeaderContentType, "application/octet-stream")
	start, n, status := int64(0), size, http.StatusOK
	if spec := c.Request().Header.Get("Range"); spec != "" {
		if start, n, err = parseRange(spec, size); err != nil {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			return err
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+n-1, size))
		status = http.StatusPartialContent
	}
	h.Set(echo.HeaderContentLength, strconv.FormatInt(n, 10))
	if c.Request().Method == http.MethodHead {
		return c.NoContent(status)
	}
	rc, _, err := s.store.Blobs.Open(ctx, r.name, d, start)
	if err != nil {
		return err
	}
	defer rc.Close()
	c.Response().WriteHeader(status)
	return sendBody(c.Response(), rc, n)
}

// RedirectExpiry is how long the presigned URL of a blob redirect is valid.
const RedirectExpiry = 15 * time.Minute

// blobRedirect answers a blob GET with 307 Temporary Redirect to a presigned
// URL of the blob in storage, valid for RedirectExpiry, and an empty body.
// The client sends the same request (Range included) there, so the bytes
// go from storage to the client without passing through the registry. A
// blob not linked into repo is BLOB_UNKNOWN, as without the redirect.
func (s *server) blobRedirect(c echo.Context, repo string, d artifact.Digest) error {
	u, err := s.store.Blobs.RedirectURL(c.Request().Context(), repo, d, RedirectExpiry)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Docker-Content-Digest", d.String())
	return c.Redirect(http.StatusTemporaryRedirect, u)
}

// copyBufferSize is the buffer of a blob body copied by reads and writes:
// large, so a GiB costs a thousand syscalls each way, not 32 thousand.
const copyBufferSize = 1 << 20

// sendBody writes n bytes of rc as the response body, through a buffer of
// at most copyBufferSize, and counts them in res.Size. Not by sendfile, even
// from a file: on loopback its page-cache-backed packets cost the receiver
// more system time than the registry saves (bench/RESULTS.md, change 24).
func sendBody(res *echo.Response, rc io.Reader, n int64) error {
	if n == 0 {
		return nil
	}
	sent, err := io.CopyBuffer(writerOnly{res.Writer}, io.LimitReader(rc, n), make([]byte, min(n, copyBufferSize)))
	res.Size += sent
	return err
}

// writerOnly hides a writer's ReadFrom, which would copy in 32 KiB steps or
// by sendfile.
type writerOnly struct{ io.Writer }

// parseRange reads a single-range "bytes=first-last", "bytes=first-" or
// "bytes=-suffix" against a blob of size bytes and returns the start and
// length. A range that does not fit gives storage.ErrRangeInvalid.
func parseRange(spec string, size int64) (start, n int64, err error) {
	invalid := fmt.Errorf("%w: Range %q of a %d-byte blob", storage.ErrRangeInvalid, spec, size)
	first, last, ok := strings.Cut(strings.TrimPrefix(spec, "bytes="), "-")
	if !ok || !strings.HasPrefix(spec, "bytes=") || strings.Contains(last, ",") {
		return 0, 0, invalid
	}
	if first == "" { // suffix: the last n bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, invalid
		}
		n = min(n, size)
		return size - n, n, nil
	}
	start, err = strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, invalid
	}
	end := size - 1
	if last != "" {
		if end, err = strconv.ParseInt(last, 10, 64); err != nil || end < start {
			return 0, 0, invalid
		}
		end = min(end, size-1)
	}
	return start, end - start + 1, nil
}

// blobDelete serves DELETE /v2/<name>/blobs/<digest>: the blob is unlinked
// from the repository.
func (s *server) blobDelete(c echo.Context, r route) error {
	d, err := artifact.ParseDigest(r.ref)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.blobProtected(ctx, r.name, d); err != nil {
		return err
	}
	if err := s.store.Blobs.Delete(ctx, r.name, d); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}
