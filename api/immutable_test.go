package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// history reads a tag's moves through the model API.
func (r *registry) history(t *testing.T, repo, tag string) []struct {
	Seq      int
	From, To artifact.Digest
	By       string
} {
	t.Helper()
	resp := r.do(t, "GET", "/api/v1/models/"+repo+"/tags/"+tag+"/history", nil)
	resp.expect(t, http.StatusOK, "")
	var h struct {
		Moves []struct {
			Seq      int
			From, To artifact.Digest
			By       string
		}
	}
	if err := json.Unmarshal(resp.body, &h); err != nil {
		t.Fatal(err)
	}
	return h.Moves
}

// TestImmutableTagsUnderConcurrentPushers: 16 pushers of different
// manifests race for the immutable tag v1; exactly one wins, the others get
// 403 DENIED, and afterwards the tag cannot be moved or deleted, nor its
// manifest deleted; re-pushing the same digest is fine. A tag that matches
// no pattern moves freely, and every move is recorded.
func TestImmutableTagsUnderConcurrentPushers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.startWith(t, api.Config{ImmutableTags: []string{"v*"}})
		const pushers = 16
		bodies := make([][]byte, pushers)
		for i := range bodies {
			cfg := []byte(fmt.Sprintf(`{"pusher":%d}`, i))
			r.pushBlob(t, "team/imm", cfg)
			bodies[i] = imageManifest("application/vnd.test.model", nil, cfg)
		}
		statuses := make([]int, pushers)
		var wg sync.WaitGroup
		for i := range bodies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("PUT", r.url+"/v2/team/imm/manifests/v1", bytes.NewReader(bodies[i]))
				req.Header.Set("Content-Type", manifest.MediaTypeImageManifest)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
					statuses[i] = resp.StatusCode
				}
			}()
		}
		wg.Wait()
		winner := -1
		for i, s := range statuses {
			switch {
			case s == http.StatusCreated && winner < 0:
				winner = i
			case s != http.StatusForbidden:
				t.Fatalf("pusher statuses %v: want exactly one 201, the rest 403", statuses)
			}
		}
		if winner < 0 {
			t.Fatalf("no pusher won: %v", statuses)
		}
		won := artifact.FromBytes(artifact.SHA256, bodies[winner])
		loser := bodies[(winner+1)%pushers]
		r.do(t, "PUT", "/v2/team/imm/manifests/v1", loser, "Content-Type: "+manifest.MediaTypeImageManifest).expect(t, http.StatusForbidden, "DENIED")
		r.do(t, "PUT", "/v2/team/imm/manifests/v1", bodies[winner], "Content-Type: "+manifest.MediaTypeImageManifest).expect(t, http.StatusCreated, "")
		r.do(t, "DELETE", "/v2/team/imm/manifests/v1", nil).expect(t, http.StatusForbidden, "DENIED")
		r.do(t, "DELETE", "/v2/team/imm/manifests/"+won.String(), nil).expect(t, http.StatusForbidden, "DENIED")
		if got := r.do(t, "GET", "/v2/team/imm/manifests/v1", nil).header.Get("Docker-Content-Digest"); got != won.String() {
			t.Fatalf("v1 is %s, want the winner %s", got, won)
		}
		if moves := r.history(t, "team/imm", "v1"); len(moves) != 1 || moves[0].From != "" || moves[0].To != won {
			t.Fatalf("v1 history %+v, want one move to %s", moves, won)
		}
		for _, body := range bodies[:2] {
			r.do(t, "PUT", "/v2/team/imm/manifests/latest", body, "Content-Type: "+manifest.MediaTypeImageManifest).expect(t, http.StatusCreated, "")
		}
		r.do(t, "DELETE", "/v2/team/imm/manifests/latest", nil).expect(t, http.StatusAccepted, "")
		d0, d1 := artifact.FromBytes(artifact.SHA256, bodies[0]), artifact.FromBytes(artifact.SHA256, bodies[1])
		moves := r.history(t, "team/imm", "latest")
		if len(moves) != 3 || moves[0].To != d0 || moves[1].From != d0 || moves[1].To != d1 || moves[2].From != d1 || moves[2].To != "" || moves[2].Seq != 3 {
			t.Fatalf("latest history %+v, want \"\"→%s→%s→deleted", moves, d0, d1)
		}
	})
}

// TestTagMovesRecordTheToken: with auth on, a tag move is recorded with the
// name of the token that made it, and the model API needs pull access.
func TestTagMovesRecordTheToken(t *testing.T) {
	r := backends(t)[0].startWith(t, api.Config{Auth: testAuth(t)})
	basic := func(secret string) string {
		return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("ci:"+secret))
	}
	cfg := []byte(`{"by":"token"}`)
	d := artifact.FromBytes(artifact.SHA256, cfg)
	r.do(t, "POST", "/v2/team/tok/blobs/uploads/?digest="+d.String(), cfg, basic("push-secret-2")).expect(t, http.StatusCreated, "")
	r.do(t, "PUT", "/v2/team/tok/manifests/latest", imageManifest("application/vnd.test.model", nil, cfg),
		"Content-Type: "+manifest.MediaTypeImageManifest, basic("push-secret-2")).expect(t, http.StatusCreated, "")
	resp := r.do(t, "GET", "/api/v1/models/team/tok/tags/latest/history", nil, basic("admin-secret-4"))
	resp.expect(t, http.StatusOK, "")
	if !strings.Contains(string(resp.body), `"by":"pusher"`) {
		t.Errorf("history %s, want the move recorded as by pusher", resp.body)
	}
	r.do(t, "GET", "/api/v1/models/team/tok/tags/latest/history", nil, basic("other-secret-5")).expect(t, http.StatusForbidden, "DENIED")
	r.do(t, "GET", "/api/v1/models/team/tok/tags/latest/history", nil).expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
}

// TestImmutableTagsProtectTheirBlobs: a blob of a manifest an immutable tag
// points to cannot be unlinked (403 DENIED), or the release could no longer
// be pulled; a blob only a movable tag's manifest holds can.
func TestImmutableTagsProtectTheirBlobs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		r := b.startWith(t, api.Config{ImmutableTags: []string{"v*"}})
		r.pushImage(t, "team/rel", "v1", "", nil, []byte(`{"rel":1}`), []byte("release weights"))
		r.pushImage(t, "team/rel", "latest", "", nil, []byte(`{"rel":2}`), []byte("nightly weights"))
		released := artifact.FromBytes(artifact.SHA256, []byte("release weights")).String()
		resp := r.do(t, "DELETE", "/v2/team/rel/blobs/"+released, nil)
		resp.expect(t, http.StatusForbidden, "DENIED")
		if !strings.Contains(string(resp.body), "team/rel:v1, which matches --immutable-tags") {
			t.Errorf("refusal %s, want it to name the tag", resp.body)
		}
		r.do(t, "HEAD", "/v2/team/rel/blobs/"+released, nil).expect(t, http.StatusOK, "")
		nightly := artifact.FromBytes(artifact.SHA256, []byte("nightly weights")).String()
		r.do(t, "DELETE", "/v2/team/rel/blobs/"+nightly, nil).expect(t, http.StatusAccepted, "")
		r.do(t, "HEAD", "/v2/team/rel/blobs/"+nightly, nil).expect(t, http.StatusNotFound, "")
	})
}
