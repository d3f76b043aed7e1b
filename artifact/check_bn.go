package artifact

import (
	"fmt"
	"math"
	"slices"
)

// Fixes of the BatchNorm checks.
const (
	fixExportBuffers     = "export the whole state_dict (model.state_dict() includes the running_mean and running_var buffers) and push with regctl, which extracts them"
	fixRetrainBN         = "train with BatchNorm in train mode (model.train()) so it updates its running statistics, then call model.eval() and export"
	fixDivergedBN        = "training diverged (NaN or Inf in the running statistics): lower the learning rate, look for NaN or Inf in the inputs, retrain, then export"
	fixFinetunePartialBN = "re-run fine-tuning with those layers in train mode; if they were to stay as the parent's, freeze them whole (.eval() and requires_grad=False on their weight and bias), which passes as it is"
	fixFinetuneBN        = "re-run fine-tuning with BatchNorm in train mode, or push with --bn-frozen if BatchNorm was frozen on purpose"
	fixPushStats         = "push again with regctl, which extracts the stats layer from the weights"
	fixSmallBatch        = "train with a batch size of at least 16, or freeze BatchNorm, or use GroupNorm or LayerNorm"
	// minBNBatch is the smallest batch size BatchNorm statistics are trusted from.
	minBNBatch = 16
	// bnTolerance is the relative tolerance between the stats layer and the
	// weights (the stats layer may hold float32).
	bnTolerance = 1e-6
)

// bnStats returns the statistics to check: those read from the weights when
// read, else the bundle's BatchNorm stats layer; nil when neither.
func (b *Bundle) bnStats() *BNStats {
	if b.BNWeights != nil {
		return b.BNWeights
	}
	return b.BNLayer
}

// layerNames returns the names of the layers for which pick is true.
func (s *BNStats) layerNames(pick func(BNLayer) bool) []string {
	var names []string
	for _, l := range s.Layers {
		if pick(l) {
			names = append(names, l.Name)
		}
	}
	return names
}

// eachBNLayer returns, for every layer checked, the finding f makes of it, if any.
func eachBNLayer(b *Bundle, f func(BNLayer) (Finding, bool)) Findings {
	s := b.bnStats()
	if s == nil {
		return nil
	}
	var fs Findings
	for _, l := range s.Layers {
		if finding, found := f(l); found {
			fs = append(fs, finding)
		}
	}
	return fs
}

// checkBNMissing refuses BatchNorm layers without running statistics, and
// weights with BatchNorm layers in a bundle without a stats layer.
func checkBNMissing(b *Bundle) Findings {
	fs := eachBNLayer(b, func(l BNLayer) (Finding, bool) {
		missing := l.missingStats()
		return refusal(BNMissing, fixExportBuffers, "BatchNorm layer %s has no %s", l.Name, missing), missing != ""
	})
	if b.BNStatsLayer == "" && b.BNWeights != nil && len(b.BNWeights.Layers) > 0 {
		fs = append(fs, refusal(BNMissing, fixPushStats, "the weights have %d BatchNorm layers (%s) but the bundle has no BatchNorm stats layer",
			len(b.BNWeights.Layers), list(b.BNWeights.layerNames(func(BNLayer) bool { return true }))))
	}
	return fs
}

// missingStats names the running statistics the layer lacks, or "".
func (l BNLayer) missingStats() string {
	switch {
	case len(l.RunningMean) == 0 && len(l.RunningVar) == 0:
		return "running_mean and no running_var"
	case len(l.RunningMean) == 0:
		return "running_mean"
	case len(l.RunningVar) == 0:
		return "running_var"
	}
	return ""
}

// checkBNInvalid refuses running statistics that cannot normalise: a
// running_var <= 0 or non-finite, a non-finite running_mean, lengths other
// than the channel count, a negative num_batches_tracked.
func checkBNInvalid(b *Bundle) Findings {
	return eachBNLayer(b, func(l BNLayer) (Finding, bool) {
		problems := l.problems()
		fix := fixRetrainBN
		if notFinite := func(v float64) bool { return !finite(v) }; slices.ContainsFunc(l.RunningMean, notFinite) || slices.ContainsFunc(l.RunningVar, notFinite) {
			fix = fixDivergedBN
		}
		return refusal(BNInvalid, fix, "BatchNorm layer %s: %s", l.Name, list(problems)), len(problems) > 0
	})
}

// problems lists what is wrong with a layer's statistics.
func (l BNLayer) problems() []string {
	name := func(i int) string { return "channel " + fmt.Sprint(i) }
	var out []string
	for _, a := range []struct {
		attr string
		vals []float64
	}{{"running_mean", l.RunningMean}, {"running_var", l.RunningVar}} {
		if len(a.vals) > 0 && len(a.vals) != l.Channels {
			out = append(out, fmt.Sprintf("%s has %d values for %d channels", a.attr, len(a.vals), l.Channels))
		}
	}
	out = append(out, badValues("running_mean", l.RunningMean, name, func(v float64) bool { return !finite(v) })...)
	out = append(out, badValues("running_var", l.RunningVar, name, func(v float64) bool { return !(v > 0) || !finite(v) })...)
	if l.NumBatchesTracked < 0 {
		out = append(out, fmt.Sprintf("num_batches_tracked = %d", l.NumBatchesTracked))
	}
	return out
}

// checkBNStale refuses running statistics that were never updated, and a
// fine-tuned model whose weights changed while its statistics did not.
func checkBNStale(b *Bundle) Findings {
	s := b.bnStats()
	if s == nil {
		return nil
	}
	var fs Findings
	if stale := s.layerNames(BNLayer.neverUpdated); len(stale) > 0 {
		fs = append(fs, refusal(BNStale, fixRetrainBN,
			"%d of %d BatchNorm layers were never updated (num_batches_tracked 0, or running_mean all 0 and running_var all 1): %s",
			len(stale), len(s.Layers), list(stale)))
	}
	p := b.Parent
	if p == nil || p.BN == nil || b.BNFrozen || len(s.Layers) == 0 || b.WeightsDigest == "" || b.WeightsDigest == p.WeightsDigest {
		return fs
	}
	if sameStats(s, p.BN) {
		fs = append(fs, refusal(BNStale, fixFinetuneBN,
			"the weights changed from parent bundle %s (%s, now %s) but the running statistics and num_batches_tracked of all %d BatchNorm layers are identical to the parent's%s",
			p.Digest, p.WeightsDigest, b.WeightsDigest, len(s.Layers), sameStatsCause(s, p.BN)))
	} else if kept := keptParentStats(s, p.BN); len(kept) > 0 {
		fs = append(fs, refusal(BNStale, fixFinetunePartialBN,
			"%d of %d BatchNorm layers kept the running statistics and num_batches_tracked of parent bundle %s while their weight and bias were trained: %s; they were left in eval mode while fine-tuning",
			len(kept), len(s.Layers), p.Digest, list(kept)))
	}
	return fs
}

// sameStatsCause says what running statistics all equal to the parent's
// mean: BatchNorm frozen whole when the weight and bias of every layer are
// the parent's too, else BatchNorm left in eval mode while fine-tuning.
func sameStatsCause(s, parent *BNStats) string {
	maybeTrained := slices.ContainsFunc(s.Layers, func(l BNLayer) bool {
		o, ok := parent.Layer(l.Name)
		return !ok || l.Weight == nil || o.Weight == nil || l.affineChanged(*o)
	})
	if maybeTrained {
		return ": BatchNorm was left in eval mode while fine-tuning"
	}
	return ", and so are their weight and bias: BatchNorm was frozen whole while other layers trained, which --bn-frozen declares"
}

// keptParentStats names the layers of s whose running statistics and
// num_batches_tracked are the parent's while their affine weight or bias
// changed: trained in eval mode (a layer frozen whole keeps both). Layers
// without affine parameters on either side are not judged.
func keptParentStats(s, parent *BNStats) []string {
	return s.layerNames(func(l BNLayer) bool {
		o, kept := l.keptFrom(parent)
		return kept && l.affineChanged(*o)
	})
}

// KeptStats names the layers of s whose running statistics and
// num_batches_tracked are those of the same layer of parent: the layers
// whose weight and bias the parent check compares, which a bnstats layer
// does not carry (the manifest package reads the parent's by ranges).
func (s *BNStats) KeptStats(parent *BNStats) []string {
	return s.layerNames(func(l BNLayer) bool {
		_, kept := l.keptFrom(parent)
		return kept
	})
}

// keptFrom returns parent's layer of l's name and whether l's running
// statistics and num_batches_tracked are that layer's.
func (l BNLayer) keptFrom(parent *BNStats) (*BNLayer, bool) {
	o, ok := parent.Layer(l.Name)
	return o, ok && len(l.diff(*o, 0)) == 0
}

// neverUpdated reports num_batches_tracked 0 or statistics still at their
// initial values (every mean 0, every variance 1).
func (l BNLayer) neverUpdated() bool {
	if l.HasTracked && l.NumBatchesTracked == 0 {
		return true
	}
	atInit := len(l.RunningMean) > 0 && len(l.RunningVar) > 0
	for _, v := range l.RunningMean {
		atInit = atInit && v == 0
	}
	for _, v := range l.RunningVar {
		atInit = atInit && v == 1
	}
	return atInit
}

// sameStats reports whether a and b have the same layers with identical
// running statistics and num_batches_tracked.
func sameStats(a, b *BNStats) bool {
	return len(a.Layers) == len(b.Layers) && len(a.KeptStats(b)) == len(a.Layers)
}

// diff lists how l differs from o, values compared within relative tolerance tol.
func (l BNLayer) diff(o BNLayer, tol float64) []string {
	var out []string
	if l.Channels != o.Channels {
		out = append(out, fmt.Sprintf("channels %d vs %d", l.Channels, o.Channels))
	}
	if l.HasTracked != o.HasTracked || l.NumBatchesTracked != o.NumBatchesTracked {
		out = append(out, fmt.Sprintf("num_batches_tracked %d vs %d", l.NumBatchesTracked, o.NumBatchesTracked))
	}
	out = append(out, valuesDiff("running_mean", l.RunningMean, o.RunningMean, tol)...)
	return append(out, valuesDiff("running_var", l.RunningVar, o.RunningVar, tol)...)
}

// affineChanged reports whether l's weight or bias differs from o's; false
// when either layer has none (affine=False, or not read).
func (l BNLayer) affineChanged(o BNLayer) bool {
	if l.Weight == nil || o.Weight == nil {
		return false
	}
	return len(valuesDiff("weight", l.Weight, o.Weight, 0)) > 0 || len(valuesDiff("bias", l.Bias, o.Bias, 0)) > 0
}

// valuesDiff describes the first difference between a and b, if any; NaN
// equals NaN (an invalid value is bn-invalid's to report, not a difference).
func valuesDiff(attr string, a, b []float64, tol float64) []string {
	if len(a) != len(b) {
		return []string{fmt.Sprintf("%s has %d vs %d values", attr, len(a), len(b))}
	}
	for i := range a {
		if a[i] != b[i] && !near(a[i], b[i], tol) && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return []string{fmt.Sprintf("%s[%d] %v vs %v", attr, i, a[i], b[i])}
		}
	}
	return nil
}

// checkBNMismatch refuses a BatchNorm stats layer that differs from the
// statistics in the weights.
func checkBNMismatch(b *Bundle) Findings {
	if b.BNLayer == nil || b.BNWeights == nil {
		return nil
	}
	var diffs []string
	for _, w := range b.BNWeights.Layers {
		if _, ok := b.BNLayer.Layer(w.Name); !ok {
			diffs = append(diffs, w.Name+" is missing from the stats layer")
		}
	}
	for _, l := range b.BNLayer.Layers {
		w, ok := b.BNWeights.Layer(l.Name)
		if !ok {
			diffs = append(diffs, l.Name+" is not in the weights")
			continue
		}
		for _, d := range l.diff(*w, bnTolerance) {
			diffs = append(diffs, l.Name+" "+d)
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return Findings{refusal(BNMismatch, fixPushStats,
		"the BatchNorm stats layer (%d layers) differs from the weights (%d layers), stats layer vs weights: %s",
		len(b.BNLayer.Layers), len(b.BNWeights.Layers), list(diffs))}
}

// checkSmallBatch warns when BatchNorm statistics come from small batches.
func checkSmallBatch(b *Bundle) Findings {
	s := b.bnStats()
	if s == nil || len(s.Layers) == 0 || b.BatchSize <= 0 || b.BatchSize >= minBNBatch {
		return nil
	}
	return Findings{{ID: SmallBatch, Severity: Warning, Fix: fixSmallBatch,
		Message: fmt.Sprintf("%d BatchNorm layers were trained with batch size %d (< %d): their running statistics are noisy estimates", len(s.Layers), b.BatchSize, minBNBatch)}}
}
