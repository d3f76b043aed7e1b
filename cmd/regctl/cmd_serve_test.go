package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// pushUnchecked stores an interop case's bundle in repo:v1 without running
// the checks (as another OCI client would), and returns repo@digest.
func pushUnchecked(t *testing.T, host, name, repo string) string {
	t.Helper()
	c := readCase(t, name)
	w, err := os.Open(fixture(name, c.Push.Weights))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	st, _ := w.Stat()
	scaler, err := os.ReadFile(fixture(name, *c.Push.Scaler))
	if err != nil {
		t.Fatal(err)
	}
	built, err := manifest.Build(w, st.Size(), scaler, manifest.Declared{ModelName: repo, Mode: "eval",
		Features: c.Push.Features, InputTensor: c.Push.InputTensor, InputAxis: c.Push.InputAxis, BatchSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cl := client.New(host, client.Options{PlainHTTP: true})
	g := newGlobalOptions(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" }, false)
	if err := upload(ctx, g, cl, repo, built, w, nil); err != nil {
		t.Fatal(err)
	}
	d, err := cl.PushManifest(ctx, repo, "v1", manifest.MediaTypeImageManifest, built.ManifestBytes)
	if err != nil {
		t.Fatal(err)
	}
	return repo + "@" + d.String()
}

// TestServeRefusesMismatchedScaler serves a bundle whose scaler was refit on
// other data, stored in a registry that runs no checks (CNCF distribution):
// serve exits 3 with the finding and the port is never opened.
func TestServeRefusesMismatchedScaler(t *testing.T) {
	host, _ := registrytest.Distribution(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	pinned := pushUnchecked(t, host, "scaler-refit", "serve/refit")
	addr := registrytest.FreeAddr(t)
	r := regctl(t, env, "", "serve", pinned, "--listen", addr).must(t, exitRefused, "serve of a mismatched scaler")
	if !strings.Contains(r.stderr, "refuse scaler-mismatch:") || strings.Contains(r.stderr, "serving") {
		t.Errorf("stderr %q; want the scaler-mismatch finding and no serving", r.stderr)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatalf("port %s is open after a refused serve", addr)
	}
}

// TestServeStandardizes serves mlp's bundle: /healthz answers, a request
// of rows and one of columns get sklearn's values, /metrics shows the raw
// inputs' running mean, and cancelling stops the server with exit 0.
func TestServeStandardizes(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host}
	pinned := pushCase(t, env, "mlp", "serve/mlp")
	addr := registrytest.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int)
	go func() {
		g := newGlobalOptions(strings.NewReader(""), &bytes.Buffer{}, &stderr, func(k string) string { return env[k] }, false)
		done <- run(ctx, []string{"serve", pinned, "--listen", addr}, g)
	}()
	base := "http://" + addr
	waitHealthy(t, base+"/healthz", done)
	header, raw := readCSV(t, fixture("mlp", "raw.csv"))
	rows := make([]map[string]float64, len(raw))
	cols := map[string][]float64{}
	for i, vals := range raw {
		rows[i] = map[string]float64{}
		for j, f := range header {
			rows[i][f] = vals[j]
			cols[f] = append(cols[f], vals[j])
		}
	}
	var byRows struct{ Rows []map[string]float64 }
	postJSON(t, base+"/v1/standardize", map[string]any{"rows": rows}, http.StatusOK, &byRows)
	var byCols struct{ Columns map[string][]float64 }
	postJSON(t, base+"/v1/standardize", map[string]any{"columns": cols}, http.StatusOK, &byCols)
	got, gotCols := make([][]float64, len(raw)), make([][]float64, len(raw))
	for i := range raw {
		for _, f := range header {
			got[i], gotCols[i] = append(got[i], byRows.Rows[i][f]), append(gotCols[i], byCols.Columns[f][i])
		}
	}
	assertSklearn(t, "mlp", got)
	assertSklearn(t, "mlp", gotCols)
	postJSON(t, base+"/v1/standardize", map[string]any{"rows": []map[string]float64{{"age": 1}}}, http.StatusBadRequest, nil)
	// Every feature once, as a number: a null is not 0, a repeated name is
	// not its last value, in rows and in columns alike.
	full := func(age string) string {
		return `{"age":` + age + `,"income":52000,"tenure_months":6,"balance":1000,"num_products":2,"credit_score":650}`
	}
	fullColumns := `"income":[52000],"tenure_months":[6],"balance":[1000],"num_products":[2],"credit_score":[650]}}`
	for body, why := range map[string]string{
		`{"rows":[` + full("41") + `,` + full("null") + `]}`:                   `row 1: feature "age": null is not a number`,
		`{"rows":[` + full(`"41"`) + `]}`:                                      `feature "age": "41" is not a number`,
		`{"rows":[` + full("-1e309") + `]}`:                                    `feature "age": -1e309 is past float64's range`,
		`{"rows":[` + strings.Replace(full("41"), "{", `{"age":42,`, 1) + `]}`: `feature "age" appears twice`,
		`{"columns":{"age":[41,null],` + fullColumns:                           `feature "age": value 1: null is not a number`,
		`{"columns":{"age":[41],"age":[42],` + fullColumns:                     `feature "age" appears twice`,
		`{"columns":{"age":41,` + fullColumns:                                  `feature "age": 41 is not an array of numbers`,
	} {
		postRaw(t, base+"/v1/standardize", body, http.StatusBadRequest, why)
	}
	big := `{"rows":[` + strings.Repeat(full("41")+",", 45000) + full("41") + `]}` // valid rows, past 4 MiB
	postRaw(t, base+"/v1/standardize", big, http.StatusBadRequest, "request body too large")
	assertMetricMean(t, base+"/metrics", cols["age"]) // the refused requests counted for nothing
	postRaw(t, base+"/v1/standardize", `{"rows":[`+full("41")+`]}`, http.StatusOK, `"rows":[{`)
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve exited %d after cancel: %s", code, stderr.String())
	}
}

// testSidecar serves a sidecar over three features, each with mean 0 and
// scale 0.5, and returns its URL.
func testSidecar(t *testing.T) string {
	t.Helper()
	st := &artifact.Standardizer{Features: []string{"zeta", "alpha", "mid"}, Mean: []float64{0, 0, 0},
		Scale: []float64{0.5, 0.5, 0.5}, TrainMean: []float64{0, 0, 0}, TrainStd: []float64{0.5, 0.5, 0.5}}
	srv := httptest.NewServer(newSidecar(st).routes())
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestServeRefusesOverflow sends a value that standardises past float64's
// range: a 400 naming the row and feature (JSON has no Inf; the answer was
// a 200 with an empty body), and nothing added to the statistics.
func TestServeRefusesOverflow(t *testing.T) {
	base := testSidecar(t)
	postRaw(t, base+"/v1/standardize", `{"rows":[{"zeta":1,"alpha":2,"mid":3},{"zeta":1,"alpha":1.7e308,"mid":3}]}`,
		http.StatusBadRequest, `row 1: feature "alpha": 1.7e+308 standardises to +Inf, past float64's range`)
	postRaw(t, base+"/v1/standardize", `{"columns":{"zeta":[-1.7e308],"alpha":[2],"mid":[3]}}`,
		http.StatusBadRequest, `row 0: feature "zeta": -1.7e+308 standardises to -Inf`)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); !strings.Contains(string(b), "normreg_rows_total 0\n") {
		t.Errorf("metrics after refused requests:\n%s", b)
	}
}

// TestServeAnswersInFeatureOrder checks that the names of the answer's
// objects come in the model's feature order, as the request's, not sorted.
func TestServeAnswersInFeatureOrder(t *testing.T) {
	base := testSidecar(t)
	postRaw(t, base+"/v1/standardize", `{"rows":[{"mid":3,"alpha":2,"zeta":1}]}`,
		http.StatusOK, `{"rows":[{"zeta":2,"alpha":4,"mid":6}]}`)
	postRaw(t, base+"/v1/standardize", `{"columns":{"alpha":[2,0.5],"mid":[3,1],"zeta":[1,-1]}}`,
		http.StatusOK, `{"columns":{"zeta":[2,-2],"alpha":[4,1],"mid":[6,2]}}`)
}

// TestServeNamesRequestShapes sends bodies of the wrong JSON shape: the 400
// says what the body may hold, not encoding/json's "Go value of type
// main.standardizeRequest".
func TestServeNamesRequestShapes(t *testing.T) {
	base := testSidecar(t)
	for body, want := range map[string]string{
		`[[1,2,3]]`:            `body: a JSON array; want {"rows": [{"feature": value, ...}, ...]} or {"columns"`,
		`{"rows":{"zeta":1}}`:  `body: "rows" is a JSON object; want {"rows"`,
		`{"rows":[{"zeta":1}]`: `body: unexpected EOF`,
	} {
		postRaw(t, base+"/v1/standardize", body, http.StatusBadRequest, want)
	}
}

// postRaw posts the JSON text body and wants status and an answer (its
// "error" when it has one) containing want.
func postRaw(t *testing.T, url, body string, status int, want string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	text := string(got)
	var e struct{ Error string }
	if json.Unmarshal(got, &e) == nil && e.Error != "" {
		text = e.Error
	}
	if resp.StatusCode != status || !strings.Contains(text, want) {
		t.Errorf("POST %s: %d %s; want %d containing %q", body, resp.StatusCode, got, status, want)
	}
}

// waitHealthy polls url until it answers 200; it fails if serve exits first.
func waitHealthy(t *testing.T, url string, done chan int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d before serving", code)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatal("serve never became healthy")
}

// postJSON posts body and decodes the answer into out, wanting status.
func postJSON(t *testing.T, url string, body any, status int, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("POST %s: status %d, want %d", url, resp.StatusCode, status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// assertMetricMean checks /metrics' running mean of age against the mean of
// the values sent (twice: once as rows, once as columns).
func assertMetricMean(t *testing.T, url string, ages []float64) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var text bytes.Buffer
	text.ReadFrom(resp.Body)
	var sum float64
	for _, a := range ages {
		sum += a
	}
	want := sum / float64(len(ages))
	prefix := `normreg_feature_raw_mean{feature="age"} `
	for _, line := range strings.Split(text.String(), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			got, err := strconv.ParseFloat(v, 64)
			if err != nil || (got-want)/want > 1e-12 || (want-got)/want > 1e-12 {
				t.Errorf("metric %s, want %v", line, want)
			}
			if !strings.Contains(text.String(), fmt.Sprintf("normreg_rows_total %d\n", 2*len(ages))) {
				t.Errorf("rows total wrong:\n%s", text.String())
			}
			return
		}
	}
	t.Fatalf("no %s in /metrics:\n%s", prefix, text.String())
}

// BenchmarkServeRow100 posts one row of 100 features to the sidecar over
// loopback HTTP and reports the p50 and p99 latency (the target:
// p99 under 1 ms). Run: go test -run '^$' -bench ServeRow100 ./cmd/regctl
func BenchmarkServeRow100(b *testing.B) {
	st := &artifact.Standardizer{}
	row := map[string]float64{}
	for i := range 100 {
		f := "f" + strconv.Itoa(i)
		st.Features, st.Mean, st.Scale = append(st.Features, f), append(st.Mean, float64(i)), append(st.Scale, 1+float64(i)/10)
		st.TrainMean, st.TrainStd = st.Mean, st.Scale
		row[f] = float64(i) * 1.5
	}
	srv := httptest.NewServer(newSidecar(st).routes())
	defer srv.Close()
	body, _ := json.Marshal(map[string]any{"rows": []map[string]float64{row}})
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		resp, err := srv.Client().Post(srv.URL+"/v1/standardize", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// TestAppendJSONFloat: the answers' numbers are written as encoding/json
// writes them, across its switch between plain and exponent forms; NaN and
// Inf, which JSON lacks, are an error.
func TestAppendJSONFloat(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, -2.5, 1e-6, 9.99e-7, 1e-7, -1.5e-7, 5e-324, 1e20, 1e21, -1.234e25, 123456789.123, math.MaxFloat64} {
		want, _ := json.Marshal(f)
		if got, err := appendJSON([]byte("x"), f); err != nil || string(got) != "x"+string(want) {
			t.Errorf("appendJSON(%v) = %s, %v; want x%s", f, got, err, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if _, err := appendJSON(nil, f); err == nil {
			t.Errorf("appendJSON(%v): no error", f)
		}
	}
	if got, err := appendJSON(nil, []float64{1, 2}); err != nil || string(got) != "[1,2]" {
		t.Errorf("appendJSON of a column = %s, %v", got, err)
	}
}
