package api_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/normreg/normreg/api"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
)

// testTokens are the tokens of every auth test: name → secret and scopes.
var testTokens = []struct {
	name, secret string
	scopes       []api.Scope
}{
	{"puller", "pull-secret-1", []api.Scope{{Repository: "team/*", Actions: []api.Action{api.ActionPull}}}},
	{"pusher", "push-secret-2", []api.Scope{{Repository: "team/*", Actions: []api.Action{api.ActionPush}}}},
	{"deleter", "delete-secret-3", []api.Scope{{Repository: "team/*", Actions: []api.Action{api.ActionDelete}}}},
	{"admin", "admin-secret-4", []api.Scope{{Repository: "team/*", Actions: []api.Action{api.ActionAdmin}}}},
	{"other", "other-secret-5", []api.Scope{{Repository: "other/*", Actions: []api.Action{api.ActionAdmin}}}},
}

// testAuth returns the auth of testTokens, with anonymous pull on the patterns given.
func testAuth(t *testing.T, anonymousPull ...string) *api.Auth {
	t.Helper()
	f := api.AuthFile{AnonymousPull: anonymousPull}
	for _, tok := range testTokens {
		hash, err := api.HashSecret(tok.secret)
		if err != nil {
			t.Fatal(err)
		}
		f.Tokens = append(f.Tokens, api.TokenEntry{Name: tok.name, Hash: hash, Scopes: tok.scopes})
	}
	a, err := api.NewAuth(f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// authPair is an open registry and a guarded one over the same storage: the
// open one seeds and inspects, the guarded one is under test.
type authPair struct {
	open, guarded *registry
}

// startAuthPair starts both servers on a fresh fs directory.
func startAuthPair(t *testing.T, auth *api.Auth) authPair {
	t.Helper()
	root := t.TempDir()
	start := func(a *api.Auth) *registry {
		d, err := fs.New(root)
		if err != nil {
			t.Fatal(err)
		}
		log := &logBuffer{}
		srv := httptest.NewServer(api.New(api.Config{Store: storage.New(d), Logger: slog.New(slog.NewTextHandler(log, nil)), Auth: a}))
		t.Cleanup(srv.Close)
		return &registry{url: srv.URL, log: log}
	}
	return authPair{open: start(nil), guarded: start(auth)}
}

// seeded is what seed put in the registry.
type seeded struct {
	layer, libBlob, otherBlob artifact.Digest
	image, referrer           artifact.Descriptor
	session, spareSession     string // upload ids in team/app
}

// seed fills team/app (an image tagged v1, a referrer, two upload
// sessions), team/lib and other/app (one blob each) through the open server.
func (p authPair) seed(t *testing.T) seeded {
	t.Helper()
	var s seeded
	s.image = p.open.pushImage(t, "team/app", "v1", "", nil, []byte(`{"c":1}`), []byte("layer"))
	s.layer = artifact.FromBytes(artifact.SHA256, []byte("layer"))
	s.referrer = p.open.pushImage(t, "team/app", "", "application/vnd.test.sig", &s.image, []byte(`{"sig":1}`))
	s.libBlob = p.open.pushBlob(t, "team/lib", []byte("lib blob"))
	s.otherBlob = p.open.pushBlob(t, "other/app", []byte("other blob"))
	for _, id := range []*string{&s.session, &s.spareSession} {
		resp := p.open.do(t, "POST", "/v2/team/app/blobs/uploads/", nil)
		resp.expect(t, http.StatusAccepted, "")
		*id = resp.header.Get("Docker-Upload-UUID")
	}
	return s
}

// actionToken is the need of the ping: any valid token, never anonymous.
const actionToken api.Action = "token"

// endpointCase is one request of the table and the access it needs.
type endpointCase struct {
	name   string
	need   api.Action // "": only to be let in; actionToken: a valid token
	method string
	path   string
	body   []byte
	header []string
	status int // when allowed
}

// endpointCases lists every /v2/ and /api/v1 endpoint and method on
// team/app, reads first and deletes last, so that each can succeed in order.
func endpointCases(s seeded) []endpointCase {
	chunk := []byte("chunk")
	mono := []byte("monolithic")
	v2 := imageManifest("", nil, []byte(`{"c":1}`), []byte("layer"))
	up := "/v2/team/app/blobs/uploads/"
	return []endpointCase{
		{"ping", actionToken, "GET", "/v2/", nil, nil, http.StatusOK},
		{"catalog", "", "GET", "/v2/_catalog", nil, nil, http.StatusOK},
		{"tags list", api.ActionPull, "GET", "/v2/team/app/tags/list", nil, nil, http.StatusOK},
		{"manifest head by tag", api.ActionPull, "HEAD", "/v2/team/app/manifests/v1", nil, nil, http.StatusOK},
		{"manifest get by digest", api.ActionPull, "GET", "/v2/team/app/manifests/" + s.image.Digest.String(), nil, nil, http.StatusOK},
		{"blob head", api.ActionPull, "HEAD", "/v2/team/app/blobs/" + s.layer.String(), nil, nil, http.StatusOK},
		{"blob get", api.ActionPull, "GET", "/v2/team/app/blobs/" + s.layer.String(), nil, nil, http.StatusOK},
		{"referrers", api.ActionPull, "GET", "/v2/team/app/referrers/" + s.image.Digest.String(), nil, nil, http.StatusOK},
		{"openapi document", "", "GET", "/api/v1/openapi.json", nil, nil, http.StatusOK},
		{"model list", "", "GET", "/api/v1/models", nil, nil, http.StatusOK},
		{"model versions", api.ActionPull, "GET", "/api/v1/models/team/app/versions", nil, nil, http.StatusOK},
		// the image is no bundle: once let in, the model API answers 404
		{"model version", api.ActionPull, "GET", "/api/v1/models/team/app/versions/" + s.image.Digest.String(), nil, nil, http.StatusNotFound},
		{"tag history", api.ActionPull, "GET", "/api/v1/models/team/app/tags/v1/history", nil, nil, http.StatusOK},
		{"upload start", api.ActionPush, "POST", up, nil, nil, http.StatusAccepted},
		{"upload patch", api.ActionPush, "PATCH", up + s.session, chunk, []string{"Content-Type: application/octet-stream"}, http.StatusAccepted},
		{"upload status", api.ActionPush, "GET", up + s.session, nil, nil, http.StatusNoContent},
		{"upload finish", api.ActionPush, "PUT", up + s.session + "?digest=" + artifact.FromBytes(artifact.SHA256, chunk).String(), nil, nil, http.StatusCreated},
		{"upload cancel", api.ActionPush, "DELETE", up + s.spareSession, nil, nil, http.StatusNoContent},
		{"monolithic upload", api.ActionPush, "POST", up + "?digest=" + artifact.FromBytes(artifact.SHA256, mono).String(), mono, nil, http.StatusCreated},
		{"mount from team/lib", api.ActionPush, "POST", up + "?mount=" + s.libBlob.String() + "&from=team/lib", nil, nil, http.StatusCreated},
		{"manifest put", api.ActionPush, "PUT", "/v2/team/app/manifests/v2", v2, []string{"Content-Type: " + manifest.MediaTypeImageManifest}, http.StatusCreated},
		{"tag delete", api.ActionDelete, "DELETE", "/v2/team/app/manifests/v1", nil, nil, http.StatusAccepted},
		{"manifest delete", api.ActionDelete, "DELETE", "/v2/team/app/manifests/" + s.referrer.Digest.String(), nil, nil, http.StatusAccepted},
		{"blob delete", api.ActionDelete, "DELETE", "/v2/team/app/blobs/" + s.layer.String(), nil, nil, http.StatusAccepted},
	}
}

// caller is one row of the scope axis: who sends the requests.
type caller struct {
	name          string
	anonymousPull []string // the auth file's anonymous_pull
	header        string   // Authorization header; "" for none
	authenticated bool     // a valid token: refusals are 403, not 401
	may           []api.Action
}

// bearer and basic are Authorization headers carrying secret.
func bearer(secret string) string { return "Authorization: Bearer " + secret }
func basic(user, secret string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+secret))
}

// callers lists every kind of caller: no credentials with and without
// anonymous pull, each scope, a token scoped to another repository pattern,
// and a wrong secret.
func callers() []caller {
	all := []api.Action{actionToken, api.ActionPull, api.ActionPush, api.ActionDelete}
	return []caller{
		{name: "anonymous", may: nil},
		{name: "anonymous with anonymous_pull", anonymousPull: []string{"team/*"}, may: []api.Action{"", api.ActionPull}},
		{name: "pull", header: bearer("pull-secret-1"), authenticated: true, may: []api.Action{"", actionToken, api.ActionPull}},
		{name: "push", header: basic("anyone", "push-secret-2"), authenticated: true, may: []api.Action{"", actionToken, api.ActionPull, api.ActionPush}},
		{name: "delete", header: bearer("delete-secret-3"), authenticated: true, may: []api.Action{"", actionToken, api.ActionDelete}},
		{name: "admin", header: basic("oras", "admin-secret-4"), authenticated: true, may: append([]api.Action{""}, all...)},
		{name: "wrong repository pattern", header: bearer("other-secret-5"), authenticated: true, may: []api.Action{"", actionToken}},
		{name: "wrong secret", anonymousPull: []string{"team/*"}, header: basic("admin", "admin-secret-5"), may: nil},
	}
}

// allows reports whether the caller may do act.
func (c caller) allows(act api.Action) bool {
	for _, m := range c.may {
		if m == act {
			return true
		}
	}
	return false
}

// TestAuthEveryEndpointAndScope: every endpoint × every kind of caller;
// each caller can do what its scope allows (the endpoint's success status)
// and nothing more (401 with a Basic challenge, or 403 DENIED, and no
// change to the repository).
func TestAuthEveryEndpointAndScope(t *testing.T) {
	for _, who := range callers() {
		t.Run(who.name, func(t *testing.T) {
			p := startAuthPair(t, testAuth(t, who.anonymousPull...))
			s := p.seed(t)
			for _, ec := range endpointCases(s) {
				header := ec.header
				if who.header != "" {
					header = append(header, who.header)
				}
				resp := p.guarded.do(t, ec.method, ec.path, ec.body, header...)
				expectAccess(t, ec, who, resp)
			}
			expectRepoState(t, p.open, s, who)
		})
	}
}

// expectAccess checks one response against the caller's rights.
func expectAccess(t *testing.T, ec endpointCase, who caller, resp response) {
	t.Helper()
	code := ""
	switch {
	case who.allows(ec.need):
		if resp.status != ec.status {
			t.Fatalf("%s %s (%s): status %d, want %d; body %s", ec.method, ec.path, ec.name, resp.status, ec.status, resp.body)
		}
		return
	case who.authenticated:
		code = "DENIED"
		if resp.status != http.StatusForbidden {
			t.Fatalf("%s (%s): status %d, want 403; body %s", ec.name, ec.path, resp.status, resp.body)
		}
	default:
		code = "UNAUTHORIZED"
		if resp.status != http.StatusUnauthorized || resp.header.Get("WWW-Authenticate") != `Basic realm="normreg"` {
			t.Fatalf("%s (%s): status %d, WWW-Authenticate %q; want 401 with a Basic challenge", ec.name, ec.path, resp.status, resp.header.Get("WWW-Authenticate"))
		}
	}
	if ec.method != http.MethodHead {
		resp.expect(t, resp.status, code)
	}
}

// expectRepoState checks, through the open server, that tag v1 is gone
// exactly when the caller may delete, and that tag v2 and the mounted blob
// exist exactly when it may push.
func expectRepoState(t *testing.T, open *registry, s seeded, who caller) {
	t.Helper()
	status := func(allowed bool, yes, no int) int {
		if allowed {
			return yes
		}
		return no
	}
	open.do(t, "HEAD", "/v2/team/app/manifests/v1", nil).expect(t, status(who.allows(api.ActionDelete), http.StatusNotFound, http.StatusOK), "")
	open.do(t, "HEAD", "/v2/team/app/manifests/v2", nil).expect(t, status(who.allows(api.ActionPush), http.StatusOK, http.StatusNotFound), "")
	open.do(t, "HEAD", "/v2/team/app/blobs/"+s.libBlob.String(), nil).expect(t, status(who.allows(api.ActionPush), http.StatusOK, http.StatusNotFound), "")
}

// TestAuthMountNeedsPullOnSource: a mount from a repository the token may
// not pull, or from no named repository, starts an upload session (202)
// and links nothing.
func TestAuthMountNeedsPullOnSource(t *testing.T) {
	p := startAuthPair(t, testAuth(t))
	s := p.seed(t)
	for _, query := range []string{"?mount=" + s.otherBlob.String() + "&from=other/app", "?mount=" + s.otherBlob.String()} {
		resp := p.guarded.do(t, "POST", "/v2/team/app/blobs/uploads/"+query, nil, bearer("push-secret-2"))
		resp.expect(t, http.StatusAccepted, "")
		p.open.do(t, "HEAD", "/v2/team/app/blobs/"+s.otherBlob.String(), nil).expect(t, http.StatusNotFound, "")
	}
	if log := p.guarded.log.String(); !strings.Contains(log, "mount refused") || strings.Contains(log, "push-secret-2") {
		t.Fatalf("log should record the refused mount without the secret:\n%s", log)
	}
}

// TestAuthCatalogFiltered: the catalog lists only the repositories the
// caller may pull, page by page.
func TestAuthCatalogFiltered(t *testing.T) {
	p := startAuthPair(t, testAuth(t, "team/lib"))
	p.seed(t)
	cases := []struct {
		header string
		want   string
	}{
		{bearer("pull-secret-1"), "team/app,team/lib"},
		{bearer("other-secret-5"), "other/app"},
		{"", "team/lib"},
	}
	for _, c := range cases {
		var header []string
		if c.header != "" {
			header = []string{c.header}
		}
		if got := catalogPages(t, p.guarded, header); got != c.want {
			t.Errorf("catalog with %q: %s, want %s", c.header, got, c.want)
		}
	}
}

// catalogPages follows the catalog one repository per page and joins the names.
func catalogPages(t *testing.T, r *registry, header []string) string {
	t.Helper()
	var names []string
	path := "/v2/_catalog?n=1"
	for path != "" {
		resp := r.do(t, "GET", path, nil, header...)
		resp.expect(t, http.StatusOK, "")
		var body struct{ Repositories []string }
		if err := json.Unmarshal(resp.body, &body); err != nil {
			t.Fatal(err)
		}
		names = append(names, body.Repositories...)
		path = strings.TrimSuffix(strings.TrimPrefix(resp.header.Get("Link"), "<"), `>; rel="next"`)
	}
	return strings.Join(names, ",")
}

// TestAuthOpenPathsAndLog: health and metrics endpoints need no credential; a denial is
// logged with the token's name and never its secret.
func TestAuthOpenPathsAndLog(t *testing.T) {
	p := startAuthPair(t, testAuth(t))
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		p.guarded.do(t, "GET", path, nil).expect(t, http.StatusOK, "")
	}
	p.guarded.do(t, "DELETE", "/v2/team/app/manifests/v1", nil, bearer("pull-secret-1")).expect(t, http.StatusForbidden, "DENIED")
	p.guarded.do(t, "GET", "/v2/", nil, basic("u", "not-a-token")).expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
	for _, empty := range []string{"Authorization: Bearer ", "Authorization: Basic Og==", "Authorization: Digest x"} {
		p.guarded.do(t, "GET", "/v2/_catalog", nil, empty).expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
	}
	log := p.guarded.log.String()
	for _, secret := range []string{"pull-secret-1", "not-a-token"} {
		if strings.Contains(log, secret) {
			t.Fatalf("the log holds the secret %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, "token=puller") || strings.Count(log, "access denied") != 5 {
		t.Fatalf("want five denials, one naming token puller:\n%s", log)
	}
}

// TestAuthEmptySecretNeverMatches: an empty credential is refused even
// when some token's hash is the hash of the empty string.
func TestAuthEmptySecretNeverMatches(t *testing.T) {
	hash, err := api.HashSecret("")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := api.NewAuth(api.AuthFile{Tokens: []api.TokenEntry{{Name: "empty", Hash: hash,
		Scopes: []api.Scope{{Repository: "*", Actions: []api.Action{api.ActionAdmin}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	p := startAuthPair(t, auth)
	for _, h := range []string{bearer(""), basic("u", "")} {
		p.guarded.do(t, "GET", "/v2/_catalog", nil, h).expect(t, http.StatusUnauthorized, "UNAUTHORIZED")
	}
}

// TestNewAuthRefuses: malformed auth files are refused with ErrAuthFileInvalid.
func TestNewAuthRefuses(t *testing.T) {
	good, err := api.HashSecret("s")
	if err != nil {
		t.Fatal(err)
	}
	scope := []api.Scope{{Repository: "*", Actions: []api.Action{api.ActionPull}}}
	cases := map[string]api.AuthFile{
		"bad hash":                          {Tokens: []api.TokenEntry{{Name: "a", Hash: "sha256:zz:00", Scopes: scope}}},
		"plain hash":                        {Tokens: []api.TokenEntry{{Name: "a", Hash: fmt.Sprintf("%x", 1), Scopes: scope}}},
		"repeated name":                     {Tokens: []api.TokenEntry{{Name: "a", Hash: good}, {Name: "a", Hash: good}}},
		"empty name":                        {Tokens: []api.TokenEntry{{Hash: good}}},
		"unknown action":                    {Tokens: []api.TokenEntry{{Name: "a", Hash: good, Scopes: []api.Scope{{Repository: "*", Actions: []api.Action{"write"}}}}}},
		"empty pattern":                     {AnonymousPull: []string{""}},
		"upper-case anonymous_pull pattern": {AnonymousPull: []string{"Public/*"}},
		"upper-case scope pattern":          {Tokens: []api.TokenEntry{{Name: "a", Hash: good, Scopes: []api.Scope{{Repository: "Team/*", Actions: []api.Action{api.ActionPull}}}}}},
	}
	for name, f := range cases {
		if _, err := api.NewAuth(f); !errors.Is(err, api.ErrAuthFileInvalid) {
			t.Errorf("%s: NewAuth = %v, want ErrAuthFileInvalid", name, err)
		}
	}
	// A misspelt key in the file would grant nothing: LoadAuth names it.
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(path, []byte(`{"tokens": [], "anonymous_pul": ["public/*"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := api.LoadAuth(path); !errors.Is(err, api.ErrAuthFileInvalid) || !strings.Contains(err.Error(), "anonymous_pul") {
		t.Errorf("LoadAuth of a file with an unknown key = %v, want ErrAuthFileInvalid naming it", err)
	}
}
