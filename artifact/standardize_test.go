package artifact

import (
	"bytes"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

// readAll reads every row of a RowReader into memory (tests only).
func readAll(t *testing.T, rr RowReader) [][]float64 {
	t.Helper()
	var rows [][]float64
	for {
		row, err := rr.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, slices.Clone(row))
	}
}

// assertClose fails unless got equals want to 1e-12 relative, row by row.
func assertClose(t *testing.T, got, want [][]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		for j := range want[i] {
			g, w := got[i][j], want[i][j]
			if math.Abs(g-w) > 1e-12*math.Abs(w) {
				t.Errorf("row %d col %d: %v, sklearn has %v", i, j, g, w)
			}
		}
	}
}

// TestStandardizeMatchesSklearn standardises the fixtures' raw rows and
// compares with scikit-learn's transform output (std.csv).
func TestStandardizeMatchesSklearn(t *testing.T) {
	for _, name := range []string{"mlp", "cnn", "mlp-nomean"} {
		st := fixtureStandardizer(t, name)
		var out bytes.Buffer
		n, err := st.Standardize(openRows(t, interopPath(name, "raw.csv")), &out)
		if err != nil || n != 5 {
			t.Fatalf("%s: %d rows, %v", name, n, err)
		}
		got, err := NewRowReader(&out)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Header(), st.Features) {
			t.Fatalf("%s: header %v, want %v", name, got.Header(), st.Features)
		}
		assertClose(t, readAll(t, got), readAll(t, openRows(t, interopPath(name, "std.csv"))))
	}
}

// TestStandardizeWithoutMeanOrStd: with_mean=False keeps mean_ but does not
// subtract it, with_std=False does not divide (scikit-learn's transform).
func TestStandardizeWithoutMeanOrStd(t *testing.T) {
	for _, c := range []struct {
		json                string
		mean, std           float64
		trainMean, trainStd float64
		transform3          float64
	}{
		{`{"mean_":[1],"scale_":[2],"var_":[4],"n_samples_seen_":4,"with_mean":true,"with_std":true}`, 1, 2, 1, 2, 1},
		{`{"mean_":[1],"scale_":[2],"var_":[4],"n_samples_seen_":4,"with_mean":false,"with_std":true}`, 0, 2, 1, 2, 1.5},
		{`{"mean_":[1],"var_":[9],"n_samples_seen_":4,"with_mean":true,"with_std":false}`, 1, 1, 1, 3, 2},
		{`{"mean_":[1],"n_samples_seen_":4,"with_mean":true,"with_std":false}`, 1, 1, 1, 1, 2},
	} {
		s, err := ParseScaler([]byte(c.json))
		if err != nil {
			t.Fatal(err)
		}
		if row := s.Table(nil)[0]; float64(row.Mean) != c.mean || float64(row.Std) != c.std {
			t.Errorf("%s: table row %+v, want mean %v std %v", c.json, row, c.mean, c.std)
		}
		st, err := NewStandardizer(s, []string{"a"})
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Apply(0, 3); got != c.transform3 || st.TrainMean[0] != c.trainMean || st.TrainStd[0] != c.trainStd {
			t.Errorf("%s: transform of 3 is %v (want %v), training mean %v (want %v), std %v (want %v)", c.json, got, c.transform3, st.TrainMean[0], c.trainMean, st.TrainStd[0], c.trainStd)
		}
	}
}

// TestStandardizeByName reorders columns by name, from CSV and JSON lines.
func TestStandardizeByName(t *testing.T) {
	st := &Standardizer{Features: []string{"a", "b"}, Mean: []float64{1, 10}, Scale: []float64{2, 5}}
	for _, in := range []string{
		"b,a\n20,3\n0,1\n",
		"\n{\"b\": 20, \"a\": 3}\n\n{\"a\": 1, \"b\": 0}",
	} {
		rr, err := NewRowReader(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := st.Standardize(rr, &out); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != "a,b\n1,2\n0,-2\n" {
			t.Errorf("input %q gave %q", in, got)
		}
	}
}

// TestStandardizeRefusesColumns refuses missing, extra and repeated columns
// before writing anything.
func TestStandardizeRefusesColumns(t *testing.T) {
	st := &Standardizer{Features: []string{"a", "b"}, Mean: []float64{0, 0}, Scale: []float64{1, 1}}
	for in, want := range map[string]string{
		"a\n1\n":         `missing "b"`,
		"a,b,c\n1,2,3\n": `extra "c"`,
		"a,b,a\n1,2,3\n": `repeated "a"`,
	} {
		rr, err := NewRowReader(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_, err = st.Standardize(rr, &out)
		if !errors.Is(err, ErrColumnMismatch) || !strings.Contains(err.Error(), want) || out.Len() != 0 {
			t.Errorf("input %q: %v, wrote %q; want ErrColumnMismatch naming %s", in, err, out.String(), want)
		}
	}
	if _, err := st.StandardizeRow(map[string]float64{"a": 1, "b": 2, "c": 3}); !errors.Is(err, ErrColumnMismatch) {
		t.Errorf("row with an extra feature: %v", err)
	}
	if got, err := st.StandardizeRow(map[string]float64{"b": 2, "a": 1}); err != nil || !slices.Equal(got, []float64{1, 2}) {
		t.Errorf("row: %v, %v", got, err)
	}
}

// TestRowReaderErrors names the line of a bad value.
func TestRowReaderErrors(t *testing.T) {
	for in, want := range map[string]string{
		"a,b\n1,2\n1,x\n":                `line 3, column "b": "x" is not a number`,
		"{\"a\":1}\n{\"b\":2}\n":         `line 2: key "b" is not in the first line's keys`,
		"{\"a\":1,\"b\":2}\n{\"a\":2}\n": "line 2 has 1 of the first line's 2 keys",
		"{\"a\":1}\n{\"a\":\"one\"}\n":   "line 2: key a: not a number",
	} {
		rr, err := NewRowReader(strings.NewReader(in))
		for err == nil {
			_, err = rr.Next()
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("input %q: %v, want %s", in, err, want)
		}
	}
}

// TestNewStandardizerRefusesUnusableScaler: no scaler, no features, a zero
// scale, a NaN mean (also one with_mean=False keeps: skew compares with it).
func TestNewStandardizerRefusesUnusableScaler(t *testing.T) {
	for _, s := range []*Scaler{nil, {}, {Mean: []float64{0}, Scale: []float64{0}, WithMean: true, WithStd: true},
		{Mean: []float64{math.NaN()}, Scale: []float64{1}, WithMean: true, WithStd: true},
		{Mean: []float64{math.NaN()}, Scale: []float64{1}, WithStd: true}} {
		if _, err := NewStandardizer(s, []string{"a"}); err == nil {
			t.Errorf("scaler %+v accepted", s)
		}
	}
}
