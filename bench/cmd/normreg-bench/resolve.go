package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
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

// resolveOn pushes a small bundle to a fresh s and runs the load against
// its tag. With two CPUs or more, the server is pinned to CPU 0 and the load
// generator, a child process, to CPU 1, as if on two machines: otherwise the
// tail latency measures the kernel scheduling two busy processes on shared
// cores more than the server.
func (b *bench) resolveOn(ctx context.Context, s serverStarter, f bundleFiles) error {
	srv, _, err := b.pushedTo(ctx, s.start, f, "bench/model")
	if err != nil {
		return err
	}
	defer srv.stop()
	pin := runtime.NumCPU() >= 2
	if pin {
		if _, err := runTimed(ctx, "", nil, "taskset", "-a", "-p", "-c", "0", strconv.Itoa(srv.cmd.Process.Pid)); err != nil {
			return err
		}
	}
	url := "http://" + srv.addr + "/v2/bench/model/manifests/v1"
	for _, n := range []int{1, 8, 32} {
		srv.resetPeak()
		lat, err := b.load(ctx, url, n, pin)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		b.addResolve(s.name, n, pin, lat, srv.peakMiB())
	}
	return nil
}

// load runs `normreg-bench resolve` against url with n clients for
// resolveDuration (on CPU 1 when pin) and returns its latencies.
func (b *bench) load(ctx context.Context, url string, n int, pin bool) ([]time.Duration, error) {
	file := filepath.Join(b.work, "latencies")
	defer os.Remove(file)
	argv := []string{b.self, "resolve", "-url", url, "-c", strconv.Itoa(n), "-d", resolveDuration.String(), "-lat", file}
	if pin {
		argv = append([]string{"taskset", "-c", "1"}, argv...)
	}
	if _, err := runTimed(ctx, "", nil, argv...); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var lat []time.Duration
	for f := range strings.FieldsSeq(string(raw)) {
		ns, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		lat = append(lat, time.Duration(ns))
	}
	return lat, nil
}

// addResolve records p50, p99 and req/s of one load run; its group says
// "pinned" when server and load ran on separate CPUs.
func (b *bench) addResolve(server string, n int, pinned bool, lat []time.Duration, rss float64) {
	group := fmt.Sprintf("resolve c=%d", n)
	if pinned {
		group += " pinned"
	}
	r := latencyRows{key: fmt.Sprintf("resolve/c%d/%s", n, server), group: group, name: server}
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
	latFile := fl.String("lat", "", "also write every latency, in nanoseconds, one a line, to this file")
	if err := fl.Parse(args); err != nil {
		return err
	}
	lat, err := hammer(ctx, *url, *n, *d)
	if err != nil {
		return err
	}
	slices.Sort(lat)
	if *latFile != "" {
		if err := writeLatencies(*latFile, lat); err != nil {
			return err
		}
	}
	fmt.Printf("c=%d p50 %v p99 %v %.0f req/s\n", *n, quantile(lat, 0.50), quantile(lat, 0.99), float64(len(lat))/d.Seconds())
	return nil
}

// writeLatencies writes lat to file in nanoseconds, one a line.
func writeLatencies(file string, lat []time.Duration) error {
	var buf bytes.Buffer
	for _, l := range lat {
		buf.WriteString(strconv.FormatInt(int64(l), 10))
		buf.WriteByte('\n')
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

// quantile is the p-quantile (0..1) of the sorted latencies lat.
func quantile(lat []time.Duration, p float64) time.Duration {
	return lat[int(p*float64(len(lat)-1))]
}

// hammer sends HEAD rawURL from n connections for d and returns every
// latency; any answer but 200 is an error.
func hammer(ctx context.Context, rawURL string, n int, d time.Duration) ([]time.Duration, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("-url %q: want http://host:port/path", rawURL)
	}
	deadline := time.Now().Add(d)
	var (
		mu    sync.Mutex
		all   []time.Duration
		first error
		wg    sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			lat, err := headLoop(ctx, u, deadline)
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

// headLoop sends HEAD u over one keep-alive connection, one request after
// another, until deadline. It speaks HTTP/1.1 itself (a request is one
// write; the answer is its header up to the blank line, as HEAD has no
// body) so that the load generator takes little of the CPU it shares with
// the registry: net/http's client cost about 28 µs of CPU a request here.
func headLoop(ctx context.Context, u *url.URL, deadline time.Time) ([]time.Duration, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(deadline.Add(10 * time.Second))
	req := []byte("HEAD " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nAccept: application/vnd.oci.image.manifest.v1+json\r\n\r\n")
	br := bufio.NewReader(conn)
	var lat []time.Duration
	for time.Now().Before(deadline) {
		start := time.Now()
		if _, err := conn.Write(req); err != nil {
			return lat, err
		}
		status, err := readHead(br)
		if err != nil {
			return lat, fmt.Errorf("HEAD %s: %w", u, err)
		}
		lat = append(lat, time.Since(start))
		if status != "200" {
			return lat, fmt.Errorf("HEAD %s: status %s", u, status)
		}
	}
	return lat, nil
}

// readHead reads one HTTP/1.1 response header up to its blank line and
// returns the status code.
func readHead(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return "", err
	}
	rest, ok := bytes.CutPrefix(line, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 3 {
		return "", fmt.Errorf("not an HTTP/1.1 status line: %q", line)
	}
	status := string(rest[:3])
	for {
		if line, err = br.ReadSlice('\n'); err != nil {
			return "", err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return status, nil
		}
	}
}
