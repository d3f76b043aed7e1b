package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// inspectOptions are inspect's flags.
type inspectOptions struct {
	g    *globalOptions
	json bool
}

func newInspectCommand(g *globalOptions) *command {
	opts := &inspectOptions{g: g}
	fs := g.newFlagSet("inspect")
	fs.BoolVar(&opts.json, "json", false, "print as JSON")
	return &command{
		name: "inspect", usage: "inspect REF [--json]  features, scaler table, BN layers, mode, digests, findings", flags: fs,
		run: func(ctx context.Context, args []string) error { return runInspect(ctx, *opts, args) },
	}
}

// inspection is what inspect prints.
type inspection struct {
	Ref           string                 `json:"ref"`
	Digest        artifact.Digest        `json:"digest"`
	Model         string                 `json:"model"`
	Mode          artifact.Mode          `json:"mode"`
	Preprocessing artifact.Preprocessing `json:"preprocessing"`
	Features      []string               `json:"features"`
	InputTensor   string                 `json:"input_tensor"`
	InputAxis     int                    `json:"input_axis"`
	InputSize     int64                  `json:"input_size"`
	BatchSize     int                    `json:"batch_size,omitempty"`
	BNFrozen      bool                   `json:"bn_frozen"`
	Parent        string                 `json:"parent"`
	Labels        map[string]string      `json:"labels,omitempty"`
	Config        *artifact.Descriptor   `json:"config"`
	Layers        []artifact.Descriptor  `json:"layers"`
	Scaler        []artifact.ScalerRow   `json:"scaler"`
	BatchNorm     []artifact.BNSummary   `json:"batchnorm"`
	Refused       bool                   `json:"refused"`
	Findings      artifact.Findings      `json:"findings"`
}

// runInspect prints what the bundle REF names declares and holds, with the
// checks' findings; a refused bundle exits 3 after being shown.
func runInspect(ctx context.Context, opts inspectOptions, args []string) error {
	if err := wantArgs("inspect", args, 1); err != nil {
		return err
	}
	rb, err := checkRemote(ctx, opts.g, args[0], manifest.CheckOptions{}, nil)
	if err != nil {
		return err
	}
	in := inspectionOf(rb)
	if opts.json {
		err = writeJSON(opts.g.stdout, in)
	} else {
		err = in.write(opts.g.stdout)
	}
	if err != nil {
		return err
	}
	if rb.findings.Refused() {
		return refusedError(rb.ref.String(), rb.findings)
	}
	return nil
}

// inspectionOf gathers what inspect prints from a checked bundle.
func inspectionOf(rb *remoteBundle) inspection {
	in := inspection{Ref: rb.ref.String(), Digest: rb.digest, Refused: rb.findings.Refused(),
		Findings: nonNilFindings(rb.findings), Layers: []artifact.Descriptor{}, Scaler: []artifact.ScalerRow{},
		BatchNorm: []artifact.BNSummary{}}
	v := rb.view
	if v == nil || v.Config == nil || v.Bundle == nil {
		return in
	}
	b, c := v.Bundle, v.Config
	in.Model, in.Mode, in.Preprocessing, in.Features = c.GetModelName(), b.Mode, b.Preprocessing, b.Features
	in.InputTensor, in.InputAxis, in.InputSize = b.InputTensor, b.InputAxis, b.InputSize
	in.BatchSize, in.BNFrozen, in.Labels = b.BatchSize, b.BNFrozen, c.GetLabels()
	in.Parent = c.GetBatchNorm().GetParentBundleDigest()
	in.Config, in.Layers = v.Manifest.Config, v.Manifest.Layers
	if b.Scaler != nil {
		in.Scaler = b.Scaler.Table(b.Features)
	}
	if b.BNWeights != nil {
		in.BatchNorm = b.BNWeights.Summary()
	}
	return in
}

// write renders the inspection as text.
func (in inspection) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "bundle\t%s@%s\n", strings.SplitN(in.Ref, "@", 2)[0], in.Digest)
	fmt.Fprintf(tw, "model\t%s\nmode\t%s\npreprocessing\t%s\n", in.Model, orUnset(string(in.Mode)), orUnset(string(in.Preprocessing)))
	fmt.Fprintf(tw, "features\t%s\ninput\t%s\n", in.featuresLine(), in.inputLine())
	fmt.Fprintf(tw, "training\tbatch size %s, BatchNorm frozen %v, parent %s\n", in.batchSizeText(), in.BNFrozen, orUnset(in.Parent))
	for _, k := range slices.Sorted(maps.Keys(in.Labels)) {
		fmt.Fprintf(tw, "label\t%s=%s\n", k, in.Labels[k])
	}
	if c := in.Config; c != nil {
		fmt.Fprintf(tw, "config\t%s\t%s\t%d bytes\n", c.MediaType, c.Digest, c.Size)
	}
	for _, l := range in.Layers {
		fmt.Fprintf(tw, "layer\t%s\t%s\t%d bytes\t%s\n", l.MediaType, l.Digest, l.Size, l.Annotations[manifest.AnnotationTitle])
	}
	fmt.Fprintln(tw, "\nscaler feature\tmean\tstd")
	for _, r := range in.Scaler {
		fmt.Fprintf(tw, "  %s\t%g\t%g\n", r.Feature, float64(r.Mean), float64(r.Std))
	}
	fmt.Fprintln(tw, "\nbatchnorm layer\tchannels\tavg running_mean\tavg running_var\tnum_batches_tracked")
	for _, l := range in.BatchNorm {
		fmt.Fprintf(tw, "  %s\t%d\t%.6g\t%.6g\t%d\n", l.Name, l.Channels, float64(l.MeanRunningMean), float64(l.MeanRunningVar), l.NumBatchesTracked)
	}
	fmt.Fprintf(tw, "\nfindings\t%d\n", len(in.Findings))
	for _, f := range in.Findings {
		fmt.Fprintf(tw, "  %s\n", f)
	}
	return tw.Flush()
}

// featuresLine renders the feature schema, or says that none was declared.
func (in inspection) featuresLine() string {
	if len(in.Features) == 0 {
		return "(unset: the scaler's feature names are not checked against the model's)"
	}
	return fmt.Sprintf("%d: %s", len(in.Features), strings.Join(in.Features, ", "))
}

// inputLine renders the input tensor, or says that none was declared.
func (in inspection) inputLine() string {
	if in.InputTensor == "" {
		return "(unset: the feature count is not checked against the model)"
	}
	return fmt.Sprintf("%s axis %d, size %d", in.InputTensor, in.InputAxis, in.InputSize)
}

// batchSizeText renders the training batch size, or says that none was declared.
func (in inspection) batchSizeText() string {
	if in.BatchSize == 0 {
		return "(unset: small-batch is not checked)"
	}
	return strconv.Itoa(in.BatchSize)
}

// orUnset shows an empty value as "(unset)".
func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}
