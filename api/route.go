package api

import (
	"fmt"
	"strings"

	"github.com/normreg/normreg/artifact"
)

// endpoint names one kind of /v2/ resource.
type endpoint int

const (
	endpointPing endpoint = iota
	endpointCatalog
	endpointTags      // /v2/<name>/tags/list
	endpointManifest  // /v2/<name>/manifests/<reference>
	endpointBlob      // /v2/<name>/blobs/<digest>
	endpointUpload    // /v2/<name>/blobs/uploads/<id>; id "" for the collection
	endpointReferrers // /v2/<name>/referrers/<digest>
)

// route is a parsed /v2/ path. Repository names contain slashes, so a path is
// read from its end: the last one or two segments name the endpoint, the
// rest is the repository.
type route struct {
	endpoint endpoint
	name     string // repository, validated
	ref      string // tag, digest or upload id, as sent
}

// parseRoute parses the part of a path after "/v2/". An unknown shape gives
// errRouteUnknown; an invalid repository name artifact.ErrInvalidName.
func parseRoute(rest string) (route, error) {
	r, ok := matchRoute(rest)
	if !ok {
		return route{}, fmt.Errorf("%w: /v2/%s", errRouteUnknown, rest)
	}
	if r.endpoint == endpointPing || r.endpoint == endpointCatalog {
		return r, nil
	}
	if err := artifact.ValidateRepository(r.name); err != nil {
		return route{}, err
	}
	return r, nil
}

// matchRoute recognises the endpoint of rest (a path after "/v2/") from its
// last segments; the segments before them, at least one, are the
// repository name, returned unvalidated.
func matchRoute(rest string) (route, bool) {
	switch rest {
	case "":
		return route{endpoint: endpointPing}, true
	case "_catalog":
		return route{endpoint: endpointCatalog}, true
	}
	name1, last, _ := cutLast(rest)
	name2, prev, named2 := cutLast(name1)
	name3, prev2, named3 := cutLast(name2)
	switch {
	case !named2:
		return route{}, false
	case prev == "tags" && last == "list":
		return route{endpoint: endpointTags, name: name2}, true
	case named3 && prev2 == "blobs" && prev == "uploads":
		return route{endpoint: endpointUpload, name: name3, ref: last}, true
	case prev == "blobs" && last == "uploads":
		return route{endpoint: endpointUpload, name: name2}, true
	case prev == "manifests":
		return route{endpoint: endpointManifest, name: name2, ref: last}, true
	case prev == "blobs":
		return route{endpoint: endpointBlob, name: name2, ref: last}, true
	case prev == "referrers":
		return route{endpoint: endpointReferrers, name: name2, ref: last}, true
	}
	return route{}, false
}

// cutLast splits s at its last slash; found is false, and before "", when
// s has none.
func cutLast(s string) (before, last string, found bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", s, false
	}
	return s[:i], s[i+1:], true
}
