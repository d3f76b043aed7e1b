package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/normreg/normreg/artifact"
)

// skewOptions are skew's flags.
type skewOptions struct {
	g    *globalOptions
	data string
	th   artifact.SkewThresholds
	json bool
}

func newSkewCommand(g *globalOptions) *command {
	opts := &skewOptions{g: g, th: artifact.DefaultSkewThresholds()}
	fs := g.newFlagSet("skew")
	fs.StringVar(&opts.data, "data", "", "production rows: CSV with a header of feature names, or JSON lines (- for stdin)")
	fs.Float64Var(&opts.th.Shift, "threshold-shift", opts.th.Shift, "flag |mean shift| above this many training stds")
	fs.Float64Var(&opts.th.StdRatio, "threshold-std", opts.th.StdRatio, "flag std / training std above this or below its inverse")
	fs.Float64Var(&opts.th.PSI, "threshold-psi", opts.th.PSI, "flag a population stability index above this, e.g. 0.2 (0: report it, flag nothing; it compares with a normal distribution, see docs/regctl-skew.md)")
	fs.BoolVar(&opts.json, "json", false, "print the report as JSON")
	return &command{
		name: "skew", usage: "skew REF --data F [--threshold-shift 0.5] [--threshold-std 1.5] [--threshold-psi P] [--json]", flags: fs,
		run: func(ctx context.Context, args []string) error { return runSkew(ctx, *opts, args) },
	}
}

// alreadyStandardizedNote is what skew says of data that was standardised
// before it reached the model (DESIGN.md failure 4).
const alreadyStandardizedNote = "looks already standardised: per-request standardisation upstream " +
	"(mean ≈ 0, std ≈ 1 where training's are not); standardise with the bundle's scaler instead"

// skewOutput is what skew prints with --json.
type skewOutput struct {
	Ref     string          `json:"ref"`
	Digest  artifact.Digest `json:"digest"`
	Refused bool            `json:"refused"`
	Flagged []string        `json:"flagged"`
	Notes   []string        `json:"notes"`
	*artifact.SkewReport
}

// runSkew checks the bundle REF names, then compares --data with its
// scaler's training statistics feature by feature. It prints the report (a
// table, or JSON) on stdout and exits 3 when a feature passes a threshold
// or the columns are missing, extra, repeated or out of order.
func runSkew(ctx context.Context, opts skewOptions, args []string) error {
	if err := wantArgs("skew", args, 1); err != nil {
		return err
	}
	if opts.data == "" {
		return usageError("skew needs --data F")
	}
	if err := checkThresholds(opts.th); err != nil {
		return err
	}
	st, rb, err := bundleStandardizer(ctx, opts.g, args[0], nil)
	if err != nil {
		return err
	}
	rep, err := readSkew(opts, st)
	if err != nil {
		return err
	}
	out := skewOutput{Ref: rb.ref.String(), Digest: rb.digest, Refused: rep.Refused(), Flagged: rep.Flagged(), Notes: skewNotes(rep), SkewReport: rep}
	if out.Flagged == nil {
		out.Flagged = []string{}
	}
	if opts.json {
		err = writeJSON(opts.g.stdout, out)
	} else {
		err = out.write(opts.g.stdout)
	}
	if err != nil {
		return err
	}
	if out.Refused {
		return &fatalError{code: exitRefused, err: fmt.Errorf("skew of %s against %s: %s", opts.data, out.Ref, strings.Join(out.Notes, "; "))}
	}
	return nil
}

// checkThresholds is a usage error naming each threshold that cannot mean
// anything: a shift ≤ 0 or std ratio ≤ 1 would flag every feature, a
// negative PSI threshold would turn PSI off.
func checkThresholds(th artifact.SkewThresholds) error {
	var bad []string
	if !(th.Shift > 0) {
		bad = append(bad, fmt.Sprintf("--threshold-shift %v must be above 0", th.Shift))
	}
	if !(th.StdRatio > 1) {
		bad = append(bad, fmt.Sprintf("--threshold-std %v must be above 1", th.StdRatio))
	}
	if !(th.PSI >= 0) {
		bad = append(bad, fmt.Sprintf("--threshold-psi %v must be at least 0", th.PSI))
	}
	if len(bad) == 0 {
		return nil
	}
	return usageError("skew thresholds: %s", strings.Join(bad, "; "))
}

// readSkew reads the data file into a skew report.
func readSkew(opts skewOptions, st *artifact.Standardizer) (*artifact.SkewReport, error) {
	in, err := openInput(opts.g, opts.data)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	rows, err := artifact.NewRowReader(in)
	if err != nil {
		return nil, usageError("--data %s: %w", opts.data, err)
	}
	rep, err := st.Skew(rows, opts.th)
	if err != nil {
		return nil, usageError("--data %s: %w", opts.data, err)
	}
	if rep.Rows == 0 {
		return nil, usageError("--data %s has a header but no rows", opts.data)
	}
	return rep, nil
}

// skewNotes says in words what the report found.
func skewNotes(r *artifact.SkewReport) []string {
	notes := []string{}
	if r.AlreadyStandardized {
		notes = append(notes, alreadyStandardizedNote)
	}
	if !r.Columns.OK() {
		notes = append(notes, "columns: "+r.Columns.String())
	}
	if f := r.Flagged(); len(f) > 0 {
		notes = append(notes, fmt.Sprintf("past a threshold: %s", strings.Join(f, ", ")))
	}
	return notes
}

// write renders the report as a table.
func (o skewOutput) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "bundle\t%s@%s\nrows\t%d\n\n", strings.SplitN(o.Ref, "@", 2)[0], o.Digest, o.Rows)
	fmt.Fprintln(tw, "feature\tmean\tstd\ttrain mean\ttrain std\tshift\tstd ratio\tpsi\tflags")
	for _, f := range o.Features {
		fmt.Fprintf(tw, "%s\t%.6g\t%.6g\t%.6g\t%.6g\t%+.3f\t%.3f\t%.3f\t%s\n", f.Feature, float64(f.Mean), float64(f.Std),
			float64(f.TrainMean), float64(f.TrainStd), float64(f.Shift), float64(f.StdRatio), float64(f.PSI), strings.Join(f.Flags, ","))
	}
	for _, n := range o.Notes {
		fmt.Fprintf(tw, "\n%s", n)
	}
	if len(o.Notes) == 0 {
		fmt.Fprint(tw, "\nno skew past the thresholds")
	}
	fmt.Fprintln(tw)
	return tw.Flush()
}
