package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// pushOptions are push's flags.
type pushOptions struct {
	g           *globalOptions
	weights     string
	scaler      string
	noScaler    bool
	mode        string
	features    string
	inputTensor string
	inputAxis   int
	noInput     bool
	parent      string
	bnFrozen    bool
	batchSize   int
	labels      labelFlag
}

func newPushCommand(g *globalOptions) *command {
	opts := &pushOptions{g: g, labels: labelFlag{}}
	fs := g.newFlagSet("push")
	fs.StringVar(&opts.weights, "weights", "", "the model's weights (safetensors)")
	fs.StringVar(&opts.scaler, "scaler", "", "the StandardScaler JSON the model was trained with")
	fs.BoolVar(&opts.noScaler, "no-scaler", false, "declare that features are fed unscaled (preprocessing NONE)")
	fs.StringVar(&opts.mode, "mode", "", "eval or train: the mode the weights were exported in")
	fs.StringVar(&opts.features, "features", "", "file of the input feature names, in order (one a line or comma-separated)")
	fs.StringVar(&opts.inputTensor, "input-tensor", "", "weights tensor whose input axis has one entry per feature")
	fs.IntVar(&opts.inputAxis, "input-axis", 1, "axis of --input-tensor that counts the features")
	fs.BoolVar(&opts.noInput, "no-input-tensor", false, "declare that no tensor's axis counts the scaler's features (the scaler covers only some inputs): the feature count is then not checked")
	fs.StringVar(&opts.parent, "parent", "", "REF of the bundle this one was fine-tuned from, in the repository pushed to (without a host: on the registry pushed to)")
	fs.BoolVar(&opts.bnFrozen, "bn-frozen", false, "BatchNorm was deliberately frozen while fine-tuning")
	fs.IntVar(&opts.batchSize, "batch-size", 0, "training batch size")
	fs.Var(opts.labels, "label", "k=v label (repeatable)")
	return &command{
		name: "push", flags: fs,
		usage: "push REF --weights F [--scaler F | --no-scaler] [--mode eval|train] [--features F]\n" +
			"                [--input-tensor NAME [--input-axis N] | --no-input-tensor] [--parent REF] [--bn-frozen] [--batch-size N] [--label k=v]...",
		run: func(ctx context.Context, args []string) error { return runPush(ctx, *opts, args) },
	}
}

// runPush builds the bundle, runs every check on it (refusing with exit 3
// before anything is uploaded), uploads the blobs the registry lacks, pushes
// the manifest under REF's tag and prints the bundle's digest. The weights
// file is read in one pass at most (see pusher.push).
func runPush(ctx context.Context, opts pushOptions, args []string) error {
	if err := wantArgs("push", args, 1); err != nil {
		return err
	}
	if opts.weights == "" {
		return usageError("push needs --weights")
	}
	ref, c, err := opts.g.connect(args[0])
	if err != nil {
		return err
	}
	if ref.Digest != "" {
		return usageError("push takes a tag, not a digest: %s", args[0])
	}
	f, err := os.Open(opts.weights)
	if err != nil {
		return usageError("--weights: %w", err)
	}
	defer f.Close()
	p, err := newPusher(ctx, opts, ref, c, f)
	if err != nil {
		return err
	}
	d, err := p.push(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.g.stdout, d)
	return nil
}

// pusher is one push: its inputs and where they go.
type pusher struct {
	opts   pushOptions
	ref    client.Ref
	c      *client.Client
	w      io.ReaderAt // the weights file
	size   int64
	key    fileKey      // the weights file's digest cache key
	cache  *digestCache // nil: none
	decl   manifest.Declared
	scaler []byte
}

// newPusher reads the flags' files other than the weights f, resolves
// --parent and keys f for the digest cache.
func newPusher(ctx context.Context, opts pushOptions, ref client.Ref, c *client.Client, f *os.File) (*pusher, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	p := &pusher{opts: opts, ref: ref, c: c, w: f, size: st.Size()}
	if key, ok := keyOf(opts.weights, st); ok {
		p.key, p.cache = key, opts.g.digestCache()
	}
	if p.decl, err = opts.declared(ctx, ref, c); err != nil {
		return nil, err
	}
	if opts.scaler != "" {
		if p.scaler, err = os.ReadFile(opts.scaler); err != nil {
			return nil, usageError("--scaler: %w", err)
		}
		if _, err := artifact.ParseScaler(p.scaler); err != nil {
			return nil, usageError("--scaler %s: %w (want the JSON write_scaler writes from a fitted StandardScaler: testdata/interop/normreg_export.py)", opts.scaler, err)
		}
	}
	return p, nil
}

// placeholderDigest stands for the weights' digest while it is unknown:
// no check reads the weights digest unless the bundle names a parent.
const placeholderDigest artifact.Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// push reads the weights file once at most. With its digest cached it only
// uploads it if the registry lacks it (mounting it from another repository
// of the registry the cache says has it, if it can). Otherwise, without --parent, see
// pushUncached; with --parent (bn-stale compares the weights digest with
// the parent's) the weights are hashed first. It returns the bundle's digest.
func (p *pusher) push(ctx context.Context) (artifact.Digest, error) {
	if e, ok := p.cache.get(p.key); ok {
		return p.pushKnown(ctx, e)
	}
	if p.decl.ParentDigest != "" {
		return p.pushHashed(ctx, false)
	}
	return p.pushUncached(ctx)
}

// pushUncached runs the checks on the bundle built with a placeholder
// weights digest, then streams the weights into a registry that hashes on
// receipt (client.StreamedUploadHeader); other registries get the weights
// hashed first.
func (p *pusher) pushUncached(ctx context.Context) (artifact.Digest, error) {
	built, err := p.build(placeholderDigest)
	if err != nil {
		return "", err
	}
	if err := p.check(ctx, built); err != nil {
		return "", err
	}
	up, err := p.c.StartUpload(ctx, p.ref.Repo)
	if err != nil {
		return "", registryError(p.ref.Host, err)
	}
	if !up.Streamed {
		p.c.CancelUpload(ctx, up) // best effort: a registry that cannot cancel lets the empty session expire
		return p.pushHashed(ctx, true)
	}
	return p.pushStreamed(ctx, up, built.Manifest.Layers[0])
}

// pushKnown pushes the bundle whose weights have the digest of cache entry
// e: if the repository lacks them, the registry mounts them from a
// repository the entry names, or else verifies them as they are uploaded
// (a mismatch means the file changed while pushing: its entry is dropped).
func (p *pusher) pushKnown(ctx context.Context, e cacheEntry) (artifact.Digest, error) {
	built, err := p.build(e.Digest)
	if err != nil {
		return "", err
	}
	if err := p.check(ctx, built); err != nil {
		return "", err
	}
	bd, err := p.finish(ctx, built, p.mountSources(e.Repos))
	if errors.Is(err, artifact.ErrDigestMismatch) {
		p.cache.drop(p.key)
		return "", fmt.Errorf("%s changed while pushing (it no longer hashes to %s): push again: %w", p.opts.weights, e.Digest, err)
	}
	return bd, err
}

// maxMountSources bounds the repositories a push asks to mount the weights
// from before it uploads them: each refusal costs a round trip.
const maxMountSources = 3

// mountSources are the latest maxMountSources of repos (HOST/REPOSITORY,
// latest first) on the registry pushed to, other than the repository
// pushed to, without their host.
func (p *pusher) mountSources(repos []string) []string {
	var from []string
	for _, r := range repos {
		if repo, ok := strings.CutPrefix(r, p.ref.Host+"/"); ok && repo != p.ref.Repo && len(from) < maxMountSources {
			from = append(from, repo)
		}
	}
	return from
}

// pushHashed hashes the weights, records their digest, runs the checks
// unless they already passed (checked) and pushes the bundle.
func (p *pusher) pushHashed(ctx context.Context, checked bool) (artifact.Digest, error) {
	built, err := p.build("")
	if err != nil {
		return "", err
	}
	p.cache.put(p.key, built.Manifest.Layers[0].Digest, "")
	if !checked {
		if err := p.check(ctx, built); err != nil {
			return "", err
		}
	}
	return p.finish(ctx, built, nil)
}

// pushStreamed sends the weights into session up while hashing them,
// records their digest, and pushes the bundle rebuilt with it; the checks
// already passed.
func (p *pusher) pushStreamed(ctx context.Context, up *client.Upload, desc artifact.Descriptor) (artifact.Digest, error) {
	r := p.opts.g.progress("push", desc, io.NewSectionReader(p.w, 0, p.size))
	d, err := p.c.PushBlobStreamed(ctx, up, r, p.size)
	if err != nil {
		return "", registryError(p.ref.Host, fmt.Errorf("uploading %s: %w", blobLabel(desc), err))
	}
	p.cache.put(p.key, d, cachedRepo(p.ref))
	built, err := p.build(d)
	if err != nil {
		return "", err
	}
	return p.finish(ctx, built, nil)
}

// build assembles the bundle; weights "" means hash the weights.
func (p *pusher) build(weights artifact.Digest) (*manifest.Built, error) {
	decl := p.decl
	decl.WeightsDigest = weights
	built, err := manifest.Build(p.w, p.size, p.scaler, decl)
	if errors.Is(err, manifest.ErrConflict) || errors.Is(err, manifest.ErrUndeclared) || errors.Is(err, manifest.ErrInvalidBundle) {
		return nil, usageError("%s: %w", p.opts.weights, err)
	}
	return built, err
}

// finish uploads the blobs the registry lacks (the weights mounted from
// repository from if it is not "" and the registry can), records in the
// digest cache that the weights are in REF's repository, and pushes the
// manifest under REF's tag, returning its digest.
func (p *pusher) finish(ctx context.Context, built *manifest.Built, from []string) (artifact.Digest, error) {
	if err := upload(ctx, p.opts.g, p.c, p.ref.Repo, built, p.w, from); err != nil {
		return "", registryError(p.ref.Host, err)
	}
	p.cache.put(p.key, built.Manifest.Layers[0].Digest, cachedRepo(p.ref))
	d, err := p.c.PushManifest(ctx, p.ref.Repo, p.ref.Reference(), manifest.MediaTypeImageManifest, built.ManifestBytes)
	if err != nil {
		return "", registryError(p.ref.Host, fmt.Errorf("pushing the manifest of %s: %w", p.ref, err))
	}
	return d, nil
}

// declared turns the flags into the declared facts, resolving --parent.
func (opts pushOptions) declared(ctx context.Context, ref client.Ref, c *client.Client) (manifest.Declared, error) {
	d := manifest.Declared{
		ModelName: ref.Repo, Mode: artifact.Mode(opts.mode), InputTensor: opts.inputTensor, InputAxis: opts.inputAxis, NoInputTensor: opts.noInput,
		NoScaler: opts.noScaler, BNFrozen: opts.bnFrozen, BatchSize: opts.batchSize, Labels: opts.labels,
	}
	switch {
	case d.Mode != artifact.ModeUnset && d.Mode != artifact.ModeEval && d.Mode != artifact.ModeTrain:
		return d, usageError("--mode must be eval or train, not %q", opts.mode)
	case opts.noScaler && opts.scaler != "":
		return d, usageError("--scaler and --no-scaler exclude each other")
	case opts.batchSize < 0:
		return d, usageError("--batch-size must not be negative (0: not declared)")
	}
	features, err := readFeatureFile(opts.features)
	if err != nil {
		return d, err
	}
	d.Features = features
	if opts.parent != "" {
		d.ParentDigest, d.ParentWeightsDigest, err = opts.parentFacts(ctx, ref, c)
	}
	return d, err
}

// parentFacts resolves --parent, which must be in REF's repository (a
// --parent without a host is on REF's registry), to its digest and its
// weights layer's digest.
func (opts pushOptions) parentFacts(ctx context.Context, ref client.Ref, c *client.Client) (artifact.Digest, artifact.Digest, error) {
	parent, err := client.ParseRef(opts.parent, ref.Host)
	if err != nil {
		return "", "", usageError("--parent: %w", err)
	}
	if parent.Host != ref.Host || parent.Repo != ref.Repo {
		return "", "", usageError("--parent %s must be in the repository pushed to, %s/%s", parent, ref.Host, ref.Repo)
	}
	d, err := resolve(ctx, c, parent)
	if err != nil {
		return "", "", fmt.Errorf("--parent: %w", err)
	}
	p, err := manifest.ParentFacts(ctx, c.Fetcher(ref.Repo), d)
	if err != nil {
		return "", "", fmt.Errorf("--parent %s: %w", parent, err)
	}
	return d, p.WeightsDigest, nil
}

// check runs every check on the built bundle (the parent read from the
// registry), prints the findings and refuses with exit 3, naming the push's
// REF.
func (p *pusher) check(ctx context.Context, built *manifest.Built) error {
	_, fs, err := manifest.Check(ctx, built.ManifestBytes, built.Fetcher(p.w, p.c.Fetcher(p.ref.Repo)), manifest.CheckOptions{})
	if err != nil {
		return fmt.Errorf("checking the bundle: %w", err)
	}
	printFindings(p.opts.g.stderr, fs)
	if fs.Refused() {
		return refusedError("push to "+p.ref.String(), fs)
	}
	return nil
}

// upload pushes every blob of the bundle that the registry lacks; the
// weights (read from w) it first asks the registry to mount from each
// repository of from in turn. A mount that fails for any reason (the
// registry no longer has the blob there, cannot mount, or the token may not
// read from it) moves to the next; when none mounts, the upload is left to
// do.
func upload(ctx context.Context, g *globalOptions, c *client.Client, repo string, built *manifest.Built, w io.ReaderAt, from []string) error {
	for _, desc := range append([]artifact.Descriptor{*built.Manifest.Config}, built.Manifest.Layers...) {
		_, err := c.StatBlob(ctx, repo, desc.Digest)
		if err == nil {
			continue
		}
		if !errors.Is(err, client.ErrNotFound) {
			return fmt.Errorf("asking whether %s holds %s: %w", repo, blobLabel(desc), err)
		}
		content, small := built.Blobs[desc.Digest]
		if !small && slices.ContainsFunc(from, func(src string) bool {
			mounted, err := c.MountBlob(ctx, repo, src, desc.Digest)
			return err == nil && mounted
		}) {
			continue
		}
		var r io.Reader = io.NewSectionReader(w, 0, desc.Size)
		if small {
			r = bytes.NewReader(content)
		}
		if err := c.PushBlob(ctx, repo, desc, g.progress("push", desc, r)); err != nil {
			return fmt.Errorf("uploading %s: %w", blobLabel(desc), err)
		}
	}
	return nil
}
