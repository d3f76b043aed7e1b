// Package client is a Go client of the OCI Distribution API: the only way
// regctl talks to a registry, so it works against any OCI registry (normreg,
// CNCF distribution, ...). It pings, reads and writes manifests and tags,
// streams blobs in and out with bounded memory while verifying digests, and
// lists tags, repositories and referrers.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// Options configure a Client.
type Options struct {
	// PlainHTTP makes the client speak HTTP to any host; loopback hosts
	// (localhost, 127.0.0.0/8, ::1) get HTTP unless HTTPS is set, others HTTPS.
	PlainHTTP bool
	// HTTPS makes the client speak HTTPS to loopback hosts too.
	HTTPS bool
	// Token is the credential: sent as a Bearer token, or, once the registry
	// answers 401 with a Basic challenge, as the password of user "token".
	// Empty: anonymous.
	Token string
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
	// PageSize is the n of paginated lists (tags, catalog); 0 means 1000.
	PageSize int
}

// Client talks to one registry host. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	token    string
	hc       *http.Client
	pageSize int
	basic    atomic.Bool // the registry challenged with Basic: send the token that way
}

// New returns a client of the registry at host ("host[:port]").
func New(host string, o Options) *Client {
	scheme := "https"
	if o.PlainHTTP || (IsLoopback(host) && !o.HTTPS) {
		scheme = "http"
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	pageSize := o.PageSize
	if pageSize <= 0 {
		pageSize = 1000
	}
	return &Client{base: &url.URL{Scheme: scheme, Host: host}, token: o.Token, hc: authStaysHome(hc), pageSize: pageSize}
}

// authStaysHome returns a copy of hc whose redirects drop the Authorization
// header once they leave the first request's host:port, then apply hc's
// own redirect policy (by default: at most 10). Go keeps the header when
// only the port differs, as from a registry at 127.0.0.1:5000 to a
// presigned S3 URL at 127.0.0.1:9070, and S3 refuses a request that
// carries a presigned signature and an Authorization header.
func authStaysHome(hc *http.Client) *http.Client {
	c := *hc
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host {
			req.Header.Del("Authorization")
		}
		if hc.CheckRedirect != nil {
			return hc.CheckRedirect(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// Host returns the registry's "host[:port]".
func (c *Client) Host() string { return c.base.Host }

// IsLoopback reports whether host ("host[:port]") is localhost, in
// 127.0.0.0/8 or ::1: hosts that are spoken to in plain HTTP.
func IsLoopback(host string) bool {
	h := host
	if hp, _, err := net.SplitHostPort(host); err == nil {
		h = hp
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Ping checks that the host speaks the OCI Distribution API (GET /v2/) and
// accepts the client's credentials.
func (c *Client) Ping(ctx context.Context) error {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/v2/"}, http.StatusOK)
	if err != nil {
		return err
	}
	return drain(resp)
}

// request is one HTTP exchange with the registry.
type request struct {
	method string
	path   string // below the base URL, or an absolute URL (an upload Location)
	query  url.Values
	header http.Header
	body   io.Reader // nil: none
	size   int64     // length of body; -1 unknown
}

// url resolves the request's path and query against the base URL.
func (c *Client) url(r request) (*url.URL, error) {
	u, err := c.base.Parse(r.path)
	if err != nil {
		return nil, fmt.Errorf("registry %s: bad URL %q: %w", c.base.Host, r.path, err)
	}
	if len(r.query) > 0 {
		q := u.Query()
		for k, vs := range r.query {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// newRequest builds the HTTP request with the current credentials.
func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	u, err := c.url(r)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), r.body)
	if err != nil {
		return nil, err
	}
	if r.body != nil && r.size >= 0 {
		req.ContentLength = r.size
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	c.authorize(req)
	return req, nil
}

// authorize adds the credential in the scheme the registry asked for, to a
// request for the registry's own scheme and host.
func (c *Client) authorize(req *http.Request) {
	switch {
	case c.token == "":
	case req.URL.Scheme != c.base.Scheme || req.URL.Host != c.base.Host:
		// The token is this registry's: never sent to another host (an
		// upload Location may name one), nor over plain HTTP to this one.
	case c.basic.Load():
		req.SetBasicAuth("token", c.token)
	default:
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// do sends r and returns the response when its status is one of want;
// any other status becomes an *Error (the body closed). A 401 with a Basic
// challenge switches the client to Basic and is retried once when the body
// can be sent again.
func (c *Client) do(ctx context.Context, r request, want ...int) (*http.Response, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", c.base.Host, err)
	}
	if c.switchToBasic(resp) && (r.body == nil || req.GetBody != nil) {
		drain(resp)
		if req, err = c.newRequest(ctx, r); err != nil {
			return nil, err
		}
		if resp, err = c.hc.Do(req); err != nil {
			return nil, fmt.Errorf("registry %s: %w", c.base.Host, err)
		}
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	e := readError(resp)
	e.TokenSent = req.Header.Get("Authorization") != "" // authorize sets it from the token only
	return nil, e
}

// switchToBasic reports whether resp is a Basic challenge the client had not
// yet answered with Basic credentials, and switches it to Basic if so.
func (c *Client) switchToBasic(resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized || c.token == "" || c.basic.Load() {
		return false
	}
	for _, ch := range resp.Header.Values("WWW-Authenticate") {
		if scheme, _, _ := strings.Cut(strings.TrimSpace(ch), " "); strings.EqualFold(scheme, "Basic") {
			c.basic.Store(true)
			return true
		}
	}
	return false
}

// drain reads what is left of resp's body (so the connection is reused) and closes it.
func drain(resp *http.Response) error {
	_, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	return err
}
