package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// diffOptions are diff's flags.
type diffOptions struct {
	g           *globalOptions
	json        bool
	tensorBytes bool
}

func newDiffCommand(g *globalOptions) *command {
	opts := &diffOptions{g: g}
	fs := g.newFlagSet("diff")
	fs.BoolVar(&opts.json, "json", false, "print the diff as JSON")
	fs.BoolVar(&opts.tensorBytes, "tensor-bytes", false, "compare same-shape tensors by a sha256 of their bytes (ranged reads of each tensor)")
	return &command{
		name: "diff", usage: "diff REF1 REF2 [--json] [--tensor-bytes]  features, scaler, BatchNorm and weights changes", flags: fs,
		run: func(ctx context.Context, args []string) error { return runDiff(ctx, *opts, args) },
	}
}

// diffOutput is what diff prints with --json: a manifest.DiffReport.
type diffOutput manifest.DiffReport

// runDiff reads two bundles' small parts (config, scaler, bnstats) and
// weights headers, never the whole weights, and prints what changed from
// REF1 to REF2. Findings of the checks do not stop it: diffing a refused
// bundle against its predecessor is how one finds what went wrong.
func runDiff(ctx context.Context, opts diffOptions, args []string) error {
	if err := wantArgs("diff", args, 2); err != nil {
		return err
	}
	var sides [2]artifact.DiffSide
	var rbs [2]*remoteBundle
	for i, ref := range args {
		side, rb, err := diffSide(ctx, opts, ref)
		if err != nil {
			return err
		}
		sides[i], rbs[i] = side, rb
	}
	d, err := artifact.Diff(sides[0], sides[1])
	if err != nil {
		return registryError(rbs[1].ref.Host, err)
	}
	out := diffOutput{From: rbs[0].ref.String(), FromDigest: rbs[0].digest, To: rbs[1].ref.String(), ToDigest: rbs[1].digest, BundleDiff: d}
	if opts.json {
		return writeJSON(opts.g.stdout, out)
	}
	return out.write(opts.g.stdout)
}

// diffSide reads what a diff needs of the bundle ref names.
func diffSide(ctx context.Context, opts diffOptions, ref string) (artifact.DiffSide, *remoteBundle, error) {
	rb, err := checkRemote(ctx, opts.g, ref, manifest.CheckOptions{}, nil)
	if err != nil {
		return artifact.DiffSide{}, nil, err
	}
	if rb.view == nil || rb.view.Bundle == nil {
		printFindings(opts.g.stderr, rb.findings)
		return artifact.DiffSide{}, nil, refusedError(rb.ref.String(), rb.findings)
	}
	side, err := manifest.DiffSide(ctx, rb.view, rb.c.Fetcher(rb.ref.Repo), opts.tensorBytes)
	if err != nil {
		return artifact.DiffSide{}, nil, registryError(rb.ref.Host, fmt.Errorf("%s: %w", rb.ref, err))
	}
	return side, rb, nil
}

// write renders the diff as tables.
func (o diffOutput) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "from\t%s@%s\nto\t%s@%s\n", strings.SplitN(o.From, "@", 2)[0], o.FromDigest, strings.SplitN(o.To, "@", 2)[0], o.ToDigest)
	f := o.Features
	fmt.Fprintf(tw, "features\tadded %v, removed %v, reordered %v\n", f.Added, f.Removed, f.Reordered)
	sl := o.ScalerLayer
	fmt.Fprintf(tw, "\nscaler layer\t%s -> %s (same %v)\n", cmp.Or(sl.OldDigest, "none"), cmp.Or(sl.NewDigest, "none"), sl.Same)
	fmt.Fprintln(tw, "scaler feature\told mean\tnew mean\tmean shift (old stds)\told std\tnew std\tstd ratio")
	for _, s := range o.Scaler {
		fmt.Fprintf(tw, "  %s\t%.6g\t%.6g\t%+.4f\t%.6g\t%.6g\t%.4f\n", s.Feature, float64(s.OldMean), float64(s.NewMean),
			float64(s.MeanShift), float64(s.OldStd), float64(s.NewStd), float64(s.StdRatio))
	}
	fmt.Fprintln(tw, "\nbatchnorm layer\tstatus\tchannels\tmax mean shift (old sqrt var)\tvar ratio\tnum_batches_tracked")
	for _, l := range o.BatchNorm {
		shift, ratio := fmt.Sprintf("%.4g", float64(l.MaxMeanShift)), fmt.Sprintf("%.4g..%.4g", float64(l.MinVarRatio), float64(l.MaxVarRatio))
		if l.Status == artifact.BNAdded || l.Status == artifact.BNRemoved { // nothing to compare with
			shift, ratio = "-", "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%d -> %d\n", l.Layer, l.Status, l.Channels, shift, ratio, l.OldTracked, l.NewTracked)
	}
	o.writeWeights(tw)
	return tw.Flush()
}

// writeWeights renders the weights part of the diff.
func (o diffOutput) writeWeights(w io.Writer) {
	wd := o.Weights
	fmt.Fprintf(w, "\nweights\t%s -> %s (same %v)\n", wd.OldDigest, wd.NewDigest, wd.Same)
	fmt.Fprintf(w, "  added\t%v\n  removed\t%v\n", wd.Added, wd.Removed)
	for _, c := range wd.Changed {
		fmt.Fprintf(w, "  changed\t%s: %s\n", c.Name, strings.Join(c.Changes, ", "))
	}
	fmt.Fprintf(w, "  unchanged\t%d tensors\n", wd.Unchanged)
	if len(wd.Unknown) > 0 {
		fmt.Fprintf(w, "  bytes not compared\t%d tensors of the same shape and dtype (--tensor-bytes compares them)\n", len(wd.Unknown))
	}
}
