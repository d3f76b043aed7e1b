package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// Row is one measurement. Key identifies it across runs (compare matches on it).
type Row struct {
	Key   string  `json:"key"`
	Group string  `json:"group"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"` // s, ms, req/s, bytes
	// Bases are the Keys of the rows this one is compared with; Ratios[i] > 1
	// means this row is better than Bases[i] (faster, more requests, fewer bytes).
	Bases        []string  `json:"bases,omitempty"`
	Ratios       []float64 `json:"ratios,omitempty"`
	MBps         float64   `json:"mb_per_s,omitempty"`
	ServerRSSMiB float64   `json:"server_rss_mib,omitempty"`
	ClientRSSMiB float64   `json:"client_rss_mib,omitempty"`
	Runs         int       `json:"runs,omitempty"` // measurements this row is the median of (0: one)
}

// Report is a run: the machine and the rows.
type Report struct {
	Machine string `json:"machine"`
	Rows    []Row  `json:"rows"`
}

// add appends r, printing it as it comes (long runs show progress).
func (rep *Report) add(r Row) {
	rep.Rows = append(rep.Rows, r)
	fmt.Fprintf(os.Stderr, "bench: %-10s %-44s %10.3f %s\n", r.Group, r.Name, r.Value, r.Unit)
}

// medians merges the rows measured more than once (same Key) into one, in
// the place of the first: the median run's value and MB/s (the lower of the
// two middle runs when even), the highest peak RSS of all runs.
func (rep *Report) medians() {
	byKey := map[string][]Row{}
	var order []string
	for _, r := range rep.Rows {
		if _, seen := byKey[r.Key]; !seen {
			order = append(order, r.Key)
		}
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	rep.Rows = rep.Rows[:0]
	for _, k := range order {
		runs := byKey[k]
		if len(runs) == 1 {
			rep.Rows = append(rep.Rows, runs[0])
			continue
		}
		slices.SortStableFunc(runs, func(a, b Row) int { return cmp.Compare(a.Value, b.Value) })
		m := runs[(len(runs)-1)/2]
		m.Runs = len(runs)
		for _, r := range runs {
			m.ServerRSSMiB, m.ClientRSSMiB = max(m.ServerRSSMiB, r.ServerRSSMiB), max(m.ClientRSSMiB, r.ClientRSSMiB)
		}
		rep.Rows = append(rep.Rows, m)
	}
}

// lowerIsBetter reports whether a smaller value of unit is better.
func lowerIsBetter(unit string) bool { return unit != "req/s" }

// ratio is how many times better a is than b in unit.
func ratio(a, b float64, unit string) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	if lowerIsBetter(unit) {
		return b / a
	}
	return a / b
}

// fillRatios computes every row's Ratios against its Bases.
func (rep *Report) fillRatios() {
	byKey := map[string]Row{}
	for _, r := range rep.Rows {
		byKey[r.Key] = r
	}
	for i, r := range rep.Rows {
		rep.Rows[i].Ratios = nil
		for _, base := range r.Bases {
			rep.Rows[i].Ratios = append(rep.Rows[i].Ratios, ratio(r.Value, byKey[base].Value, r.Unit))
		}
	}
}

// print writes the table: one line a row, the ratio against its base.
func (rep *Report) print(w io.Writer) {
	fmt.Fprintf(w, "machine: %s\n\n", rep.Machine)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "group\tmeasurement\tvalue\tMB/s\tregistry RSS MiB\tclient RSS MiB\tbetter than (ratio)\t")
	for _, r := range rep.Rows {
		name := r.Name
		if r.Runs > 1 {
			name += fmt.Sprintf(" [median of %d]", r.Runs)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Group, name, value(r.Value, r.Unit),
			opt(r.MBps, "%.0f"), opt(r.ServerRSSMiB, "%.0f"), opt(r.ClientRSSMiB, "%.0f"), ratios(r))
	}
	tw.Flush()
}

// ratios formats a row's ratios as "1.32x KEY; ...".
func ratios(r Row) string {
	var parts []string
	for i, base := range r.Bases {
		if i < len(r.Ratios) {
			parts = append(parts, fmt.Sprintf("%.2fx %s", r.Ratios[i], base))
		}
	}
	return strings.Join(parts, "; ")
}

// value formats a measurement with its unit.
func value(v float64, unit string) string {
	if unit == "bytes" || unit == "req/s" {
		return fmt.Sprintf("%.0f %s", v, unit)
	}
	return fmt.Sprintf("%.3f %s", v, unit)
}

// opt formats v, or "" when it was not measured.
func opt(v float64, format string) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf(format, v)
}

// save writes the report as JSON.
func (rep *Report) save(path string) error {
	raw, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

// load reads a report written by save.
func load(path string) (Report, error) {
	var rep Report
	raw, err := os.ReadFile(path)
	if err != nil {
		return rep, err
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return rep, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

// compare prints, for every row in both runs A and B, how many times better
// B is than A; runs with no row in common are an error.
func compare(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: normreg-bench compare A.json B.json")
	}
	a, err := load(args[0])
	if err != nil {
		return err
	}
	b, err := load(args[1])
	if err != nil {
		return err
	}
	old := map[string]Row{}
	for _, r := range a.Rows {
		old[r.Key] = r
	}
	var both []Row
	for _, r := range b.Rows {
		if _, ok := old[r.Key]; ok {
			both = append(both, r)
		}
	}
	if len(both) == 0 {
		return fmt.Errorf("%s and %s have no rows in common (were they run with other --sizes or --groups?)", args[0], args[1])
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.Debug)
	fmt.Fprintf(tw, "measurement\tA\tB\tB better by\t\n")
	for _, r := range both {
		o := old[r.Key]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2fx\t\n", strings.TrimSpace(r.Group+" "+r.Name),
			value(o.Value, o.Unit), value(r.Value, r.Unit), ratio(r.Value, o.Value, r.Unit))
	}
	return tw.Flush()
}
