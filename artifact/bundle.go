package artifact

// Mode is the train/eval mode a model was exported in. A PyTorch state_dict
// does not record it, so it must be declared.
type Mode string

// Modes.
const (
	ModeUnset Mode = ""
	ModeEval  Mode = "eval"
	ModeTrain Mode = "train"
)

// Preprocessing is what the bundle declares is done to features before the model.
type Preprocessing string

// Preprocessing kinds.
const (
	PreprocessingUnset    Preprocessing = ""
	PreprocessingStandard Preprocessing = "standard_scaler"
	PreprocessingNone     Preprocessing = "none"
)

// Bundle is everything the checks know of one bundle, gathered from its
// config, its layers and its weights header by the manifest package (at
// push, in the registry, and at pull). Fields that could not be gathered are
// left zero and the checks say so.
type Bundle struct {
	Features      []string      // the model's ordered input feature schema
	InputTensor   string        // weights tensor whose axis InputAxis must equal len(Features)
	InputAxis     int           // axis of InputTensor
	InputSize     int64         // size of that axis read from the weights header; -1 unknown
	InputErr      error         // why InputSize could not be read (no such tensor or axis); nil when read or not tried
	Mode          Mode          // declared mode
	Preprocessing Preprocessing // declared preprocessing

	ScalerBound     Digest   // scaler digest bound in the config
	ScalerLayer     Digest   // digest of the scaler layer; "" when the bundle has none
	Scaler          *Scaler  // the scaler read from the layer; nil when absent or unreadable
	ScalerReadErr   error    // why the scaler layer could not be fetched or parsed
	WeightsScaler   string   // hex sha256 from the weights metadata normreg.scaler.sha256, or ""
	WeightsDigest   Digest   // digest of the weights layer
	BNStatsLayer    Digest   // digest of the bnstats layer; "" when the bundle has none
	BNLayer         *BNStats // statistics from the bnstats layer; nil when absent or unreadable
	BNWeights       *BNStats // statistics extracted from the weights; nil when not read
	BNFrozen        bool     // BatchNorm declared frozen during fine-tuning
	Parent          *Parent  // the parent bundle when fine-tuned; nil otherwise
	BatchSize       int      // training batch size; 0 unknown
	ServingFeatures []string // a deploy's serving feature list (regctl verify --features); nil unset
}

// Parent is what a fine-tuned bundle's checks need of its parent.
type Parent struct {
	Digest        Digest
	WeightsDigest Digest
	BN            *BNStats
}

// Scaler is a scikit-learn StandardScaler's fitted state, read from the
// JSON of its attributes (mean_, scale_, var_, n_samples_seen_,
// n_features_in_, feature_names_in_, with_mean, with_std).
type Scaler struct {
	Mean         []float64 // the training mean; scikit-learn keeps it when with_mean is false (then not subtracted) unless with_std is false too
	Scale        []float64 // nil when with_std is false
	Var          []float64
	NSamplesSeen float64   // n_samples_seen_; the smallest entry when it is per feature
	SamplesSeen  []float64 // n_samples_seen_ when it is per feature; nil when one number
	NFeaturesIn  int       // n_features_in_; 0 when absent
	FeatureNames []string  // feature_names_in_; nil when absent (fitted on an unnamed array)
	WithMean     bool
	WithStd      bool
}

// BNStats is the running statistics of every BatchNorm layer of a model.
type BNStats struct {
	Layers []BNLayer
}

// BNLayer is one BatchNorm layer's running statistics.
type BNLayer struct {
	Name              string // the state_dict prefix, e.g. "net.1"
	Channels          int
	RunningMean       []float64
	RunningVar        []float64
	NumBatchesTracked int64
	HasTracked        bool // the weights carry num_batches_tracked
	// The affine parameters (gamma and beta); nil when the layer has none
	// (affine=False), or in a stats layer written without them.
	Weight, Bias []float64
}
