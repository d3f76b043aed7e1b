package artifact

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// RunningStats is Welford's online mean and variance of a stream of values:
// constant memory, numerically stable.
type RunningStats struct {
	N    int64
	Mean float64
	M2   float64 // sum of squared deviations from Mean
}

// Add adds one finite value. Values at the two ends of float64's range
// (1e308 after -1e308) keep the mean finite; their variance, beyond
// float64, is +Inf, never NaN.
func (r *RunningStats) Add(x float64) {
	r.N++
	n := float64(r.N)
	d := x - r.Mean
	if math.IsInf(d, 0) {
		r.Mean += x/n - r.Mean/n
	} else {
		r.Mean += d / n
	}
	r.M2 += d * (x - r.Mean)
}

// Variance returns the population variance (ddof 0, as StandardScaler's
// var_), NaN before any value.
func (r RunningStats) Variance() float64 {
	if r.N == 0 {
		return math.NaN()
	}
	return r.M2 / float64(r.N)
}

// PSI bins: psiBins fixed bins in standardised units, psiWidth wide from
// psiLow, the outer two open-ended: (-inf, -2), [-2, -1.5), ..., [2, +inf).
const (
	psiBins  = 10
	psiLow   = -2.0
	psiWidth = 0.5
)

// psiFloor stands in for an empty bin's share, so that its log is finite.
const psiFloor = 1e-4

// psiBin returns the bin of a standardised value.
func psiBin(z float64) int {
	if math.IsNaN(z) {
		return 0
	}
	b := math.Floor((z-psiLow)/psiWidth) + 1
	return int(min(max(b, 0), psiBins-1))
}

// normalShare returns the share of a standard normal distribution in bin i:
// what training data, standardised with its own mean_ and scale_, puts there
// when its features are roughly normal (the scaler records only two moments).
func normalShare(i int) float64 {
	cdf := func(z float64) float64 { return 0.5 * (1 + math.Erf(z/math.Sqrt2)) }
	lo, hi := 0.0, 1.0
	if i > 0 {
		lo = cdf(psiLow + psiWidth*float64(i-1))
	}
	if i < psiBins-1 {
		hi = cdf(psiLow + psiWidth*float64(i))
	}
	return hi - lo
}

// Monitor accumulates, per feature, the running statistics of raw values
// and the histogram of their standardised values, in constant memory. It
// is not safe for concurrent use.
type Monitor struct {
	st    *Standardizer
	stats []RunningStats
	hist  [][psiBins]int64
	rows  int64
}

// NewMonitor returns an empty monitor of st's features.
func (st *Standardizer) NewMonitor() *Monitor {
	return &Monitor{st: st, stats: make([]RunningStats, len(st.Features)), hist: make([][psiBins]int64, len(st.Features))}
}

// Add adds one row of raw values in feature order; NaN and infinite values
// (and so missing features) are left out of that feature's statistics.
func (m *Monitor) Add(row []float64) {
	m.rows++
	for i, x := range row {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		m.stats[i].Add(x)
		m.hist[i][psiBin((x-m.st.TrainMean[i])/m.st.TrainStd[i])]++
	}
}

// SkewThresholds say when a feature's production statistics are flagged.
type SkewThresholds struct {
	Shift    float64 // |standardised mean shift| above this
	StdRatio float64 // production std / training std above this or below its inverse
	PSI      float64 // population stability index above this; 0: never flagged (reported only)
}

// DefaultSkewThresholds returns regctl skew's defaults: shift 0.5, std
// ratio 1.5, and PSI reported but not flagged. The scaler records only a
// feature's mean and variance, so PSI compares the production values with a
// normal distribution of those moments: it also measures how far from
// normal the feature is, and flags healthy integer or skewed features.
func DefaultSkewThresholds() SkewThresholds {
	return SkewThresholds{Shift: 0.5, StdRatio: 1.5}
}

// FeatureSkew is one feature's production statistics against training.
type FeatureSkew struct {
	Feature   string   `json:"feature"`
	Count     int64    `json:"count"` // finite values seen
	Mean      Float    `json:"mean"`
	Std       Float    `json:"std"`
	TrainMean Float    `json:"train_mean"`
	TrainStd  Float    `json:"train_std"`
	Shift     Float    `json:"shift"`     // (mean - train_mean) / train_std
	StdRatio  Float    `json:"std_ratio"` // std / train_std
	PSI       Float    `json:"psi"`       // of standardised values over fixed bins, against a standard normal
	Flags     []string `json:"flags"`     // "shift", "std", "psi": thresholds passed
}

// SkewReport compares production data with a bundle's training statistics.
type SkewReport struct {
	Rows     int64         `json:"rows"`
	Columns  ColumnDiff    `json:"columns"`
	Features []FeatureSkew `json:"features"`
	// AlreadyStandardized: the data has mean ≈ 0 and std ≈ 1 on features
	// whose training statistics are far from that: it was standardised
	// upstream, per request, instead of with the training statistics.
	AlreadyStandardized bool `json:"already_standardized"`
}

// Flagged returns the features past a threshold, in feature order.
func (r *SkewReport) Flagged() []string {
	var out []string
	for _, f := range r.Features {
		if len(f.Flags) > 0 {
			out = append(out, f.Feature)
		}
	}
	return out
}

// Refused reports whether the data fails: a feature past a threshold, or
// columns missing, extra, repeated or out of order.
func (r *SkewReport) Refused() bool { return len(r.Flagged()) > 0 || !r.Columns.OK() }

// Report returns each feature's statistics against training, flagged by th.
func (m *Monitor) Report(th SkewThresholds) *SkewReport {
	r := &SkewReport{Rows: m.rows, Features: make([]FeatureSkew, len(m.stats))}
	for i := range m.stats {
		r.Features[i] = m.feature(i, th)
	}
	r.AlreadyStandardized = looksStandardized(r.Features)
	return r
}

// feature computes feature i's line of the report.
func (m *Monitor) feature(i int, th SkewThresholds) FeatureSkew {
	s, mean, scale := m.stats[i], m.st.TrainMean[i], m.st.TrainStd[i]
	std := math.Sqrt(s.Variance())
	f := FeatureSkew{
		Feature: m.st.Features[i], Count: s.N, Mean: Float(s.Mean), Std: Float(std),
		TrainMean: Float(mean), TrainStd: Float(scale),
		Shift: Float((s.Mean - mean) / scale), StdRatio: Float(std / scale), PSI: Float(psi(m.hist[i], s.N)),
		Flags: []string{},
	}
	if s.N == 0 {
		f.Mean, f.Std, f.Shift, f.StdRatio, f.PSI = Float(math.NaN()), Float(math.NaN()), Float(math.NaN()), Float(math.NaN()), Float(math.NaN())
		return f
	}
	for _, c := range []struct {
		flag string
		past bool
	}{
		{"shift", math.Abs(float64(f.Shift)) > th.Shift},
		{"std", float64(f.StdRatio) > th.StdRatio || float64(f.StdRatio) < 1/th.StdRatio},
		{"psi", th.PSI > 0 && float64(f.PSI) > th.PSI},
	} {
		if c.past {
			f.Flags = append(f.Flags, c.flag)
		}
	}
	return f
}

// psi returns the population stability index of a histogram of n values
// against the standard normal shares: sum over bins of (a - e) ln(a / e).
func psi(hist [psiBins]int64, n int64) float64 {
	if n == 0 {
		return math.NaN()
	}
	var sum float64
	for i, c := range hist {
		a, e := max(float64(c)/float64(n), psiFloor), normalShare(i)
		sum += (a - e) * math.Log(a/e)
	}
	return sum
}

// Tolerances of the already-standardised test: production mean within
// stdTolerance of 0 and std within stdTolerance of 1, on features whose
// training mean is at least farMean from 0 or whose training std is outside
// [1/farScale, farScale].
const (
	stdTolerance = 0.05
	farMean      = 0.5
	farScale     = 2.0
)

// looksStandardized reports whether every feature whose training
// statistics are far from (0, 1) — and there is at least one — has
// production mean ≈ 0 and std ≈ 1.
func looksStandardized(fs []FeatureSkew) bool {
	far := 0
	for _, f := range fs {
		tm, ts := float64(f.TrainMean), float64(f.TrainStd)
		if math.Abs(tm) < farMean && ts < farScale && ts > 1/farScale {
			continue
		}
		far++
		if f.Count == 0 || math.Abs(float64(f.Mean)) > stdTolerance || math.Abs(float64(f.Std)-1) > stdTolerance {
			return false
		}
	}
	return far > 0
}

// Skew reads every row of in and compares each feature's production
// statistics with the scaler's: standardised mean shift, std ratio and PSI,
// flagged by th. Columns are matched by name; missing, extra, repeated and
// out-of-order columns (where in's order means something) are reported in
// the report's Columns (a missing feature has no statistics). Memory does
// not grow with the rows.
func (st *Standardizer) Skew(in RowReader, th SkewThresholds) (*SkewReport, error) {
	idx, diff := st.Columns(in.Header())
	diff.OutOfOrder = diff.OutOfOrder && in.Ordered()
	m := st.NewMonitor()
	row := make([]float64, len(st.Features))
	for {
		vals, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", m.rows+1, err)
		}
		for i, c := range idx {
			row[i] = math.NaN()
			if c >= 0 {
				row[i] = vals[c]
			}
		}
		m.Add(row)
	}
	r := m.Report(th)
	r.Columns = diff
	return r, nil
}
