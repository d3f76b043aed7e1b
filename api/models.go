package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
)

// The model API: JSON views of the bundles a registry holds, under /api/v1.
// Listings are paginated like the distribution API (?n=&last=, a Link
// header to the next page); n defaults to defaultModelPage.
const (
	modelsPrefix     = "/api/v1/models"
	defaultModelPage = 50
)

// modelRouteKey is the echo context key under which the model API's
// dispatcher leaves the matched route pattern (for the metrics).
const modelRouteKey = "normreg.modelroute"

// modelRoute is one route of the model API below /api/v1/models/. Repository
// names contain slashes, so a path is read from its end: tail segments name
// the route, the rest is the repository.
type modelRoute struct {
	pattern string // OpenAPI path, e.g. /api/v1/models/{repo}/versions
	tail    []string
	handle  func(s *server, c echo.Context, repo string, params []string) error
}

// modelRoutes lists the routes below /api/v1/models/; "" in a tail is a parameter.
func modelRoutes() []modelRoute {
	return []modelRoute{
		{pattern: modelsPrefix + "/{repo}/versions", tail: []string{"versions"}, handle: (*server).versions},
		{pattern: modelsPrefix + "/{repo}/versions/{digest}", tail: []string{"versions", ""}, handle: (*server).version},
		{pattern: modelsPrefix + "/{repo}/tags/{tag}/history", tail: []string{"tags", "", "history"}, handle: (*server).tagHistory},
		{pattern: modelsPrefix + "/{repo}/diff", tail: []string{"diff"}, handle: (*server).modelDiff},
	}
}

// match reports whether segs end with the route's tail (after at least one
// repository segment) and returns the repository and the parameters.
func (mr modelRoute) match(segs []string) (repo string, params []string, ok bool) {
	n := len(mr.tail)
	if len(segs) <= n {
		return "", nil, false
	}
	for i, want := range mr.tail {
		got := segs[len(segs)-n+i]
		switch {
		case want == "" && got != "":
			params = append(params, got)
		case want != got:
			return "", nil, false
		}
	}
	return strings.Join(segs[:len(segs)-n], "/"), params, true
}

// modelDispatch serves GET /api/v1/models/*: it finds the route from the
// path's tail and validates the repository name.
func (s *server) modelDispatch(c echo.Context) error {
	rest := strings.TrimPrefix(c.Request().URL.Path, modelsPrefix+"/")
	segs := strings.Split(rest, "/")
	for _, mr := range modelRoutes() {
		repo, params, ok := mr.match(segs)
		if !ok {
			continue
		}
		c.Set(modelRouteKey, mr.pattern)
		if err := artifact.ValidateRepository(repo); err != nil {
			return err
		}
		if err := s.require(c, need{repo: repo, action: ActionPull}); err != nil {
			return err
		}
		return mr.handle(s, c, repo, params)
	}
	return fmt.Errorf("%w: %s", errRouteUnknown, c.Request().URL.Path)
}

// withDefaultPage makes a listing without ?n= return defaultModelPage entries.
func withDefaultPage(c echo.Context) {
	if q := c.QueryParams(); !q.Has("n") {
		q.Set("n", strconv.Itoa(defaultModelPage))
	}
}

// modelSummary is one entry of GET /api/v1/models.
type modelSummary struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// models serves GET /api/v1/models: the repositories that hold at least one
// bundle, with their tags.
func (s *server) models(c echo.Context) error {
	withDefaultPage(c)
	names, err := paginate(c, modelsPrefix, s.bundleRepos(s.pullable(c, s.store.Manifests.Repositories)))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	out := []modelSummary{}
	for _, name := range names {
		tags, err := s.allTags(ctx, name)
		if err != nil {
			return err
		}
		out = append(out, modelSummary{Name: name, Tags: tags})
	}
	return c.JSON(http.StatusOK, map[string]any{"models": out})
}

// bundleRepos wraps a lister of repositories (the ones the request may
// pull, so that no other is read) so that it returns those holding bundles.
func (s *server) bundleRepos(list lister) lister {
	return func(ctx context.Context, after string, n int) ([]string, error) {
		var repos []string
		for len(repos) < n {
			page, err := list(ctx, after, maxPage)
			if err != nil || len(page) == 0 {
				return repos, err
			}
			for _, repo := range page {
				holds, err := s.holdsBundle(ctx, repo)
				if err != nil {
					return nil, err
				}
				if holds && len(repos) < n {
					repos = append(repos, repo)
				}
			}
			after = page[len(page)-1]
		}
		return repos, nil
	}
}

// holdsBundle reports whether repo holds a bundle manifest.
func (s *server) holdsBundle(ctx context.Context, repo string) (bool, error) {
	infos, err := s.store.Manifests.List(ctx, repo)
	if err != nil {
		return false, err
	}
	for _, info := range infos {
		if _, ok, err := s.bundleManifest(ctx, repo, info.Digest); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// bundleManifest reads manifest d of repo and reports whether it is a
// bundle. A manifest deleted meanwhile is not one.
func (s *server) bundleManifest(ctx context.Context, repo string, d artifact.Digest) (storage.Manifest, bool, error) {
	mf, err := s.store.Manifests.Get(ctx, repo, d)
	if err != nil {
		return mf, false, ignoreUnknown(err)
	}
	var head struct {
		ArtifactType string `json:"artifactType"`
	}
	if json.Unmarshal(mf.Data, &head) != nil {
		return mf, false, nil
	}
	return mf, mf.MediaType == manifest.MediaTypeImageManifest && head.ArtifactType == manifest.ArtifactTypeBundle, nil
}

// ignoreUnknown drops storage.ErrManifestUnknown.
func ignoreUnknown(err error) error {
	if errors.Is(err, storage.ErrManifestUnknown) {
		return nil
	}
	return err
}

// allTags returns every tag of repo.
func (s *server) allTags(ctx context.Context, repo string) ([]string, error) {
	return listAll(ctx, "", func(ctx context.Context, after string, n int) ([]string, error) {
		return s.store.Tags.List(ctx, repo, after, n)
	})
}

// tagsByDigest maps each digest of repo to the tags pointing to it.
func (s *server) tagsByDigest(ctx context.Context, repo string) (map[artifact.Digest][]string, error) {
	tags, err := s.allTags(ctx, repo)
	if err != nil {
		return nil, err
	}
	byDigest := map[artifact.Digest][]string{}
	for _, t := range tags {
		d, err := s.store.Tags.Resolve(ctx, repo, t)
		if err := ignoreUnknown(err); err != nil {
			return nil, err
		}
		if d != "" {
			byDigest[d] = append(byDigest[d], t)
		}
	}
	return byDigest, nil
}

// versionSummary is one entry of GET /api/v1/models/{repo}/versions.
type versionSummary struct {
	Digest   artifact.Digest `json:"digest"`
	Tags     []string        `json:"tags"`
	Created  time.Time       `json:"created"` // when the manifest was last pushed to the repository
	Mode     artifact.Mode   `json:"mode"`
	Features int             `json:"features"`
	Findings findingsSummary `json:"findings"`
	Error    string          `json:"error,omitempty"` // why the bundle could not be checked (a blob deleted since); mode and features are then unset
}

// findingsSummary counts findings by severity and lists their distinct ids.
type findingsSummary struct {
	Refuse  int                `json:"refuse"`
	Warning int                `json:"warning"`
	IDs     []artifact.CheckID `json:"ids"`
}

func summarize(fs artifact.Findings) findingsSummary {
	sum := findingsSummary{IDs: []artifact.CheckID{}}
	for _, f := range fs {
		if f.Severity == artifact.Refuse {
			sum.Refuse++
		} else {
			sum.Warning++
		}
		if !slices.Contains(sum.IDs, f.ID) {
			sum.IDs = append(sum.IDs, f.ID)
		}
	}
	return sum
}

// versions serves GET /api/v1/models/{repo}/versions: the repository's
// bundles ordered by digest, each checked again (findings may change when a
// parent bundle is deleted).
func (s *server) versions(c echo.Context, repo string, _ []string) error {
	ctx := c.Request().Context()
	infos, err := s.store.Manifests.List(ctx, repo)
	if err == nil && len(infos) == 0 {
		err = s.knownRepository(ctx, repo)
	}
	if err != nil {
		return err
	}
	pushed := map[artifact.Digest]time.Time{}
	for _, info := range infos {
		pushed[info.Digest] = info.Pushed
	}
	withDefaultPage(c)
	digests, err := paginate(c, modelsPrefix+"/"+repo+"/versions", s.bundleDigests(repo, infos))
	if err != nil {
		return err
	}
	tags, err := s.tagsByDigest(ctx, repo)
	if err != nil {
		return err
	}
	out := []versionSummary{}
	for _, d := range digests {
		v := versionSummary{Digest: artifact.Digest(d), Tags: nonNil(tags[artifact.Digest(d)]), Created: pushed[artifact.Digest(d)]}
		if err := s.summarizeVersion(ctx, repo, &v); err != nil {
			return err
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"name": repo, "versions": out})
}

// summarizeVersion checks bundle v.Digest of repo and fills v's mode,
// feature count and findings, or v.Error when the bundle cannot be checked
// (content gone or unreadable). Only a cancelled request is an error.
func (s *server) summarizeVersion(ctx context.Context, repo string, v *versionSummary) error {
	view, fs, err := s.checkStored(ctx, repo, v.Digest)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	v.Findings = summarize(fs)
	if err != nil {
		v.Error = err.Error()
		return nil
	}
	v.Mode, v.Features = view.Bundle.Mode, len(view.Bundle.Features)
	return nil
}

// bundleDigests is a lister of the bundles among infos, by digest.
func (s *server) bundleDigests(repo string, infos []storage.ManifestInfo) lister {
	return func(ctx context.Context, after string, n int) ([]string, error) {
		var out []string
		for _, info := range infos {
			if len(out) == n {
				break
			}
			if string(info.Digest) <= after {
				continue
			}
			_, ok, err := s.bundleManifest(ctx, repo, info.Digest)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, string(info.Digest))
			}
		}
		return out, nil
	}
}

// checkStored runs the checks on stored bundle d of repo.
// ErrManifestUnknown when d is not a bundle of repo.
func (s *server) checkStored(ctx context.Context, repo string, d artifact.Digest) (*manifest.View, artifact.Findings, error) {
	mf, ok, err := s.bundleManifest(ctx, repo, d)
	if err == nil && !ok {
		err = fmt.Errorf("%s@%s is not a bundle: %w", repo, d, storage.ErrManifestUnknown)
	}
	if err != nil {
		return nil, nil, err
	}
	view, fs, err := s.check(ctx, repo, mf.Data)
	if err == nil && view.Bundle == nil {
		err = fmt.Errorf("%s@%s: its config does not match its digest", repo, d)
	}
	return view, fs, err
}

// versionDetail is GET /api/v1/models/{repo}/versions/{digest}.
type versionDetail struct {
	Name      string                `json:"name"`
	Digest    artifact.Digest       `json:"digest"`
	Tags      []string              `json:"tags"`
	Config    json.RawMessage       `json:"config"` // the config blob (protojson of BundleConfig)
	Layers    []artifact.Descriptor `json:"layers"`
	Scaler    []artifact.ScalerRow  `json:"scaler"`    // per feature: the mean and std the scaler applies
	BatchNorm []artifact.BNSummary  `json:"batchnorm"` // per BatchNorm layer, from the weights
	Refused   bool                  `json:"refused"`
	Findings  artifact.Findings     `json:"findings"`
}

// version serves GET /api/v1/models/{repo}/versions/{digest}.
func (s *server) version(c echo.Context, repo string, params []string) error {
	d, err := artifact.ParseDigest(params[0])
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	view, fs, err := s.checkStored(ctx, repo, d)
	if err != nil {
		return err
	}
	config, err := manifest.MarshalConfig(view.Config)
	if err != nil {
		return err
	}
	tags, err := s.tagsByDigest(ctx, repo)
	if err != nil {
		return err
	}
	out := versionDetail{Name: repo, Digest: d, Tags: nonNil(tags[d]), Config: config,
		Layers: view.Manifest.Layers, Scaler: []artifact.ScalerRow{}, BatchNorm: []artifact.BNSummary{},
		Refused: fs.Refused(), Findings: fs}
	if out.Findings == nil {
		out.Findings = artifact.Findings{}
	}
	if b := view.Bundle; b.Scaler != nil {
		out.Scaler = b.Scaler.Table(b.Features)
	}
	if b := view.Bundle; b.BNWeights != nil {
		out.BatchNorm = b.BNWeights.Summary()
	}
	return c.JSON(http.StatusOK, out)
}

// tagMove is one entry of GET /api/v1/models/{repo}/tags/{tag}/history.
type tagMove struct {
	Seq  int             `json:"seq"` // 1 for the first move; ?last= takes it
	From artifact.Digest `json:"from"`
	To   artifact.Digest `json:"to"` // "" when the tag was deleted
	By   string          `json:"by"` // token name; "" when anonymous
	At   time.Time       `json:"at"`
}

// tagHistory serves GET /api/v1/models/{repo}/tags/{tag}/history: every
// recorded move of the tag, oldest first.
func (s *server) tagHistory(c echo.Context, repo string, params []string) error {
	tag := params[0]
	moves, err := s.store.Tags.History(c.Request().Context(), repo, tag)
	if err != nil {
		return err
	}
	if len(moves) == 0 {
		return fmt.Errorf("%s:%s: %w", repo, tag, storage.ErrManifestUnknown)
	}
	list := func(_ context.Context, after string, n int) ([]string, error) {
		start := 0
		if after != "" {
			var err error
			if start, err = strconv.Atoi(after); err != nil || start < 0 {
				return nil, fmt.Errorf("%w: last=%q: want the number of a move (its seq)", errQueryInvalid, after)
			}
		}
		var seqs []string
		for i := max(start, 0); i < len(moves) && len(seqs) < n; i++ {
			seqs = append(seqs, strconv.Itoa(i+1))
		}
		return seqs, nil
	}
	withDefaultPage(c)
	seqs, err := paginate(c, modelsPrefix+"/"+repo+"/tags/"+tag+"/history", list)
	if err != nil {
		return err
	}
	out := []tagMove{}
	for _, seq := range seqs {
		i, _ := strconv.Atoi(seq)
		m := moves[i-1]
		out = append(out, tagMove{Seq: i, From: m.From, To: m.To, By: m.By, At: m.At})
	}
	return c.JSON(http.StatusOK, map[string]any{"name": repo, "tag": tag, "moves": out})
}
