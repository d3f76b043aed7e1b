package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// modelDiff serves GET /api/v1/models/{repo}/diff?from=REF&to=REF, REF a
// tag or a digest of repo: the manifest.DiffReport regctl diff --json
// prints, with From and To as repo:tag or repo@digest. Like regctl, it
// diffs bundles the checks refuse. ?tensor_bytes=true also compares
// same-shape tensors by a sha256 of their bytes (ranged reads of each).
func (s *server) modelDiff(c echo.Context, repo string, _ []string) error {
	q := c.QueryParams()
	tensorBytes, err := boolQuery(q, "tensor_bytes")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	var names [2]string
	var digests [2]artifact.Digest
	var sides [2]artifact.DiffSide
	for i, param := range [2]string{"from", "to"} {
		if names[i], digests[i], err = s.resolveQuery(ctx, repo, q, param); err != nil {
			return err
		}
		if sides[i], err = s.storedDiffSide(ctx, repo, digests[i], tensorBytes); err != nil {
			return fmt.Errorf("%s=%s: %w", param, q.Get(param), err)
		}
	}
	d, err := artifact.Diff(sides[0], sides[1])
	if err != nil {
		return err
	}
	report := manifest.DiffReport{From: names[0], FromDigest: digests[0], To: names[1], ToDigest: digests[1], BundleDiff: d}
	return c.JSON(http.StatusOK, report)
}

// resolveQuery reads query parameter param as a tag or a digest of repo and
// returns the reference it names (repo:tag or repo@digest) and the digest.
// A missing or malformed value wraps errQueryInvalid; an unknown tag
// wraps storage.ErrManifestUnknown.
func (s *server) resolveQuery(ctx context.Context, repo string, q url.Values, param string) (string, artifact.Digest, error) {
	ref := q.Get(param)
	if ref == "" {
		return "", "", fmt.Errorf("%w: %s is missing; want a tag or a digest of %s", errQueryInvalid, param, repo)
	}
	if strings.Contains(ref, ":") {
		d, err := artifact.ParseDigest(ref)
		if err != nil {
			return "", "", fmt.Errorf("%w: %s=%q is not a digest: %v", errQueryInvalid, param, ref, err)
		}
		return repo + "@" + d.String(), d, nil
	}
	if err := artifact.ValidateTag(ref); err != nil {
		return "", "", fmt.Errorf("%w: %s=%q is not a tag: %v", errQueryInvalid, param, ref, err)
	}
	d, err := s.store.Tags.Resolve(ctx, repo, ref)
	if err != nil {
		return "", "", fmt.Errorf("%s=%s: %w", param, ref, err)
	}
	return repo + ":" + ref, d, nil
}

// storedDiffSide checks stored bundle d of repo and returns what a diff
// reads of it; its findings do not matter.
func (s *server) storedDiffSide(ctx context.Context, repo string, d artifact.Digest, tensorBytes bool) (artifact.DiffSide, error) {
	view, _, err := s.checkStored(ctx, repo, d)
	if err != nil {
		return artifact.DiffSide{}, err
	}
	return manifest.DiffSide(ctx, view, storeFetcher{store: s.store, repo: repo}, tensorBytes)
}

// boolQuery reads optional boolean query parameter param (false when absent).
func boolQuery(q url.Values, param string) (bool, error) {
	if !q.Has(param) {
		return false, nil
	}
	v, err := strconv.ParseBool(q.Get(param))
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q is not true or false", errQueryInvalid, param, q.Get(param))
	}
	return v, nil
}
