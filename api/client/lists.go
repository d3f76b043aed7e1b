package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/normreg/normreg/artifact"
)

// maxListPage bounds one page of a list response read whole.
const maxListPage = 16 << 20

// Tags lists every tag of repo, following the registry's pagination.
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	var tags []string
	err := c.pages(ctx, "/v2/"+repo+"/tags/list", func(body []byte) error {
		var page struct {
			Tags []string `json:"tags"`
		}
		err := json.Unmarshal(body, &page)
		tags = append(tags, page.Tags...)
		return err
	})
	return tags, err
}

// Catalog lists every repository of the registry (GET /v2/_catalog),
// following its pagination. ErrNotFound or ErrUnsupported when the registry
// does not offer a catalog.
func (c *Client) Catalog(ctx context.Context) ([]string, error) {
	var repos []string
	err := c.pages(ctx, "/v2/_catalog", func(body []byte) error {
		var page struct {
			Repositories []string `json:"repositories"`
		}
		err := json.Unmarshal(body, &page)
		repos = append(repos, page.Repositories...)
		return err
	})
	return repos, err
}

// Referrers lists the descriptors of the manifests of repo whose subject is
// d (the referrers API), only those of artifactType when it is not "".
func (c *Client) Referrers(ctx context.Context, repo string, d artifact.Digest, artifactType string) ([]artifact.Descriptor, error) {
	path := "/v2/" + repo + "/referrers/" + d.String()
	if artifactType != "" {
		path += "?" + url.Values{"artifactType": {artifactType}}.Encode()
	}
	var refs []artifact.Descriptor
	err := c.pages(ctx, path, func(body []byte) error {
		var index struct {
			Manifests []artifact.Descriptor `json:"manifests"`
		}
		if err := json.Unmarshal(body, &index); err != nil {
			return err
		}
		for _, m := range index.Manifests {
			if artifactType == "" || m.ArtifactType == artifactType {
				refs = append(refs, m)
			}
		}
		return nil
	})
	return refs, err
}

// pages GETs path and every page its Link rel="next" headers lead to,
// handing each body to page.
func (c *Client) pages(ctx context.Context, path string, page func(body []byte) error) error {
	q := url.Values{"n": {strconv.Itoa(c.pageSize)}}
	for path != "" {
		resp, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, http.StatusOK)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxListPage))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("GET %s: %w", path, err)
		}
		if err := page(body); err != nil {
			return fmt.Errorf("GET %s: unreadable list: %w", path, err)
		}
		path, q = nextLink(resp.Header), nil
	}
	return nil
}

// nextLink returns the target of a Link header with rel="next", or "".
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, link := range strings.Split(v, ",") {
			target, params, _ := strings.Cut(link, ";")
			if strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
				return strings.Trim(strings.TrimSpace(target), "<>")
			}
		}
	}
	return ""
}
