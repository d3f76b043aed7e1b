package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// resolveDuration is how long each concurrency level of the tag-resolve load runs.
const resolveDuration = 3 * time.Second

// resolveGroup measures HEAD manifest by tag on normreg (fs) and
// distribution at 1, 8 and 32 concurrent clients.
func (b *bench) resolveGroup(ctx context.Context) error {
	small, err := genBundle(b.root, b.work+"/small", 1<<20, 1)
	if err != nil {
		return err
	}
	for _, s := range []serverStarter{{"normreg-fs", b.startNormregFS}, {"distribution", b.startDistribution}} {
		if err := b.resolveOn(ctx, s, small); err != nil {
			return err
		}
	}
	return nil
}

// resolveOn pushes a small bundle to a fresh s and runs the load against its tag.
func (b *bench) resolveOn(ctx context.Context, s serverStarter, f bundleFiles) error {
	srv, err := s.start(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	if _, err := runTimed(ctx, "", nil, b.clients()[0].push(srv.addr+"/bench/model:v1", f)...); err != nil {
		return err
	}
	url := "http://" + srv.addr + "/v2/bench/model/manifests/v1"
	for _, n := range []int{1, 8, 32} {
		srv.resetPeak()
		lat, err := hammer(ctx, url, n, resolveDuration)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		b.addResolve(s.name, n, lat, srv.peakMiB())
	}
	return nil
}

// addResolve records p50, p99 and req/s of one load run.
func (b *bench) addResolve(server string, n int, lat []time.Duration, rss float64) {
	r := latencyRows{key: fmt.Sprintf("resolve/c%d/%s", n, server), group: fmt.Sprintf("resolve c=%d", n), name: server}
	if server != "distribution" {
		r.bases = []string{fmt.Sprintf("resolve/c%d/distribution", n)}
	}
	b.addLatency(r, lat, resolveDuration, rss)
}

// resolveLoad parses resolve's flags, runs the load against -url and
// prints p50, p99 and req/s.
func resolveLoad(ctx context.Context, args []string) error {
	fl := flag.NewFlagSet("resolve", flag.ContinueOnError)
	url := fl.String("url", "", "manifest URL to HEAD, e.g. http://127.0.0.1:5000/v2/bench/model/manifests/v1")
	n := fl.Int("c", 32, "concurrent clients")
	d := fl.Duration("d", resolveDuration, "how long the load runs")
	if err := fl.Parse(args); err != nil {
		return err
	}
	lat, err := hammer(ctx, *url, *n, *d)
	if err != nil {
		return err
	}
	slices.Sort(lat)
	fmt.Printf("c=%d p50 %v p99 %v %.0f req/s\n", *n, quantile(lat, 0.50), quantile(lat, 0.99), float64(len(lat))/d.Seconds())
	return nil
}

// quantile is the p-quantile (0..1) of the sorted latencies lat.
func quantile(lat []time.Duration, p float64) time.Duration {
	return lat[int(p*float64(len(lat)-1))]
}

// hammer sends HEAD url from n goroutines for d and returns every latency;
// any answer but 200 is an error.
func hammer(ctx context.Context, url string, n int, d time.Duration) ([]time.Duration, error) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(d)
	var (
		mu    sync.Mutex
		all   []time.Duration
		first error
		wg    sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			lat, err := headLoop(ctx, hc, url, deadline)
			mu.Lock()
			defer mu.Unlock()
			all = append(all, lat...)
			if first == nil {
				first = err
			}
		})
	}
	wg.Wait()
	return all, first
}

// headLoop sends HEAD url one after another until deadline.
func headLoop(ctx context.Context, hc *http.Client, url string, deadline time.Time) ([]time.Duration, error) {
	var lat []time.Duration
	for time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
		if err != nil {
			return lat, err
		}
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return lat, err
		}
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if resp.StatusCode != http.StatusOK {
			return lat, fmt.Errorf("HEAD %s: %s", url, resp.Status)
		}
	}
	return lat, nil
}
