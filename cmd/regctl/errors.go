package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/artifact"
)

// Exit statuses (DESIGN.md "regctl contract").
const (
	exitOK      = 0
	exitError   = 1 // usage, network, server
	exitRefused = 3 // a check refused the bundle
)

// fatalError is every user-facing failure: printed once by run, which exits
// with its code.
type fatalError struct {
	code int
	err  error
}

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

// usageError is a fatal error (exit 1) about how regctl was called.
func usageError(format string, args ...any) error {
	return &fatalError{code: exitError, err: fmt.Errorf(format, args...)}
}

// refusedError is the failure of a bundle the checks refused (exit 3).
func refusedError(what string, fs artifact.Findings) error {
	var ids []artifact.CheckID
	for _, f := range fs {
		if f.Severity == artifact.Refuse && !slices.Contains(ids, f.ID) {
			ids = append(ids, f.ID)
		}
	}
	return &fatalError{code: exitRefused, err: fmt.Errorf("%s refused: %v", what, ids)}
}

// registryError adds what the user can do to an error from the registry. A
// bundle the registry's own checks refused is a refusal (exit 3).
func registryError(host string, err error) error {
	if fs := client.RefusedFindings(err); fs != nil {
		return &fatalError{code: exitRefused, err: fmt.Errorf("registry %s refused the bundle %v: %w", host, fs.IDs(), err)}
	}
	var e *client.Error
	errors.As(err, &e)
	switch {
	case errors.Is(err, client.ErrUnauthorized) && e != nil && e.TokenSent:
		return fmt.Errorf("%w (registry %s refused the token sent, REGCTL_TOKEN's if set, else the one given to or stored by `regctl login %s`: it is wrong or was revoked)", err, host, host)
	case errors.Is(err, client.ErrUnauthorized):
		return fmt.Errorf("%w (registry %s wants credentials: set REGCTL_TOKEN or run `regctl login %s`)", err, host, host)
	case errors.Is(err, client.ErrDenied) && e.Method == http.MethodHead: // a HEAD answer has no body to say why
		return fmt.Errorf("%w (registry %s denied it without a reason, as a HEAD answer has no body: the credentials lack pull access to %s; a push needs it as well as push access, since regctl first asks what the registry holds)", err, host, repoOf(e.URL))
	case errors.Is(err, client.ErrDenied) && !slices.ContainsFunc(e.Entries, client.ErrorEntry.HasDetail): // the registry did not say why
		return fmt.Errorf("%w (registry %s denied it: the credentials lack the permission, or the tag is immutable)", err, host)
	case e != nil && e.Status == http.StatusBadRequest && strings.Contains(e.Text, "HTTPS"):
		return fmt.Errorf("%w (registry %s speaks HTTPS; regctl spoke plain HTTP, as it does to loopback hosts and with --plain-http: pass the registry's certificate with --ca-file or REGCTL_CA_FILE, which also switches to HTTPS)", err, host)
	case errors.Is(err, http.ErrSchemeMismatch):
		return fmt.Errorf("%w (registry %s speaks plain HTTP; regctl spoke HTTPS, as it does to hosts other than loopback ones and with a CA file: pass --plain-http or REGCTL_PLAIN_HTTP=1 and no CA file, or serve the registry with --tls-cert and --tls-key)", err, host)
	case e != nil && e.Status == http.StatusServiceUnavailable && len(e.Entries) == 0:
		return fmt.Errorf("%w (registry %s or its storage is unavailable: try again later)", err, host)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w (a connection to %s or its storage closed before the content's end: a network or server failure, not a corrupt bundle; try again)", err, host)
	}
	return err
}

// repoOf returns the repository of an OCI API URL (.../v2/NAME/blobs/...,
// /manifests/REF, /tags/list), or "the repository" when it names none. It
// reads from the end, as the registry's router does: a name may hold
// "blobs" or "manifests" as components.
func repoOf(url string) string {
	_, path, _ := strings.Cut(url, "/v2/")
	end := -1
	for _, kind := range []string{"/blobs/", "/manifests/", "/tags/"} {
		end = max(end, strings.LastIndex(path, kind))
	}
	if end <= 0 {
		return "the repository"
	}
	return path[:end]
}
