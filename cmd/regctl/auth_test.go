package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client/registrytest"
)

// bearerGate puts a real HTTP server in front of a registry that lets
// through only requests bearing token, and answers others 401 with an OCI
// error body.
func bearerGate(t *testing.T, host, token string) string {
	target, _ := url.Parse("http://" + host)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="normreg"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestCredentials: login stores a token the registry accepted; later
// commands send it; REGCTL_TOKEN overrides it; a 401 is a clear error.
func TestCredentials(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	gate := bearerGate(t, host, "right")
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "REGCTL_REGISTRY": gate}

	r := regctl(t, env, "", "ls")
	if r.code != exitError || !strings.Contains(r.stderr, "UNAUTHORIZED") || !strings.Contains(r.stderr, "regctl login "+gate) {
		t.Fatalf("ls without credentials: exit %d, %q; want 1 naming UNAUTHORIZED and regctl login", r.code, r.stderr)
	}
	r = regctl(t, env, "wrong\n", "login")
	if r.code != exitError || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "refused the token") {
		t.Fatalf("login with a wrong token: exit %d, %q; want 1, the 401, and that the token was refused", r.code, r.stderr)
	}
	regctl(t, env, "right\n", "login").must(t, exitOK, "login")
	regctl(t, env, "", "ls").must(t, exitOK, "ls with the stored token")
	env["REGCTL_TOKEN"] = "wrong"
	if r := regctl(t, env, "", "ls"); r.code != exitError || !strings.Contains(r.stderr, "UNAUTHORIZED") || !strings.Contains(r.stderr, "refused the token") {
		t.Fatalf("REGCTL_TOKEN did not override the stored token, or its refusal was not named: exit %d, %q", r.code, r.stderr)
	}
}
