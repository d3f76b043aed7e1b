package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
)

// errPaginationInvalid: the n query parameter is not a non-negative integer.
var errPaginationInvalid = errors.New("invalid number of results requested")

// maxPage bounds one page of a listing; without ?n= a listing is read in
// pages of this size until it ends.
const maxPage = 1000

// lister returns names in order after `after`, at most n.
type lister func(ctx context.Context, after string, n int) ([]string, error)

// tagsList serves GET /v2/<name>/tags/list[?n=&last=].
func (s *server) tagsList(c echo.Context, r route) error {
	list := func(ctx context.Context, after string, n int) ([]string, error) {
		return s.store.Tags.List(ctx, r.name, after, n)
	}
	tags, err := paginate(c, "/v2/"+r.name+"/tags/list", list)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		if err := s.knownRepository(c.Request().Context(), r.name); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"name": r.name, "tags": tags})
}

// knownRepository returns storage.ErrRepositoryUnknown (404 NAME_UNKNOWN)
// for a repository nothing was ever pushed to, so that an empty listing of
// a misspelt name is not taken for an empty repository.
func (s *server) knownRepository(ctx context.Context, repo string) error {
	known, err := s.store.Manifests.RepositoryKnown(ctx, repo)
	if err == nil && !known {
		err = fmt.Errorf("%s: %w", repo, storage.ErrRepositoryUnknown)
	}
	return err
}

// catalog serves GET /v2/_catalog[?n=&last=].
func (s *server) catalog(c echo.Context, _ route) error {
	repos, err := paginate(c, "/v2/_catalog", s.pullable(c, s.store.Manifests.Repositories))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"repositories": repos})
}

// paginate answers a listing's ?n=&last= query. With n it returns at most n
// names (capped at maxPage) and, when the page is full, a Link header to the
// next page; without n, everything after last.
func paginate(c echo.Context, path string, list lister) ([]string, error) {
	ctx := c.Request().Context()
	q := c.QueryParams()
	last := q.Get("last")
	if !q.Has("n") {
		return listAll(ctx, last, list)
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%w: n=%q", errPaginationInvalid, q.Get("n"))
	}
	n = min(n, maxPage)
	if n == 0 {
		return []string{}, nil
	}
	names, err := list(ctx, last, n)
	if err != nil || len(names) < n {
		return nonNil(names), err
	}
	next := url.Values{"last": {names[n-1]}, "n": {strconv.Itoa(n)}}
	c.Response().Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, path, next.Encode()))
	return names, nil
}

// listAll reads every name after `after`, page by page.
func listAll(ctx context.Context, after string, list lister) ([]string, error) {
	all := []string{}
	for {
		page, err := list(ctx, after, maxPage)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < maxPage {
			return all, nil
		}
		after = page[len(page)-1]
	}
}

// nonNil makes an empty listing encode as [] rather than null.
func nonNil(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}

// referrers serves GET /v2/<name>/referrers/<digest>[?artifactType=]: an
// image index of the manifests whose subject is digest, filtered by
// artifactType when asked (and then saying so in OCI-Filters-Applied).
func (s *server) referrers(c echo.Context, r route) error {
	d, err := artifact.ParseDigest(r.ref)
	if err != nil {
		return err
	}
	refs, err := s.store.Manifests.Referrers(c.Request().Context(), r.name, d)
	if err != nil {
		return err
	}
	if at := c.QueryParam("artifactType"); at != "" {
		refs = filterArtifactType(refs, at)
		c.Response().Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if refs == nil {
		refs = []artifact.Descriptor{}
	}
	body, err := json.Marshal(referrersIndex{SchemaVersion: 2, MediaType: manifest.MediaTypeImageIndex, Manifests: refs})
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, manifest.MediaTypeImageIndex, body)
}

// referrersIndex is the referrers response: an image index whose manifests
// list is always present, even when empty.
type referrersIndex struct {
	SchemaVersion int                   `json:"schemaVersion"`
	MediaType     string                `json:"mediaType"`
	Manifests     []artifact.Descriptor `json:"manifests"`
}

// filterArtifactType keeps the descriptors with artifactType at.
func filterArtifactType(refs []artifact.Descriptor, at string) []artifact.Descriptor {
	kept := []artifact.Descriptor{}
	for _, ref := range refs {
		if ref.ArtifactType == at {
			kept = append(kept, ref)
		}
	}
	return kept
}
