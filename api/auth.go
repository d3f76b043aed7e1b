package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Auth decides who may do what (docs/auth.md). Requests carry a token as
// the password of HTTP Basic (any user name) or as a Bearer token. A nil
// *Auth in Config leaves the registry open.
type Auth struct {
	tokens    []token
	anonymous grants // what a request without credentials may do
}

// PrincipalKey is the echo context key that holds the name (string) of the
// token an authenticated request was made with; unset for anonymous requests
// and when auth is off.
const PrincipalKey = "normreg.principal"

// grantsKey is the echo context key of the request principal's grants.
const grantsKey = "normreg.grants"

// Sentinel errors of access control.
var (
	// errUnauthorized: no valid credential, and anonymous access does not allow the request.
	errUnauthorized = errors.New("authentication required")
	// errDenied: the token is valid but its scopes do not allow the request.
	errDenied = errors.New("requested access to the resource is denied")
)

// basicChallenge is the WWW-Authenticate header of every 401: oras, docker
// and crane answer it with Basic credentials.
const basicChallenge = `Basic realm="normreg"`

// caller is who made a request.
type caller struct {
	name          string // token name; "" when anonymous
	grants        grants
	authenticated bool
}

// identify returns the principal of req's credentials, or false when a
// credential is present but empty or matches no token. Every token's hash
// is compared, in constant time, whether or not an earlier one matched.
func (a *Auth) identify(req *http.Request) (caller, bool) {
	secret, present := credential(req)
	if !present {
		return caller{grants: a.anonymous}, true
	}
	var found *token
	for i := range a.tokens {
		if a.tokens[i].hash.matches(secret) && found == nil {
			found = &a.tokens[i]
		}
	}
	if found == nil || secret == "" {
		return caller{}, false
	}
	return caller{name: found.name, grants: found.grants, authenticated: true}, true
}

// credential returns the secret of a Basic (the password) or Bearer
// Authorization header; present is false when there is no such header.
func credential(req *http.Request) (secret string, present bool) {
	h := req.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	if _, pass, ok := req.BasicAuth(); ok {
		return pass, true
	}
	scheme, rest, _ := strings.Cut(h, " ")
	if strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(rest), true
	}
	return "", true
}

// need is the access a request asks for: action on repo. An empty repo
// asks only to be let in (the catalog), or, with token set, for a valid
// token (the ping, which `docker login` and `regctl login` use to check one).
type need struct {
	repo   string
	action Action
	token  bool
}

// needOf maps a /v2/ request to the access it needs: the ping a token;
// uploads push; other GET/HEAD pull; DELETE delete; any other method push.
// ok is false for a path that is not an endpoint (dispatch answers it).
func needOf(method, path string) (need, bool) {
	rest, isV2 := strings.CutPrefix(path, "/v2")
	if !isV2 || (rest != "" && !strings.HasPrefix(rest, "/")) {
		return need{}, false
	}
	r, err := parseRoute(strings.TrimPrefix(rest, "/"))
	if err != nil {
		return need{}, false
	}
	switch {
	case r.endpoint == endpointPing:
		return need{token: true}, true
	case r.name == "":
		return need{}, true
	case r.endpoint == endpointUpload:
		return need{repo: r.name, action: ActionPush}, true
	case method == http.MethodGet || method == http.MethodHead:
		return need{repo: r.name, action: ActionPull}, true
	case method == http.MethodDelete:
		return need{repo: r.name, action: ActionDelete}, true
	}
	return need{repo: r.name, action: ActionPush}, true
}

// openPath reports whether path is served without credentials.
func openPath(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// authenticate is the middleware that enforces s.auth: it identifies the
// principal, sets PrincipalKey, checks the access the route needs, and
// drops a cross-repository mount the principal may not pull from.
func (s *server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if s.auth == nil || openPath(req.URL.Path) {
			return next(c)
		}
		p, ok := s.auth.identify(req)
		if !ok {
			return s.deny(c, p, need{}, "credential matches no token")
		}
		if p.authenticated {
			c.Set(PrincipalKey, p.name)
		}
		c.Set(grantsKey, p.grants)
		if !p.authenticated && len(p.grants) == 0 {
			return s.deny(c, p, need{}, "anonymous access is off")
		}
		n, ok := needOf(req.Method, req.URL.Path)
		if ok && n.token && !p.authenticated {
			return s.deny(c, p, n, "the ping needs a token")
		}
		if ok {
			if err := s.authorize(c, p, n); err != nil {
				return err
			}
		}
		s.checkMount(c, p)
		return next(c)
	}
}

// authorize returns nil when p's scopes allow n (a need without a
// repository asks nothing of them), else deny's error.
func (s *server) authorize(c echo.Context, p caller, n need) error {
	if n.repo == "" || p.grants.allows(n.repo, n.action) {
		return nil
	}
	return s.deny(c, p, n, "scope does not allow it")
}

// require is authorize for a handler that learns what a request needs only
// after authenticate ran (the model API), for the principal authenticate
// identified; nil when auth is off.
func (s *server) require(c echo.Context, n need) error {
	if s.auth == nil {
		return nil
	}
	name := principal(c)
	gs, _ := c.Get(grantsKey).(grants)
	return s.authorize(c, caller{name: name, grants: gs, authenticated: name != ""}, n)
}

// deny logs a refused request (never its credential) and returns the error
// to answer it with: 401 with a Basic challenge for anonymous and unknown
// credentials, 403 for a valid token without the scope.
func (s *server) deny(c echo.Context, p caller, n need, why string) error {
	req := c.Request()
	s.log.Warn("access denied", "token", p.name, "authenticated", p.authenticated, "method", req.Method,
		"path", req.URL.Path, "repository", n.repo, "action", string(n.action), "reason", why, "remote", c.RealIP())
	if p.authenticated {
		return fmt.Errorf("%w: token %q has no %s access to %s", errDenied, p.name, n.action, n.repo)
	}
	c.Response().Header().Set("WWW-Authenticate", basicChallenge)
	return errUnauthorized
}

// checkMount removes ?mount= and ?from= from a blob upload POST unless the
// principal may pull from the named source repository, so that the request
// starts an ordinary upload session instead. A mount without from (from
// any repository) is never done under auth: it would reveal other
// repositories' blobs.
func (s *server) checkMount(c echo.Context, p caller) {
	req := c.Request()
	q := req.URL.Query()
	if req.Method != http.MethodPost || !q.Has("mount") {
		return
	}
	from := q.Get("from")
	if from != "" && p.grants.allows(from, ActionPull) {
		return
	}
	s.log.Warn("mount refused, starting an upload session instead", "token", p.name,
		"path", req.URL.Path, "from", from, "remote", c.RealIP())
	q.Del("mount")
	q.Del("from")
	req.URL.RawQuery = q.Encode()
}

// pullable wraps a repository lister so it returns only the repositories
// the request's principal may pull; with auth off it returns list itself.
func (s *server) pullable(c echo.Context, list lister) lister {
	if s.auth == nil {
		return list
	}
	gs, _ := c.Get(grantsKey).(grants)
	return func(ctx context.Context, after string, n int) ([]string, error) {
		var out []string
		for len(out) < n {
			page, err := list(ctx, after, n)
			if err != nil {
				return nil, err
			}
			for _, repo := range page {
				if len(out) < n && gs.allows(repo, ActionPull) {
					out = append(out, repo)
				}
			}
			if len(page) < n {
				break
			}
			after = page[len(page)-1]
		}
		return out, nil
	}
}
