package client

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/normreg/normreg/artifact"
)

// ErrInvalidRef: a reference is not [host[:port]/]repo[:tag|@digest].
var ErrInvalidRef = errors.New("invalid reference")

// DefaultTag is the tag of a reference that names neither a tag nor a digest.
const DefaultTag = "latest"

// Ref names a manifest: [host[:port]/]repo[:tag|@sha256:hex].
type Ref struct {
	Host   string          // registry "host[:port]"
	Repo   string          // repository, e.g. "team/model"
	Tag    string          // "" when none was given
	Digest artifact.Digest // "" when none was given; pins the manifest when set
}

// ParseRef parses s. The first path component is the host when it contains
// '.' or ':' or is "localhost"; otherwise the host is defaultHost, and an
// empty defaultHost is an error. Errors wrap ErrInvalidRef and the artifact
// package's name, tag or digest error.
func ParseRef(s, defaultHost string) (Ref, error) {
	if strings.Contains(s, "://") {
		return Ref{}, fmt.Errorf("%w %q: a reference has no scheme, it is [host[:port]/]repo[:tag|@digest]; %s", ErrInvalidRef, s, schemeHint)
	}
	var r Ref
	rest, dig, pinned := strings.Cut(s, "@")
	if pinned {
		d, err := artifact.ParseDigest(dig)
		if err != nil {
			return Ref{}, fmt.Errorf("%w %q: %w", ErrInvalidRef, s, err)
		}
		r.Digest = d
	}
	r.Host, rest = splitHost(rest)
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		rest, r.Tag = rest[:i], rest[i+1:]
		if err := artifact.ValidateTag(r.Tag); err != nil {
			return Ref{}, fmt.Errorf("%w %q: %w", ErrInvalidRef, s, err)
		}
	}
	if err := artifact.ValidateRepository(rest); err != nil {
		return Ref{}, fmt.Errorf("%w %q: %w", ErrInvalidRef, s, err)
	}
	r.Repo = rest
	if r.Host == "" {
		r.Host = defaultHost
	}
	if r.Host == "" {
		return Ref{}, fmt.Errorf("%w %q: no registry host in it and REGCTL_REGISTRY is unset", ErrInvalidRef, s)
	}
	if err := ValidateHost(r.Host); err != nil {
		return Ref{}, fmt.Errorf("%w %q: %w", ErrInvalidRef, s, err)
	}
	return r, nil
}

// schemeHint says how regctl chooses between HTTP and HTTPS, for a host or
// reference given with a scheme.
const schemeHint = "regctl speaks HTTPS, or plain HTTP to loopback hosts and with --plain-http"

// ValidateHost checks that host is a registry's host[:port], with no
// scheme (schemeHint) and no path: what REGCTL_REGISTRY, a REF's host and
// the HOST of regctl ls and login hold.
func ValidateHost(host string) error {
	if _, after, ok := strings.Cut(host, "://"); ok {
		return fmt.Errorf("registry host %q has a scheme: give host[:port] (%s); %s", host, strings.TrimRight(after, "/"), schemeHint)
	}
	if u, err := url.Parse("//" + host); err != nil || u.Host != host {
		return fmt.Errorf("registry host %q is not host[:port]", host)
	}
	return nil
}

// splitHost splits a leading host component off s, if s has one.
func splitHost(s string) (host, rest string) {
	first, after, ok := strings.Cut(s, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first, after
	}
	return "", s
}

// Reference is what the manifest endpoint is asked for: the digest when
// pinned, else the tag, else DefaultTag.
func (r Ref) Reference() string {
	switch {
	case r.Digest != "":
		return r.Digest.String()
	case r.Tag != "":
		return r.Tag
	}
	return DefaultTag
}

// String renders the reference in full: host/repo[:tag][@digest].
func (r Ref) String() string {
	s := r.Host + "/" + r.Repo
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// WithDigest returns the reference pinned to d (the tag dropped).
func (r Ref) WithDigest(d artifact.Digest) Ref {
	return Ref{Host: r.Host, Repo: r.Repo, Digest: d}
}
