package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/normreg/normreg/artifact"
)

// Sentinel errors, matched by an *Error with errors.Is.
var (
	// ErrNotFound: the registry answered 404 (unknown repository, manifest, tag, blob or upload).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: the registry answered 401: no credentials, or not accepted.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrDenied: the registry answered 403: the credentials lack the permission.
	ErrDenied = errors.New("denied")
	// ErrUnsupported: the registry does not implement the endpoint.
	ErrUnsupported = errors.New("unsupported by the registry")
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// Error is a registry's answer with an unexpected status, with the OCI error
// entries of its body ({"errors":[{"code","message","detail"}]}).
type Error struct {
	Method  string
	URL     string
	Status  int
	Entries []ErrorEntry
	// Text is the first line of a body that holds no OCI errors (such as Go's
	// "Client sent an HTTP request to an HTTPS server."), else "".
	Text string
	// TokenSent: the request carried the client's token (so a 401 refused it).
	TokenSent bool
}

// ErrorEntry is one OCI error: a code such as MANIFEST_UNKNOWN, a message and optional detail.
type ErrorEntry struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// Error names the request, the status and every OCI code and message.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	for _, en := range e.Entries {
		fmt.Fprintf(&b, "; %s: %s", en.Code, en.Message)
		if en.HasDetail() {
			fmt.Fprintf(&b, " (%s)", en.Detail)
		}
	}
	if e.Text != "" {
		fmt.Fprintf(&b, "; %q", e.Text)
	}
	return b.String()
}

// HasDetail reports whether the entry carries a detail (not absent or null).
func (en ErrorEntry) HasDetail() bool { return len(en.Detail) > 0 && string(en.Detail) != "null" }

// Is matches the sentinels of the status, and artifact.ErrDigestMismatch
// for a DIGEST_INVALID or SIZE_INVALID entry.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrDenied:
		return e.Status == http.StatusForbidden
	case ErrUnsupported:
		return e.Status == http.StatusMethodNotAllowed || e.HasCode("UNSUPPORTED")
	case artifact.ErrDigestMismatch:
		return e.HasCode("DIGEST_INVALID") || e.HasCode("SIZE_INVALID")
	}
	return false
}

// HasCode reports whether one of the entries has the OCI error code.
func (e *Error) HasCode(code string) bool {
	for _, en := range e.Entries {
		if en.Code == code {
			return true
		}
	}
	return false
}

// readError turns an unexpected response into an *Error and closes its body.
func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	e := &Error{Method: resp.Request.Method, URL: resp.Request.URL.Redacted(), Status: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var doc struct {
		Errors []ErrorEntry `json:"errors"`
	}
	if json.Unmarshal(body, &doc) == nil && len(doc.Errors) > 0 {
		e.Entries = doc.Errors
	} else {
		line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		e.Text = truncate(strings.TrimSpace(line), 200)
	}
	return e
}

// truncate cuts s to at most n bytes, marking the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// Findings returns the findings of a bundle the registry refused at push
// (a MANIFEST_INVALID entry whose detail is {"findings": [...]}), or nil.
func (e *Error) Findings() artifact.Findings {
	for _, en := range e.Entries {
		var detail struct {
			Findings artifact.Findings `json:"findings"`
		}
		if en.Code == "MANIFEST_INVALID" && json.Unmarshal(en.Detail, &detail) == nil && len(detail.Findings) > 0 {
			return detail.Findings
		}
	}
	return nil
}

// RefusedFindings returns the findings of err when it is a registry's
// refusal of a pushed bundle (see Error.Findings), else nil.
func RefusedFindings(err error) artifact.Findings {
	var e *Error
	if errors.As(err, &e) {
		return e.Findings()
	}
	return nil
}
