package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/manifest/bundletest"
)

// weightsSize is about the size of bigBundle's weights: large enough that
// reading them whole stands out from reading their header.
const weightsSize = 4 << 20

// bigBundle writes a bundle's files into a temp dir: weights with a 3-wide
// input layer and a 4 MiB layer, a scaler fitted on the 3 features and the
// feature file. It returns push's options for them, with env as the environment.
func bigBundle(t *testing.T, env map[string]string) pushOptions {
	dir := t.TempDir()
	features := []string{"age", "income", "tenure"}
	w := bundletest.Safetensors(nil, append(bundletest.Linear("net.0", 4, 3), bundletest.Linear("net.2", 1024, 1024)...)...)
	files := map[string][]byte{
		"weights.safetensors": w,
		"scaler.json":         bundletest.Scaler(features, []float64{40, 52000, 6}, []float64{144, 1e8, 16}, 1000),
		"features.txt":        []byte(strings.Join(features, "\n")),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := newGlobalOptions(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, func(k string) string { return env[k] }, false)
	return pushOptions{g: g, weights: filepath.Join(dir, "weights.safetensors"), scaler: filepath.Join(dir, "scaler.json"),
		mode: "eval", features: filepath.Join(dir, "features.txt"), inputTensor: "net.0.weight", inputAxis: 1, labels: labelFlag{}}
}

// args are opts as regctl push arguments, for ref.
func (opts pushOptions) args(ref string) []string {
	args := []string{"push", ref, "--weights", opts.weights, "--mode", opts.mode, "--features", opts.features, "--input-tensor", opts.inputTensor}
	if opts.scaler != "" {
		args = append(args, "--scaler", opts.scaler)
	}
	return args
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r    io.ReaderAt
	read int64
}

// ReadAt implements io.ReaderAt.
func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read += int64(n)
	return n, err
}

// pushCounting pushes opts to ref (host/repo:tag) as runPush does, counting
// the weights bytes read. It returns the bundle's digest and that count.
func pushCounting(t *testing.T, opts pushOptions, ref string) (artifact.Digest, int64) {
	t.Helper()
	ctx := context.Background()
	r, c, err := opts.g.connect(ref)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(opts.weights)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := newPusher(ctx, opts, r, c, f)
	if err != nil {
		t.Fatal(err)
	}
	counter := &countingReaderAt{r: p.w}
	p.w = counter
	d, err := p.push(ctx)
	if err != nil {
		t.Fatalf("push %s: %v\n%s", ref, err, opts.g.stderr)
	}
	return d, counter.read
}

// requireStreamed skips the test unless the registry at host advertises
// streamed uploads (client.StreamedUploadHeader).
func requireStreamed(t *testing.T, host string) {
	t.Helper()
	c := client.New(host, client.Options{})
	up, err := c.StartUpload(context.Background(), "probe/streamed")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CancelUpload(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	if !up.Streamed {
		t.Skipf("the registry does not answer %s yet", client.StreamedUploadHeader)
	}
}

// weightsDigest is the sha256 of the file at path.
func weightsDigest(t *testing.T, path string) artifact.Digest {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return artifact.FromBytes(artifact.SHA256, b)
}

// TestPushStreamsWeightsOnce: a cold push to a registry that hashes on
// receipt reads the weights file once, the registry stores the blob, the
// digest is cached, and the bundle pulls and verifies.
func TestPushStreamsWeightsOnce(t *testing.T) {
	host, root := registrytest.Normreg(t)
	requireStreamed(t, host)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts := bigBundle(t, env)
	d, read := pushCounting(t, opts, host+"/team/big:v1")
	st, _ := os.Stat(opts.weights)
	if read < st.Size() || read > st.Size()+st.Size()/4 {
		t.Fatalf("push read %d bytes of the %d-byte weights; want one pass", read, st.Size())
	}
	wd := weightsDigest(t, opts.weights)
	if stored := weightsDigest(t, filepath.Join(root, "blobs", "sha256", wd.Hex())); stored != wd {
		t.Fatalf("the registry stored %s for weights %s", stored, wd)
	}
	if got := cacheEntries(t, env); got != 1 {
		t.Fatalf("%d digest cache entries after a streamed push, want 1", got)
	}
	pinned := "team/big@" + d.String()
	regctl(t, env, "", "verify", pinned).must(t, exitOK, "verify")
	out := filepath.Join(t.TempDir(), "model")
	regctl(t, env, "", "pull", pinned, "-o", out).must(t, exitOK, "pull")
	if got := weightsDigest(t, filepath.Join(out, "weights.safetensors")); got != wd {
		t.Fatalf("pulled weights %s, pushed %s", got, wd)
	}
}

// cacheEntries counts the digest cache's entries.
func cacheEntries(t *testing.T, env map[string]string) int {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(env["XDG_CACHE_HOME"], "normreg", "digests"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(es)
}

// requestBytes is the request body bytes the normreg registry at host
// received, from its /metrics.
func requestBytes(t *testing.T, host string) int64 {
	t.Helper()
	resp, err := http.Get("http://" + host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum int64
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		line := sc.Text()
		if !strings.HasPrefix(line, "normreg_http_request_bytes_total{") {
			continue
		}
		n, err := strconv.ParseInt(line[strings.LastIndexByte(line, ' ')+1:], 10, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += n
	}
	return sum
}

// TestPushCachedDigestSendsNoWeights: once pushed, the same weights with
// another scaler are neither read whole nor sent; a file edited in place
// afterwards (same size) is read again and pushed with its new digest.
func TestPushCachedDigestSendsNoWeights(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts := bigBundle(t, env)
	pushCounting(t, opts, host+"/team/big:v1")
	refit := filepath.Join(filepath.Dir(opts.scaler), "refit.json")
	os.WriteFile(refit, bundletest.Scaler([]string{"age", "income", "tenure"}, []float64{41, 50000, 7}, []float64{150, 1e8, 17}, 900), 0o644)
	opts.scaler = refit
	before := requestBytes(t, host)
	_, read := pushCounting(t, opts, host+"/team/big:v2")
	if sent := requestBytes(t, host) - before; sent > weightsSize/4 || read > weightsSize/4 {
		t.Fatalf("the second version sent %d bytes and read %d of the weights; want neither near %d", sent, read, weightsSize)
	}
	noScaler := opts
	noScaler.scaler = ""
	r := regctl(t, env, "", noScaler.args(host+"/team/big:bad")...).must(t, exitRefused, "push of cached weights without a scaler")
	if want := "push to " + host + "/team/big:bad refused"; !strings.Contains(r.stderr, want) {
		t.Fatalf("refusal of a push with cached weights: stderr %q; want %q", r.stderr, want)
	}
	editInPlace(t, opts.weights)
	d, read := pushCounting(t, opts, host+"/team/big:v3")
	if read < weightsSize {
		t.Fatalf("after an edit push read %d bytes of the weights; want them read again", read)
	}
	r = regctl(t, env, "", "inspect", "team/big@"+d.String()).must(t, exitOK, "inspect")
	if wd := weightsDigest(t, opts.weights); !strings.Contains(r.stdout, wd.String()) {
		t.Fatalf("the bundle pushed after the edit does not name the new weights %s:\n%s", wd, r.stdout)
	}
}

// TestPushMountsFromAnotherRepository: a file pushed to one repository, or
// pulled from it, is pushed to another repository of the same registry
// without sending its weights (the digest cache names where it is, and the
// registry mounts the blob); the bundle pulls whole from there. A cache
// naming a repository that lacks the blob costs only the mount attempt:
// the weights are sent and the push succeeds.
func TestPushMountsFromAnotherRepository(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts := bigBundle(t, env)
	pushCounting(t, opts, host+"/team/big:v1")
	sendsNoWeights := func(opts pushOptions, ref string) {
		t.Helper()
		before := requestBytes(t, host)
		_, read := pushCounting(t, opts, ref)
		if sent := requestBytes(t, host) - before; sent > weightsSize/4 || read > weightsSize/4 {
			t.Fatalf("push to %s sent %d bytes and read %d of the weights; want neither near %d", ref, sent, read, weightsSize)
		}
		out := filepath.Join(t.TempDir(), "model")
		noCache := map[string]string{"REGCTL_REGISTRY": host, "REGCTL_DIGEST_CACHE": "off"}
		regctl(t, noCache, "", "pull", ref, "-o", out).must(t, exitOK, "pull "+ref)
		if got, want := weightsDigest(t, filepath.Join(out, "weights.safetensors")), weightsDigest(t, opts.weights); got != want {
			t.Fatalf("pulled %s from %s, pushed %s", got, ref, want)
		}
	}
	sendsNoWeights(opts, host+"/prod/big:v1")

	// Promotion: pull with a fresh cache, push the pulled files elsewhere.
	env2 := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	pulled := filepath.Join(t.TempDir(), "pulled")
	regctl(t, env2, "", "pull", "team/big:v1", "-o", pulled).must(t, exitOK, "pull")
	promoted := bigBundle(t, env2)
	promoted.weights, promoted.scaler = filepath.Join(pulled, "weights.safetensors"), filepath.Join(pulled, "scaler.json")
	sendsNoWeights(promoted, host+"/release/big:v1")

	entry := onlyCacheEntry(t, env)
	var e cacheEntry
	if b, err := os.ReadFile(entry); err != nil || json.Unmarshal(b, &e) != nil {
		t.Fatalf("cache entry %s: %v", entry, err)
	}
	if want := []string{host + "/prod/big", host + "/team/big"}; !slices.Equal(e.Repos[:min(2, len(e.Repos))], want) {
		t.Fatalf("cache entry names %v; want %v first", e.Repos, want)
	}
	// The latest source lacks the weights (or the token may not read it):
	// the next one mounts them.
	e.Repos = []string{host + "/ghost/none", host + "/team/big"}
	b, _ := json.Marshal(e)
	os.WriteFile(entry, b, 0o600)
	sendsNoWeights(opts, host+"/second/big:v1")
	e.Repos = []string{host + "/ghost/none"}
	b, _ = json.Marshal(e)
	os.WriteFile(entry, b, 0o600)
	before := requestBytes(t, host)
	pushCounting(t, opts, host+"/other/big:v1")
	if sent := requestBytes(t, host) - before; sent < weightsSize {
		t.Fatalf("push mounting from a repository without the weights sent %d bytes; want the weights sent", sent)
	}
}

// editInPlace changes the last byte of the file at path, keeping its size.
func editInPlace(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b := make([]byte, 1)
	f.ReadAt(b, st.Size()-1)
	if _, err := f.WriteAt([]byte{b[0] ^ 0xff}, st.Size()-1); err != nil {
		t.Fatal(err)
	}
}

// TestPushIgnoresBadCacheEntries: corrupt entries are ignored (the file is
// read again); an entry with a wrong digest gets DIGEST_INVALID from the
// registry, is dropped, and the push says the file changed.
func TestPushIgnoresBadCacheEntries(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts := bigBundle(t, env)
	pushCounting(t, opts, host+"/team/big:v1")
	entry := onlyCacheEntry(t, env)
	for _, bad := range []string{"{not json", `{"key": {}, "digest": "sha256:abc"}`, ""} {
		os.WriteFile(entry, []byte(bad), 0o600)
		if _, read := pushCounting(t, opts, host+"/team/big:v1"); read < weightsSize {
			t.Fatalf("with cache entry %q push read %d bytes; want the weights hashed again", bad, read)
		}
	}
	raw, _ := os.ReadFile(entry)
	wd := weightsDigest(t, opts.weights)
	wrong := artifact.FromBytes(artifact.SHA256, []byte("other weights"))
	os.WriteFile(entry, bytes.ReplaceAll(raw, []byte(wd), []byte(wrong)), 0o600)
	r := regctl(t, env, "", opts.args("team/big:v2")...).must(t, exitError, "push with a wrong cached digest")
	if !strings.Contains(r.stderr, "changed while pushing") {
		t.Fatalf("push with a wrong cached digest: stderr %q; want it to say the file changed", r.stderr)
	}
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Fatalf("the wrong cache entry is still there (%v)", err)
	}
}

// onlyCacheEntry returns the path of the digest cache's only entry.
func onlyCacheEntry(t *testing.T, env map[string]string) string {
	t.Helper()
	dir := filepath.Join(env["XDG_CACHE_HOME"], "normreg", "digests")
	es, err := os.ReadDir(dir)
	if err != nil || len(es) != 1 {
		t.Fatalf("digest cache holds %v (%v); want one entry", es, err)
	}
	return filepath.Join(dir, es[0].Name())
}

// TestPushDigestCacheOff: with REGCTL_DIGEST_CACHE=off nothing is cached and
// every push reads the weights.
func TestPushDigestCacheOff(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir(), "REGCTL_DIGEST_CACHE": "off"}
	opts := bigBundle(t, env)
	for _, tag := range []string{"v1", "v2"} {
		if _, read := pushCounting(t, opts, host+"/team/big:"+tag); read < weightsSize {
			t.Fatalf("push %s read %d bytes; want the weights read", tag, read)
		}
	}
	if n := cacheEntries(t, env); n != 0 {
		t.Fatalf("%d cache entries with REGCTL_DIGEST_CACHE=off", n)
	}
}

// TestPushUnwritableDigestCache: a cache that cannot be created (its
// directory's parent is a file) is no cache, and the push still succeeds.
func TestPushUnwritableDigestCache(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o600)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": notDir}
	opts := bigBundle(t, env)
	d := regctl(t, env, "", opts.args("team/big:v1")...).must(t, exitOK, "push with an unwritable cache").line()
	regctl(t, env, "", "verify", "team/big@"+d).must(t, exitOK, "verify")
}

// TestRefusedPushUploadsNothing: a bundle the checks refuse (no scaler)
// exits 3 before the registry holds any blob or upload session, and the
// refusal does not name the placeholder weights digest's bundle.
func TestRefusedPushUploadsNothing(t *testing.T) {
	host, root := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts := bigBundle(t, env)
	opts.scaler = ""
	r := regctl(t, env, "", opts.args("team/big:v1")...).must(t, exitRefused, "push without a scaler")
	if !strings.Contains(r.stderr, "refuse scaler-missing") || strings.Contains(r.stderr, "sha256:") {
		t.Fatalf("refused push: stderr %q; want scaler-missing and no digest", r.stderr)
	}
	if files := uploaded(root); len(files) != 0 {
		t.Fatalf("a refused push left %v in the registry", files)
	}
}

// uploaded lists the files under the blobs and uploads of an fs registry at root.
func uploaded(root string) []string {
	var files []string
	for _, dir := range []string{"blobs", "uploads"} {
		filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, path)
			}
			return nil
		})
	}
	return files
}

// TestPushUnreadableScaler: a --scaler file that is not a StandardScaler's
// attribute JSON (not JSON; JSON without the attributes) stops the push
// before anything is sent, exit 1, naming the file and what is wrong.
func TestPushUnreadableScaler(t *testing.T) {
	host, root := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts := bigBundle(t, env)
	for content, why := range map[string]string{`{"mean_": [1, 2`: "unexpected end of JSON input", `{}`: "none of mean_, scale_ and var_"} {
		if err := os.WriteFile(opts.scaler, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		r := regctl(t, env, "", opts.args("team/big:v1")...)
		if r.code != exitError || !strings.Contains(r.stderr, "--scaler "+opts.scaler+": unreadable scaler: ") || !strings.Contains(r.stderr, why) {
			t.Errorf("push with scaler %q: exit %d, stderr %q; want exit 1 naming the file and %q", content, r.code, r.stderr, why)
		}
	}
	if files := uploaded(root); len(files) != 0 {
		t.Fatalf("a push with an unreadable scaler left %v in the registry", files)
	}
}

// TestPushScalerWithoutInputTensor: a scaler with no input tensor declared
// (no --input-tensor, no normreg.input_tensor) stops the push before anything
// is sent, exit 1, naming the tensor that would fit: nothing else would check
// the scaler's feature count against the model. --no-input-tensor declares
// that none fits, and the bundle shows the count unchecked.
func TestPushScalerWithoutInputTensor(t *testing.T) {
	host, root := registrytest.Normreg(t)
	env := map[string]string{"REGCTL_REGISTRY": host, "XDG_CACHE_HOME": t.TempDir()}
	opts := bigBundle(t, env)
	opts.inputTensor = ""
	r := regctl(t, env, "", opts.args("team/big:v1")...)
	if r.code != exitError || !strings.Contains(r.stderr, "no input tensor is declared") || !strings.Contains(r.stderr, "tensors with 3 entries on axis 1: net.0.weight") {
		t.Errorf("push without --input-tensor: exit %d, stderr %q; want exit 1 naming net.0.weight", r.code, r.stderr)
	}
	if files := uploaded(root); len(files) != 0 {
		t.Fatalf("a push without an input tensor left %v in the registry", files)
	}
	d := regctl(t, env, "", append(opts.args("team/big:v1"), "--no-input-tensor")...).must(t, exitOK, "push with --no-input-tensor").line()
	if r := regctl(t, env, "", "inspect", "team/big@"+d).must(t, exitOK, "inspect"); !strings.Contains(r.stdout, "(unset: the feature count is not checked against the model)") {
		t.Errorf("inspect of a bundle pushed with --no-input-tensor:\n%s", r.stdout)
	}
}

// TestPushPrintsFindingsOnce: a warning is printed once whichever way the
// weights go (streamed into normreg, hashed first for distribution).
func TestPushPrintsFindingsOnce(t *testing.T) {
	for _, reg := range registries(t) {
		env := map[string]string{"REGCTL_REGISTRY": reg.host, "XDG_CACHE_HOME": t.TempDir()}
		args := pushArgs(t, "small-batch", readCase(t, "small-batch"), "team/churn:v1")
		r := regctl(t, env, "", args...).must(t, exitOK, reg.name+" push")
		if n := strings.Count(r.stderr, "warning small-batch:"); n != 1 {
			t.Errorf("%s: the small-batch warning was printed %d times:\n%s", reg.name, n, r.stderr)
		}
	}
}

// TestPushParentOnTheRegistryPushedTo: a --parent without a host is on the
// registry of the REF pushed to, whatever REGCTL_REGISTRY says (it was
// resolved against REGCTL_REGISTRY: unset, the push failed; another host,
// it was refused as outside the repository).
func TestPushParentOnTheRegistryPushedTo(t *testing.T) {
	host, _ := registrytest.Normreg(t)
	for _, registryEnv := range []string{"", "127.0.0.1:1"} {
		env := map[string]string{"REGCTL_REGISTRY": registryEnv, "XDG_CACHE_HOME": t.TempDir()}
		parent := readCase(t, "mlp")
		regctl(t, env, "", pushArgs(t, "mlp", parent, host+"/team/tuned:v1")...).must(t, exitOK, "push of the parent")
		c := readCase(t, "finetune-ok")
		args := append(pushArgs(t, "finetune-ok", c, host+"/team/tuned:v2"), "--parent", "team/tuned:v1")
		regctl(t, env, "", args...).must(t, exitOK, "push with --parent team/tuned:v1, REGCTL_REGISTRY="+registryEnv)
		// The parent was read: the stale fine-tune is refused against it.
		s := readCase(t, "finetune-stale")
		args = append(pushArgs(t, "finetune-stale", s, host+"/team/tuned:v3"), "--parent", "team/tuned:v1")
		if r := regctl(t, env, "", args...).must(t, exitRefused, "push of a stale fine-tune"); !strings.Contains(r.stderr, "bn-stale") {
			t.Errorf("stale fine-tune against --parent team/tuned:v1: %s", r.stderr)
		}
		// A --parent that is not there: the error says it is the parent's.
		args = append(pushArgs(t, "finetune-ok", c, host+"/team/tuned:v4"), "--parent", "team/tuned:nope")
		if r := regctl(t, env, "", args...); r.code != exitError || !strings.Contains(r.stderr, "--parent: resolving "+host+"/team/tuned:nope") {
			t.Errorf("push with a missing --parent: exit %d, stderr %q; want exit 1 saying --parent", r.code, r.stderr)
		}
	}
}

// TestBlobLabel: upload errors name the blob by its file (config.json for
// the config, which has no title; alg-hex for a blob without one), else,
// for an unsafe title, by its digest; the config was named by an empty
// string ("uploading : POST ...").
func TestBlobLabel(t *testing.T) {
	d := artifact.FromBytes(artifact.SHA256, []byte("x"))
	for _, c := range []struct {
		desc artifact.Descriptor
		want string
	}{
		{artifact.Descriptor{MediaType: manifest.MediaTypeConfig, Digest: d}, "config.json"},
		{artifact.Descriptor{MediaType: manifest.MediaTypeWeights, Digest: d, Annotations: map[string]string{manifest.AnnotationTitle: "weights.safetensors"}}, "weights.safetensors"},
		{artifact.Descriptor{MediaType: manifest.MediaTypeWeights, Digest: d}, "sha256-" + d.Hex()},
		{artifact.Descriptor{MediaType: manifest.MediaTypeWeights, Digest: d, Annotations: map[string]string{manifest.AnnotationTitle: "../x"}}, d.String()},
	} {
		if got := blobLabel(c.desc); got != c.want {
			t.Errorf("blobLabel(%s) = %q, want %q", c.desc.MediaType, got, c.want)
		}
	}
}
