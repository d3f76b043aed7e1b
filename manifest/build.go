package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest/bundlepb"
)

// ErrConflict: a declared fact (a regctl push flag) contradicts the weights'
// normreg.* metadata, or two declarations exclude each other.
var ErrConflict = errors.New("declaration conflicts")

// ErrUndeclared: a fact the bundle needs is neither declared nor in the
// weights' normreg.* metadata.
var ErrUndeclared = errors.New("declaration missing")

// Declared is what the pusher declares about a bundle: regctl push's flags.
// Zero values are "not declared"; the weights' normreg.* metadata then
// supplies the fact, and a declared value that contradicts the metadata is
// an error.
type Declared struct {
	ModelName           string
	Mode                artifact.Mode
	Features            []string
	InputTensor         string
	InputAxis           int  // axis of InputTensor whose size is len(Features)
	NoInputTensor       bool // no tensor's axis counts the scaler's features: the count is not checked
	NoScaler            bool // preprocessing is explicitly none
	BNFrozen            bool
	BatchSize           int
	DatasetDigest       artifact.Digest
	CodeRevision        string
	ParentDigest        artifact.Digest // parent bundle when fine-tuned
	ParentWeightsDigest artifact.Digest // its weights layer (see ParentFacts)
	WeightsDigest       artifact.Digest // the weights' digest when the caller knows it: Build then does not hash them
	Labels              map[string]string
	Subject             *artifact.Descriptor // OCI subject, e.g. the bundle an attachment refers to
}

// Built is a bundle ready to push: its manifest and the small blobs it
// references. The weights layer (Manifest.Layers[0]) is the caller's file.
type Built struct {
	ManifestBytes []byte
	Digest        artifact.Digest // sha256 of ManifestBytes: the bundle's identity
	Manifest      *Manifest
	Blobs         map[artifact.Digest][]byte // config, scaler and bnstats content
}

// Build assembles a bundle from the weights (size bytes, read by ranges and
// hashed once unless d.WeightsDigest is given, never held in memory), the
// scaler file's exact bytes (nil for none) and the declared facts. A given
// WeightsDigest is taken on trust: the weights layer is described with it. The same inputs always give the same bytes.
// It does not run the checks (see Check): a bundle that the checks refuse
// can be built, so the refusal can be reported. Errors wrap ErrConflict,
// ErrUndeclared or ErrInvalidBundle.
func Build(weights io.ReaderAt, size int64, scaler []byte, d Declared) (*Built, error) {
	if d.NoScaler && scaler != nil {
		return nil, fmt.Errorf("%w: a scaler is given and preprocessing is declared none", ErrConflict)
	}
	if d.NoInputTensor && d.InputTensor != "" {
		return nil, fmt.Errorf("%w: input tensor %s is given and declared none", ErrConflict, d.InputTensor)
	}
	wf, err := readWeights(weights, size)
	if err != nil {
		return nil, err
	}
	d, err = mergeMetadata(d, wf.header.Metadata)
	if err != nil {
		return nil, err
	}
	if d, err = bindScaler(d, scaler, wf.header); err != nil {
		return nil, err
	}
	if err := checkInputTensor(d, wf.header); err != nil {
		return nil, err
	}
	wd := d.WeightsDigest
	if wd == "" {
		if wd, err = digestOf(weights, size); err != nil {
			return nil, err
		}
	}
	b := newBuilder()
	weightsDesc := layer(MediaTypeWeights, FileWeights, wd, size)
	return b.finish(d, weightsDesc, scaler, wf.bn)
}

// digestOf hashes size bytes of ra with sha256, streaming.
func digestOf(ra io.ReaderAt, size int64) (artifact.Digest, error) {
	h := artifact.SHA256.New()
	if _, err := io.Copy(h, io.NewSectionReader(ra, 0, size)); err != nil {
		return "", fmt.Errorf("hashing the weights: %w", err)
	}
	return artifact.FromHash(artifact.SHA256, h), nil
}

// layer returns a layer descriptor annotated with its file name.
func layer(mediaType, title string, d artifact.Digest, size int64) artifact.Descriptor {
	return artifact.Descriptor{MediaType: mediaType, Digest: d, Size: size, Annotations: map[string]string{AnnotationTitle: title}}
}

// builder collects the small blobs of a bundle under construction.
type builder struct {
	blobs map[artifact.Digest][]byte
}

func newBuilder() *builder { return &builder{blobs: map[artifact.Digest][]byte{}} }

// add keeps content as a blob and returns its descriptor.
func (b *builder) add(mediaType, title string, content []byte) artifact.Descriptor {
	d := artifact.FromBytes(artifact.SHA256, content)
	b.blobs[d] = content
	if title == "" {
		return artifact.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(content))}
	}
	return layer(mediaType, title, d, int64(len(content)))
}

// finish adds the scaler, bnstats and config blobs and writes the manifest.
func (b *builder) finish(d Declared, weights artifact.Descriptor, scaler []byte, bn *artifact.BNStats) (*Built, error) {
	layers := []artifact.Descriptor{weights}
	cfg := configOf(d)
	if scaler != nil {
		sd := b.add(MediaTypeScaler, FileScaler, scaler)
		layers = append(layers, sd)
		cfg.Preprocessing = &bundlepb.Preprocessing{Kind: bundlepb.PreprocessingKind_PREPROCESSING_KIND_STANDARD_SCALER, ScalerDigest: string(sd.Digest)}
	}
	if len(bn.Layers) > 0 {
		raw, err := MarshalBNStats(bn)
		if err != nil {
			return nil, err
		}
		bd := b.add(MediaTypeBNStats, FileBNStats, raw)
		layers = append(layers, bd)
		cfg.BatchNorm = batchNormOf(d, len(bn.Layers), bd.Digest)
	} else if d.ParentDigest != "" || d.BNFrozen {
		cfg.BatchNorm = batchNormOf(d, 0, "")
	}
	raw, err := MarshalConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := &Manifest{SchemaVersion: 2, MediaType: MediaTypeImageManifest, ArtifactType: ArtifactTypeBundle,
		Config: ptr(b.add(MediaTypeConfig, "", raw)), Layers: layers, Subject: d.Subject}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding the manifest: %w", err)
	}
	return &Built{ManifestBytes: mb, Digest: artifact.FromBytes(artifact.SHA256, mb), Manifest: m, Blobs: b.blobs}, nil
}

func ptr[T any](v T) *T { return &v }

// configOf returns the config of the declared facts; the scaler and
// BatchNorm facts that depend on the layers are filled in by finish. Without
// a scaler and without NoScaler, preprocessing stays unspecified, which the
// checks refuse as scaler-missing.
func configOf(d Declared) *bundlepb.BundleConfig {
	c := &bundlepb.BundleConfig{
		ModelName:     d.ModelName,
		WeightsFormat: bundlepb.WeightsFormat_WEIGHTS_FORMAT_SAFETENSORS,
		Features:      d.Features,
		Mode:          modes[d.Mode],
		Preprocessing: &bundlepb.Preprocessing{},
		Labels:        d.Labels,
	}
	if d.InputTensor != "" {
		c.Input = &bundlepb.InputBinding{Tensor: d.InputTensor, Axis: int32(d.InputAxis)}
	}
	if d.NoScaler {
		c.Preprocessing.Kind = bundlepb.PreprocessingKind_PREPROCESSING_KIND_NONE
	}
	if d.BatchSize != 0 || d.DatasetDigest != "" || d.CodeRevision != "" {
		c.Training = &bundlepb.Training{BatchSize: uint32(d.BatchSize), DatasetDigest: string(d.DatasetDigest), CodeRevision: d.CodeRevision}
	}
	return c
}

// batchNormOf returns the config's BatchNorm facts.
func batchNormOf(d Declared, layers int, stats artifact.Digest) *bundlepb.BatchNorm {
	return &bundlepb.BatchNorm{
		LayerCount:          uint32(layers),
		StatsDigest:         string(stats),
		Frozen:              d.BNFrozen,
		ParentBundleDigest:  string(d.ParentDigest),
		ParentWeightsDigest: string(d.ParentWeightsDigest),
	}
}

// mergeMetadata fills d's undeclared facts from the weights' normreg.*
// metadata and refuses declared facts the metadata contradicts.
func mergeMetadata(d Declared, raw map[string]string) (Declared, error) {
	md, err := artifact.ParseWeightsMetadata(raw)
	if err != nil {
		return d, fmt.Errorf("%w: weights metadata: %w", ErrInvalidBundle, err)
	}
	var errs []error
	d.Mode = pick(&errs, "--mode", "normreg.mode", d.Mode, md.Mode)
	features := pick(&errs, "--features", "normreg.features", strings.Join(d.Features, ","), strings.Join(md.Features, ","))
	if features != "" {
		d.Features = strings.Split(features, ",")
	}
	d.InputTensor = pick(&errs, "--input-tensor", "normreg.input_tensor", d.InputTensor, md.InputTensor)
	if d.NoInputTensor && md.InputTensor != "" {
		errs = append(errs, fmt.Errorf("%w: --no-input-tensor contradicts the weights metadata normreg.input_tensor=%s", ErrConflict, md.InputTensor))
	}
	d.BatchSize = pick(&errs, "--batch-size", "normreg.batch_size", d.BatchSize, md.BatchSize)
	d.BNFrozen = pick(&errs, "--bn-frozen", "normreg.bn_frozen", flagText(d.BNFrozen), metaText(md.BNFrozen)) == "true"
	return d, errors.Join(errs...)
}

// bindScaler completes d for a bundle with the given scaler (nil for none):
// with no feature schema declared, the scaler's feature_names_in_ become the
// schema (none may contain a comma); and an input tensor must be declared,
// or declared none, since without one nothing checks the scaler's feature
// count against the model (the error names the tensors of h that would
// fit). A scaler that does not parse is left to the checks, which refuse it
// as scaler-invalid.
func bindScaler(d Declared, scaler []byte, h *artifact.SafetensorsHeader) (Declared, error) {
	if scaler == nil {
		return d, nil
	}
	s, err := artifact.ParseScaler(scaler)
	if err != nil {
		return d, nil
	}
	if len(d.Features) == 0 {
		if err := schemaFromScaler(s.FeatureNames); err != nil {
			return d, err
		}
		d.Features = s.FeatureNames
	}
	if d.InputTensor == "" && !d.NoInputTensor {
		return d, fmt.Errorf("%w: a scaler is given but no input tensor is declared (--input-tensor NAME, or %s in the weights' metadata; --no-input-tensor if no tensor's axis counts the scaler's features), so nothing would check that its %d features are the model's inputs; %s",
			ErrUndeclared, artifact.MetaInputTensor, s.FeatureCount(), inputCandidates(h, d.InputAxis, int64(s.FeatureCount())))
	}
	return d, nil
}

// checkInputTensor fails when d declares an input tensor that h lacks
// (naming the tensors whose axis fits the feature schema, when one is
// known: a name copied from another model), or one without the declared axis.
func checkInputTensor(d Declared, h *artifact.SafetensorsHeader) error {
	if d.InputTensor == "" {
		return nil
	}
	_, err := h.AxisSize(d.InputTensor, d.InputAxis)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%w: the declared input tensor (--input-tensor or %s): %w", ErrInvalidBundle, artifact.MetaInputTensor, err)
	if _, found := h.Tensor(d.InputTensor); found || len(d.Features) == 0 {
		return err
	}
	return fmt.Errorf("%w; %s", err, inputCandidates(h, d.InputAxis, int64(len(d.Features))))
}

// schemaFromScaler fails when the scaler's feature names cannot be a
// feature schema: one holds a comma, so no serving list, comma-separated as
// normreg.features and --features are, could ever match it.
func schemaFromScaler(names []string) error {
	i := slices.IndexFunc(names, func(n string) bool { return strings.Contains(n, ",") })
	if i < 0 {
		return nil
	}
	return fmt.Errorf("%w: the scaler's feature name %q contains a comma, which a feature schema cannot hold (%s and --features are comma-separated lists): rename the column before fitting the scaler",
		ErrInvalidBundle, names[i], artifact.MetaFeatures)
}

// inputCandidates names the tensors of h whose axis has size n.
func inputCandidates(h *artifact.SafetensorsHeader, axis int, n int64) string {
	var names []string
	for _, t := range h.Tensors {
		if axis < len(t.Shape) && t.Shape[axis] == n {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("no tensor of the weights has %d entries on axis %d: is the scaler the model's?", n, axis)
	}
	return fmt.Sprintf("tensors with %d entries on axis %d: %s", n, axis, strings.Join(names, ", "))
}

// flagText is a boolean flag as pick compares it: "" when not given.
func flagText(set bool) string {
	if !set {
		return ""
	}
	return "true"
}

// metaText is a boolean metadata value as pick compares it: "" when absent.
func metaText(v *bool) string {
	if v == nil {
		return ""
	}
	return strconv.FormatBool(*v)
}

// pick returns the declared value, or the metadata's when nothing was
// declared; when both are set and differ it appends an error naming both.
func pick[T comparable](errs *[]error, flag, key string, declared, meta T) T {
	var zero T
	if declared != zero && meta != zero && declared != meta {
		*errs = append(*errs, fmt.Errorf("%w: %s %v contradicts the weights metadata %s=%v", ErrConflict, flag, declared, key, meta))
	}
	if declared != zero {
		return declared
	}
	return meta
}
