package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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
	fs.StringVar(&opts.parent, "parent", "", "REF of the bundle this one was fine-tuned from")
	fs.BoolVar(&opts.bnFrozen, "bn-frozen", false, "BatchNorm was deliberately frozen while fine-tuning")
	fs.IntVar(&opts.batchSize, "batch-size", 0, "training batch size")
	fs.Var(opts.labels, "label", "k=v label (repeatable)")
	return &command{
		name: "push", flags: fs,
		usage: "push REF --weights F [--scaler F | --no-scaler] [--mode eval|train] [--features F]\n" +
			"                [--input-tensor NAME] [--input-axis N] [--parent REF] [--bn-frozen] [--batch-size N] [--label k=v]...",
		run: func(ctx context.Context, args []string) error { return runPush(ctx, *opts, args) },
	}
}

// runPush builds the bundle, runs every check on it (refusing with exit 3
// before anything is uploaded), uploads the blobs the registry lacks, pushes
// the manifest under REF's tag and prints the bundle's digest.
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
	w, err := os.Open(opts.weights)
	if err != nil {
		return usageError("--weights: %w", err)
	}
	defer w.Close()
	built, err := opts.build(ctx, ref, c, w)
	if err != nil {
		return err
	}
	if err := checkBuilt(ctx, opts.g, c.Fetcher(ref.Repo), built, w); err != nil {
		return err
	}
	if err := upload(ctx, opts.g, c, ref.Repo, built, w); err != nil {
		return registryError(ref.Host, err)
	}
	d, err := c.PushManifest(ctx, ref.Repo, ref.Reference(), manifest.MediaTypeImageManifest, built.ManifestBytes)
	if err != nil {
		return registryError(ref.Host, fmt.Errorf("pushing the manifest of %s: %w", ref, err))
	}
	fmt.Fprintln(opts.g.stdout, d)
	return nil
}

// build assembles the bundle from the files and flags.
func (opts pushOptions) build(ctx context.Context, ref client.Ref, c *client.Client, w *os.File) (*manifest.Built, error) {
	decl, err := opts.declared(ctx, ref, c)
	if err != nil {
		return nil, err
	}
	st, err := w.Stat()
	if err != nil {
		return nil, err
	}
	var scaler []byte
	if opts.scaler != "" {
		if scaler, err = os.ReadFile(opts.scaler); err != nil {
			return nil, usageError("--scaler: %w", err)
		}
	}
	built, err := manifest.Build(w, st.Size(), scaler, decl)
	if errors.Is(err, manifest.ErrConflict) || errors.Is(err, manifest.ErrInvalidBundle) {
		return nil, usageError("%s: %w", opts.weights, err)
	}
	return built, err
}

// declared turns the flags into the declared facts, resolving --parent.
func (opts pushOptions) declared(ctx context.Context, ref client.Ref, c *client.Client) (manifest.Declared, error) {
	d := manifest.Declared{
		ModelName: ref.Repo, Mode: artifact.Mode(opts.mode), InputTensor: opts.inputTensor, InputAxis: opts.inputAxis,
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

// parentFacts resolves --parent, which must be in REF's repository, to its
// digest and its weights layer's digest.
func (opts pushOptions) parentFacts(ctx context.Context, ref client.Ref, c *client.Client) (artifact.Digest, artifact.Digest, error) {
	parent, err := opts.g.parseRef(opts.parent)
	if err != nil {
		return "", "", err
	}
	if parent.Host != ref.Host || parent.Repo != ref.Repo {
		return "", "", usageError("--parent %s must be in the repository pushed to, %s/%s", parent, ref.Host, ref.Repo)
	}
	d, err := resolve(ctx, c, parent)
	if err != nil {
		return "", "", err
	}
	p, err := manifest.ParentFacts(ctx, c.Fetcher(ref.Repo), d)
	if err != nil {
		return "", "", fmt.Errorf("--parent %s: %w", parent, err)
	}
	return d, p.WeightsDigest, nil
}

// checkBuilt runs every check on the built bundle (the parent read from
// the registry through next), prints the findings and refuses with exit 3.
func checkBuilt(ctx context.Context, g *globalOptions, next manifest.Fetcher, built *manifest.Built, w io.ReaderAt) error {
	_, fs, err := manifest.Check(ctx, built.ManifestBytes, built.Fetcher(w, next), manifest.CheckOptions{})
	if err != nil {
		return fmt.Errorf("checking the bundle: %w", err)
	}
	printFindings(g.stderr, fs)
	if fs.Refused() {
		return refusedError("push of bundle "+built.Digest.String(), fs)
	}
	return nil
}

// upload pushes every blob of the bundle that the registry lacks.
func upload(ctx context.Context, g *globalOptions, c *client.Client, repo string, built *manifest.Built, w io.ReaderAt) error {
	for _, desc := range append([]artifact.Descriptor{*built.Manifest.Config}, built.Manifest.Layers...) {
		_, err := c.StatBlob(ctx, repo, desc.Digest)
		if err == nil {
			continue
		}
		if !errors.Is(err, client.ErrNotFound) {
			return err
		}
		var r io.Reader = io.NewSectionReader(w, 0, desc.Size)
		if content, ok := built.Blobs[desc.Digest]; ok {
			r = bytes.NewReader(content)
		}
		if err := c.PushBlob(ctx, repo, desc, g.progress("push", desc, r)); err != nil {
			return fmt.Errorf("uploading %s: %w", desc.Annotations[manifest.AnnotationTitle], err)
		}
	}
	return nil
}
