package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	if err := b.settle(f.size); err != nil {
		return err
	}
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

// turn is s in round's turn: from element round (mod len(s)) on, then
// the ones before it. Rows that would otherwise always run in one order
// take turns at going first, round by round (see matrix).
func turn[T any](s []T, round int) []T {
	first := round % len(s)
	return slices.Concat(s[first:], s[:first])
}

// serverStarter starts a fresh registry with its own empty storage.
type serverStarter struct {
	name  string
	start func(ctx context.Context) (*server, error)
}

// matrix pushes and pulls the bundle with each client against a fresh
// normreg (fs) and a fresh distribution. The four pairs take turns at
// going first: round r starts with pair r (mod 4) and keeps their order.
// A pair's times depend on where it runs: memory freed by the pair before
// it (its registry's storage, its pulled files) is cheap to take again,
// while memory the kernel has given back to this VM's host costs up to ~2 s
// per GiB written (bench/RESULTS.md); without the turns the first pair
// would always find the least freed memory and the last the most.
func (b *bench) matrix(ctx context.Context, label string, f bundleFiles, round int) error {
	type pair struct {
		c client
		s serverStarter
	}
	var pairs []pair
	for _, c := range b.clients() {
		for _, s := range []serverStarter{{"normreg-fs", b.startNormregFS}, {"distribution", b.startDistribution}} {
			pairs = append(pairs, pair{c, s})
		}
	}
	for _, p := range turn(pairs, round) {
		if err := b.pushPull(ctx, label, p.c, p.s, f); err != nil {
			return err
		}
	}
	return nil
}

// pushPull pushes f with c to a fresh server s, pulls it back and records
// both. regctl pushes with an empty digest cache; for regctl→normreg-fs a
// second push, to another fresh server, shows the push with the digest cached.
func (b *bench) pushPull(ctx context.Context, label string, c client, s serverStarter, f bundleFiles) error {
	srv, err := s.start(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	ref := srv.addr + "/bench/model:v1"
	pair := c.name + "→" + s.name
	base := "oras→distribution"
	cache := b.coldCache()
	push := step{key: label + "/push/" + pair, group: label, name: "push " + pair, dir: filepath.Dir(f.weights), env: cache, argv: c.push(ref, f)}
	if err := b.measure(ctx, srv, f, push); err != nil {
		return err
	}
	b.rep.Rows[len(b.rep.Rows)-1].Bases = bases(pair, label+"/push/", base)
	out := filepath.Join(b.work, "pulled")
	if err := b.measure(ctx, srv, f, step{key: label + "/pull/" + pair, group: label, name: "pull " + pair, argv: c.pull(ref, out), out: out}); err != nil {
		return err
	}
	b.rep.Rows[len(b.rep.Rows)-1].Bases = bases(pair, label+"/pull/", base)
	if pair != "regctl→normreg-fs" {
		return nil
	}
	direct := step{key: label + "/pull/" + pair + "-direct", group: label, name: "pull " + pair + " (--direct)", argv: append(c.pull(ref, out), "--direct"), out: out}
	if err := b.measure(ctx, srv, f, direct); err != nil {
		return err
	}
	b.rep.Rows[len(b.rep.Rows)-1].Bases = []string{label + "/pull/" + base}
	srv.stop() // the next server starts on the same, emptied directory
	return b.warmPush(ctx, s, c, f, push, []string{label + "/push/" + base, label + "/floor/push"})
}

// warmPush repeats push, c's push of f whose env holds the digest cache it
// filled, to a fresh server s as the row "KEY-cached", compared with bases.
func (b *bench) warmPush(ctx context.Context, s serverStarter, c client, f bundleFiles, push step, bases []string) error {
	srv, err := s.start(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	push.key += "-cached"
	push.name += " (digest cached)"
	push.argv = c.push(srv.addr+"/bench/model:v1", f)
	if err := b.measure(ctx, srv, f, push); err != nil {
		return err
	}
	b.rep.Rows[len(b.rep.Rows)-1].Bases = bases
	return nil
}

// bases is the row compared with, unless pair is itself the baseline.
func bases(pair, prefix, base string) []string {
	if pair == base {
		return nil
	}
	return []string{prefix + base}
}

// step is one measured command: the row it fills and how it runs.
type step struct {
	key, group, name string
	dir              string   // working directory ("" for the bench's)
	env              []string // extra environment; nil: a fresh, empty digest cache for regctl
	argv             []string
	// out is what the command writes (a file or directory), removed right
	// after, so the page cache does not grow by a copy of the weights with
	// every download (see bench/RESULTS.md on what new memory costs here).
	out string
}

// measure runs s against srv, after settle so that every row starts from
// the same memory state, and records its time, MB/s and both peak RSS.
func (b *bench) measure(ctx context.Context, srv *server, f bundleFiles, s step) error {
	if err := b.settle(f.size); err != nil {
		return err
	}
	if s.env == nil {
		s.env = b.coldCache()
	}
	if err := srv.resetPeak(); err != nil {
		return err
	}
	t, err := runTimed(ctx, s.dir, s.env, s.argv...)
	if s.out != "" {
		os.RemoveAll(s.out)
	}
	if err != nil {
		return err
	}
	b.rep.add(Row{Key: s.key, Group: s.group, Name: s.name, Value: t.seconds, Unit: "s", MBps: mbps(f.size, t.seconds),
		ServerRSSMiB: srv.peakMiB(), ClientRSSMiB: t.rssMiB})
	return nil
}

// settle writes every dirty page to disk (sync), so a row does not pay for
// the writeback of the one before, and with -warm (the default) warms
// twice (plus an eighth) the memory a row writing size bytes takes into the
// page cache: on the VM of bench/RESULTS.md a 4 GiB pull after warming 4.5
// GiB still ran onto cold memory from its third GiB on (change 27).
func (b *bench) settle(size int64) error {
	if _, err := runTimed(context.Background(), "", nil, "sync"); err != nil {
		return err
	}
	if !b.warm {
		return nil
	}
	// In a child of its own: a process's peak RSS (the rows' client RSS)
	// is inherited by the children it starts after it.
	_, err := runTimed(context.Background(), "", nil, b.self, "warm", strconv.FormatInt(2*size+size/8, 10))
	return err
}

// coldCache is the environment of a regctl that has never hashed the
// bench's files: XDG_CACHE_HOME at a new, empty directory.
func (b *bench) coldCache() []string {
	b.caches++
	return []string{"XDG_CACHE_HOME=" + filepath.Join(b.work, fmt.Sprintf("cache-%d", b.caches))}
}

// pushedTo starts a fresh registry with start and pushes f to it with
// regctl as REPO:v1; it returns the server, which the caller stops, and the
// reference pushed.
func (b *bench) pushedTo(ctx context.Context, start func(context.Context) (*server, error), f bundleFiles, repo string) (*server, string, error) {
	srv, err := start(ctx)
	if err != nil {
		return nil, "", err
	}
	ref := srv.addr + "/" + repo + ":v1"
	if _, err := runTimed(ctx, "", nil, b.clients()[0].push(ref, f)...); err != nil {
		srv.stop()
		return nil, "", err
	}
	return srv, ref, nil
}

// startNormregFS starts normreg's registry on a fresh storage/fs directory.
func (b *bench) startNormregFS(ctx context.Context) (*server, error) {
	return b.startNormreg(ctx, "normreg-fs", func(dir string) string { return "file://" + dir })
}

// startNormregS3 starts normreg's registry on the S3 bucket's bench prefix
// (emptied by s3Clean), handing blob downloads to S3 (--s3-redirect).
func (b *bench) startNormregS3(ctx context.Context) (*server, error) {
	return b.startNormreg(ctx, "normreg-s3", b.s3Storage, "--s3-redirect")
}

// startNormregS3Proxy starts a second registry on the same S3 prefix that
// streams blob downloads through itself (no --s3-redirect).
func (b *bench) startNormregS3Proxy(ctx context.Context) (*server, error) {
	return b.startNormreg(ctx, "normreg-s3-proxy", b.s3Storage)
}

// startNormregS3Single starts a registry on a prefix of its own (below
// normregPrefix's name, so s3Clean empties it) that streams a pushed blob
// up to 5 GiB as one PutObject (single-put-max, the README's setting for S3
// servers that keep objects as files, such as versitygw).
func (b *bench) startNormregS3Single(ctx context.Context) (*server, error) {
	return b.startNormreg(ctx, "normreg-s3-single", func(string) string {
		return b.s3StorageAt(normregPrefix+"-single", fmt.Sprintf("&single-put-max=%d", int64(5<<30)))
	})
}

// s3Storage is the --storage URL of normreg on the bench's S3 prefix.
func (b *bench) s3Storage(string) string { return b.s3StorageAt(normregPrefix, "") }

// s3StorageAt is the --storage URL of normreg on the bucket's prefix, with
// the query parameters extra ("&name=value..." or "") added.
func (b *bench) s3StorageAt(prefix, extra string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=%s%s", b.s3.bucket, prefix, b.s3.endpoint, b.s3.region, extra)
}

// startNormreg starts normreg's registry with the storage URL storage(dir)
// and extra flags, logging errors only (as distribution is configured).
func (b *bench) startNormreg(ctx context.Context, name string, storage func(dir string) string, extra ...string) (*server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.work, name)
	argv := append([]string{b.registry, "--listen", addr, "--storage", storage(dir), "--log-level", "error"}, extra...)
	return startServer(ctx, name, addr, "/v2/", dir, nil, argv...)
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
