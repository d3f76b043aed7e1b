package artifact

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// ErrInvalidScaler: a scaler file cannot be read as a StandardScaler's
// attributes (not JSON, wrong types, too large).
var ErrInvalidScaler = errors.New("unreadable scaler")

// MaxScalerSize bounds a scaler file in bytes.
const MaxScalerSize = 64 << 20

// scalerJSON is the attribute JSON of a fitted sklearn StandardScaler.
type scalerJSON struct {
	Mean         []Float         `json:"mean_"`
	Scale        []Float         `json:"scale_"`
	Var          []Float         `json:"var_"`
	NSamplesSeen json.RawMessage `json:"n_samples_seen_"`
	NFeaturesIn  int             `json:"n_features_in_"`
	FeatureNames []string        `json:"feature_names_in_"`
	WithMean     *bool           `json:"with_mean"`
	WithStd      *bool           `json:"with_std"`
}

// Float is a float64 whose JSON form carries non-finite values, which
// encoding/json refuses, as the strings "NaN", "Infinity" and "-Infinity".
// It reads those strings (Python's bare tokens once quoteNonFinite has quoted
// them) and null as NaN.
type Float float64

// nonFinite maps Python's non-finite float tokens to their values.
var nonFinite = map[string]float64{"NaN": math.NaN(), "Infinity": math.Inf(1), "-Infinity": math.Inf(-1)}

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		*f = Float(math.NaN())
		return nil
	}
	if v, ok := nonFinite[s[1:max(len(s)-1, 1)]]; ok && s[0] == '"' {
		*f = Float(v)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || s[0] == '"' {
		return fmt.Errorf("%s is not a number", s)
	}
	*f = Float(v)
	return nil
}

// ReadScaler reads at most MaxScalerSize bytes from r and parses them with ParseScaler.
func ReadScaler(r io.Reader) (*Scaler, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxScalerSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidScaler, err)
	}
	return ParseScaler(data)
}

// ParseScaler reads a StandardScaler's attribute JSON. Bare NaN, Infinity
// and -Infinity (as Python writes them) and null array entries are read as
// non-finite values, for the checks to report. Missing attributes are left
// zero; with_mean and with_std default to whether mean_ and scale_ are
// present. Only unreadable input is an error, wrapping ErrInvalidScaler:
// not JSON, wrong types, or none of the attributes that make a scaler.
func ParseScaler(data []byte) (*Scaler, error) {
	if len(data) > MaxScalerSize {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidScaler, MaxScalerSize)
	}
	var j scalerJSON
	quoted := quoteNonFinite(data)
	if err := json.Unmarshal(quoted, &j); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidScaler, err)
	}
	if k := duplicateKey(quoted); k != "" {
		return nil, fmt.Errorf("%w: %q is given twice", ErrInvalidScaler, k)
	}
	s := &Scaler{
		Mean: floats(j.Mean), Scale: floats(j.Scale), Var: floats(j.Var),
		NFeaturesIn: j.NFeaturesIn, FeatureNames: j.FeatureNames,
		WithMean: boolOr(j.WithMean, j.Mean != nil), WithStd: boolOr(j.WithStd, j.Scale != nil),
	}
	if err := s.readSamplesSeen(j.NSamplesSeen); err != nil {
		return nil, fmt.Errorf("%w: n_samples_seen_: %w", ErrInvalidScaler, err)
	}
	if j.Mean == nil && j.Scale == nil && j.Var == nil && j.WithMean == nil && j.WithStd == nil {
		return nil, fmt.Errorf("%w: it has none of mean_, scale_ and var_ (nor with_mean and with_std false): not a fitted StandardScaler's attributes", ErrInvalidScaler)
	}
	return s, nil
}

// readSamplesSeen reads n_samples_seen_, one number or one per feature.
func (s *Scaler) readSamplesSeen(raw json.RawMessage) error {
	if len(raw) == 0 || raw[0] != '[' {
		var n Float
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
		}
		s.NSamplesSeen = float64(n)
		return nil
	}
	var per []Float
	if err := json.Unmarshal(raw, &per); err != nil {
		return err
	}
	s.SamplesSeen = floats(per)
	if len(per) > 0 {
		s.NSamplesSeen = slices.Min(s.SamplesSeen)
	}
	return nil
}

// floats converts, keeping nil as nil.
func floats(in []Float) []float64 {
	if in == nil {
		return nil
	}
	out := make([]float64, len(in))
	for i, v := range in {
		out[i] = float64(v)
	}
	return out
}

// boolOr returns *b, or def when b is nil.
func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// quoteNonFinite returns data with every NaN, Infinity and -Infinity token
// outside JSON strings quoted, so that encoding/json accepts it.
func quoteNonFinite(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			inString = escaped || c != '"'
			escaped = !escaped && c == '\\'
		} else if tok := nonFiniteToken(data[i:]); tok != "" {
			out = append(out, '"')
			out = append(out, tok...)
			out = append(out, '"')
			i += len(tok) - 1
			continue
		} else {
			inString = c == '"'
		}
		out = append(out, c)
	}
	return out
}

// nonFiniteToken returns the non-finite token b starts with, or "".
func nonFiniteToken(b []byte) string {
	for _, tok := range []string{"NaN", "Infinity", "-Infinity"} {
		if len(b) >= len(tok) && string(b[:len(tok)]) == tok {
			return tok
		}
	}
	return ""
}

// FeatureCount returns the scaler's number of features: n_features_in_ when
// given, else the length of its first present array.
func (s *Scaler) FeatureCount() int {
	if s.NFeaturesIn > 0 {
		return s.NFeaturesIn
	}
	for _, a := range [][]float64{s.Mean, s.Scale, s.Var} {
		if a != nil {
			return len(a)
		}
	}
	return len(s.FeatureNames)
}

// ScalerRow is one feature's line in a scaler table.
type ScalerRow struct {
	Feature string `json:"feature"`
	Mean    Float  `json:"mean"` // subtracted; 0 when with_mean is false
	Std     Float  `json:"std"`  // divided by; 1 when with_std is false
}

// Table returns the transform the scaler applies per feature, as
// scikit-learn's transform does: mean_ is subtracted only when with_mean is
// true (StandardScaler(with_mean=False) keeps mean_ but does not subtract
// it), scale_ divided by only when with_std is true. Features are named
// from feature_names_in_, else from names (the model's schema), else "x<i>"
// as scikit-learn does.
func (s *Scaler) Table(names []string) []ScalerRow {
	rows := make([]ScalerRow, s.FeatureCount())
	for i := range rows {
		rows[i] = ScalerRow{Feature: featureName(i, s.FeatureNames, names), Mean: 0, Std: 1}
		if s.WithMean {
			rows[i].Mean = at(s.Mean, i, 0)
		}
		if s.WithStd {
			rows[i].Std = at(s.Scale, i, 1)
		}
	}
	return rows
}

// featureName returns the i-th name from the first list long enough, else "x<i>".
func featureName(i int, lists ...[]string) string {
	for _, l := range lists {
		if i < len(l) {
			return l[i]
		}
	}
	return "x" + strconv.Itoa(i)
}

// at returns a[i], or def when a is too short.
func at(a []float64, i int, def Float) Float {
	if i < len(a) {
		return Float(a[i])
	}
	return def
}
