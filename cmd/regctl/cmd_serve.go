package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/normreg/normreg/artifact"
)

// maxStandardizeBody bounds a POST /v1/standardize request body, and
// maxInFlight how many are decoded and standardised at once (the others
// wait): a request takes about 15 times its body in memory while decoded.
const (
	maxStandardizeBody = 4 << 20
	maxInFlight        = 4
)

// serveOptions are serve's flags.
type serveOptions struct {
	g      *globalOptions
	listen string
}

func newServeCommand(g *globalOptions) *command {
	opts := &serveOptions{g: g}
	fs := g.newFlagSet("serve")
	fs.StringVar(&opts.listen, "listen", "127.0.0.1:8080", "address to serve on")
	return &command{
		name: "serve", usage: "serve REF [--listen ADDR]  standardising sidecar; starts only on a verified bundle", flags: fs,
		run: func(ctx context.Context, args []string) error { return runServe(ctx, *opts, args) },
	}
}

// runServe pulls and verifies the bundle REF names (every digest, every
// check) and, only if nothing refuses it, listens on --listen and serves
// POST /v1/standardize, GET /healthz and GET /metrics until ctx ends. A
// refused bundle prints its findings and exits 3 without opening the port.
func runServe(ctx context.Context, opts serveOptions, args []string) error {
	if err := wantArgs("serve", args, 1); err != nil {
		return err
	}
	st, rb, err := bundleStandardizer(ctx, opts.g, args[0], discard)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return usageError("--listen: %w", err)
	}
	fmt.Fprintf(opts.g.stderr, "serving %s@%s on http://%s\n", rb.ref.Repo, rb.digest, ln.Addr())
	srv := &http.Server{Handler: newSidecar(st).routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sidecar is the standardising server: the bundle's scaler and the running
// statistics of the raw inputs it has seen.
type sidecar struct {
	st    *artifact.Standardizer
	keys  [][]byte // st.Features as JSON strings, for the answers
	mu    sync.Mutex
	m     *artifact.Monitor
	slots chan struct{} // a slot per request in flight (maxInFlight)
}

func newSidecar(st *artifact.Standardizer) *sidecar {
	return &sidecar{st: st, keys: jsonKeys(st.Features), m: st.NewMonitor(), slots: make(chan struct{}, maxInFlight)}
}

// routes returns the sidecar's handler.
func (s *sidecar) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/standardize", s.standardize)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /metrics", s.metrics)
	return mux
}

// standardizeRequest is the body of POST /v1/standardize: either rows of
// named features, or columns of values by feature name, each read strictly
// by decodeFeatures (a row with its index for errors).
type standardizeRequest struct {
	Rows    []json.RawMessage `json:"rows,omitempty"`
	Columns json.RawMessage   `json:"columns,omitempty"`
}

// requestShapes is what a body of POST /v1/standardize may hold.
const requestShapes = `{"rows": [{"feature": value, ...}, ...]} or {"columns": {"feature": [value, ...], ...}}`

// shapeError tells a body of the wrong JSON shape (an array, "rows" as an
// object) the shapes it may take, instead of encoding/json's Go type names.
func shapeError(err error) error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return err
	}
	where := ""
	if te.Field != "" {
		where = fmt.Sprintf("%q is ", te.Field)
	}
	return fmt.Errorf("%sa JSON %s; want %s", where, te.Value, requestShapes)
}

// standardize answers with the request's values standardised, in the shape
// they came in (rows or columns), and adds the raw rows to the statistics.
// Features that are not exactly the model's are a 400.
func (s *sidecar) standardize(w http.ResponseWriter, r *http.Request) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-r.Context().Done():
		return // the client went
	}
	var req standardizeRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxStandardizeBody)).Decode(&req); err != nil {
		badRequest(w, fmt.Errorf("body: %w", shapeError(err)))
		return
	}
	var cols map[string][]float64
	if req.Columns != nil {
		var err error
		if cols, err = decodeFeatures(req.Columns, numbers); err != nil {
			badRequest(w, fmt.Errorf("body: %w", err))
			return
		}
	}
	if (req.Rows == nil) == (cols == nil) {
		badRequest(w, errors.New(`body must hold one of "rows" or "columns"`))
		return
	}
	rows := make([]map[string]float64, len(req.Rows))
	for i, raw := range req.Rows {
		var err error
		if rows[i], err = decodeFeatures(raw, number); err != nil {
			badRequest(w, fmt.Errorf("row %d: %w", i, err))
			return
		}
	}
	if cols != nil {
		var err error
		if rows, err = columnsToRows(cols); err != nil {
			badRequest(w, err)
			return
		}
	}
	out, err := s.apply(rows)
	if err != nil {
		badRequest(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.response(out, cols != nil))
}

// apply standardises every row, and only when all are valid adds their raw
// values to the statistics. The result is in feature order.
func (s *sidecar) apply(rows []map[string]float64) ([][]float64, error) {
	out := make([][]float64, len(rows))
	for i, row := range rows {
		z, err := s.st.StandardizeRow(row)
		if err == nil {
			err = s.overflow(row, z)
		}
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		out[i] = z
	}
	raw := make([]float64, len(s.st.Features))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, row := range rows {
		for i, f := range s.st.Features {
			raw[i] = row[f]
		}
		s.m.Add(raw)
	}
	return out, nil
}

// overflow names the first feature of row whose standardised value z is
// past float64's range (a huge value and a scale_ below 1), which JSON
// cannot carry.
func (s *sidecar) overflow(row map[string]float64, z []float64) error {
	for i, v := range z {
		if math.IsInf(v, 0) {
			f := s.st.Features[i]
			return fmt.Errorf("feature %q: %v standardises to %v, past float64's range", f, row[f], v)
		}
	}
	return nil
}

// columnsToRows turns columns of equal length into rows.
func columnsToRows(cols map[string][]float64) ([]map[string]float64, error) {
	n := -1
	for name, vals := range cols {
		if n >= 0 && len(vals) != n {
			return nil, fmt.Errorf("column %q has %d values, others %d", name, len(vals), n)
		}
		n = len(vals)
	}
	rows := make([]map[string]float64, max(n, 0))
	for i := range rows {
		rows[i] = make(map[string]float64, len(cols))
		for name, vals := range cols {
			rows[i][name] = vals[i]
		}
	}
	return rows, nil
}

// response shapes standardised rows as rows of named values or as columns,
// each object's names in the model's feature order.
func (s *sidecar) response(out [][]float64, columns bool) any {
	if columns {
		cols := make([][]float64, len(s.st.Features))
		for i := range cols {
			cols[i] = make([]float64, len(out))
			for r := range out {
				cols[i][r] = out[r][i]
			}
		}
		return map[string]any{"columns": namedValues[[]float64]{s.keys, cols}}
	}
	rows := make([]namedValues[float64], len(out))
	for r, z := range out {
		rows[r] = namedValues[float64]{s.keys, z}
	}
	return map[string]any{"rows": rows}
}

// badRequest answers 400 with {"error": err.Error()}.
func badRequest(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// metrics writes the Prometheus text exposition of the rows seen and, per
// feature, the running mean and variance of the raw inputs, the training
// mean and std, and the standardised shift and std ratio against training.
func (s *sidecar) metrics(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	rep := s.m.Report(artifact.DefaultSkewThresholds())
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# HELP normreg_rows_total Rows standardised since start.\n# TYPE normreg_rows_total counter\nnormreg_rows_total %d\n", rep.Rows)
	for _, g := range []struct {
		name, help string
		value      func(artifact.FeatureSkew) float64
	}{
		{"raw_mean", "Running mean of the raw input values.", func(f artifact.FeatureSkew) float64 { return float64(f.Mean) }},
		{"raw_variance", "Running variance (ddof 0) of the raw input values.", func(f artifact.FeatureSkew) float64 { return float64(f.Std * f.Std) }},
		{"training_mean", "The scaler's mean_.", func(f artifact.FeatureSkew) float64 { return float64(f.TrainMean) }},
		{"training_std", "The scaler's scale_.", func(f artifact.FeatureSkew) float64 { return float64(f.TrainStd) }},
		{"shift", "Running mean shift in training stds: (mean - mean_) / scale_.", func(f artifact.FeatureSkew) float64 { return float64(f.Shift) }},
		{"std_ratio", "Running std / scale_.", func(f artifact.FeatureSkew) float64 { return float64(f.StdRatio) }},
	} {
		fmt.Fprintf(w, "# HELP normreg_feature_%s %s\n# TYPE normreg_feature_%s gauge\n", g.name, g.help, g.name)
		for _, f := range rep.Features {
			fmt.Fprintf(w, "normreg_feature_%s{feature=\"%s\"} %s\n", g.name, escapeLabel(f.Feature), promFloat(g.value(f)))
		}
	}
}

// escapeLabel escapes a Prometheus label value.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// promFloat formats a value as Prometheus text does (NaN, +Inf, -Inf).
func promFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
