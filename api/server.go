// Package api is normreg's HTTP server: the OCI Distribution API (v1.1)
// under /v2/, health endpoints, and one error table that maps the sentinel
// errors of storage, manifest and artifact to OCI error codes.
package api

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/storage"
)

// Config is what the server is built from.
type Config struct {
	Store  *storage.Store
	Logger *slog.Logger // request and error log; nil discards
	Auth   *Auth        // access control (LoadAuth); nil leaves the registry open
	// RequireBundles are repository patterns (see ValidateRepositoryPatterns)
	// whose repositories accept only normreg bundles.
	RequireBundles []string
	// ImmutableTags are tag patterns whose tags cannot move or be deleted once set.
	ImmutableTags []string
	// RedirectBlobs answers blob GETs with a 307 to a presigned storage URL
	// (see blobRedirect); the Store's driver must be a storage.Redirector.
	RedirectBlobs bool
}

// handler serves one endpoint and method for a parsed route.
type handler func(c echo.Context, r route) error

// server holds the stores and the dispatch table.
type server struct {
	store  *storage.Store
	log    *slog.Logger
	auth   *Auth
	routes map[endpoint]map[string]handler

	requireBundles []string
	immutable      immutableTags
	metrics        *metrics // of this process, served at /metrics
	redirectBlobs  bool
	checks         chan struct{} // a slot per bundle check running (see check)
}

// New returns the registry's HTTP handler. Registry processes keep no state
// of their own: everything, upload sessions included, is in cfg.Store, so any
// number of them can serve one storage.
func New(cfg Config) *echo.Echo {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &server{store: cfg.Store, log: log, auth: cfg.Auth,
		requireBundles: cfg.RequireBundles, immutable: cfg.ImmutableTags, metrics: newMetrics(),
		redirectBlobs: cfg.RedirectBlobs, checks: make(chan struct{}, maxChecks)}
	s.routes = s.dispatchTable()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = writeError
	// The logs' "remote" is the connection's peer: X-Forwarded-For and
	// X-Real-IP are anyone's to set.
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(s.countRequests, s.logRequests, apiVersionHeader, s.authenticate)
	e.GET("/healthz", healthz)
	e.GET("/readyz", s.readyz)
	e.Any("/v2", s.dispatch)
	e.Any("/v2/*", s.dispatch)
	e.GET("/metrics", s.serveMetrics)
	e.GET("/api/v1/openapi.json", serveOpenAPI)
	e.GET(modelsPrefix, s.models)
	e.GET(modelsPrefix+"/*", s.modelDispatch)
	return e
}

// dispatchTable lists every endpoint and method. GET handlers also serve HEAD.
func (s *server) dispatchTable() map[endpoint]map[string]handler {
	return map[endpoint]map[string]handler{
		endpointPing:      {http.MethodGet: ping},
		endpointCatalog:   {http.MethodGet: s.catalog},
		endpointTags:      {http.MethodGet: s.tagsList},
		endpointReferrers: {http.MethodGet: s.referrers},
		endpointManifest: {
			http.MethodGet: s.manifestGet, http.MethodPut: s.manifestPut, http.MethodDelete: s.manifestDelete,
		},
		endpointBlob: {http.MethodGet: s.blobGet, http.MethodDelete: s.blobDelete},
		endpointUpload: {
			http.MethodPost: s.uploadPost, http.MethodPatch: s.uploadPatch, http.MethodPut: s.uploadPut,
			http.MethodGet: s.uploadStatus, http.MethodDelete: s.uploadCancel,
		},
	}
}

// dispatch parses the /v2/ path and calls the endpoint's handler.
func (s *server) dispatch(c echo.Context) error {
	rest := strings.TrimPrefix(strings.TrimPrefix(c.Request().URL.Path, "/v2"), "/")
	r, err := parseRoute(rest)
	if err != nil {
		return err
	}
	method := c.Request().Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	h, ok := s.routes[r.endpoint][method]
	if !ok {
		return errUnsupported
	}
	return h(c, r)
}

// ping answers GET /v2/: the registry speaks the distribution API.
func ping(c echo.Context, _ route) error {
	return c.JSONBlob(http.StatusOK, []byte("{}"))
}

// healthz answers 200 while the process serves.
func healthz(c echo.Context) error { return c.String(http.StatusOK, "ok\n") }

// readyz answers 200 when storage answers a listing, else the storage error.
func (s *server) readyz(c echo.Context) error {
	if _, err := s.store.Manifests.Repositories(c.Request().Context(), "", 1); err != nil {
		return err
	}
	return c.String(http.StatusOK, "ok\n")
}

// apiVersionHeader marks every response as a distribution API v2 response.
func apiVersionHeader(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		return next(c)
	}
}

// logErrorKey is the context key under which writeError leaves the error for the log.
const logErrorKey = "normreg.error"

// logRequests writes one structured line per request at level info;
// server errors at level error, with the underlying error. Nothing is
// built for a level the logger does not log.
func (s *server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		ctx := c.Request().Context()
		level := slog.LevelInfo
		logged, failed := c.Get(logErrorKey).(error)
		if failed && c.Response().Status >= http.StatusInternalServerError {
			level = slog.LevelError
		}
		if s.log.Enabled(ctx, level) {
			s.log.LogAttrs(ctx, level, "request", requestAttrs(c, time.Since(start), logged)...)
		}
		return nil
	}
}

// requestAttrs are the attributes of a request's log line; logged, when
// non-nil, is the error the request was answered with.
func requestAttrs(c echo.Context, took time.Duration, logged error) []slog.Attr {
	req, res := c.Request(), c.Response()
	attrs := []slog.Attr{slog.String("method", req.Method), slog.String("path", req.URL.Path)}
	if req.URL.RawQuery != "" { // ?digest=, ?mount=&from=, ?n=&last=: what the request asked
		attrs = append(attrs, slog.String("query", req.URL.RawQuery))
	}
	attrs = append(attrs, slog.Int("status", res.Status), slog.Int64("bytes_in", req.ContentLength), slog.Int64("bytes_out", res.Size),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000), slog.String("remote", c.RealIP()))
	if logged != nil {
		attrs = append(attrs, slog.String("error", logged.Error()))
	}
	return attrs
}
