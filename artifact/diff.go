package artifact

import (
	"fmt"
	"math"
	"slices"
)

// DiffSide is what a diff reads of one bundle: nothing but its small parts
// and the weights header.
type DiffSide struct {
	Features      []string
	Scaler        *Scaler            // nil when the bundle has none
	BN            *BNStats           // the bnstats layer; nil when absent
	Weights       *SafetensorsHeader // the weights header
	WeightsDigest Digest
	ScalerDigest  Digest // the scaler layer's; "" when the bundle has none
	// TensorDigest returns the digest of one tensor's bytes (read by ranged
	// reads); nil compares tensors by their headers only.
	TensorDigest func(TensorInfo) (Digest, error)
}

// BundleDiff is what changed from one bundle to another.
type BundleDiff struct {
	Features    FeatureDiff    `json:"features"`
	ScalerLayer DigestChange   `json:"scaler_layer"` // whether the scaler file itself changed
	Scaler      []ScalerChange `json:"scaler"`
	BatchNorm   []BNChange     `json:"batchnorm"`
	Weights     WeightsDiff    `json:"weights"`
}

// FeatureDiff is the change in the input feature schema.
type FeatureDiff struct {
	Added     []string `json:"added"`
	Removed   []string `json:"removed"`
	Reordered bool     `json:"reordered"` // the features both have are in another order
}

// ScalerChange is one feature's scaler change, for a feature both scalers have.
type ScalerChange struct {
	Feature   string `json:"feature"`
	OldMean   Float  `json:"old_mean"`
	NewMean   Float  `json:"new_mean"`
	OldStd    Float  `json:"old_std"`
	NewStd    Float  `json:"new_std"`
	MeanShift Float  `json:"mean_shift"` // (new mean - old mean) / old std
	StdRatio  Float  `json:"std_ratio"`  // new std / old std
}

// BN layer statuses in a diff.
const (
	BNAdded     = "added"
	BNRemoved   = "removed"
	BNMoved     = "moved"     // running statistics or num_batches_tracked changed
	BNUnchanged = "unchanged" // identical running statistics and num_batches_tracked
)

// BNChange is one BatchNorm layer's change in running statistics.
type BNChange struct {
	Layer    string `json:"layer"`
	Status   string `json:"status"` // BNAdded, BNRemoved, BNMoved or BNUnchanged
	Channels int    `json:"channels"`
	// MaxMeanShift is the largest |new mean - old mean| / sqrt(old var) over channels.
	MaxMeanShift Float `json:"max_mean_shift"`
	// MinVarRatio and MaxVarRatio bound new var / old var over channels.
	MinVarRatio Float `json:"min_var_ratio"`
	MaxVarRatio Float `json:"max_var_ratio"`
	OldTracked  int64 `json:"old_num_batches_tracked"`
	NewTracked  int64 `json:"new_num_batches_tracked"`
}

// DigestChange is a layer's digest in each bundle ("" when it has none).
type DigestChange struct {
	OldDigest Digest `json:"old_digest"`
	NewDigest Digest `json:"new_digest"`
	Same      bool   `json:"same"` // identical digests: nothing changed
}

// digestChange compares two layers' digests.
func digestChange(old, new Digest) DigestChange {
	return DigestChange{OldDigest: old, NewDigest: new, Same: old == new}
}

// WeightsDiff is the change in the weights, from their headers and digests.
type WeightsDiff struct {
	DigestChange
	Added     []string       `json:"added"`
	Removed   []string       `json:"removed"`
	Changed   []TensorChange `json:"changed"`
	Unchanged int            `json:"unchanged"`     // tensors shown identical
	Unknown   []string       `json:"bytes_unknown"` // same shape and dtype, bytes not compared
}

// TensorChange is one tensor present in both weights that differs.
type TensorChange struct {
	Name    string   `json:"name"`
	Changes []string `json:"changes"` // e.g. "shape [16 6] -> [16 7]", "dtype F32 -> F16", "bytes"
}

// Diff compares bundle old with bundle new: the feature schema, the scaler
// per feature, the BatchNorm running statistics per layer and the weights'
// tensors. Tensors of equal shape and dtype in weights of different digests
// are compared by TensorDigest on both sides when both have one, else
// listed as bytes unknown.
func Diff(old, new DiffSide) (*BundleDiff, error) {
	d := &BundleDiff{Features: diffFeatures(old.Features, new.Features), ScalerLayer: digestChange(old.ScalerDigest, new.ScalerDigest)}
	d.Scaler = diffScalers(old, new)
	d.BatchNorm = diffBN(old.BN, new.BN)
	w, err := diffWeights(old, new)
	if err != nil {
		return nil, err
	}
	d.Weights = w
	return d, nil
}

// diffFeatures compares two ordered feature lists.
func diffFeatures(old, new []string) FeatureDiff {
	fd := FeatureDiff{Added: notIn(new, old), Removed: notIn(old, new)}
	fd.Reordered = !slices.Equal(only(old, new), only(new, old))
	return fd
}

// notIn returns the names of a that b lacks, in a's order; never nil.
func notIn(a, b []string) []string {
	out := []string{}
	for _, n := range a {
		if !slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}

// only returns the names of a that b has, in a's order.
func only(a, b []string) []string {
	var out []string
	for _, n := range a {
		if slices.Contains(b, n) {
			out = append(out, n)
		}
	}
	return out
}

// diffScalers compares the two scalers feature by feature, by name, in the
// new bundle's order.
func diffScalers(old, new DiffSide) []ScalerChange {
	out := []ScalerChange{}
	if old.Scaler == nil || new.Scaler == nil {
		return out
	}
	oldRows := map[string]ScalerRow{}
	for _, r := range old.Scaler.Table(old.Features) {
		oldRows[r.Feature] = r
	}
	for _, n := range new.Scaler.Table(new.Features) {
		o, ok := oldRows[n.Feature]
		if !ok {
			continue
		}
		out = append(out, ScalerChange{
			Feature: n.Feature, OldMean: o.Mean, NewMean: n.Mean, OldStd: o.Std, NewStd: n.Std,
			MeanShift: (n.Mean - o.Mean) / o.Std, StdRatio: n.Std / o.Std,
		})
	}
	return out
}

// diffBN compares the BatchNorm layers by name: the new bundle's in order,
// then those only the old one has.
func diffBN(old, new *BNStats) []BNChange {
	out := []BNChange{}
	if old == nil {
		old = &BNStats{}
	}
	if new == nil {
		new = &BNStats{}
	}
	for _, n := range new.Layers {
		o, ok := old.Layer(n.Name)
		if !ok {
			out = append(out, BNChange{Layer: n.Name, Status: BNAdded, Channels: n.Channels, NewTracked: n.NumBatchesTracked})
			continue
		}
		out = append(out, diffBNLayer(*o, n))
	}
	for _, o := range old.Layers {
		if _, ok := new.Layer(o.Name); !ok {
			out = append(out, BNChange{Layer: o.Name, Status: BNRemoved, Channels: o.Channels, OldTracked: o.NumBatchesTracked})
		}
	}
	return out
}

// diffBNLayer compares one layer's statistics, channel by channel.
func diffBNLayer(o, n BNLayer) BNChange {
	c := BNChange{Layer: n.Name, Status: BNUnchanged, Channels: n.Channels,
		OldTracked: o.NumBatchesTracked, NewTracked: n.NumBatchesTracked,
		MinVarRatio: Float(math.Inf(1)), MaxVarRatio: Float(math.Inf(-1))}
	same := o.NumBatchesTracked == n.NumBatchesTracked && slices.Equal(o.RunningMean, n.RunningMean) && slices.Equal(o.RunningVar, n.RunningVar)
	if !same {
		c.Status = BNMoved
	}
	if len(o.RunningMean) != len(n.RunningMean) || len(o.RunningVar) != len(n.RunningVar) || len(o.RunningMean) != len(o.RunningVar) {
		c.MaxMeanShift, c.MinVarRatio, c.MaxVarRatio = Float(math.NaN()), Float(math.NaN()), Float(math.NaN())
		return c
	}
	for i := range o.RunningMean {
		shift := math.Abs(n.RunningMean[i]-o.RunningMean[i]) / math.Sqrt(o.RunningVar[i])
		ratio := Float(n.RunningVar[i] / o.RunningVar[i])
		c.MaxMeanShift, c.MinVarRatio, c.MaxVarRatio = max(c.MaxMeanShift, Float(shift)), min(c.MinVarRatio, ratio), max(c.MaxVarRatio, ratio)
	}
	if len(o.RunningMean) == 0 {
		c.MinVarRatio, c.MaxVarRatio = Float(math.NaN()), Float(math.NaN())
	}
	return c
}

// diffWeights compares the two weights headers tensor by tensor.
func diffWeights(old, new DiffSide) (WeightsDiff, error) {
	w := WeightsDiff{DigestChange: digestChange(old.WeightsDigest, new.WeightsDigest),
		Added: []string{}, Removed: []string{}, Changed: []TensorChange{}, Unknown: []string{}}
	if old.Weights == nil || new.Weights == nil {
		return w, fmt.Errorf("diff: a weights header is missing")
	}
	for _, t := range old.Weights.Tensors {
		if _, ok := new.Weights.Tensor(t.Name); !ok {
			w.Removed = append(w.Removed, t.Name)
		}
	}
	for _, n := range new.Weights.Tensors {
		o, ok := old.Weights.Tensor(n.Name)
		if !ok {
			w.Added = append(w.Added, n.Name)
			continue
		}
		if err := w.compare(old, new, o, n); err != nil {
			return w, err
		}
	}
	return w, nil
}

// compare records how tensor o of old became tensor n of new.
func (w *WeightsDiff) compare(old, new DiffSide, o, n TensorInfo) error {
	var changes []string
	if !slices.Equal(o.Shape, n.Shape) {
		changes = append(changes, fmt.Sprintf("shape %v -> %v", o.Shape, n.Shape))
	}
	if o.DType != n.DType {
		changes = append(changes, fmt.Sprintf("dtype %s -> %s", o.DType, n.DType))
	}
	if len(changes) == 0 && !w.Same {
		same, known, err := sameBytes(old, new, o, n)
		switch {
		case err != nil:
			return err
		case !known:
			w.Unknown = append(w.Unknown, n.Name)
			return nil
		case !same:
			changes = append(changes, "bytes")
		}
	}
	if len(changes) == 0 {
		w.Unchanged++
		return nil
	}
	w.Changed = append(w.Changed, TensorChange{Name: n.Name, Changes: changes})
	return nil
}

// sameBytes compares two tensors' bytes by their digests, when both sides
// can compute them (known).
func sameBytes(old, new DiffSide, o, n TensorInfo) (same, known bool, err error) {
	if old.TensorDigest == nil || new.TensorDigest == nil {
		return false, false, nil
	}
	od, err := old.TensorDigest(o)
	if err != nil {
		return false, false, fmt.Errorf("old tensor %q: %w", o.Name, err)
	}
	nd, err := new.TensorDigest(n)
	if err != nil {
		return false, false, fmt.Errorf("new tensor %q: %w", n.Name, err)
	}
	return od == nd, true, nil
}
