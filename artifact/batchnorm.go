package artifact

import (
	"fmt"
	"io"
	"strings"
)

// PyTorch state_dict key suffixes of a BatchNorm layer's running statistics.
const (
	suffixRunningMean = ".running_mean"
	suffixRunningVar  = ".running_var"
	suffixTracked     = ".num_batches_tracked"
	suffixWeight      = ".weight"
	suffixBias        = ".bias"
)

// BNLayerNames returns the BatchNorm layers of a weights header: every
// prefix P with a P.running_mean, P.running_var or P.num_batches_tracked
// tensor, in the order their first such tensor appears in the file.
func BNLayerNames(h *SafetensorsHeader) []string {
	var names []string
	seen := map[string]bool{}
	for _, t := range h.Tensors {
		p, ok := bnPrefix(t.Name)
		if ok && !seen[p] {
			seen[p] = true
			names = append(names, p)
		}
	}
	return names
}

// bnPrefix returns the layer prefix of a running-statistics key.
func bnPrefix(name string) (string, bool) {
	for _, suffix := range []string{suffixRunningMean, suffixRunningVar, suffixTracked} {
		if p, ok := strings.CutSuffix(name, suffix); ok {
			return p, true
		}
	}
	return "", false
}

// ReadBNStats extracts every BatchNorm layer's running statistics and
// affine weight and bias from a weights file streamed through r, positioned
// at the start of the data buffer (as ReadSafetensorsHeader leaves it). Only
// those tensors are held in memory. A layer lacking running_mean or
// running_var is still returned, with that slice nil, for the checks to
// report as bn-missing.
func ReadBNStats(h *SafetensorsHeader, r io.Reader) (*BNStats, error) {
	vals, err := ReadTensors(h, r, bnTensors(h))
	if err != nil {
		return nil, err
	}
	return bnStatsFrom(h, vals)
}

// ReadBNStatsAt is ReadBNStats over random access to the whole file.
func ReadBNStatsAt(h *SafetensorsHeader, ra io.ReaderAt) (*BNStats, error) {
	vals, err := ReadTensorsAt(h, ra, bnTensors(h))
	if err != nil {
		return nil, err
	}
	return bnStatsFrom(h, vals)
}

// bnTensors returns whether a tensor of h is one ReadBNStats reads: a
// BatchNorm layer's running statistic, weight or bias; a weight or bias of
// a dtype it cannot decode is left out (only the checks against a parent
// use them), where a running statistic's is an error.
func bnTensors(h *SafetensorsHeader) func(name string) bool {
	layers := nameSet(BNLayerNames(h))
	return func(name string) bool {
		if _, ok := bnPrefix(name); ok {
			return true
		}
		return affineOf(h, name, layers)
	}
}

// nameSet returns names as a set.
func nameSet(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, name := range names {
		set[name] = true
	}
	return set
}

// affineOf reports whether name is the weight or bias of one of layers, in
// a dtype the reader decodes.
func affineOf(h *SafetensorsHeader, name string, layers map[string]bool) bool {
	for _, suffix := range []string{suffixWeight, suffixBias} {
		if p, ok := strings.CutSuffix(name, suffix); ok && layers[p] {
			t, _ := h.Tensor(name)
			_, decodable := decoders[t.DType]
			return decodable
		}
	}
	return false
}

// ReadAffineAt sets the weight and bias of the named layers of s from the
// weights file with header h, by ranged reads of ra (of those tensors
// only); one of a dtype the reader cannot decode stays nil.
func (s *BNStats) ReadAffineAt(h *SafetensorsHeader, ra io.ReaderAt, names []string) error {
	layers := nameSet(names)
	vals, err := ReadTensorsAt(h, ra, func(name string) bool { return affineOf(h, name, layers) })
	if err != nil {
		return err
	}
	for _, name := range names {
		if l, ok := s.Layer(name); ok {
			l.Weight, l.Bias = vals[name+suffixWeight], vals[name+suffixBias]
		}
	}
	return nil
}

// bnStatsFrom assembles the layers from the statistics' values.
func bnStatsFrom(h *SafetensorsHeader, vals map[string][]float64) (*BNStats, error) {
	s := &BNStats{}
	for _, name := range BNLayerNames(h) {
		l := BNLayer{Name: name, RunningMean: vals[name+suffixRunningMean], RunningVar: vals[name+suffixRunningVar],
			Weight: vals[name+suffixWeight], Bias: vals[name+suffixBias]}
		if tracked, ok := vals[name+suffixTracked]; ok {
			if len(tracked) != 1 {
				return nil, fmt.Errorf("%w: %s%s has %d elements, want 1", ErrInvalidSafetensors, name, suffixTracked, len(tracked))
			}
			l.NumBatchesTracked, l.HasTracked = int64(tracked[0]), true
		}
		l.Channels = bnChannels(h, l)
		s.Layers = append(s.Layers, l)
	}
	return s, nil
}

// bnChannels returns the layer's channel count: the length of its affine
// weight when it has one, else of its running_mean, else of its running_var.
func bnChannels(h *SafetensorsHeader, l BNLayer) int {
	if w, ok := h.Tensor(l.Name + suffixWeight); ok && len(w.Shape) == 1 {
		return int(w.Shape[0])
	}
	if l.RunningMean != nil {
		return len(l.RunningMean)
	}
	return len(l.RunningVar)
}

// Layer returns the named layer and whether it exists.
func (s *BNStats) Layer(name string) (*BNLayer, bool) {
	for i := range s.Layers {
		if s.Layers[i].Name == name {
			return &s.Layers[i], true
		}
	}
	return nil, false
}

// BNSummary is one BatchNorm layer's line in inspect output.
type BNSummary struct {
	Name              string `json:"name"`
	Channels          int    `json:"channels"`
	MeanRunningMean   Float  `json:"mean_running_mean"` // average over channels; NaN when absent
	MeanRunningVar    Float  `json:"mean_running_var"`  // average over channels; NaN when absent
	NumBatchesTracked int64  `json:"num_batches_tracked"`
	HasTracked        bool   `json:"has_num_batches_tracked"`
}

// Summary returns one line per layer, in order.
func (s *BNStats) Summary() []BNSummary {
	out := make([]BNSummary, len(s.Layers))
	for i, l := range s.Layers {
		out[i] = BNSummary{
			Name: l.Name, Channels: l.Channels,
			MeanRunningMean: average(l.RunningMean), MeanRunningVar: average(l.RunningVar),
			NumBatchesTracked: l.NumBatchesTracked, HasTracked: l.HasTracked,
		}
	}
	return out
}

// average returns the arithmetic mean of a, NaN when a is empty.
func average(a []float64) Float {
	var sum float64
	for _, v := range a {
		sum += v
	}
	return Float(sum / float64(len(a)))
}
