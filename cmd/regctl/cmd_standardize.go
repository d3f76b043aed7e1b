package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// standardizeOptions are standardize's flags.
type standardizeOptions struct {
	g   *globalOptions
	in  string
	out string
}

func newStandardizeCommand(g *globalOptions) *command {
	opts := &standardizeOptions{g: g}
	fs := g.newFlagSet("standardize")
	fs.StringVar(&opts.in, "in", "", "raw rows: CSV with a header of feature names, or JSON lines (- for stdin)")
	fs.StringVar(&opts.out, "out", "", "CSV file to write the standardised rows to, atomically")
	return &command{
		name: "standardize", usage: "standardize REF --in F --out F  apply the bundle's scaler by feature name", flags: fs,
		run: func(ctx context.Context, args []string) error { return runStandardize(ctx, *opts, args) },
	}
}

// runStandardize checks the bundle REF names, then streams --in through its
// scaler into --out: columns are matched by feature name and written in the
// model's order; input whose columns are not exactly the features is
// refused before anything is written. --out appears only complete (temp
// file, fsync, rename). It prints the output path.
func runStandardize(ctx context.Context, opts standardizeOptions, args []string) error {
	if err := wantArgs("standardize", args, 1); err != nil {
		return err
	}
	if opts.in == "" || opts.out == "" {
		return usageError("standardize needs --in F and --out F")
	}
	st, _, err := bundleStandardizer(ctx, opts.g, args[0], nil)
	if err != nil {
		return err
	}
	in, err := openInput(opts.g, opts.in)
	if err != nil {
		return err
	}
	defer in.Close()
	var n int64
	err = writeAtomic(opts.out, func(w io.Writer) error {
		rows, err := artifact.NewRowReader(in)
		if err != nil {
			return err
		}
		n, err = st.Standardize(rows, w)
		return err
	})
	if err != nil {
		return usageError("standardize %s: %w", opts.in, err)
	}
	fmt.Fprintf(opts.g.stderr, "standardised %d rows of %d features\n", n, len(st.Features))
	fmt.Fprintln(opts.g.stdout, opts.out)
	return nil
}

// bundleStandardizer checks the bundle REF names (with a sink, also every
// blob's digest) and returns its scaler as a standardizer. Findings are
// printed to stderr; a refused bundle is a refusal (exit 3), and a bundle
// without a scaler an error.
func bundleStandardizer(ctx context.Context, g *globalOptions, ref string, sink blobSink) (*artifact.Standardizer, *remoteBundle, error) {
	rb, err := checkRemote(ctx, g, ref, manifest.CheckOptions{}, sink)
	if err != nil {
		return nil, nil, err
	}
	printFindings(g.stderr, rb.findings)
	if rb.findings.Refused() {
		return nil, nil, refusedError(rb.ref.String(), rb.findings)
	}
	st, err := artifact.NewStandardizer(rb.view.Bundle.Scaler, rb.view.Bundle.Features)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", rb.ref, err)
	}
	return st, rb, nil
}

// openInput opens a data file, or stdin for "-".
func openInput(g *globalOptions, path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(g.stdin), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError("%w", err)
	}
	return f, nil
}

// writeAtomic writes path through write: into a temp file beside it, then
// fsync, close and rename. On any failure the temp file is removed and path
// is left as it was.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
