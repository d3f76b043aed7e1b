package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// TestModelDiff pushes mlp, its proper fine-tune and its stale fine-tune
// (pushed without its parent, so the registry holds it) and diffs them
// through GET /api/v1/models/{repo}/diff: by tag and by digest, the proper
// fine-tune's BatchNorm layers moved (num_batches_tracked 160 -> 192), the
// stale one's did not though its weights changed; tensor_bytes compares
// every same-shape tensor; bad queries are 400, unknown references 404.
func TestModelDiff(t *testing.T) {
	mlp := buildFixture(t, "mlp", nil)
	ok := buildFixture(t, "finetune-ok", mlp)
	stale := buildFixture(t, "finetune-stale", nil)
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.start(t)
		r.pushBundle(t, "team/fraud", "v1", mlp).expect(t, http.StatusCreated, "")
		r.pushBundle(t, "team/fraud", "ok", ok).expect(t, http.StatusCreated, "")
		r.pushBundle(t, "team/fraud", "stale", stale).expect(t, http.StatusCreated, "")

		for _, c := range []struct {
			query, want string
			to          artifact.Digest
		}{
			{"from=v1&to=ok", artifact.BNMoved, ok.built.Digest},
			{"from=v1&to=" + stale.built.Digest.String(), artifact.BNUnchanged, stale.built.Digest},
			{"from=" + mlp.built.Digest.String() + "&to=stale&tensor_bytes=true", artifact.BNUnchanged, stale.built.Digest},
		} {
			var d manifest.DiffReport
			r.getJSON(t, "/api/v1/models/team/fraud/diff?"+c.query, &d)
			if d.FromDigest != mlp.built.Digest || d.ToDigest != c.to || d.From == "" || d.To == "" {
				t.Errorf("%s: from %s@%s to %s@%s", c.query, d.From, d.FromDigest, d.To, d.ToDigest)
			}
			if len(d.BatchNorm) != 2 || d.BatchNorm[0].Status != c.want || d.BatchNorm[1].Status != c.want {
				t.Errorf("%s: BatchNorm %+v, want both %s", c.query, d.BatchNorm, c.want)
			}
			if d.Weights.Same || len(d.Scaler) != 6 || len(d.Features.Added)+len(d.Features.Removed) != 0 {
				t.Errorf("%s: weights same %v, scaler %d rows, features %+v", c.query, d.Weights.Same, len(d.Scaler), d.Features)
			}
			if sl := d.ScalerLayer; !sl.Same || sl.OldDigest != mlp.built.Manifest.Layers[1].Digest { // the fine-tunes ship mlp's scaler
				t.Errorf("%s: scaler layer %+v; want mlp's scaler on both sides", c.query, sl)
			}
		}
		var d manifest.DiffReport
		r.getJSON(t, "/api/v1/models/team/fraud/diff?from=v1&to=ok&tensor_bytes=true", &d)
		if l := d.BatchNorm[0]; l.OldTracked != 160 || l.NewTracked != 192 || l.MaxMeanShift <= 0 || len(d.Weights.Unknown) != 0 || len(d.Weights.Changed) == 0 {
			t.Errorf("v1 -> ok with tensor bytes: net.1 %+v, weights %+v", l, d.Weights)
		}
		if d.From != "team/fraud:v1" || d.To != "team/fraud:ok" {
			t.Errorf("from %q to %q, want team/fraud:v1 and team/fraud:ok", d.From, d.To)
		}

		for query, want := range map[string]struct {
			status int
			code   string
		}{
			"to=ok":                          {http.StatusBadRequest, "QUERY_INVALID"},
			"from=v1":                        {http.StatusBadRequest, "QUERY_INVALID"},
			"from=v1&to=sha256:nothex":       {http.StatusBadRequest, "QUERY_INVALID"},
			"from=v1&to=ok&tensor_bytes=yes": {http.StatusBadRequest, "QUERY_INVALID"},
			"from=v1&to=never":               {http.StatusNotFound, "MANIFEST_UNKNOWN"},
			"from=v1&to=" + artifact.FromBytes(artifact.SHA256, []byte("x")).String(): {http.StatusNotFound, "MANIFEST_UNKNOWN"},
		} {
			r.do(t, "GET", "/api/v1/models/team/fraud/diff?"+query, nil).expect(t, want.status, want.code)
		}
		// The detail names the parameter (an unknown digest too) and the reference once.
		unknown := artifact.FromBytes(artifact.SHA256, []byte("x")).String()
		if body := string(r.do(t, "GET", "/api/v1/models/team/fraud/diff?from="+unknown+"&to=v1", nil).body); !strings.Contains(body, `"from=`+unknown+`: team/fraud@`+unknown) {
			t.Errorf("unknown from digest: %s", body)
		}
		if body := string(r.do(t, "GET", "/api/v1/models/team/fraud/diff?from=v1&to=never", nil).body); !strings.Contains(body, `"to=never: team/fraud:never`) || strings.Count(body, "team/fraud:never") != 1 {
			t.Errorf("unknown to: %s", body)
		}
	})
}
