package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
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
