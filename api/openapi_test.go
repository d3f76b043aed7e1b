package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/normreg/normreg/storage"
	"github.com/normreg/normreg/storage/fs"
)

// apiRoutes returns "METHOD path" for every route under /api/v1: echo's
// routes, with the wildcard route below /api/v1/models/ expanded into the
// model routes it dispatches.
func apiRoutes(t *testing.T) []string {
	t.Helper()
	d, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	for _, r := range New(Config{Store: storage.New(d)}).Routes() {
		switch {
		case r.Path == modelsPrefix+"/*":
			for _, mr := range modelRoutes() {
				routes = append(routes, r.Method+" "+mr.pattern)
			}
		case strings.HasSuffix(r.Path, "*") && strings.HasPrefix(r.Path, "/api/v1"):
			t.Errorf("wildcard route %s %s: the document cannot describe it", r.Method, r.Path)
		case strings.HasPrefix(r.Path, "/api/v1"):
			routes = append(routes, r.Method+" "+r.Path)
		}
	}
	slices.Sort(routes)
	return routes
}

// documentRoutes returns "METHOD path" for every operation of openapi.json.
func documentRoutes(t *testing.T) []string {
	t.Helper()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %v, version %q", err, doc.OpenAPI)
	}
	var routes []string
	for path, ops := range doc.Paths {
		for method := range ops {
			routes = append(routes, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(routes)
	return routes
}

// TestOpenAPIMatchesRoutes fails when a route under /api/v1 is missing from
// the OpenAPI document or the document describes a route that is not
// served; every documented path, with its parameters filled in, reaches a
// handler (its only 404 is an unknown repository, manifest or tag, not an
// unknown route, NOT_FOUND).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	served, documented := apiRoutes(t), documentRoutes(t)
	if !slices.Equal(served, documented) {
		t.Fatalf("routes and openapi.json disagree:\nserved     %q\ndocumented %q", served, documented)
	}
	d, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Config{Store: storage.New(d)}))
	defer srv.Close()
	fill := strings.NewReplacer("{repo}", "team/a/b", "{digest}", "sha256:"+strings.Repeat("0", 64), "{tag}", "v1")
	for _, route := range documented {
		method, path, _ := strings.Cut(route, " ")
		req, _ := http.NewRequest(method, srv.URL+fill.Replace(path), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Errors []struct{ Code string } }
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound && (len(body.Errors) == 0 || body.Errors[0].Code == "NOT_FOUND") {
			t.Errorf("%s: no handler (404 %+v)", route, body.Errors)
		}
	}
}
