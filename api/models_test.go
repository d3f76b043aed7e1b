package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
)

// get fetches path and decodes its JSON body into v, expecting 200.
func (r *registry) getJSON(t *testing.T, path string, v any) response {
	t.Helper()
	resp := r.do(t, "GET", path, nil)
	resp.expect(t, http.StatusOK, "")
	if err := json.Unmarshal(resp.body, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return resp
}

// TestModelAPI pushes two versions of a model (the second moving "latest"),
// the same model under another repository and a plain artifact, and reads
// them back through /api/v1: models with tags and pagination, versions
// with mode, feature count and findings, one version in full, the tag's
// moves.
func TestModelAPI(t *testing.T) {
	mlp := buildFixture(t, "mlp", nil)
	small := buildFixture(t, "small-batch", nil)
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		r.pushBundle(t, "team/fraud", "v1", mlp).expect(t, http.StatusCreated, "")
		r.do(t, "PUT", "/v2/team/fraud/manifests/latest", mlp.built.ManifestBytes, "Content-Type: application/vnd.oci.image.manifest.v1+json").expect(t, http.StatusCreated, "")
		r.pushBundle(t, "team/fraud", "latest", small).expect(t, http.StatusCreated, "")
		r.pushBundle(t, "a/b", "x", mlp).expect(t, http.StatusCreated, "")
		r.pushImage(t, "other/plain", "v1", "application/vnd.test.model", nil, []byte("{}"))

		var models struct {
			Models []struct {
				Name string
				Tags []string
			}
		}
		r.getJSON(t, "/api/v1/models", &models)
		if len(models.Models) != 2 || models.Models[0].Name != "a/b" || models.Models[1].Name != "team/fraud" ||
			!slices.Equal(models.Models[1].Tags, []string{"latest", "v1"}) {
			t.Fatalf("models %+v, want a/b and team/fraud [latest v1] (not other/plain)", models.Models)
		}
		page := r.getJSON(t, "/api/v1/models?n=1", &models)
		link := page.header.Get("Link")
		if len(models.Models) != 1 || models.Models[0].Name != "a/b" || !strings.Contains(link, "last=a%2Fb") {
			t.Fatalf("first page %+v, Link %q", models.Models, link)
		}
		r.getJSON(t, strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`), &models)
		if len(models.Models) != 1 || models.Models[0].Name != "team/fraud" {
			t.Fatalf("second page %+v", models.Models)
		}

		var versions struct {
			Versions []struct {
				Digest   artifact.Digest
				Tags     []string
				Mode     artifact.Mode
				Features int
				Findings struct {
					Refuse, Warning int
					IDs             []artifact.CheckID
				}
			}
		}
		r.getJSON(t, "/api/v1/models/team/fraud/versions", &versions)
		if len(versions.Versions) != 2 {
			t.Fatalf("versions %+v, want 2", versions.Versions)
		}
		for _, v := range versions.Versions {
			wantTags, wantWarnings := []string{"v1"}, 0
			if v.Digest == small.built.Digest {
				wantTags, wantWarnings = []string{"latest"}, 1
			}
			if v.Mode != artifact.ModeEval || v.Features != 6 || !slices.Equal(v.Tags, wantTags) ||
				v.Findings.Refuse != 0 || v.Findings.Warning != wantWarnings {
				t.Errorf("version %+v: want eval, 6 features, tags %v, %d warnings", v, wantTags, wantWarnings)
			}
		}

		var detail struct {
			Digest    artifact.Digest
			Config    map[string]any
			Scaler    []map[string]any
			BatchNorm []map[string]any
			Findings  artifact.Findings
		}
		r.getJSON(t, "/api/v1/models/team/fraud/versions/"+small.built.Digest.String(), &detail)
		if detail.Digest != small.built.Digest || detail.Config["mode"] == nil || len(detail.Scaler) != 6 || len(detail.BatchNorm) != 2 ||
			!slices.Equal(detail.Findings.IDs(), []artifact.CheckID{artifact.SmallBatch}) {
			t.Fatalf("version detail %+v", detail)
		}
		r.do(t, "GET", "/api/v1/models/other/plain/versions/"+mlp.built.Digest.String(), nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
		r.do(t, "GET", "/api/v1/models/team/fraud/versions/sha256:nothex", nil).expect(t, http.StatusBadRequest, "DIGEST_INVALID")
		r.do(t, "GET", "/api/v1/models/team/fraud/nothing", nil).expect(t, http.StatusNotFound, "NOT_FOUND")

		r.do(t, "DELETE", "/v2/a/b/blobs/"+mlp.built.Manifest.Config.Digest.String(), nil).expect(t, http.StatusAccepted, "")
		var broken struct {
			Versions []struct {
				Features int
				Error    string
			}
		}
		if r.getJSON(t, "/api/v1/models/a/b/versions", &broken); len(broken.Versions) != 1 || broken.Versions[0].Error == "" || broken.Versions[0].Features != 0 {
			t.Errorf("a version whose config was deleted: %+v, want it listed with an error", broken.Versions)
		}

		moves := r.history(t, "team/fraud", "latest")
		if len(moves) != 2 || moves[0].To != mlp.built.Digest || moves[1].From != mlp.built.Digest || moves[1].To != small.built.Digest {
			t.Fatalf("latest history %+v", moves)
		}
		var paged struct{ Moves []struct{ Seq int } }
		if resp := r.getJSON(t, "/api/v1/models/team/fraud/tags/latest/history?n=1&last=1", &paged); len(paged.Moves) != 1 || paged.Moves[0].Seq != 2 || resp.header.Get("Link") == "" {
			t.Fatalf("history page after 1: %+v, Link %q", paged.Moves, resp.header.Get("Link"))
		}
		r.do(t, "GET", "/api/v1/models/team/fraud/tags/never/history", nil).expect(t, http.StatusNotFound, "MANIFEST_UNKNOWN")
		for _, last := range []string{"x", "-1"} { // read as "from the start" before
			r.do(t, "GET", "/api/v1/models/team/fraud/tags/latest/history?last="+last, nil).expect(t, http.StatusBadRequest, "QUERY_INVALID")
		}
	})
}

// TestModelListReadsOnlyPullableRepositories: GET /api/v1/models reads the
// manifests of the repositories the token may pull and of no other; it
// read every repository's before filtering (a scan any token could start).
func TestModelListReadsOnlyPullableRepositories(t *testing.T) {
	mlp := buildFixture(t, "mlp", nil)
	b := backends(t)[0]
	open := b.start(t)
	for _, repo := range []string{"team/model", "other/model"} {
		open.pushBundle(t, repo, "v1", mlp).expect(t, http.StatusCreated, "")
	}
	healthy := b.driver
	b.driver = func(t *testing.T) storage.Driver { return unreadableRepo{Driver: healthy(t), prefix: "repos/other/"} }
	guarded := b.startWith(t, api.Config{Auth: testAuth(t)})
	resp := guarded.do(t, "GET", "/api/v1/models", nil, "Authorization: Bearer pull-secret-1")
	resp.expect(t, http.StatusOK, "")
	if !strings.Contains(string(resp.body), `"team/model"`) || strings.Contains(string(resp.body), "other/") {
		t.Errorf("models for a team/* puller: %s", resp.body)
	}
}

// unreadableRepo is a storage driver whose reads of keys under prefix fail.
type unreadableRepo struct {
	storage.Driver
	prefix string
}

// Get implements storage.Driver.
func (d unreadableRepo) Get(ctx context.Context, key string, max int64) ([]byte, string, error) {
	if strings.HasPrefix(key, d.prefix) {
		return nil, "", fmt.Errorf("%s: read of a repository the token cannot pull", key)
	}
	return d.Driver.Get(ctx, key, max)
}

// TestChecksRunAtMostTwoAtOnce: concurrent model API requests, each
// checking a bundle, read its weights at most two at a time (maxChecks),
// so that they cannot make the registry hold many weights headers at once.
func TestChecksRunAtMostTwoAtOnce(t *testing.T) {
	mlp := buildFixture(t, "mlp", nil)
	b := backends(t)[0]
	healthy := b.driver
	slow := &slowWeights{hex: mlp.layer(t, manifest.MediaTypeWeights).Digest.Hex()}
	b.driver = func(t *testing.T) storage.Driver { slow.Driver = healthy(t); return slow }
	r := b.start(t)
	resp := r.pushBundle(t, "team/model", "v1", mlp)
	resp.expect(t, http.StatusCreated, "")
	slow.reset()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			r.do(t, "GET", "/api/v1/models/team/model/versions/"+resp.header.Get("Docker-Content-Digest"), nil).expect(t, http.StatusOK, "")
		})
	}
	wg.Wait()
	if most := slow.most.Load(); most < 1 || most > 2 {
		t.Errorf("the weights were read by %d checks at once, want at most 2", most)
	}
}

// slowWeights is a storage driver whose opens of one blob's keys (its hex
// digest) take 50 ms, counting how many are open at once.
type slowWeights struct {
	storage.Driver
	hex        string
	open, most atomic.Int64
}

// reset forgets the counts so far.
func (d *slowWeights) reset() { d.most.Store(0) }

// Open implements storage.Driver.
func (d *slowWeights) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	if strings.Contains(key, d.hex) {
		n := d.open.Add(1)
		defer d.open.Add(-1)
		for m := d.most.Load(); n > m && !d.most.CompareAndSwap(m, n); m = d.most.Load() {
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d.Driver.Open(ctx, key, offset)
}
