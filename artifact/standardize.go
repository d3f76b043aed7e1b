package artifact

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// ErrColumnMismatch: input columns are not exactly the model's features.
var ErrColumnMismatch = errors.New("columns do not match the model's features")

// Standardizer applies a bundle's StandardScaler by feature name. Its
// arithmetic is scikit-learn's transform in float64: z = (x - mean_) / scale_,
// with mean 0 when with_mean is false and scale 1 when with_std is false, so
// the results are bit-for-bit those of transform.
type Standardizer struct {
	Features []string  // the features in model order
	Mean     []float64 // subtracted, per feature
	Scale    []float64 // divided by, per feature
	// TrainMean is the training data's mean per feature, what skew
	// compares production data with: mean_, which scikit-learn keeps when
	// with_mean is false too (and Mean is 0); Mean when the scaler has no
	// mean_.
	TrainMean []float64
	// TrainStd is the training data's standard deviation per feature, the
	// unit of skew's shifts: Scale, or, when with_std is false (Scale is
	// 1), sqrt(var_), which scikit-learn keeps then, if it is positive.
	TrainStd []float64
}

// NewStandardizer returns the transform of scaler s over the model's
// features (names come from feature_names_in_, else from features). A nil
// scaler, one without features, or one whose mean is non-finite or whose
// scale is not positive and finite is an error: checks report it as
// scaler-missing or scaler-invalid before a standardizer is built.
func NewStandardizer(s *Scaler, features []string) (*Standardizer, error) {
	if s == nil || s.FeatureCount() == 0 {
		return nil, errors.New("the bundle has no scaler to standardise with")
	}
	st := &Standardizer{}
	for i, r := range s.Table(features) {
		m, sc, tm := float64(r.Mean), float64(r.Std), float64(at(s.Mean, i, r.Mean))
		if math.IsNaN(tm) || math.IsInf(tm, 0) || !(sc > 0) || math.IsInf(sc, 0) { // m is tm or 0
			return nil, fmt.Errorf("scaler feature %q has mean %v, scale %v: not usable", r.Feature, tm, sc)
		}
		st.Features, st.Mean, st.Scale = append(st.Features, r.Feature), append(st.Mean, m), append(st.Scale, sc)
		ts := sc
		if v := float64(at(s.Var, i, 0)); !s.WithStd && v > 0 && !math.IsInf(v, 0) {
			ts = math.Sqrt(v)
		}
		st.TrainMean, st.TrainStd = append(st.TrainMean, tm), append(st.TrainStd, ts)
	}
	return st, nil
}

// Apply returns feature i's standardised value of x.
func (st *Standardizer) Apply(i int, x float64) float64 { return (x - st.Mean[i]) / st.Scale[i] }

// ColumnDiff compares an input's columns with the model's features.
type ColumnDiff struct {
	Missing    []string `json:"missing"`      // features no column holds
	Extra      []string `json:"extra"`        // columns that are not features
	Duplicate  []string `json:"duplicate"`    // columns named twice
	OutOfOrder bool     `json:"out_of_order"` // the shared columns are not in feature order
}

// OK reports whether the columns are exactly the features, in order.
func (d ColumnDiff) OK() bool {
	return len(d.Missing)+len(d.Extra)+len(d.Duplicate) == 0 && !d.OutOfOrder
}

// String describes the differences, e.g. `missing "balance"; out of order`.
func (d ColumnDiff) String() string {
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"missing", d.Missing}, {"extra", d.Extra}, {"repeated", d.Duplicate}} {
		if len(p.names) > 0 {
			parts = append(parts, p.what+" "+list(quoteAll(p.names)))
		}
	}
	if d.OutOfOrder {
		parts = append(parts, "out of order")
	}
	return strings.Join(parts, "; ")
}

// Columns maps an input's header to the features: idx[i] is the column
// holding feature i, or -1 when no column does. diff says what differs.
func (st *Standardizer) Columns(header []string) (idx []int, diff ColumnDiff) {
	diff = ColumnDiff{Missing: []string{}, Extra: []string{}, Duplicate: []string{}} // [] in JSON, not null
	pos := map[string]int{}
	for c, name := range header {
		if _, dup := pos[name]; dup {
			diff.Duplicate = append(diff.Duplicate, name)
			continue
		}
		pos[name] = c
		if !slices.Contains(st.Features, name) {
			diff.Extra = append(diff.Extra, name)
		}
	}
	idx = make([]int, len(st.Features))
	last := -1
	for i, f := range st.Features {
		c, ok := pos[f]
		if !ok {
			idx[i] = -1
			diff.Missing = append(diff.Missing, f)
			continue
		}
		diff.OutOfOrder = diff.OutOfOrder || c < last
		idx[i], last = c, c
	}
	return idx, diff
}

// exactColumns is Columns for input that must hold every feature once and
// nothing else (any order): other input is an error wrapping
// ErrColumnMismatch.
func (st *Standardizer) exactColumns(header []string) ([]int, error) {
	idx, diff := st.Columns(header)
	if len(diff.Missing)+len(diff.Extra)+len(diff.Duplicate) > 0 {
		return nil, fmt.Errorf("%w: %s (model features: %s)", ErrColumnMismatch, diff, strings.Join(st.Features, ","))
	}
	return idx, nil
}

// Standardize reads every row of in, standardises it by feature name and
// writes it as CSV to out: a header line of the features in model order,
// then one line per row, each value in the shortest form that reads back
// exactly. Columns may come in any order but must be exactly the features,
// else nothing is written and the error wraps ErrColumnMismatch. Memory
// holds one row. It returns the number of rows written.
func (st *Standardizer) Standardize(in RowReader, out io.Writer) (int64, error) {
	idx, err := st.exactColumns(in.Header())
	if err != nil {
		return 0, err
	}
	w := csv.NewWriter(out)
	if err := w.Write(st.Features); err != nil {
		return 0, err
	}
	rec := make([]string, len(st.Features))
	var n int64
	for {
		row, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, err
		}
		for i, c := range idx {
			rec[i] = strconv.FormatFloat(st.Apply(i, row[c]), 'g', -1, 64)
		}
		if err := w.Write(rec); err != nil {
			return n, err
		}
		n++
	}
	w.Flush()
	return n, w.Error()
}

// StandardizeRow standardises one row given by feature name: it must name
// every feature once and nothing else (error wrapping ErrColumnMismatch).
// The result is in model order.
func (st *Standardizer) StandardizeRow(row map[string]float64) ([]float64, error) {
	out := make([]float64, len(st.Features))
	for i, f := range st.Features {
		x, ok := row[f]
		if !ok {
			return nil, fmt.Errorf("%w: missing %q", ErrColumnMismatch, f)
		}
		out[i] = st.Apply(i, x)
	}
	if len(row) != len(st.Features) {
		_, diff := st.Columns(slices.Sorted(maps.Keys(row)))
		return nil, fmt.Errorf("%w: extra %v", ErrColumnMismatch, diff.Extra)
	}
	return out, nil
}

// RowReader reads rows of named numbers one at a time.
type RowReader interface {
	// Header returns the column names, in input order.
	Header() []string
	// Ordered reports whether that order means something: a CSV's columns
	// are positions, a JSON object's keys are not.
	Ordered() bool
	// Next returns the next row's values in Header order, or io.EOF after
	// the last row. The slice is reused by the next call.
	Next() ([]float64, error)
}

// NewRowReader reads CSV with a header line of names, or JSON lines (one
// object of name → number per line; the first line's keys, in order, are
// the header, and every later line must have the same keys). The format is
// told by the first non-blank byte: '{' is JSON lines.
func NewRowReader(r io.Reader) (RowReader, error) {
	br := bufio.NewReader(r)
	for {
		b, err := br.Peek(1)
		if err != nil {
			return nil, fmt.Errorf("reading rows: no header: %w", err)
		}
		if !unicode.IsSpace(rune(b[0])) {
			if b[0] == '{' {
				return newJSONLinesReader(br)
			}
			return newCSVRowReader(br)
		}
		br.ReadByte()
	}
}

// csvRowReader is the CSV RowReader.
type csvRowReader struct {
	r      *csv.Reader
	header []string
	row    []float64
}

func newCSVRowReader(r io.Reader) (*csvRowReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the CSV header: %w", err)
	}
	return &csvRowReader{r: cr, header: slices.Clone(header), row: make([]float64, len(header))}, nil
}

// Header implements RowReader.
func (c *csvRowReader) Header() []string { return c.header }

// Ordered implements RowReader: a CSV's columns are positions.
func (c *csvRowReader) Ordered() bool { return true }

// Next implements RowReader.
func (c *csvRowReader) Next() ([]float64, error) {
	rec, err := c.r.Read()
	if err != nil {
		return nil, err
	}
	line, _ := c.r.FieldPos(0)
	for i, s := range rec {
		if c.row[i], err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return nil, fmt.Errorf("line %d, column %q: %q is not a number", line, c.header[i], s)
		}
	}
	return c.row, nil
}

// jsonLinesReader is the JSON lines RowReader.
type jsonLinesReader struct {
	r      *bufio.Reader
	line   int
	header []string
	pos    map[string]int
	row    []float64
	first  []float64 // the first line's values, returned by the first Next
}

func newJSONLinesReader(r *bufio.Reader) (*jsonLinesReader, error) {
	j := &jsonLinesReader{r: r, pos: map[string]int{}}
	err := j.readLine(func(key string, v float64) error {
		if _, dup := j.pos[key]; dup {
			return fmt.Errorf("key %q repeated", key)
		}
		j.pos[key] = len(j.header)
		j.header, j.first = append(j.header, key), append(j.first, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	j.row = make([]float64, len(j.header))
	return j, nil
}

// Header implements RowReader.
func (j *jsonLinesReader) Header() []string { return j.header }

// Ordered implements RowReader: a JSON object's keys have no order.
func (j *jsonLinesReader) Ordered() bool { return false }

// Next implements RowReader.
func (j *jsonLinesReader) Next() ([]float64, error) {
	if j.first != nil {
		copy(j.row, j.first)
		j.first = nil
		return j.row, nil
	}
	seen := 0
	err := j.readLine(func(key string, v float64) error {
		i, ok := j.pos[key]
		if !ok {
			return fmt.Errorf("key %q is not in the first line's keys", key)
		}
		j.row[i] = v
		seen++
		return nil
	})
	if err == nil && seen != len(j.header) {
		err = fmt.Errorf("line %d has %d of the first line's %d keys", j.line, seen, len(j.header))
	}
	return j.row, err
}

// readLine decodes the next non-blank line, an object of numbers, calling
// set for each key in order. At the end of input it returns io.EOF.
func (j *jsonLinesReader) readLine(set func(key string, v float64) error) error {
	for {
		b, err := j.r.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			j.line++
			if err := decodeObject(b, set); err != nil {
				return fmt.Errorf("JSON lines, line %d: %w", j.line, err)
			}
			return nil
		}
		j.line++
		if err != nil {
			return err
		}
	}
}

// decodeObject decodes one JSON object whose values are numbers, in key order.
func decodeObject(b []byte, set func(key string, v float64) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("not a JSON object")
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		var v json.Number
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("key %v: not a number: %w", k, err)
		}
		f, err := v.Float64()
		if err != nil {
			return fmt.Errorf("key %v: %w", k, err)
		}
		if err := set(k.(string), f); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}
