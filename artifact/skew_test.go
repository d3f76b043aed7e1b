package artifact

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// TestSkewFixtures runs the production samples drawn by the fixture
// generator against their bundle's scaler: the shifted sample is flagged on
// exactly the two shifted features, the training-like one passes, the
// per-request standardised one is recognised.
func TestSkewFixtures(t *testing.T) {
	for _, name := range []string{"mlp", "cnn", "mlp-nomean"} {
		st := fixtureStandardizer(t, name)
		skew := func(file string) *SkewReport {
			r, err := st.Skew(openRows(t, interopPath(name, file)), DefaultSkewThresholds())
			if err != nil {
				t.Fatal(err)
			}
			if r.Rows != 500 || !r.Columns.OK() {
				t.Fatalf("%s %s: %d rows, columns %+v", name, file, r.Rows, r.Columns)
			}
			return r
		}
		if r := skew("sample-ok.csv"); r.Refused() || r.AlreadyStandardized {
			t.Errorf("%s sample-ok: flagged %v, standardised %v: %+v", name, r.Flagged(), r.AlreadyStandardized, r.Features)
		}
		want := fixtureCase(t, name).Samples.ShiftedFeatures
		if r := skew("sample-shifted.csv"); !slices.Equal(r.Flagged(), want) || r.AlreadyStandardized {
			t.Errorf("%s sample-shifted: flagged %v, want %v: %+v", name, r.Flagged(), want, r.Features)
		}
		if r := skew("sample-standardized.csv"); !r.AlreadyStandardized || !r.Refused() {
			t.Errorf("%s sample-standardized: not recognised: %+v", name, r.Features)
		}
	}
}

// TestSkewShiftValue checks the shift of the fixture's shifted features is
// the generator's +1.5 training std, within sampling noise.
func TestSkewShiftValue(t *testing.T) {
	st := fixtureStandardizer(t, "mlp")
	r, err := st.Skew(openRows(t, interopPath("mlp", "sample-shifted.csv")), DefaultSkewThresholds())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Features {
		if f.Feature == "income" && math.Abs(float64(f.Shift)-1.5) > 0.2 {
			t.Errorf("income shift %v, want about 1.5", f.Shift)
		}
	}
}

// TestSkewPSIOptIn: a healthy feature that is not normal (exponential, with
// the training mean and std) passes the default thresholds, while its PSI
// against the normal of those moments is high, and is flagged on PSI only
// when a PSI threshold is given.
func TestSkewPSIOptIn(t *testing.T) {
	st := &Standardizer{Features: []string{"wait"}, Mean: []float64{1}, Scale: []float64{1}, TrainMean: []float64{1}, TrainStd: []float64{1}}
	var csv strings.Builder
	csv.WriteString("wait\n")
	const n = 4000
	for i := range n { // exponential(1) quantiles: mean 1, std 1
		fmt.Fprintf(&csv, "%v\n", -math.Log(1-(float64(i)+0.5)/n))
	}
	skew := func(th SkewThresholds) *SkewReport {
		rr, err := NewRowReader(strings.NewReader(csv.String()))
		if err != nil {
			t.Fatal(err)
		}
		r, err := st.Skew(rr, th)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := skew(DefaultSkewThresholds())
	if f := r.Features[0]; r.Refused() || math.Abs(float64(f.PSI)-1.35) > 0.01 || math.Abs(float64(f.Shift)) > 0.01 {
		t.Fatalf("exponential feature with the training moments: refused %v, %+v; want passed, shift about 0, PSI 1.35 (docs/regctl-skew.md)", r.Refused(), f)
	}
	th := DefaultSkewThresholds()
	th.PSI = 0.2
	if r := skew(th); !slices.Equal(r.Features[0].Flags, []string{"psi"}) {
		t.Errorf("with a PSI threshold of 0.2: flags %v, want [psi]", r.Features[0].Flags)
	}
}

// TestSkewColumns reports missing, extra and out-of-order columns.
func TestSkewColumns(t *testing.T) {
	st := &Standardizer{Features: []string{"a", "b", "c"}, Mean: []float64{0, 0, 0}, Scale: []float64{1, 1, 1}, TrainMean: []float64{0, 0, 0}, TrainStd: []float64{1, 1, 1}}
	rr, err := NewRowReader(strings.NewReader("c,a,x\n0.1,-0.2,5\n-0.1,0.2,6\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Skew(rr, DefaultSkewThresholds())
	if err != nil {
		t.Fatal(err)
	}
	c := r.Columns
	if !slices.Equal(c.Missing, []string{"b"}) || !slices.Equal(c.Extra, []string{"x"}) || !c.OutOfOrder || !r.Refused() {
		t.Fatalf("columns %+v, refused %v", c, r.Refused())
	}
	if r.Features[1].Count != 0 || !math.IsNaN(float64(r.Features[1].Mean)) || len(r.Features[1].Flags) != 0 {
		t.Errorf("missing feature b has statistics: %+v", r.Features[1])
	}
	if r.Features[0].Count != 2 || math.Abs(float64(r.Features[0].Mean)) > 1e-15 {
		t.Errorf("feature a: %+v", r.Features[0])
	}
}

// TestSkewColumnOrder: CSV columns in another order than the features are
// reported (a position is what serving feeds), JSON objects' keys in another
// order are not (they have none).
func TestSkewColumnOrder(t *testing.T) {
	st := &Standardizer{Features: []string{"a", "b"}, Mean: []float64{0, 0}, Scale: []float64{1, 1}, TrainMean: []float64{0, 0}, TrainStd: []float64{1, 1}}
	for in, outOfOrder := range map[string]bool{"b,a\n1,-1\n-1,1\n": true, `{"b": 1, "a": -1}` + "\n" + `{"a": 1, "b": -1}` + "\n": false} {
		rr, err := NewRowReader(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		r, err := st.Skew(rr, DefaultSkewThresholds())
		if err != nil {
			t.Fatal(err)
		}
		if r.Columns.OutOfOrder != outOfOrder || r.Refused() != outOfOrder || r.Rows != 2 {
			t.Errorf("%q: columns %+v, refused %v; want out of order %v", in, r.Columns, r.Refused(), outOfOrder)
		}
		if js, _ := json.Marshal(r.Columns); !strings.Contains(string(js), `"missing":[],"extra":[],"duplicate":[]`) {
			t.Errorf("columns as JSON: %s; want empty lists, not null", js)
		}
	}
}

// TestRunningStats compares Welford's running values with two-pass ones.
func TestRunningStats(t *testing.T) {
	xs := []float64{1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16}
	var r RunningStats
	for _, x := range xs {
		r.Add(x)
	}
	if r.N != 4 || r.Mean != 1e9+10 || r.Variance() != 22.5 {
		t.Fatalf("n %d mean %v var %v; want 4, 1e9+10, 22.5", r.N, r.Mean, r.Variance())
	}
	if !math.IsNaN(RunningStats{}.Variance()) {
		t.Error("empty variance is not NaN")
	}
	var far RunningStats // a sidecar fed 1e308 and -1e308 keeps a usable mean
	for _, x := range []float64{1e308, -1e308, 4} {
		far.Add(x)
	}
	if math.Abs(far.Mean-4.0/3) > 1e-12 || !math.IsInf(far.Variance(), 1) {
		t.Errorf("1e308, -1e308, 4: mean %v variance %v; want 4/3 and +Inf", far.Mean, far.Variance())
	}
}

// TestPSIBins checks the bins and that the normal shares sum to 1.
func TestPSIBins(t *testing.T) {
	var sum float64
	for i := range psiBins {
		sum += normalShare(i)
	}
	if math.Abs(sum-1) > 1e-15 {
		t.Errorf("shares sum to %v", sum)
	}
	for z, want := range map[float64]int{-9: 0, -2: 1, -0.01: 4, 0: 5, 1.99: 8, 2: 9, 50: 9} {
		if got := psiBin(z); got != want {
			t.Errorf("psiBin(%v) = %d, want %d", z, got, want)
		}
	}
}
