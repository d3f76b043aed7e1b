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
	switch rest {
	case "":
		return route{endpoint: endpointPing}, nil
	case "_catalog":
		return route{endpoint: endpointCatalog}, nil
	}
	segs := strings.Split(rest, "/")
	r, n, ok := matchTail(segs)
	if !ok || n >= len(segs) {
		return route{}, fmt.Errorf("%w: /v2/%s", errRouteUnknown, rest)
	}
	r.name = strings.Join(segs[:len(segs)-n], "/")
	if err := artifact.ValidateRepository(r.name); err != nil {
		return route{}, err
	}
	return r, nil
}

// matchTail recognises the endpoint from the last segments and returns how
// many segments it used.
func matchTail(segs []string) (route, int, bool) {
	last := len(segs) - 1
	at := func(i int) string {
		if i < 0 {
			return ""
		}
		return segs[i]
	}
	switch {
	case at(last-1) == "tags" && segs[last] == "list":
		return route{endpoint: endpointTags}, 2, true
	case at(last-2) == "blobs" && at(last-1) == "uploads":
		return route{endpoint: endpointUpload, ref: segs[last]}, 3, true
	case at(last-1) == "blobs" && segs[last] == "uploads":
		return route{endpoint: endpointUpload}, 2, true
	case at(last-1) == "manifests":
		return route{endpoint: endpointManifest, ref: segs[last]}, 2, true
	case at(last-1) == "blobs":
		return route{endpoint: endpointBlob, ref: segs[last]}, 2, true
	case at(last-1) == "referrers":
		return route{endpoint: endpointReferrers, ref: segs[last]}, 2, true
	}
	return route{}, 0, false
}
