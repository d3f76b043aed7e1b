package artifact

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Fixes of the scaler checks.
const (
	fixShipScaler   = "push with --scaler FILE, the StandardScaler fitted on the training data; or --no-scaler if the model really takes raw features"
	fixBoundScaler  = "push with --scaler FILE, the scaler the weights were exported with; a model that really takes raw features is exported without one (no " + MetaScalerSHA256 + " in the weights' metadata)"
	fixRightScaler  = "ship the scaler file the model was trained with, unmodified"
	fixFeatureOrder = "export the scaler and the model's feature list from the same training run, in the same column order"
	fixRefitScaler  = "re-export the fitted StandardScaler's attributes from the training run; fit it on training data without NaN or infinite values"
	fixScalerFile   = "push the file write_scaler (testdata/interop/normreg_export.py) wrote from the fitted StandardScaler: mean_, scale_, var_, n_samples_seen_ as JSON"
	// scaleTolerance is the relative tolerance between scale_ and sqrt(var_).
	scaleTolerance = 1e-6
)

// checkScalerMissing refuses a bundle that needs a scaler and has none it can read.
func checkScalerMissing(b *Bundle) Findings {
	if b.Preprocessing == PreprocessingNone {
		if b.WeightsScaler == "" {
			return nil
		}
		return Findings{refusal(ScalerMissing, fixBoundScaler,
			"the bundle declares no preprocessing, but the weights' metadata binds scaler sha256:%s (%s)", b.WeightsScaler, MetaScalerSHA256)}
	}
	switch {
	case b.ScalerLayer == "":
		declares := fmt.Sprintf("declares preprocessing %q rather than none", b.Preprocessing)
		if b.Preprocessing == PreprocessingUnset {
			declares = "does not declare preprocessing none"
		}
		bound, fix := "", fixShipScaler
		if b.WeightsScaler != "" {
			bound, fix = fmt.Sprintf(" (the weights' metadata binds scaler sha256:%s, %s)", b.WeightsScaler, MetaScalerSHA256), fixBoundScaler
		}
		return Findings{refusal(ScalerMissing, fix,
			"the bundle has no scaler layer%s and %s: serving would feed raw features to a model trained on standardised ones", bound, declares)}
	case errors.Is(b.ScalerReadErr, ErrInvalidScaler):
		return nil // read, but not a scaler: scaler-invalid
	case b.ScalerReadErr != nil:
		fix := "push the scaler again"
		if IsMismatch(b.ScalerReadErr) { // re-pushing does not replace a blob the registry has
			fix = fixDamagedBlob
		}
		return Findings{refusal(ScalerMissing, fix, "the scaler layer %s cannot be read: %v", b.ScalerLayer, b.ScalerReadErr)}
	case b.Scaler == nil:
		return Findings{refusal(ScalerMissing, "fetch the scaler layer before checking", "the scaler layer %s was not read", b.ScalerLayer)}
	}
	return nil
}

// checkScalerMismatch refuses a scaler that is not the model's: wrong
// digest, other features or order, other feature count, and a serving
// feature list that is not the model's.
func checkScalerMismatch(b *Bundle) Findings {
	var fs Findings
	if b.Preprocessing == PreprocessingNone && b.ScalerLayer != "" {
		fs = append(fs, refusal(ScalerMismatch, "push with --scaler FILE, or without the scaler layer if the model takes raw features",
			"the bundle declares no preprocessing but carries scaler layer %s", b.ScalerLayer))
	}
	fs = append(fs, scalerDigestFindings(b)...)
	if b.Scaler != nil {
		fs = append(fs, scalerFeatureFindings(b, b.Scaler)...)
	}
	if b.InputErr != nil {
		fs = append(fs, refusal(ScalerMismatch, "name the tensor that takes the features and its feature axis (--input-tensor)",
			"the feature count cannot be checked against input tensor %q axis %d: %v", b.InputTensor, b.InputAxis, b.InputErr))
	}
	if b.InputSize > 0 && len(b.Features) > 0 && int64(len(b.Features)) != b.InputSize {
		fs = append(fs, refusal(ScalerMismatch, "declare the features in the order the model's input columns take them (--features)",
			"the model's feature schema lists %d features but axis %d of input tensor %s has size %d", len(b.Features), b.InputAxis, b.InputTensor, b.InputSize))
	}
	if b.ServingFeatures != nil && !slices.Equal(b.ServingFeatures, b.Features) {
		fs = append(fs, refusal(ScalerMismatch, "send the features the model was trained on, in its order",
			"the serving feature list differs from the model's: %s", featureDiff("model expects", b.Features, "serving sends", b.ServingFeatures)))
	}
	return fs
}

// scalerDigestFindings compares the scaler layer's digest with the one the
// config binds and the one the weights' metadata records.
func scalerDigestFindings(b *Bundle) Findings {
	if b.ScalerLayer == "" {
		return nil
	}
	var fs Findings
	switch b.ScalerBound {
	case b.ScalerLayer:
	case "":
		fs = append(fs, refusal(ScalerMismatch, "push the bundle with regctl, which binds the scaler's digest in the config",
			"the config binds no scaler digest, but the bundle carries scaler layer %s", b.ScalerLayer))
	default:
		fs = append(fs, refusal(ScalerMismatch, fixRightScaler,
			"the scaler layer is %s but the config binds %s", b.ScalerLayer, b.ScalerBound))
	}
	if b.WeightsScaler != "" && (b.ScalerLayer.Algorithm() != SHA256 || b.ScalerLayer.Hex() != b.WeightsScaler) {
		fs = append(fs, refusal(ScalerMismatch, fixRightScaler,
			"the weights were exported with scaler sha256:%s (%s) but the bundle's scaler is %s: it was refit or edited", b.WeightsScaler, MetaScalerSHA256, b.ScalerLayer))
	}
	return fs
}

// scalerFeatureFindings compares the scaler's features with the model's
// schema and its feature count with the input tensor's size.
func scalerFeatureFindings(b *Bundle, s *Scaler) Findings {
	var fs Findings
	if s.FeatureNames != nil && b.Features != nil && !slices.Equal(s.FeatureNames, b.Features) {
		fs = append(fs, refusal(ScalerMismatch, fixFeatureOrder,
			"the scaler's features differ from the model's: %s", featureDiff("model expects", b.Features, "scaler has", s.FeatureNames)))
	}
	if n := s.FeatureCount(); b.InputSize > 0 && int64(n) != b.InputSize {
		fs = append(fs, refusal(ScalerMismatch, fixFeatureOrder,
			"the scaler has %d features but axis %d of input tensor %s has size %d", n, b.InputAxis, b.InputTensor, b.InputSize))
	}
	return fs
}

// featureDiff describes how got differs from want: names missing from got,
// extra names in got, and positions (from 0) that hold different names.
func featureDiff(wantLabel string, want []string, gotLabel string, got []string) string {
	var parts []string
	if missing := notIn(want, got); len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing %s", list(quoteAll(missing))))
	}
	if extra := notIn(got, want); len(extra) > 0 {
		parts = append(parts, fmt.Sprintf("extra %s", list(quoteAll(extra))))
	}
	var moved []string
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			moved = append(moved, fmt.Sprintf("position %d: %s %q, %s %q", i, wantLabel, want[i], gotLabel, got[i]))
		}
	}
	if len(moved) > 0 {
		parts = append(parts, list(moved))
	}
	if len(want) != len(got) {
		parts = append(parts, fmt.Sprintf("%s %d features, %s %d", wantLabel, len(want), gotLabel, len(got)))
	}
	return list(parts)
}

// quoteAll quotes every item.
func quoteAll(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = strconv.Quote(s)
	}
	return out
}

// checkScalerInvalid refuses a scaler whose numbers cannot standardise:
// missing or non-finite values, scale_ <= 0, arrays of different lengths,
// scale_ inconsistent with var_, no samples seen.
func checkScalerInvalid(b *Bundle) Findings {
	if errors.Is(b.ScalerReadErr, ErrInvalidScaler) {
		return Findings{refusal(ScalerInvalid, fixScalerFile,
			"the scaler layer %s is not a StandardScaler's attribute JSON: %v", b.ScalerLayer, b.ScalerReadErr)}
	}
	s := b.Scaler
	if s == nil {
		return nil
	}
	var fs Findings
	if s.WithMean && s.Mean == nil {
		fs = append(fs, refusal(ScalerInvalid, fixRefitScaler, "with_mean is true but mean_ is missing"))
	}
	if s.WithStd && s.Scale == nil {
		fs = append(fs, refusal(ScalerInvalid, fixRefitScaler, "with_std is true but scale_ is missing"))
	}
	if s.WithStd && s.Scale != nil && s.Var == nil {
		fs = append(fs, refusal(ScalerInvalid, fixScalerFile,
			"scale_ without var_: a StandardScaler fitted with with_std keeps both, so this is another scaler's scale_ (MinMaxScaler, MaxAbsScaler and RobustScaler keep no var_, and their transform is not (x - mean_) / scale_)"))
	}
	if lengths := scalerLengths(s); lengths != "" {
		fs = append(fs, refusal(ScalerInvalid, fixRefitScaler, "the scaler's arrays have different lengths: %s", lengths))
	}
	fs = append(fs, scalerValueFindings(b, s)...)
	if !(s.NSamplesSeen > 0) {
		fs = append(fs, refusal(ScalerInvalid, fixRefitScaler, "n_samples_seen_ is %v: the scaler was never fitted", s.NSamplesSeen))
	}
	return fs
}

// scalerLengths lists the lengths of the scaler's arrays when they differ, else "".
func scalerLengths(s *Scaler) string {
	var parts []string
	lengths := map[int]bool{}
	add := func(name string, present bool, n int) {
		if present {
			parts = append(parts, fmt.Sprintf("%s %d", name, n))
			lengths[n] = true
		}
	}
	add("mean_", s.Mean != nil, len(s.Mean))
	add("scale_", s.Scale != nil, len(s.Scale))
	add("var_", s.Var != nil, len(s.Var))
	add("feature_names_in_", s.FeatureNames != nil, len(s.FeatureNames))
	add("n_samples_seen_", s.SamplesSeen != nil, len(s.SamplesSeen))
	add("n_features_in_", s.NFeaturesIn > 0, s.NFeaturesIn)
	if len(lengths) <= 1 {
		return ""
	}
	return strings.Join(parts, ", ")
}

// scalerValueFindings reports non-finite values, scale_ <= 0 and scale_
// inconsistent with sqrt(var_), naming each feature.
func scalerValueFindings(b *Bundle, s *Scaler) Findings {
	var fs Findings
	name := func(i int) string { return featureName(i, s.FeatureNames, b.Features) }
	var nonFinite []string
	for _, a := range []struct {
		attr string
		vals []float64
	}{{"mean_", s.Mean}, {"scale_", s.Scale}, {"var_", s.Var}, {"n_samples_seen_", s.SamplesSeen}} {
		nonFinite = append(nonFinite, badValues(a.attr, a.vals, name, func(v float64) bool { return !finite(v) })...)
	}
	if len(nonFinite) > 0 {
		fs = append(fs, refusal(ScalerInvalid, fixRefitScaler, "the scaler has non-finite values: %s", list(nonFinite)))
	}
	if bad := badValues("scale_", s.Scale, name, func(v float64) bool { return v <= 0 }); len(bad) > 0 {
		fs = append(fs, refusal(ScalerInvalid, fixRefitScaler, "scale_ must be > 0: %s", list(bad)))
	}
	if inconsistent := scaleVarMismatches(s, name); len(inconsistent) > 0 {
		fs = append(fs, refusal(ScalerInvalid, fixRefitScaler,
			"scale_ is not sqrt(var_) (1 where the variance is zero): %s", list(inconsistent)))
	}
	return fs
}

// badValues lists "attr[i] (feature) = v" for each entry bad reports.
func badValues(attr string, vals []float64, name func(int) string, bad func(float64) bool) []string {
	var out []string
	for i, v := range vals {
		if bad(v) {
			out = append(out, fmt.Sprintf("%s[%d] (%s) = %v", attr, i, name(i), v))
		}
	}
	return out
}

// scaleVarMismatches lists the features whose scale_ is not what var_ gives.
func scaleVarMismatches(s *Scaler, name func(int) string) []string {
	if len(s.Scale) != len(s.Var) {
		return nil
	}
	var out []string
	for i := range s.Scale {
		if !scaleMatchesVar(s, i) {
			out = append(out, fmt.Sprintf("scale_[%d] (%s) = %v, sqrt(var_) = %v", i, name(i), s.Scale[i], math.Sqrt(s.Var[i])))
		}
	}
	return out
}

// scaleMatchesVar reports whether scale_[i] is what StandardScaler derives
// from var_[i]: sqrt(var_), or 1 for a constant feature. Non-finite values
// are reported elsewhere and match here.
func scaleMatchesVar(s *Scaler, i int) bool {
	scale, v := s.Scale[i], s.Var[i]
	if !finite(scale) || !finite(v) {
		return true
	}
	return near(scale, math.Sqrt(v), scaleTolerance) || (scale == 1 && constantFeature(v, at(s.Mean, i, 0), s.samplesSeen(i)))
}

// constantFeature is scikit-learn's _is_constant_feature: a variance within
// the rounding error of its computation, for which scale_ is set to 1.
func constantFeature(variance float64, mean Float, n float64) bool {
	const eps = 0x1p-52
	m := n * float64(mean) * eps
	return variance <= n*eps*variance+m*m || math.Sqrt(variance) < 10*eps
}

// samplesSeen returns the number of samples feature i was fitted on.
func (s *Scaler) samplesSeen(i int) float64 {
	if i < len(s.SamplesSeen) {
		return s.SamplesSeen[i]
	}
	return s.NSamplesSeen
}
