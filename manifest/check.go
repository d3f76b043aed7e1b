package manifest

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest/bundlepb"
)

// CheckOptions are the facts a check takes from outside the bundle.
type CheckOptions struct {
	// ServingFeatures is a deploy's serving feature list (regctl verify
	// --features); nil when not given.
	ServingFeatures []string
}

// View is what checking a bundle learned of it, for regctl inspect. When
// the config does not match its digest, Config and Bundle are nil.
type View struct {
	Digest    artifact.Digest // sha256 of the manifest bytes
	Manifest  *Manifest
	Config    *bundlepb.BundleConfig
	Weights   artifact.Descriptor
	Scaler    *artifact.Descriptor // nil when the bundle has no scaler layer
	BNStats   *artifact.Descriptor // nil when the bundle has no bnstats layer
	Bundle    *artifact.Bundle     // every fact the checks read (scaler, BN statistics, ...)
	ParentErr error                // why the parent bundle could not be read; nil when read or none
}

// Check checks a bundle from its parts, as regctl (push, pull, verify) and
// the registry (manifest push) do: it parses the manifest, reads the config
// and the scaler and bnstats layers verifying their digests, reads the
// weights header and BatchNorm tensors by ranged reads (never the whole
// weights), reads the parent bundle's BatchNorm statistics when the config
// names one, and runs artifact.Check. Content that does not match its digest
// is a digest-mismatch finding.
//
// The error is for what prevents checking at all: manifest bytes that are
// not a normreg bundle, an unreadable config or weights header (wrapping
// ErrInvalidBundle or ErrManifestInvalid), or a fetch that fails.
func Check(ctx context.Context, manifestBytes []byte, f Fetcher, opts CheckOptions) (*View, artifact.Findings, error) {
	v, err := parseBundle(manifestBytes)
	if err != nil {
		return nil, nil, err
	}
	var fs artifact.Findings
	raw, err := readVerified(ctx, f, *v.Manifest.Config, MaxConfigSize)
	if artifact.IsMismatch(err) {
		return v, append(fs, artifact.DigestMismatchFinding("config", v.Manifest.Config.Digest, err)), nil
	}
	if err != nil {
		return nil, nil, err
	}
	if v.Config, err = ParseConfig(raw); err != nil {
		return nil, nil, err
	}
	v.Bundle = bundleOf(v.Config, opts)
	fs, err = v.readWeights(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	fs = append(fs, v.readScaler(ctx, f)...)
	bnFindings, err := v.readBNStats(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	fs = append(fs, bnFindings...)
	fs = append(fs, v.readParent(ctx, f)...)
	return v, append(fs, artifact.Check(v.Bundle)...), nil
}

// parseBundle parses manifest bytes and finds the bundle's layers by media type.
func parseBundle(manifestBytes []byte) (*View, error) {
	m, err := Parse("", manifestBytes)
	if err != nil {
		return nil, err
	}
	if m.MediaType != MediaTypeImageManifest || m.ArtifactType != ArtifactTypeBundle || m.Config.MediaType != MediaTypeConfig {
		return nil, fmt.Errorf("%w: not a normreg bundle (mediaType %q, artifactType %q, config %q; want %s, %s, %s)",
			ErrInvalidBundle, m.MediaType, m.ArtifactType, m.Config.MediaType, MediaTypeImageManifest, ArtifactTypeBundle, MediaTypeConfig)
	}
	v := &View{Digest: artifact.FromBytes(artifact.SHA256, manifestBytes), Manifest: m}
	roles := map[string]**artifact.Descriptor{MediaTypeScaler: &v.Scaler, MediaTypeBNStats: &v.BNStats}
	var weights *artifact.Descriptor
	roles[MediaTypeWeights] = &weights
	for i := range m.Layers {
		slot, ok := roles[m.Layers[i].MediaType]
		if !ok {
			continue
		}
		if *slot != nil {
			return nil, fmt.Errorf("%w: more than one %s layer", ErrInvalidBundle, m.Layers[i].MediaType)
		}
		*slot = &m.Layers[i]
	}
	if weights == nil {
		return nil, fmt.Errorf("%w: no %s layer", ErrInvalidBundle, MediaTypeWeights)
	}
	v.Weights = *weights
	return v, nil
}

// bundleOf returns the facts the config declares.
func bundleOf(c *bundlepb.BundleConfig, opts CheckOptions) *artifact.Bundle {
	return &artifact.Bundle{
		Features:        c.GetFeatures(),
		InputTensor:     c.GetInput().GetTensor(),
		InputAxis:       int(c.GetInput().GetAxis()),
		InputSize:       -1,
		Mode:            modeOf(c.GetMode()),
		Preprocessing:   preprocessingOf(c.GetPreprocessing().GetKind()),
		ScalerBound:     artifact.Digest(c.GetPreprocessing().GetScalerDigest()),
		BNFrozen:        c.GetBatchNorm().GetFrozen(),
		BatchSize:       int(c.GetTraining().GetBatchSize()),
		ServingFeatures: opts.ServingFeatures,
	}
}

// readWeights fills the facts read from the weights header and BatchNorm
// tensors, and reports config facts the weights metadata contradicts.
func (v *View) readWeights(ctx context.Context, f Fetcher) (artifact.Findings, error) {
	wf, err := readWeights(newRangeReader(ctx, f, v.Weights), v.Weights.Size)
	if err != nil {
		return nil, err
	}
	md, err := artifact.ParseWeightsMetadata(wf.header.Metadata)
	if err != nil {
		return nil, fmt.Errorf("%w: weights metadata: %w", ErrInvalidBundle, err)
	}
	v.Bundle.WeightsDigest = v.Weights.Digest
	v.Bundle.WeightsScaler = md.ScalerSHA256
	v.Bundle.BNWeights = wf.bn
	if v.Bundle.InputTensor != "" {
		v.Bundle.InputSize, v.Bundle.InputErr = wf.header.AxisSize(v.Bundle.InputTensor, v.Bundle.InputAxis)
		if v.Bundle.InputErr != nil {
			v.Bundle.InputSize = -1
		}
	}
	return metadataFindings(v.Bundle, md), nil
}

// metadataFindings reports a config whose mode or feature schema differs
// from the weights' normreg.* metadata (a bundle assembled by hand; Build
// refuses such a contradiction).
func metadataFindings(b *artifact.Bundle, md *artifact.WeightsMetadata) artifact.Findings {
	var fs artifact.Findings
	if b.Mode != "" && md.Mode != "" && b.Mode != md.Mode {
		fs = append(fs, artifact.Finding{ID: artifact.ModeUnknown, Severity: artifact.Refuse,
			Message: fmt.Sprintf("the config declares mode %s but the weights metadata says %s=%s", b.Mode, artifact.MetaMode, md.Mode),
			Fix:     "export the weights in eval mode and push them with regctl push, which keeps config and metadata in agreement"})
	}
	if b.Features != nil && md.Features != nil && !slices.Equal(b.Features, md.Features) {
		fs = append(fs, artifact.Finding{ID: artifact.ScalerMismatch, Severity: artifact.Refuse,
			Message: fmt.Sprintf("the config's features %v differ from the weights metadata %s=%v", b.Features, artifact.MetaFeatures, md.Features),
			Fix:     "push the bundle with regctl push and the feature list the model was trained on"})
	}
	return fs
}

// readScaler fetches and parses the scaler layer. A scaler that cannot be
// fetched, verified or parsed is recorded as ScalerReadErr (the checks
// report scaler-missing or scaler-invalid); a wrong digest is also a
// digest-mismatch finding.
func (v *View) readScaler(ctx context.Context, f Fetcher) artifact.Findings {
	if v.Scaler == nil {
		return nil
	}
	v.Bundle.ScalerLayer = v.Scaler.Digest
	raw, err := readVerified(ctx, f, *v.Scaler, MaxScalerSize)
	if err != nil {
		v.Bundle.ScalerReadErr = err
		if artifact.IsMismatch(err) {
			return artifact.Findings{artifact.DigestMismatchFinding("scaler layer", v.Scaler.Digest, err)}
		}
		return nil
	}
	v.Bundle.Scaler, v.Bundle.ScalerReadErr = artifact.ParseScaler(raw)
	return nil
}

// readBNStats fetches and decodes the bnstats layer. A wrong digest is a
// digest-mismatch finding; an undecodable layer is an error.
func (v *View) readBNStats(ctx context.Context, f Fetcher) (artifact.Findings, error) {
	if v.BNStats == nil {
		return nil, nil
	}
	v.Bundle.BNStatsLayer = v.BNStats.Digest
	raw, err := readVerified(ctx, f, *v.BNStats, MaxBNStatsSize)
	if artifact.IsMismatch(err) {
		return artifact.Findings{artifact.DigestMismatchFinding("bnstats layer", v.BNStats.Digest, err)}, nil
	}
	if err != nil {
		return nil, err
	}
	v.Bundle.BNLayer, err = ParseBNStats(raw)
	return nil, err
}

// readParent reads the parent bundle's facts when the config names one,
// with the weight and bias of the parent's BatchNorm layers whose running
// statistics this bundle's weights kept (readParentAffine). A parent that
// cannot be read leaves Bundle.Parent nil and sets ParentErr; a parent
// whose content does not match its digest is a finding.
func (v *View) readParent(ctx context.Context, f Fetcher) artifact.Findings {
	d := artifact.Digest(v.Config.GetBatchNorm().GetParentBundleDigest())
	if d == "" {
		return nil
	}
	p, weights, err := parentFacts(ctx, f, d)
	if err == nil && p.BN != nil && v.Bundle.BNWeights != nil && !v.Bundle.BNFrozen {
		err = readParentAffine(ctx, f, weights, p.BN, v.Bundle.BNWeights.KeptStats(p.BN))
	}
	if err != nil {
		p = nil
	}
	v.Bundle.Parent, v.ParentErr = p, err
	if artifact.IsMismatch(err) {
		return artifact.Findings{artifact.DigestMismatchFinding("parent bundle", d, err)}
	}
	return nil
}

// ParentFacts reads what a fine-tuned bundle's checks need of its parent
// bundle d through f: the parent's weights digest and its bnstats layer.
func ParentFacts(ctx context.Context, f Fetcher, d artifact.Digest) (*artifact.Parent, error) {
	p, _, err := parentFacts(ctx, f, d)
	return p, err
}

// parentFacts is ParentFacts, also returning the parent's weights layer.
func parentFacts(ctx context.Context, f Fetcher, d artifact.Digest) (*artifact.Parent, artifact.Descriptor, error) {
	raw, err := readVerified(ctx, f, artifact.Descriptor{MediaType: MediaTypeImageManifest, Digest: d, Size: -1}, MaxSize)
	if err != nil {
		return nil, artifact.Descriptor{}, fmt.Errorf("parent bundle: %w", err)
	}
	pv, err := parseBundle(raw)
	if err != nil {
		return nil, artifact.Descriptor{}, fmt.Errorf("parent bundle %s: %w", d, err)
	}
	p := &artifact.Parent{Digest: d, WeightsDigest: pv.Weights.Digest}
	if pv.BNStats == nil {
		return p, pv.Weights, nil
	}
	bn, err := readVerified(ctx, f, *pv.BNStats, MaxBNStatsSize)
	if err != nil {
		return nil, artifact.Descriptor{}, fmt.Errorf("parent bundle %s: %w", d, err)
	}
	p.BN, err = ParseBNStats(bn)
	return p, pv.Weights, err
}

// readParentAffine sets the weight and bias of the named layers of the
// parent's statistics bn, read by ranges of the parent's weights (the
// bnstats layer does not carry them): only the header and those tensors.
// Nothing is read when no layer is named, as in any fine-tune that ran
// BatchNorm in train mode.
func readParentAffine(ctx context.Context, f Fetcher, weights artifact.Descriptor, bn *artifact.BNStats, layers []string) error {
	if len(layers) == 0 {
		return nil
	}
	ra := newRangeReader(ctx, f, weights)
	h, err := artifact.ReadSafetensorsHeader(io.NewSectionReader(ra, 0, weights.Size))
	if err == nil {
		err = bn.ReadAffineAt(h, ra, layers)
	}
	if err != nil {
		return fmt.Errorf("parent bundle: %w", invalidWeights(err))
	}
	return nil
}
