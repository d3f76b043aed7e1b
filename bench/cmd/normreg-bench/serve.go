package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serveFeatures is the row width of the sidecar load (issue 7's target:
// one row of 100 features answers in under 1 ms at p99 on loopback).
const serveFeatures = 100

// Bounds of the sidecar load: warm-up requests not recorded, then requests
// one after another until serveDuration or serveMaxRequests.
const (
	serveWarmup      = 200
	serveDuration    = 3 * time.Second
	serveMaxRequests = 50000
)

// serveGroup pushes a bundle of serveFeatures features to a fresh normreg
// (fs), starts `regctl serve` on it and sends single-row POST
// /v1/standardize requests at concurrency 1.
func (b *bench) serveGroup(ctx context.Context) error {
	dir := filepath.Join(b.work, "serve-in")
	f, err := genWideBundle(dir, serveFeatures)
	if err != nil {
		return err
	}
	reg, ref, err := b.pushedTo(ctx, b.startNormregFS, f, "bench/wide")
	if err != nil {
		return err
	}
	defer reg.stop()
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	sidecar, err := startServer(ctx, "regctl-serve", addr, "/healthz", dir, nil, b.regctl, "serve", ref, "--listen", addr)
	if err != nil {
		return err
	}
	defer sidecar.stop()
	sidecar.resetPeak()
	lat, elapsed, err := postLoop(ctx, "http://"+addr+"/v1/standardize", wideRow(serveFeatures))
	if err != nil {
		return err
	}
	b.addLatency(latencyRows{key: "serve/row100/c1/regctl-serve", group: "serve c=1", name: "regctl serve, 1 row × 100 features:"},
		lat, elapsed, sidecar.peakMiB())
	return nil
}

// wideRow is a POST /v1/standardize body of one row of n features f0..f(n-1).
func wideRow(n int) []byte {
	row := make(map[string]float64, n)
	for i := range n {
		row["f"+strconv.Itoa(i)] = float64(i) * 1.5
	}
	body, _ := json.Marshal(map[string]any{"rows": []map[string]float64{row}})
	return body
}

// postLoop posts body to url one request after another (after serveWarmup
// unrecorded ones) until serveDuration or serveMaxRequests, and returns
// every latency and the time the recorded requests took; any answer but
// 200 is an error.
func postLoop(ctx context.Context, url string, body []byte) ([]time.Duration, time.Duration, error) {
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	lat := make([]time.Duration, 0, serveMaxRequests)
	var start time.Time
	for i := 0; i < serveWarmup+serveMaxRequests; i++ {
		if i == serveWarmup {
			start = time.Now()
		}
		if i > serveWarmup && time.Since(start) > serveDuration {
			break
		}
		t0 := time.Now()
		if err := post(ctx, hc, url, body); err != nil {
			return nil, 0, err
		}
		if i >= serveWarmup {
			lat = append(lat, time.Since(t0))
		}
	}
	return lat, time.Since(start), nil
}

// post sends one POST of JSON body to url and reads the whole answer.
func post(ctx context.Context, hc *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

// genWideBundle writes into dir a bundle whose model takes n features
// f0..f(n-1): one F32 tensor dense.weight [1, n] (no BatchNorm) and a
// StandardScaler fitted on them.
func genWideBundle(dir string, n int) (bundleFiles, error) {
	f := bundleFiles{weights: filepath.Join(dir, "weights.safetensors"), scaler: filepath.Join(dir, "scaler.json")}
	names := make([]string, n)
	mean, scale, variance := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		names[i], mean[i], scale[i] = "f"+strconv.Itoa(i), float64(i), 1+float64(i)/10
		variance[i] = scale[i] * scale[i]
	}
	scaler, err := json.Marshal(map[string]any{"mean_": mean, "scale_": scale, "var_": variance,
		"n_samples_seen_": 1000, "n_features_in_": n, "feature_names_in_": names, "with_mean": true, "with_std": true})
	if err != nil {
		return f, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return f, err
	}
	if err := os.WriteFile(f.scaler, scaler, 0o644); err != nil {
		return f, err
	}
	header := map[string]json.RawMessage{}
	header["__metadata__"], _ = json.Marshal(map[string]string{"normreg.mode": "eval",
		"normreg.features": strings.Join(names, ","), "normreg.input_tensor": "dense.weight"})
	header["dense.weight"], _ = json.Marshal(map[string]any{"dtype": "F32", "shape": []int{1, n}, "data_offsets": []int{0, 4 * n}})
	data := make([]byte, 4*n)
	for i := range n {
		bits := math.Float32bits(0.01 * float32(i))
		data[4*i], data[4*i+1], data[4*i+2], data[4*i+3] = byte(bits), byte(bits>>8), byte(bits>>16), byte(bits>>24)
	}
	f.size, err = writeSafetensors(f.weights, header, data, 0, 0)
	return f, err
}

// latencyRows names the p50, p99 and req/s rows of one latency run; bases
// (optional) are the key prefixes of the rows they are compared with.
type latencyRows struct {
	key, group, name string
	bases            []string
}

// addLatency records p50, p99 and req/s of the latencies lat, taken over elapsed.
func (b *bench) addLatency(r latencyRows, lat []time.Duration, elapsed time.Duration, rss float64) {
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(quantile(lat, p)) / 1e6 }
	bases := func(m string) []string {
		var out []string
		for _, base := range r.bases {
			out = append(out, base+"/"+m)
		}
		return out
	}
	b.rep.add(Row{Key: r.key + "/p50", Group: r.group, Name: r.name + " p50", Value: q(0.50), Unit: "ms", Bases: bases("p50")})
	b.rep.add(Row{Key: r.key + "/p99", Group: r.group, Name: r.name + " p99", Value: q(0.99), Unit: "ms", Bases: bases("p99")})
	b.rep.add(Row{Key: r.key + "/rps", Group: r.group, Name: r.name + " req/s", Value: float64(len(lat)) / elapsed.Seconds(),
		Unit: "req/s", Bases: bases("rps"), ServerRSSMiB: rss})
}
