package artifact

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// goodBundle is a bundle every check passes.
func goodBundle() *Bundle {
	scaler := FromBytes(SHA256, []byte("scaler"))
	bn := func() *BNStats {
		return &BNStats{Layers: []BNLayer{
			{Name: "net.1", Channels: 2, RunningMean: []float64{0.1, -0.2}, RunningVar: []float64{0.5, 2}, NumBatchesTracked: 100, HasTracked: true},
			{Name: "net.4", Channels: 1, RunningMean: []float64{0.3}, RunningVar: []float64{1.5}, NumBatchesTracked: 100, HasTracked: true},
		}}
	}
	return &Bundle{
		Features: []string{"age", "income", "tenure"}, InputTensor: "net.0.weight", InputAxis: 1, InputSize: 3,
		Mode: ModeEval, Preprocessing: PreprocessingStandard,
		ScalerBound: scaler, ScalerLayer: scaler, WeightsScaler: scaler.Hex(),
		Scaler: &Scaler{
			Mean: []float64{40, 50000, 12}, Scale: []float64{10, 20000, 3}, Var: []float64{100, 4e8, 9},
			NSamplesSeen: 1000, NFeaturesIn: 3, FeatureNames: []string{"age", "income", "tenure"}, WithMean: true, WithStd: true,
		},
		WeightsDigest: FromBytes(SHA256, []byte("weights")),
		BNStatsLayer:  FromBytes(SHA256, []byte("bnstats")), BNLayer: bn(), BNWeights: bn(), BatchSize: 32,
	}
}

// sameBNParent returns a parent bundle with other weights and the same
// BatchNorm statistics as goodBundle.
func sameBNParent() *Parent {
	return &Parent{Digest: FromBytes(SHA256, []byte("parent")), WeightsDigest: FromBytes(SHA256, []byte("parent weights")), BN: goodBundle().BNWeights}
}

func TestCheckGoodBundle(t *testing.T) {
	if fs := Check(goodBundle()); len(fs) != 0 {
		t.Errorf("good bundle: %v", fs)
	}
	b := goodBundle()
	b.Preprocessing, b.ScalerBound, b.ScalerLayer, b.Scaler, b.WeightsScaler = PreprocessingNone, "", "", nil, ""
	if fs := Check(b); len(fs) != 0 {
		t.Errorf("bundle declaring no preprocessing: %v", fs)
	}
}

// checkCase mutates a good bundle and expects findings with these ids, in
// order, whose messages together say every string of says.
type checkCase struct {
	name   string
	mutate func(b *Bundle)
	ids    []CheckID
	says   []string
}

func runCheckCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			b := goodBundle()
			tt.mutate(b)
			fs := Check(b)
			if !slices.Equal(fs.IDs(), tt.ids) {
				t.Fatalf("ids %v, want %v; findings:\n%s", fs.IDs(), tt.ids, fs)
			}
			text := fmt.Sprint(fs)
			for _, s := range tt.says {
				if !strings.Contains(text, s) {
					t.Errorf("findings do not say %q:\n%s", s, text)
				}
			}
			for _, f := range fs {
				if f.Fix == "" || f.Message == "" {
					t.Errorf("finding without message or fix: %+v", f)
				}
			}
		})
	}
}

func TestCheckMode(t *testing.T) {
	runCheckCases(t, []checkCase{
		{"train", func(b *Bundle) { b.Mode = ModeTrain }, []CheckID{ModeTrained}, []string{"exported in train mode", "model.eval()"}},
		{"unset", func(b *Bundle) { b.Mode = ModeUnset }, []CheckID{ModeUnknown}, []string{"does not declare its mode"}},
		{"other", func(b *Bundle) { b.Mode = "Eval" }, []CheckID{ModeUnknown}, []string{`mode "Eval" is neither eval nor train`}},
	})
}

func TestCheckScalerMissing(t *testing.T) {
	noScaler := func(b *Bundle) { b.ScalerBound, b.ScalerLayer, b.Scaler, b.WeightsScaler = "", "", nil, "" }
	runCheckCases(t, []checkCase{
		{"no scaler layer", noScaler, []CheckID{ScalerMissing}, []string{`no scaler layer and declares preprocessing "standard_scaler"`, "--scaler FILE"}},
		{"no scaler, preprocessing unset", func(b *Bundle) { noScaler(b); b.Preprocessing = PreprocessingUnset }, []CheckID{ScalerMissing}, []string{"no scaler layer and does not declare preprocessing none"}},
		{"no scaler layer, weights bind one", func(b *Bundle) {
			noScaler(b)
			b.WeightsScaler = strings.Repeat("cd", 32)
		}, []CheckID{ScalerMissing}, []string{"no scaler layer (the weights' metadata binds scaler sha256:" + strings.Repeat("cd", 32), "push with --scaler FILE, the scaler the weights were exported with"}},
		{"not fetched", func(b *Bundle) { b.Scaler, b.ScalerReadErr = nil, errors.New("blob unknown") }, []CheckID{ScalerMissing}, []string{"cannot be read: blob unknown"}},
		{"damaged", func(b *Bundle) { b.Scaler, b.ScalerReadErr = nil, fmt.Errorf("%w: boom", ErrDigestMismatch) }, []CheckID{ScalerMissing}, []string{"cannot be read", "registry scrub --remove"}},
		{"not a scaler", func(b *Bundle) { b.Scaler, b.ScalerReadErr = nil, fmt.Errorf("%w: boom", ErrInvalidScaler) }, []CheckID{ScalerInvalid}, []string{"is not a StandardScaler's attribute JSON: unreadable scaler: boom", "write_scaler"}},
		{"not read", func(b *Bundle) { b.Scaler = nil }, []CheckID{ScalerMissing}, []string{"was not read"}},
		{"none but weights bind a scaler", func(b *Bundle) {
			noScaler(b)
			b.Preprocessing, b.WeightsScaler = PreprocessingNone, strings.Repeat("ab", 32)
		}, []CheckID{ScalerMissing}, []string{"declares no preprocessing, but the weights' metadata binds scaler sha256:abab", "push with --scaler FILE, the scaler the weights were exported with; a model that really takes raw features is exported without one"}},
	})
}

func TestCheckScalerMismatch(t *testing.T) {
	other := FromBytes(SHA256, []byte("other scaler"))
	fewer := func(b *Bundle) {
		s := b.Scaler
		s.Mean, s.Scale, s.Var, s.NFeaturesIn, s.FeatureNames = s.Mean[:2], s.Scale[:2], s.Var[:2], 2, s.FeatureNames[:2]
	}
	runCheckCases(t, []checkCase{
		{"config binds another", func(b *Bundle) { b.ScalerBound = other }, []CheckID{ScalerMismatch}, []string{"the scaler layer is " + string(goodBundle().ScalerLayer) + " but the config binds " + string(other)}},
		{"config binds none", func(b *Bundle) { b.ScalerBound = "" }, []CheckID{ScalerMismatch}, []string{"config binds no scaler digest"}},
		{"weights bind another (refit)", func(b *Bundle) { b.ScalerBound, b.ScalerLayer = other, other }, []CheckID{ScalerMismatch}, []string{"weights were exported with scaler sha256:" + goodBundle().ScalerLayer.Hex(), "refit"}},
		{"sha512 layer", func(b *Bundle) {
			d := FromBytes(SHA512, []byte("scaler"))
			b.ScalerBound, b.ScalerLayer = d, d
		}, []CheckID{ScalerMismatch}, []string{"but the bundle's scaler is sha512:"}},
		{"permuted", func(b *Bundle) { b.Scaler.FeatureNames = []string{"income", "age", "tenure"} }, []CheckID{ScalerMismatch},
			[]string{`position 0: model expects "age", scaler has "income", position 1: model expects "income", scaler has "age"`}},
		{"fewer", fewer, []CheckID{ScalerMismatch, ScalerMismatch},
			[]string{`missing "tenure"`, "model expects 3 features, scaler has 2", "the scaler has 2 features but axis 1 of input tensor net.0.weight has size 3"}},
		{"renamed", func(b *Bundle) { b.Scaler.FeatureNames[2] = "tenure_months" }, []CheckID{ScalerMismatch},
			[]string{`missing "tenure"`, `extra "tenure_months"`, `position 2: model expects "tenure", scaler has "tenure_months"`}},
		{"input wider", func(b *Bundle) { b.InputSize = 4 }, []CheckID{ScalerMismatch, ScalerMismatch},
			[]string{"the scaler has 3 features but axis 1 of input tensor net.0.weight has size 4", "feature schema lists 3 features but axis 1"}},
		{"input tensor absent", func(b *Bundle) {
			b.InputSize, b.InputErr = -1, fmt.Errorf("%w: no tensor %q", ErrInvalidSafetensors, b.InputTensor)
		}, []CheckID{ScalerMismatch}, []string{`cannot be checked against input tensor "net.0.weight" axis 1: invalid safetensors: no tensor "net.0.weight"`}},
		{"input size unknown", func(b *Bundle) { fewer(b); b.Scaler.FeatureNames = nil; b.InputSize = -1 }, nil, nil},
		{"serving list", func(b *Bundle) { b.ServingFeatures = []string{"age", "income"} }, []CheckID{ScalerMismatch},
			[]string{`serving feature list differs from the model's: missing "tenure", model expects 3 features, serving sends 2`}},
		{"none with a scaler layer", func(b *Bundle) { b.Preprocessing, b.WeightsScaler = PreprocessingNone, "" }, []CheckID{ScalerMismatch}, []string{"declares no preprocessing but carries scaler layer"}},
	})
}

func TestCheckScalerInvalid(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	runCheckCases(t, []checkCase{
		{"NaN mean", func(b *Bundle) { b.Scaler.Mean[1] = nan }, []CheckID{ScalerInvalid}, []string{"non-finite values: mean_[1] (income) = NaN"}},
		{"Inf var", func(b *Bundle) { b.Scaler.Var[2] = inf }, []CheckID{ScalerInvalid}, []string{"var_[2] (tenure) = +Inf"}},
		{"zero scale, zero var", func(b *Bundle) { b.Scaler.Scale[0], b.Scaler.Var[0] = 0, 0 }, []CheckID{ScalerInvalid}, []string{"scale_ must be > 0: scale_[0] (age) = 0"}},
		{"negative scale", func(b *Bundle) { b.Scaler.Scale[0] = -10 }, []CheckID{ScalerInvalid, ScalerInvalid},
			[]string{"scale_[0] (age) = -10", "scale_[0] (age) = -10, sqrt(var_) = 10"}},
		{"scale not sqrt var", func(b *Bundle) { b.Scaler.Scale[0] = 11 }, []CheckID{ScalerInvalid}, []string{"scale_ is not sqrt(var_) (1 where the variance is zero): scale_[0] (age) = 11, sqrt(var_) = 10"}},
		{"scale within tolerance", func(b *Bundle) { b.Scaler.Scale[0] = 10 * (1 + 1e-8) }, nil, nil},
		{"constant feature", func(b *Bundle) { b.Scaler.Scale[0], b.Scaler.Var[0] = 1, 0 }, nil, nil},
		{"nearly constant feature", func(b *Bundle) { b.Scaler.Mean[1], b.Scaler.Scale[1], b.Scaler.Var[1] = 1e6, 1, 1e-14 }, nil, nil},
		{"zero var, scale not 1", func(b *Bundle) { b.Scaler.Scale[0], b.Scaler.Var[0] = 0.5, 0 }, []CheckID{ScalerInvalid}, []string{"scale_[0] (age) = 0.5, sqrt(var_) = 0"}},
		{"lengths", func(b *Bundle) { b.Scaler.Mean = b.Scaler.Mean[:2] }, []CheckID{ScalerInvalid},
			[]string{"different lengths: mean_ 2, scale_ 3, var_ 3, feature_names_in_ 3, n_features_in_ 3"}},
		{"per-feature samples length", func(b *Bundle) { b.Scaler.SamplesSeen = []float64{1000, 1000} }, []CheckID{ScalerInvalid}, []string{"n_samples_seen_ 2"}},
		{"n_features_in_", func(b *Bundle) { b.Scaler.NFeaturesIn = 4; b.Scaler.FeatureNames = nil }, []CheckID{ScalerMismatch, ScalerInvalid},
			[]string{"n_features_in_ 4", "the scaler has 4 features"}},
		{"with_mean without mean_", func(b *Bundle) { b.Scaler.Mean = nil }, []CheckID{ScalerInvalid}, []string{"with_mean is true but mean_ is missing"}},
		{"with_mean false", func(b *Bundle) { b.Scaler.Mean, b.Scaler.WithMean = nil, false }, nil, nil},
		{"with_std without scale_", func(b *Bundle) { b.Scaler.Scale = nil }, []CheckID{ScalerInvalid}, []string{"with_std is true but scale_ is missing"}},
		{"scale_ without var_ (a MinMaxScaler's)", func(b *Bundle) { b.Scaler.Mean, b.Scaler.Var, b.Scaler.WithMean = nil, nil, false }, []CheckID{ScalerInvalid},
			[]string{"scale_ without var_", "MinMaxScaler", "write_scaler"}},
		{"with_std false without var_", func(b *Bundle) { b.Scaler.Scale, b.Scaler.Var, b.Scaler.WithStd = nil, nil, false }, nil, nil},
		{"no samples", func(b *Bundle) { b.Scaler.NSamplesSeen = 0 }, []CheckID{ScalerInvalid}, []string{"n_samples_seen_ is 0"}},
		{"NaN samples", func(b *Bundle) { b.Scaler.NSamplesSeen = nan }, []CheckID{ScalerInvalid}, []string{"n_samples_seen_ is NaN"}},
		{"unnamed scaler named from schema", func(b *Bundle) { b.Scaler.FeatureNames = nil; b.Scaler.Mean[2] = nan }, []CheckID{ScalerInvalid}, []string{"mean_[2] (tenure) = NaN"}},
	})
}

func TestCheckBN(t *testing.T) {
	both := func(f func(s *BNStats)) func(b *Bundle) {
		return func(b *Bundle) { f(b.BNLayer); f(b.BNWeights) }
	}
	runCheckCases(t, []checkCase{
		{"no running_var", both(func(s *BNStats) { s.Layers[0].RunningVar = nil }), []CheckID{BNMissing}, []string{"BatchNorm layer net.1 has no running_var"}},
		{"no running_mean", both(func(s *BNStats) { s.Layers[1].RunningMean = nil }), []CheckID{BNMissing}, []string{"BatchNorm layer net.4 has no running_mean"}},
		{"no stats", both(func(s *BNStats) { s.Layers[1].RunningMean, s.Layers[1].RunningVar = nil, nil }), []CheckID{BNMissing}, []string{"has no running_mean and no running_var"}},
		{"negative var", both(func(s *BNStats) { s.Layers[0].RunningVar[1] = -1 }), []CheckID{BNInvalid}, []string{"BatchNorm layer net.1: running_var[1] (channel 1) = -1"}},
		{"zero var", both(func(s *BNStats) { s.Layers[1].RunningVar[0] = 0 }), []CheckID{BNInvalid}, []string{"running_var[0] (channel 0) = 0", "model.train()"}},
		{"NaN var in both", both(func(s *BNStats) { s.Layers[1].RunningVar[0] = math.NaN() }), []CheckID{BNInvalid}, []string{"running_var[0] (channel 0) = NaN", "training diverged"}},
		{"Inf mean", both(func(s *BNStats) { s.Layers[0].RunningMean[0] = math.Inf(-1) }), []CheckID{BNInvalid}, []string{"running_mean[0] (channel 0) = -Inf"}},
		{"wrong length", both(func(s *BNStats) { s.Layers[0].RunningMean = []float64{1, 2, 3} }), []CheckID{BNInvalid}, []string{"running_mean has 3 values for 2 channels"}},
		{"negative tracked", both(func(s *BNStats) { s.Layers[0].NumBatchesTracked = -1 }), []CheckID{BNInvalid}, []string{"num_batches_tracked = -1"}},
		{"never tracked", both(func(s *BNStats) { s.Layers[1].NumBatchesTracked = 0 }), []CheckID{BNStale}, []string{"1 of 2 BatchNorm layers were never updated", ": net.4", "model.train()"}},
		{"stats at init", both(func(s *BNStats) {
			for i := range s.Layers {
				l := &s.Layers[i]
				l.HasTracked, l.NumBatchesTracked = false, 0
				for c := range l.RunningMean {
					l.RunningMean[c], l.RunningVar[c] = 0, 1
				}
			}
		}), []CheckID{BNStale}, []string{"2 of 2 BatchNorm layers were never updated", "net.1, net.4"}},
		{"mean 0 but var moved", both(func(s *BNStats) { s.Layers[1].RunningMean[0] = 0 }), nil, nil},
		{"stats layer differs", func(b *Bundle) { b.BNLayer.Layers[0].RunningVar[1] = 2.5 }, []CheckID{BNMismatch},
			[]string{"stats layer vs weights: net.1 running_var[1] 2.5 vs 2"}},
		{"stats layer in float32", func(b *Bundle) { b.BNLayer.Layers[0].RunningMean[0] = float64(float32(0.1)) }, nil, nil},
		{"stats layer tracked differs", func(b *Bundle) { b.BNLayer.Layers[1].NumBatchesTracked = 99 }, []CheckID{BNMismatch}, []string{"net.4 num_batches_tracked 99 vs 100"}},
		{"stats layer lacks a layer", func(b *Bundle) { b.BNLayer.Layers = b.BNLayer.Layers[:1] }, []CheckID{BNMismatch},
			[]string{"stats layer (1 layers) differs from the weights (2 layers)", "net.4 is missing from the stats layer"}},
		{"stats layer has an extra layer", func(b *Bundle) { b.BNLayer.Layers[1].Name = "net.7" }, []CheckID{BNMismatch},
			[]string{"net.4 is missing from the stats layer", "net.7 is not in the weights"}},
		{"stats layer length", func(b *Bundle) { b.BNLayer.Layers[1].Channels = 2 }, []CheckID{BNMismatch}, []string{"net.4 channels 2 vs 1"}},
		{"only the stats layer", func(b *Bundle) { b.BNWeights = nil; b.BNLayer.Layers[0].RunningVar[0] = 0 }, []CheckID{BNInvalid}, []string{"net.1: running_var[0]"}},
		{"no BatchNorm", func(b *Bundle) { b.BNStatsLayer, b.BNLayer, b.BNWeights, b.BatchSize = "", nil, nil, 2 }, nil, nil},
		{"no stats layer", func(b *Bundle) { b.BNStatsLayer, b.BNLayer = "", nil }, []CheckID{BNMissing},
			[]string{"the weights have 2 BatchNorm layers (net.1, net.4) but the bundle has no BatchNorm stats layer", "push again with regctl"}},
		{"weights with weight and bias, stats layer without", func(b *Bundle) { affine(b.BNWeights, 1) }, nil, nil},
	})
}

// affine gives every layer of s weight w and bias 0 in each channel.
func affine(s *BNStats, w float64) {
	for i := range s.Layers {
		l := &s.Layers[i]
		l.Weight, l.Bias = slices.Repeat([]float64{w}, l.Channels), make([]float64, l.Channels)
	}
}

// partialFinetune is a fine-tune of sameBNParent in which net.1's
// statistics moved and net.4 kept the parent's; net.4's weight changes
// when trained.
func partialFinetune(trained bool) func(b *Bundle) {
	return func(b *Bundle) {
		b.Parent = sameBNParent()
		affine(b.Parent.BN, 1)
		affine(b.BNWeights, 1)
		b.Parent.BN.Layers[0].NumBatchesTracked = 50
		if trained {
			b.BNWeights.Layers[1].Weight[0] = 1.1
		}
	}
}

func TestCheckBNStaleAgainstParent(t *testing.T) {
	runCheckCases(t, []checkCase{
		{"fine-tuned with BN left in eval", func(b *Bundle) { b.Parent = sameBNParent() }, []CheckID{BNStale},
			[]string{"the weights changed from parent bundle " + string(sameBNParent().Digest), "all 2 BatchNorm layers are identical", "--bn-frozen"}},
		{"declared frozen", func(b *Bundle) { b.Parent, b.BNFrozen = sameBNParent(), true }, nil, nil},
		{"weights unchanged", func(b *Bundle) { b.Parent = sameBNParent(); b.Parent.WeightsDigest = b.WeightsDigest }, nil, nil},
		{"stats updated", func(b *Bundle) { b.Parent = sameBNParent(); b.Parent.BN.Layers[0].NumBatchesTracked = 50 }, nil, nil},
		{"stats differ in a value", func(b *Bundle) { b.Parent = sameBNParent(); b.Parent.BN.Layers[1].RunningMean[0] = 0.30000001 }, nil, nil},
		{"parent without BN stats", func(b *Bundle) { b.Parent = sameBNParent(); b.Parent.BN = nil }, nil, nil},
		{"parent has other layers", func(b *Bundle) { b.Parent = sameBNParent(); b.Parent.BN.Layers = b.Parent.BN.Layers[:1] }, nil, nil},
		{"one layer left in eval", partialFinetune(true), []CheckID{BNStale},
			[]string{"1 of 2 BatchNorm layers kept the running statistics and num_batches_tracked of parent bundle " + string(sameBNParent().Digest), "trained: net.4;", "eval mode", "freeze them whole"}},
		{"one layer frozen whole", partialFinetune(false), nil, nil},
		{"every layer frozen whole", func(b *Bundle) { partialFinetune(false)(b); b.Parent.BN.Layers[0].NumBatchesTracked = 100 }, []CheckID{BNStale},
			[]string{"all 2 BatchNorm layers are identical to the parent's, and so are their weight and bias: BatchNorm was frozen whole"}},
		{"every layer left in eval, weights trained", func(b *Bundle) {
			partialFinetune(true)(b)
			b.Parent.BN.Layers[0].NumBatchesTracked = 100
		}, []CheckID{BNStale}, []string{"identical to the parent's: BatchNorm was left in eval mode while fine-tuning"}},
		{"one layer left in eval, declared frozen", func(b *Bundle) { partialFinetune(true)(b); b.BNFrozen = true }, nil, nil},
		{"one layer left in eval, parent without affine", func(b *Bundle) {
			partialFinetune(true)(b)
			b.Parent.BN.Layers[1].Weight, b.Parent.BN.Layers[1].Bias = nil, nil
		}, nil, nil},
	})
}

func TestCheckSmallBatch(t *testing.T) {
	runCheckCases(t, []checkCase{
		{"batch 8", func(b *Bundle) { b.BatchSize = 8 }, []CheckID{SmallBatch}, []string{"2 BatchNorm layers were trained with batch size 8 (< 16)"}},
		{"batch 15", func(b *Bundle) { b.BatchSize = 15 }, []CheckID{SmallBatch}, []string{"batch size 15"}},
		{"batch 16", func(b *Bundle) { b.BatchSize = 16 }, nil, nil},
		{"batch unknown", func(b *Bundle) { b.BatchSize = 0 }, nil, nil},
		{"no BN layers", func(b *Bundle) { b.BatchSize = 8; b.BNLayer.Layers, b.BNWeights.Layers = nil, nil }, nil, nil},
	})
	b := goodBundle()
	b.BatchSize = 8
	if fs := Check(b); fs.Refused() || fs[0].Severity != Warning {
		t.Errorf("small batch refuses: %v", fs)
	}
}

func TestCheckOrder(t *testing.T) {
	b := goodBundle()
	b.Mode, b.BatchSize = ModeTrain, 4
	b.Scaler.Mean[0] = math.NaN()
	b.Scaler.FeatureNames[0] = "AGE"
	b.BNWeights.Layers[0].NumBatchesTracked = 0
	want := []CheckID{ModeTrained, ScalerMismatch, ScalerInvalid, BNStale, BNMismatch, SmallBatch}
	if got := Check(b).IDs(); !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestDigestMismatchFinding(t *testing.T) {
	d := FromBytes(SHA256, []byte("x"))
	f := DigestMismatchFinding("scaler layer", d, fmt.Errorf("%w: content hashes to sha256:00", ErrDigestMismatch))
	if f.ID != DigestMismatch || f.Severity != Refuse || f.Fix == "" ||
		f.Message != "scaler layer "+string(d)+": digest mismatch: content hashes to sha256:00" {
		t.Errorf("finding %+v", f)
	}
	if !(Findings{f}).Refused() {
		t.Error("digest mismatch does not refuse")
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		items []string
		want  string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{"a", "b", "c", "d"}, "a, b, c, d"},
		{[]string{"a", "b", "c", "d", "e", "f"}, "a, b, c, d and 2 more"},
	}
	for _, tt := range tests {
		if got := list(tt.items); got != tt.want {
			t.Errorf("list(%v) = %q, want %q", tt.items, got, tt.want)
		}
	}
}

// TestIsMismatch: wrapped digest and size mismatches are mismatches, other
// errors and nil are not.
func TestIsMismatch(t *testing.T) {
	for err, want := range map[error]bool{
		fmt.Errorf("blob: %w", ErrDigestMismatch): true,
		fmt.Errorf("blob: %w", ErrSizeMismatch):   true,
		errors.New("connection reset"):            false,
		nil:                                       false,
	} {
		if got := IsMismatch(err); got != want {
			t.Errorf("IsMismatch(%v) = %v, want %v", err, got, want)
		}
	}
}
