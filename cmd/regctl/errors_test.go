package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client"
)

// TestRegistryErrorHints: each kind of registry answer gets the hint that
// fits it, and only that one.
func TestRegistryErrorHints(t *testing.T) {
	detail := json.RawMessage(`"token \"ci\" has no pull access to prod/churn"`)
	for _, c := range []struct {
		name string
		err  *client.Error
		want string // "": no hint
	}{
		{"401, token sent", &client.Error{Status: 401, TokenSent: true}, "refused the token sent"},
		{"401, no token", &client.Error{Status: 401}, "wants credentials: set REGCTL_TOKEN"},
		{"403 without a reason", &client.Error{Status: 403}, "the credentials lack the permission"},
		{"403 to a HEAD", &client.Error{Status: 403, Method: "HEAD", URL: "https://reg.example/v2/prod/churn/blobs/sha256:b178"}, "the credentials lack pull access to prod/churn"},
		{"403 to a HEAD, a name with a blobs component", &client.Error{Status: 403, Method: "HEAD", URL: "https://reg.example/v2/team/blobs/x/manifests/v1"}, "the credentials lack pull access to team/blobs/x;"},
		{"403 with the registry's reason", &client.Error{Status: 403, Entries: []client.ErrorEntry{{Code: "DENIED", Detail: detail}}}, ""},
		{"400 from an HTTPS port", &client.Error{Status: 400, Text: "Client sent an HTTP request to an HTTPS server."}, "pass the registry's certificate with --ca-file"},
		{"503 without a body (HEAD)", &client.Error{Status: 503, Method: "HEAD"}, "or its storage is unavailable: try again later"},
		{"503 with UNAVAILABLE", &client.Error{Status: 503, Entries: []client.ErrorEntry{{Code: "UNAVAILABLE", Message: "storage is unavailable, try again later"}}}, ""},
	} {
		got := registryError("reg.example", c.err).Error()
		hint := strings.TrimPrefix(got, c.err.Error())
		if c.want == "" && hint != "" || !strings.Contains(hint, c.want) {
			t.Errorf("%s: %q; want the hint %q", c.name, got, c.want)
		}
	}
}

// TestHTTPSToPlainHTTPHint: a registry that answers HTTPS with plain HTTP
// gets a hint naming --plain-http, not only Go's "server gave HTTP
// response to HTTPS client".
func TestHTTPSToPlainHTTPHint(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	_, err := http.Get("https://" + host + "/v2/")
	if err == nil {
		t.Fatal("an HTTPS request to a plain HTTP server succeeded")
	}
	if got := registryError(host, err).Error(); !strings.Contains(got, "speaks plain HTTP; regctl spoke HTTPS") || !strings.Contains(got, "--plain-http or REGCTL_PLAIN_HTTP=1") {
		t.Errorf("%q: want the hint naming --plain-http", got)
	}
}
