package api

import (
	"errors"
	"testing"

	"github.com/normreg/normreg/artifact"
)

// TestParseRoute: paths are read from the end, so repository names may
// contain the endpoint words themselves.
func TestParseRoute(t *testing.T) {
	cases := []struct {
		path string
		want route
	}{
		{"", route{endpoint: endpointPing}},
		{"_catalog", route{endpoint: endpointCatalog}},
		{"a/tags/list", route{endpointTags, "a", ""}},
		{"a/manifests/b/manifests/latest", route{endpointManifest, "a/manifests/b", "latest"}},
		{"x/blobs/uploads/", route{endpointUpload, "x", ""}},
		{"x/blobs/uploads", route{endpointUpload, "x", ""}},
		{"x/blobs/uploads/123", route{endpointUpload, "x", "123"}},
		{"blobs/blobs/sha256:ab", route{endpointBlob, "blobs", "sha256:ab"}},
		{"team/model/referrers/sha256:ab", route{endpointReferrers, "team/model", "sha256:ab"}},
	}
	for _, c := range cases {
		got, err := parseRoute(c.path)
		if err != nil || got != c.want {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v", c.path, got, err, c.want)
		}
	}
	for _, bad := range []string{"manifests/latest", "a/unknown", "tags/list", "blobs/uploads/1", "a", "uploads"} {
		if _, err := parseRoute(bad); !errors.Is(err, errRouteUnknown) {
			t.Errorf("parseRoute(%q): %v, want errRouteUnknown", bad, err)
		}
	}
	for _, bad := range []string{"A/tags/list", "/tags/list", "a//blobs/uploads/"} {
		if _, err := parseRoute(bad); !errors.Is(err, artifact.ErrInvalidName) {
			t.Errorf("parseRoute(%q): %v, want ErrInvalidName", bad, err)
		}
	}
}
