package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
)

// Sentinel errors of the HTTP layer itself.
var (
	// errManifestBlobUnknown: a pushed manifest references a blob or child manifest the repository lacks.
	errManifestBlobUnknown = errors.New("manifest references a manifest or blob unknown to registry")
	// errUploadInvalid: an upload request is malformed (bad Content-Range, lengths that disagree).
	errUploadInvalid = errors.New("blob upload invalid")
	// errUnsupported: the method is not supported on this endpoint.
	errUnsupported = errors.New("the operation is unsupported")
	// errRouteUnknown: the path is not an endpoint of the API.
	errRouteUnknown = errors.New("no such endpoint")
	// errQueryInvalid: a query parameter is missing or malformed.
	errQueryInvalid = errors.New("query parameter invalid")
)

// errorKind is one row of the error table: an OCI error code, its HTTP status
// and the fixed message sent with it.
type errorKind struct {
	err     error
	code    string
	status  int
	message string
}

// errorTable maps sentinel errors to OCI distribution-spec error codes. The
// first row whose err matches (errors.Is) wins, so more specific errors come
// first. It is read, never written.
var errorTable = []errorKind{
	{storage.ErrBlobUnknown, "BLOB_UNKNOWN", http.StatusNotFound, "blob unknown to registry"},
	{storage.ErrManifestUnknown, "MANIFEST_UNKNOWN", http.StatusNotFound, "manifest unknown"},
	{storage.ErrUploadUnknown, "BLOB_UPLOAD_UNKNOWN", http.StatusNotFound, "blob upload unknown to registry"},
	{storage.ErrRepositoryUnknown, "NAME_UNKNOWN", http.StatusNotFound, "repository name not known to registry"},
	{storage.ErrRangeInvalid, "BLOB_UPLOAD_INVALID", http.StatusRequestedRangeNotSatisfiable, "requested range not satisfiable"},
	{errUnauthorized, "UNAUTHORIZED", http.StatusUnauthorized, "authentication required"},
	{errDenied, "DENIED", http.StatusForbidden, "requested access to the resource is denied"},
	{storage.ErrTagImmutable, "DENIED", http.StatusForbidden, "tag is immutable"},
	{errUploadInvalid, "BLOB_UPLOAD_INVALID", http.StatusBadRequest, "blob upload invalid"},
	{artifact.ErrDigestMismatch, "DIGEST_INVALID", http.StatusBadRequest, "provided digest did not match uploaded content"},
	{artifact.ErrInvalidDigest, "DIGEST_INVALID", http.StatusBadRequest, "provided digest is invalid"},
	{artifact.ErrUnsupportedAlgorithm, "DIGEST_INVALID", http.StatusBadRequest, "digest algorithm is not supported"},
	{artifact.ErrSizeMismatch, "SIZE_INVALID", http.StatusBadRequest, "provided length did not match content length"},
	{artifact.ErrInvalidName, "NAME_INVALID", http.StatusBadRequest, "invalid repository name"},
	{artifact.ErrInvalidTag, "MANIFEST_INVALID", http.StatusBadRequest, "invalid tag"},
	{manifest.ErrManifestTooLarge, "MANIFEST_INVALID", http.StatusRequestEntityTooLarge, "manifest too large"},
	{manifest.ErrManifestInvalid, "MANIFEST_INVALID", http.StatusBadRequest, "manifest invalid"},
	{errManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", http.StatusBadRequest, "manifest references a manifest or blob unknown to registry"},
	{errPaginationInvalid, "PAGINATION_NUMBER_INVALID", http.StatusBadRequest, "invalid number of results requested"},
	{errQueryInvalid, "QUERY_INVALID", http.StatusBadRequest, "invalid query parameter"},
	{errUnsupported, "UNSUPPORTED", http.StatusMethodNotAllowed, "the operation is unsupported"},
	{errRouteUnknown, "NOT_FOUND", http.StatusNotFound, "no such endpoint"},
	{storage.ErrUnavailable, "UNAVAILABLE", http.StatusServiceUnavailable, "storage is unavailable, try again later"},
	{storage.ErrFull, "UNAVAILABLE", http.StatusInsufficientStorage, "the registry's storage is full"},
}

// internalError is what an error outside the table becomes.
var internalError = errorKind{code: "UNKNOWN", status: http.StatusInternalServerError, message: "internal server error"}

// clientGone is the answer to a request whose client went away while it was
// served (the request's context canceled): nobody reads it, and the log and
// metrics show 499, as nginx does, not a server error.
var clientGone = errorKind{code: "UNKNOWN", status: 499, message: "client closed the request"}

// classify returns the table row for err.
func classify(err error) errorKind {
	for _, k := range errorTable {
		if errors.Is(err, k.err) {
			return k
		}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return errorKind{code: "UNSUPPORTED", status: he.Code, message: fmt.Sprint(he.Message)}
	}
	return internalError
}

// routerError turns the router's own answers (echo's HTTPError for a path
// no route matches, or a method a route does not take) into the table's
// errors, so that every path answers as /v2/ does (NOT_FOUND, UNSUPPORTED)
// and no framework text reaches the body.
func routerError(err error, r *http.Request) error {
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		return err
	}
	switch he.Code {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s", errRouteUnknown, r.URL.Path)
	case http.StatusMethodNotAllowed:
		return fmt.Errorf("%w: %s %s", errUnsupported, r.Method, r.URL.Path)
	}
	return err
}

// errorBody is the distribution spec's error response.
type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// detailer is an error that carries structured detail (JSON) for the error
// response, such as a refused bundle's findings.
type detailer interface {
	errorDetail() any
}

// writeError is the one place that turns an error into an HTTP response: the
// status and code from the table, as detail the error's structured detail
// (a detailer in its chain) or its text (except for server errors, 5xx,
// whose text names the registry's insides and is only logged). HEAD
// responses carry no body.
func writeError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	err = routerError(err, c.Request())
	k := classify(err)
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		k = clientGone
	}
	c.Set(logErrorKey, err)
	// The message already says what the sentinel's text would: clients
	// print both (oras: "manifest invalid: manifest invalid: …").
	var detail any = strings.TrimPrefix(err.Error(), k.message+": ")
	var d detailer
	switch {
	case k.status >= http.StatusInternalServerError:
		detail = nil
	case errors.As(err, &d):
		detail = d.errorDetail()
	}
	// On a HEAD, net/http sends the headers of this body (Content-Type,
	// Content-Length) without it.
	_ = c.JSON(k.status, errorBody{Errors: []errorEntry{{Code: k.code, Message: k.message, Detail: detail}}})
}
