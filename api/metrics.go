package api

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/normreg/normreg/artifact"
)

// latencyBuckets are the upper bounds, in seconds, of the request latency histogram.
var latencyBuckets = [...]float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// metrics counts what /metrics reports, in this process since it started.
// Route labels are route patterns (never raw paths), so the label sets stay small.
type metrics struct {
	mu       sync.Mutex
	requests map[requestKey]int64
	latency  map[string]*histogram      // by route
	bytesIn  map[string]int64           // request bodies, by route
	bytesOut map[string]int64           // response bodies, by route
	refusals map[artifact.CheckID]int64 // refused bundles, by finding id
}

// requestKey labels one request counter.
type requestKey struct {
	route, method string
	status        int
}

// histogram is a latency histogram: counts per bucket (not cumulative), sum and count.
type histogram struct {
	buckets [len(latencyBuckets)]int64
	sum     float64
	count   int64
}

func newMetrics() *metrics {
	return &metrics{
		requests: map[requestKey]int64{}, latency: map[string]*histogram{},
		bytesIn: map[string]int64{}, bytesOut: map[string]int64{}, refusals: map[artifact.CheckID]int64{},
	}
}

// observe records one finished request.
func (m *metrics) observe(k requestKey, seconds float64, in, out int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[k]++
	h := m.latency[k.route]
	if h == nil {
		h = &histogram{}
		m.latency[k.route] = h
	}
	if i, _ := slices.BinarySearch(latencyBuckets[:], seconds); i < len(h.buckets) {
		h.buckets[i]++
	}
	h.sum += seconds
	h.count++
	m.bytesIn[k.route] += in
	m.bytesOut[k.route] += out
}

// rejected counts a refused bundle under each distinct refusing finding id.
func (m *metrics) rejected(fs artifact.Findings) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[artifact.CheckID]bool{}
	for _, f := range fs {
		if f.Severity == artifact.Refuse && !seen[f.ID] {
			seen[f.ID] = true
			m.refusals[f.ID]++
		}
	}
}

// countRequests is the middleware that feeds the metrics. It must run
// outside the middleware that turns errors into responses, so that the
// status it sees is final.
func (s *server) countRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		body := &artifact.CountingReader{R: c.Request().Body}
		c.Request().Body = countedBody{body, c.Request().Body}
		err := next(c)
		res := c.Response()
		k := requestKey{route: routeLabel(c), method: methodLabel(c.Request().Method), status: res.Status}
		s.metrics.observe(k, time.Since(start).Seconds(), body.N, res.Size)
		return err
	}
}

// countedBody is a request body read through a CountingReader.
type countedBody struct {
	*artifact.CountingReader
	io.Closer
}

// endpointPatterns are the route labels of the /v2/ endpoints.
var endpointPatterns = map[endpoint]string{
	endpointPing: "/v2/", endpointCatalog: "/v2/_catalog", endpointTags: "/v2/{name}/tags/list",
	endpointManifest: "/v2/{name}/manifests/{reference}", endpointBlob: "/v2/{name}/blobs/{digest}",
	endpointUpload: "/v2/{name}/blobs/uploads/{id}", endpointReferrers: "/v2/{name}/referrers/{digest}",
}

// routeLabel is the request's route pattern: the /v2/ endpoint (whether or
// not the repository name is valid), the model API route, or echo's route;
// "other" for paths that match none.
func routeLabel(c echo.Context) string {
	p := c.Request().URL.Path
	if p == "/v2" || strings.HasPrefix(p, "/v2/") {
		if r, ok := matchRoute(strings.TrimPrefix(strings.TrimPrefix(p, "/v2"), "/")); ok {
			if r.endpoint == endpointUpload && r.ref == "" {
				return "/v2/{name}/blobs/uploads/" // the collection, where sessions start
			}
			return endpointPatterns[r.endpoint]
		}
		return "other"
	}
	if label, ok := c.Get(modelRouteKey).(string); ok {
		return label
	}
	if c.Path() == "" || strings.HasSuffix(c.Path(), "*") {
		return "other"
	}
	return c.Path()
}

// methodLabel is a request's method as a metrics label: the methods the
// registry serves, and "other" for any other, so that clients cannot add
// series (a method is any token net/http accepts, up to the header limit).
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return "other"
}

// serveMetrics answers GET /metrics in the Prometheus text format (0.0.4).
func (s *server) serveMetrics(c echo.Context) error {
	var b strings.Builder
	s.metrics.write(&b)
	return c.Blob(http.StatusOK, "text/plain; version=0.0.4; charset=utf-8", []byte(b.String()))
}

// write renders every metric, samples sorted by label values.
func (m *metrics) write(b *strings.Builder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	header(b, "normreg_http_requests_total", "counter", "HTTP requests by route pattern, method and status.")
	for _, k := range sortedKeys(m.requests, func(k requestKey) string { return k.route + " " + k.method + " " + strconv.Itoa(k.status) }) {
		fmt.Fprintf(b, "normreg_http_requests_total{route=%s,method=%s,status=\"%d\"} %d\n", quote(k.route), quote(k.method), k.status, m.requests[k])
	}
	header(b, "normreg_http_request_duration_seconds", "histogram", "HTTP request latency by route pattern.")
	for _, route := range sortedKeys(m.latency, func(r string) string { return r }) {
		m.latency[route].write(b, "normreg_http_request_duration_seconds", route)
	}
	writeCounters(b, "normreg_http_request_bytes_total", "Request body bytes received, by route pattern.", "route", m.bytesIn)
	writeCounters(b, "normreg_http_response_bytes_total", "Response body bytes sent, by route pattern.", "route", m.bytesOut)
	writeCounters(b, "normreg_bundles_rejected_total", "Pushed bundles refused by the checks, by refusing finding id.", "finding", m.refusals)
}

// write renders the histogram's cumulative buckets, sum and count.
func (h *histogram) write(b *strings.Builder, name, route string) {
	var cum int64
	for i, le := range latencyBuckets {
		cum += h.buckets[i]
		fmt.Fprintf(b, "%s_bucket{route=%s,le=\"%s\"} %d\n", name, quote(route), strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	fmt.Fprintf(b, "%s_bucket{route=%s,le=\"+Inf\"} %d\n", name, quote(route), h.count)
	fmt.Fprintf(b, "%s_sum{route=%s} %s\n", name, quote(route), strconv.FormatFloat(h.sum, 'g', -1, 64))
	fmt.Fprintf(b, "%s_count{route=%s} %d\n", name, quote(route), h.count)
}

// writeCounters renders one counter family with a single label.
func writeCounters[K ~string](b *strings.Builder, name, help, label string, values map[K]int64) {
	header(b, name, "counter", help)
	for _, k := range sortedKeys(values, func(k K) string { return string(k) }) {
		fmt.Fprintf(b, "%s{%s=%s} %d\n", name, label, quote(string(k)), values[k])
	}
}

// header writes a metric family's HELP and TYPE lines.
func header(b *strings.Builder, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// quote is a label value in the exposition format: quoted, with \, " and newline escaped.
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

// sortedKeys returns m's keys ordered by key(k).
func sortedKeys[K comparable, V any](m map[K]V, key func(K) string) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return strings.Compare(key(a), key(b)) })
	return keys
}
