package main

import (
	"context"

	"github.com/normreg/normreg/manifest"
)

// verifyOptions are verify's flags.
type verifyOptions struct {
	g        *globalOptions
	features string
	json     bool
}

func newVerifyCommand(g *globalOptions) *command {
	opts := &verifyOptions{g: g}
	fs := g.newFlagSet("verify")
	fs.StringVar(&opts.features, "features", "", "file of the serving feature names, in order: must equal the model's")
	fs.BoolVar(&opts.json, "json", false, "print the verdict as JSON on stdout")
	return &command{
		name: "verify", usage: "verify REF [--features F] [--json]", flags: fs,
		run: func(ctx context.Context, args []string) error { return runVerify(ctx, *opts, args) },
	}
}

// runVerify checks the bundle REF names and verifies the digest of every
// blob, downloading nothing to disk. Findings go to stderr, or with --json
// the verdict to stdout; a refusal exits 3.
func runVerify(ctx context.Context, opts verifyOptions, args []string) error {
	if err := wantArgs("verify", args, 1); err != nil {
		return err
	}
	serving, err := readFeatureFile(opts.features)
	if err != nil {
		return err
	}
	rb, err := checkRemote(ctx, opts.g, args[0], manifest.CheckOptions{ServingFeatures: serving}, discard)
	if err != nil {
		return err
	}
	if opts.json {
		v := verdict{Ref: rb.ref.String(), Digest: rb.digest, Refused: rb.findings.Refused(), Findings: nonNilFindings(rb.findings)}
		if err := writeJSON(opts.g.stdout, v); err != nil {
			return err
		}
	} else {
		printFindings(opts.g.stderr, rb.findings)
	}
	if rb.findings.Refused() {
		return refusedError(rb.ref.String(), rb.findings)
	}
	return nil
}
