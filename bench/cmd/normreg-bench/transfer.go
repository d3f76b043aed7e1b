package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// OCI media types the bench pushes with.
const (
	orasArtifactType = "application/vnd.normreg.bench.v1"
	weightsType      = "application/vnd.normreg.weights.v1.safetensors"
	scalerType       = "application/vnd.normreg.scaler.v1+json"
)

// mbps is size bytes over seconds, in MB/s (10^6).
func mbps(size int64, seconds float64) float64 { return float64(size) / seconds / 1e6 }

// floor measures one sha256 pass plus a plain copy (cp, then sync) of the
// weights on the same disk: the least any verified transfer can cost.
func (b *bench) floor(label string, f bundleFiles) error {
	start := time.Now()
	in, err := os.Open(f.weights)
	if err != nil {
		return err
	}
	_, err = io.Copy(sha256.New(), in)
	in.Close()
	if err != nil {
		return err
	}
	hash := time.Since(start).Seconds()
	cp := filepath.Join(b.work, "floor-copy")
	defer os.Remove(cp)
	t, err := runTimed(context.Background(), "", nil, "sh", "-c", `cp "$0" "$1" && sync "$1"`, f.weights, cp)
	if err != nil {
		return err
	}
	for _, dir := range []string{"push", "pull"} {
		b.rep.add(Row{Key: label + "/floor/" + dir, Group: label, Name: "floor: sha256 + cp (for " + dir + ")",
			Value: hash + t.seconds, Unit: "s", MBps: mbps(f.size, hash+t.seconds),
			Bases: []string{label + "/" + dir + "/regctl→normreg-fs"}})
	}
	return nil
}

// client is one OCI client's push and pull command lines.
type client struct {
	name string
	push func(ref string, f bundleFiles) []string
	pull func(ref, out string) []string
}

// clients are regctl and oras.
func (b *bench) clients() []client {
	oras := filepath.Join(b.tools, "oras")
	return []client{
		{name: "regctl",
			push: func(ref string, f bundleFiles) []string {
				return append([]string{b.regctl, "push", ref}, f.pushArgs(f.scaler)...)
			},
			pull: func(ref, out string) []string { return []string{b.regctl, "pull", ref, "-o", out} }},
		{name: "oras",
			push: func(ref string, f bundleFiles) []string {
				return []string{oras, "push", "--plain-http", ref, "--artifact-type", orasArtifactType,
					filepath.Base(f.weights) + ":" + weightsType, filepath.Base(f.scaler) + ":" + scalerType}
			},
			pull: func(ref, out string) []string { return []string{oras, "pull", "--plain-http", ref, "-o", out} }},
	}
}

// serverStarter starts a fresh registry with its own empty storage.
type serverStarter struct {
	name  string
	start func(ctx context.Context) (*server, error)
}

// matrix pushes and pulls the bundle with each client against a fresh
// normreg (fs) and a fresh distribution.
func (b *bench) matrix(ctx context.Context, label string, f bundleFiles) error {
	servers := []serverStarter{{"normreg-fs", b.startNormregFS}, {"distribution", b.startDistribution}}
	for _, c := range b.clients() {
		for _, s := range servers {
			if err := b.pushPull(ctx, label, c, s, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// pushPull pushes f with c to a fresh server s, pulls it back and records both.
func (b *bench) pushPull(ctx context.Context, label string, c client, s serverStarter, f bundleFiles) error {
	srv, err := s.start(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	ref := srv.addr + "/bench/model:v1"
	pair := c.name + "→" + s.name
	base := "oras→distribution"
	if err := b.measure(ctx, srv, label+"/push/"+pair, label, "push "+pair, f, filepath.Dir(f.weights), c.push(ref, f)); err != nil {
		return err
	}
	b.rep.Rows[len(b.rep.Rows)-1].Bases = bases(pair, label+"/push/", base)
	out := filepath.Join(b.work, "pulled")
	defer os.RemoveAll(out)
	if err := b.measure(ctx, srv, label+"/pull/"+pair, label, "pull "+pair, f, "", c.pull(ref, out)); err != nil {
		return err
	}
	b.rep.Rows[len(b.rep.Rows)-1].Bases = bases(pair, label+"/pull/", base)
	return nil
}

// bases is the row compared with, unless pair is itself the baseline.
func bases(pair, prefix, base string) []string {
	if pair == base {
		return nil
	}
	return []string{prefix + base}
}

// measure runs argv in dir against srv and records its time, MB/s and both peak RSS.
func (b *bench) measure(ctx context.Context, srv *server, key, group, name string, f bundleFiles, dir string, argv []string) error {
	if err := srv.resetPeak(); err != nil {
		return err
	}
	t, err := runTimed(ctx, dir, nil, argv...)
	if err != nil {
		return err
	}
	b.rep.add(Row{Key: key, Group: group, Name: name, Value: t.seconds, Unit: "s", MBps: mbps(f.size, t.seconds),
		ServerRSSMiB: srv.peakMiB(), ClientRSSMiB: t.rssMiB})
	return nil
}

// startNormregFS starts normreg's registry on a fresh storage/fs directory.
func (b *bench) startNormregFS(ctx context.Context) (*server, error) {
	return b.startNormreg(ctx, "normreg-fs", func(dir string) string { return "file://" + dir })
}

// startNormregS3 starts normreg's registry on a fresh prefix of the S3 bucket.
func (b *bench) startNormregS3(ctx context.Context) (*server, error) {
	return b.startNormreg(ctx, "normreg-s3", func(string) string {
		return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=%s", b.s3.bucket, normregPrefix, b.s3.endpoint, b.s3.region)
	})
}

// startNormreg starts normreg's registry with the storage URL storage(dir).
func (b *bench) startNormreg(ctx context.Context, name string, storage func(dir string) string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.work, name)
	return startServer(ctx, name, addr, "/v2/", dir, nil, b.registry, "--listen", addr, "--storage", storage(dir))
}

// startDistribution starts CNCF distribution on a fresh filesystem directory.
func (b *bench) startDistribution(ctx context.Context) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.work, "distribution")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(b.work, "distribution.yml")
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"+
		"storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", dir, addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return startServer(ctx, "distribution", addr, "/v2/", dir, nil, filepath.Join(b.tools, "distribution"), "serve", cfg)
}
