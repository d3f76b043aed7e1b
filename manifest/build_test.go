package manifest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/manifest/bundletest"
)

var features = []string{"age", "income", "tenure"}

// weights returns a small MLP's safetensors: Linear 3→4, BatchNorm1d(4)
// with the given running mean, Linear 4→1; metadata as given.
func weights(meta map[string]string, mean []float64) []byte {
	var ts []bundletest.Tensor
	ts = append(ts, bundletest.Linear("net.0", 4, 3)...)
	ts = append(ts, bundletest.BatchNorm("net.1", mean, []float64{1.5, 2, 0.5, 3}, 120)...)
	ts = append(ts, bundletest.Linear("net.3", 1, 4)...)
	return bundletest.Safetensors(meta, ts...)
}

// trained is a running mean that moved away from its initial 0.
var trained = []float64{0.1, -0.2, 0.3, 0.4}

func scaler() []byte {
	return bundletest.Scaler(features, []float64{40, 52000, 6}, []float64{144, 1e8, 16}, 1000)
}

func declared() manifest.Declared {
	return manifest.Declared{ModelName: "team/churn", Mode: artifact.ModeEval, Features: features,
		InputTensor: "net.0.weight", InputAxis: 1, BatchSize: 32, Labels: map[string]string{"owner": "ml"}}
}

func build(t *testing.T, w, sc []byte, d manifest.Declared) *manifest.Built {
	t.Helper()
	b, err := manifest.Build(bytes.NewReader(w), int64(len(w)), sc, d)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return b
}

func TestBuildIsDeterministicOCIArtifact(t *testing.T) {
	w := weights(nil, trained)
	subject := &artifact.Descriptor{MediaType: manifest.MediaTypeImageManifest, Digest: artifact.FromBytes(artifact.SHA256, []byte("x")), Size: 1}
	d := declared()
	d.Subject = subject
	first := build(t, w, scaler(), d)
	again := build(t, w, scaler(), d)
	if !bytes.Equal(first.ManifestBytes, again.ManifestBytes) || first.Digest != again.Digest {
		t.Fatalf("two builds of the same inputs differ:\n%s\n%s", first.ManifestBytes, again.ManifestBytes)
	}
	if first.Digest != artifact.FromBytes(artifact.SHA256, first.ManifestBytes) {
		t.Errorf("Digest %s is not the sha256 of the manifest bytes", first.Digest)
	}
	m, err := manifest.Parse(manifest.MediaTypeImageManifest, first.ManifestBytes)
	if err != nil {
		t.Fatalf("the built manifest does not parse as OCI: %v", err)
	}
	if m.ArtifactType != manifest.ArtifactTypeBundle || m.Config.MediaType != manifest.MediaTypeConfig || m.Subject == nil || m.Subject.Digest != subject.Digest {
		t.Errorf("manifest: artifactType %q, config %q, subject %v", m.ArtifactType, m.Config.MediaType, m.Subject)
	}
	var types, titles []string
	for _, l := range m.Layers {
		types = append(types, l.MediaType)
		titles = append(titles, l.Annotations[manifest.AnnotationTitle])
		if _, ok := first.Blobs[l.Digest]; !ok && l.MediaType != manifest.MediaTypeWeights {
			t.Errorf("layer %s not among the built blobs", l.Digest)
		}
	}
	if !slices.Equal(types, []string{manifest.MediaTypeWeights, manifest.MediaTypeScaler, manifest.MediaTypeBNStats}) ||
		!slices.Equal(titles, []string{"weights.safetensors", "scaler.json", "bnstats.pb"}) {
		t.Errorf("layers %v titled %v", types, titles)
	}
	if m.Layers[0].Digest != artifact.FromBytes(artifact.SHA256, w) || m.Layers[0].Size != int64(len(w)) {
		t.Errorf("weights layer %v does not describe the weights", m.Layers[0])
	}
	if !bytes.Equal(first.Blobs[m.Layers[1].Digest], scaler()) {
		t.Error("the scaler layer is not the scaler's exact bytes")
	}
}

func TestBuildConfigCarriesFacts(t *testing.T) {
	b := build(t, weights(nil, trained), scaler(), declared())
	c, err := manifest.ParseConfig(b.Blobs[b.Manifest.Config.Digest])
	if err != nil {
		t.Fatal(err)
	}
	if c.GetMode().String() != "MODE_EVAL" || !slices.Equal(c.GetFeatures(), features) || c.GetInput().GetTensor() != "net.0.weight" ||
		c.GetInput().GetAxis() != 1 || c.GetTraining().GetBatchSize() != 32 || c.GetLabels()["owner"] != "ml" || c.GetModelName() != "team/churn" {
		t.Errorf("config lost a declared fact: %v", c)
	}
	if c.GetPreprocessing().GetKind().String() != "PREPROCESSING_KIND_STANDARD_SCALER" || c.GetPreprocessing().GetScalerDigest() != string(b.Manifest.Layers[1].Digest) {
		t.Errorf("preprocessing %v does not bind the scaler layer %s", c.GetPreprocessing(), b.Manifest.Layers[1].Digest)
	}
	if c.GetBatchNorm().GetLayerCount() != 1 || c.GetBatchNorm().GetStatsDigest() != string(b.Manifest.Layers[2].Digest) {
		t.Errorf("BatchNorm facts %v, want 1 layer and the bnstats digest %s", c.GetBatchNorm(), b.Manifest.Layers[2].Digest)
	}
	bn, err := manifest.ParseBNStats(b.Blobs[b.Manifest.Layers[2].Digest])
	if err != nil || len(bn.Layers) != 1 || bn.Layers[0].Name != "net.1" || !slices.Equal(bn.Layers[0].RunningMean, []float64{float64(float32(0.1)), float64(float32(-0.2)), float64(float32(0.3)), float64(float32(0.4))}) {
		t.Errorf("bnstats layer %+v, %v: want net.1's running mean from the weights", bn, err)
	}
}

func TestBuildNoScalerDeclaresNone(t *testing.T) {
	d := declared()
	d.NoScaler = true
	b := build(t, weights(nil, trained), nil, d)
	c, _ := manifest.ParseConfig(b.Blobs[b.Manifest.Config.Digest])
	if c.GetPreprocessing().GetKind().String() != "PREPROCESSING_KIND_NONE" || len(b.Manifest.Layers) != 2 {
		t.Errorf("preprocessing %v with %d layers; want NONE and no scaler layer", c.GetPreprocessing(), len(b.Manifest.Layers))
	}
	if _, err := manifest.Build(bytes.NewReader(weights(nil, trained)), int64(len(weights(nil, trained))), scaler(), d); !errors.Is(err, manifest.ErrConflict) {
		t.Errorf("a scaler with --no-scaler: err = %v, want ErrConflict", err)
	}
}

func TestBuildMergesWeightsMetadata(t *testing.T) {
	meta := map[string]string{"normreg.mode": "eval", "normreg.features": "age,income,tenure", "normreg.input_tensor": "net.0.weight", "normreg.batch_size": "64", "normreg.bn_frozen": "true"}
	b := build(t, weights(meta, trained), scaler(), manifest.Declared{InputAxis: 1})
	c, _ := manifest.ParseConfig(b.Blobs[b.Manifest.Config.Digest])
	if c.GetMode().String() != "MODE_EVAL" || !slices.Equal(c.GetFeatures(), features) || c.GetInput().GetTensor() != "net.0.weight" ||
		c.GetTraining().GetBatchSize() != 64 || !c.GetBatchNorm().GetFrozen() {
		t.Errorf("config did not take the facts of the weights metadata: %v", c)
	}
}

func TestBuildRefusesFlagsContradictingMetadata(t *testing.T) {
	meta := map[string]string{"normreg.mode": "eval", "normreg.features": "age,income,tenure", "normreg.batch_size": "64", "normreg.bn_frozen": "false"}
	w := weights(meta, trained)
	for name, tc := range map[string]struct {
		change func(*manifest.Declared)
		want   []string
	}{
		"mode":       {func(d *manifest.Declared) { d.Mode = artifact.ModeTrain }, []string{"--mode train", "normreg.mode=eval"}},
		"features":   {func(d *manifest.Declared) { d.Features = []string{"income", "age", "tenure"} }, []string{"income,age,tenure", "age,income,tenure"}},
		"batch size": {func(d *manifest.Declared) { d.BatchSize = 16 }, []string{"--batch-size 16", "normreg.batch_size=64"}},
		"bn frozen":  {func(d *manifest.Declared) { d.BNFrozen = true }, []string{"--bn-frozen true", "normreg.bn_frozen=false"}},
	} {
		d := declared()
		d.BatchSize = 0
		tc.change(&d)
		_, err := manifest.Build(bytes.NewReader(w), int64(len(w)), scaler(), d)
		if !errors.Is(err, manifest.ErrConflict) {
			t.Errorf("%s: err = %v, want ErrConflict", name, err)
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not name %q", name, err, s)
			}
		}
	}
}

// An input tensor the weights lack is refused, naming the tensors whose
// axis fits the feature schema (a name copied from another model).
func TestBuildRefusesUnknownInputTensor(t *testing.T) {
	d := declared()
	d.InputTensor = "fc9.weight"
	w := weights(nil, trained)
	_, err := manifest.Build(bytes.NewReader(w), int64(len(w)), scaler(), d)
	if !errors.Is(err, manifest.ErrInvalidBundle) || !strings.Contains(err.Error(), "fc9.weight") {
		t.Errorf("err = %v, want ErrInvalidBundle naming the tensor", err)
	}
	if err == nil || !strings.Contains(err.Error(), "tensors with 3 entries on axis 1: net.0.weight") {
		t.Errorf("err = %v, want the tensors that fit the 3 features named", err)
	}
	if _, err := manifest.Build(bytes.NewReader(w[:len(w)-1]), int64(len(w)-1), scaler(), declared()); !errors.Is(err, manifest.ErrInvalidBundle) {
		t.Errorf("truncated weights: err = %v, want ErrInvalidBundle", err)
	}
}

// A scaler with no input tensor declared is refused, naming the tensors
// that would fit, unless declared none (which no input tensor may then
// contradict); without a scaler none is needed.
func TestBuildWithScalerNeedsInputTensor(t *testing.T) {
	d := declared()
	d.InputTensor = ""
	w := weights(nil, trained)
	_, err := manifest.Build(bytes.NewReader(w), int64(len(w)), scaler(), d)
	if !errors.Is(err, manifest.ErrUndeclared) {
		t.Fatalf("a scaler without an input tensor: err = %v, want ErrUndeclared", err)
	}
	for _, want := range []string{"--input-tensor", "normreg.input_tensor", "its 3 features", "tensors with 3 entries on axis 1: net.0.weight"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	d.InputAxis = 0
	if _, err := manifest.Build(bytes.NewReader(w), int64(len(w)), scaler(), d); err == nil || !strings.Contains(err.Error(), "no tensor of the weights has 3 entries on axis 0") {
		t.Errorf("no tensor fits: err = %v", err)
	}
	d.InputAxis = 1
	d.NoInputTensor = true // declared none: built, with no input binding
	b := build(t, w, scaler(), d)
	if c, _ := manifest.ParseConfig(b.Blobs[b.Manifest.Config.Digest]); c.GetInput() != nil {
		t.Errorf("--no-input-tensor: input %v, want none", c.GetInput())
	}
	for name, w := range map[string][]byte{"with --input-tensor": w, "with normreg.input_tensor": weights(map[string]string{"normreg.input_tensor": "net.0.weight"}, trained)} {
		d := d
		if name == "with --input-tensor" {
			d.InputTensor = "net.0.weight"
		}
		if _, err := manifest.Build(bytes.NewReader(w), int64(len(w)), scaler(), d); !errors.Is(err, manifest.ErrConflict) {
			t.Errorf("--no-input-tensor %s: err = %v, want ErrConflict", name, err)
		}
	}
	d.NoInputTensor, d.NoScaler = false, true
	build(t, w, nil, d)
}

// With no feature schema declared, the scaler's feature_names_in_ become it.
func TestBuildTakesFeaturesFromScaler(t *testing.T) {
	d := declared()
	d.Features = nil
	b := build(t, weights(nil, trained), scaler(), d)
	c, _ := manifest.ParseConfig(b.Blobs[b.Manifest.Config.Digest])
	if !slices.Equal(c.GetFeatures(), features) {
		t.Errorf("features %q, want the scaler's %q", c.GetFeatures(), features)
	}
}

// A scaler feature name with a comma cannot become the schema: no
// comma-separated serving list could match it.
func TestBuildRefusesCommaInScalerFeatureName(t *testing.T) {
	d := declared()
	d.Features = nil
	sc := bundletest.Scaler([]string{"age", "income,net", "tenure"}, []float64{40, 52000, 6}, []float64{144, 1e8, 16}, 1000)
	w := weights(nil, trained)
	_, err := manifest.Build(bytes.NewReader(w), int64(len(w)), sc, d)
	if !errors.Is(err, manifest.ErrInvalidBundle) || !strings.Contains(err.Error(), `"income,net" contains a comma`) {
		t.Errorf("err = %v, want ErrInvalidBundle naming the feature and the comma", err)
	}
}

// The built manifest is plain OCI: its JSON has exactly the fields a registry expects.
func TestBuiltManifestJSON(t *testing.T) {
	b := build(t, weights(nil, trained), scaler(), declared())
	var m map[string]any
	if err := json.Unmarshal(b.ManifestBytes, &m); err != nil {
		t.Fatal(err)
	}
	if m["schemaVersion"] != 2.0 || m["mediaType"] != manifest.MediaTypeImageManifest || m["subject"] != nil {
		t.Errorf("manifest JSON %s", b.ManifestBytes)
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r    *bytes.Reader
	read int64
}

// ReadAt implements io.ReaderAt.
func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.read += int64(n)
	return n, err
}

// TestBuildWithKnownWeightsDigest: a given weights digest gives the same
// bundle as hashing, and the weights are then read only for their header
// and BatchNorm tensors, never whole.
func TestBuildWithKnownWeightsDigest(t *testing.T) {
	ts := append(bundletest.Linear("net.0", 4, 3), bundletest.BatchNorm("net.1", trained, []float64{1.5, 2, 0.5, 3}, 120)...)
	w := bundletest.Safetensors(nil, append(ts, bundletest.Linear("net.3", 512, 4)...)...)
	hashed := build(t, w, scaler(), declared())
	d := declared()
	d.WeightsDigest = artifact.FromBytes(artifact.SHA256, w)
	ra := &countingReaderAt{r: bytes.NewReader(w)}
	known, err := manifest.Build(ra, int64(len(w)), scaler(), d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(known.ManifestBytes, hashed.ManifestBytes) {
		t.Fatalf("the known digest gave another manifest:\n%s\n%s", known.ManifestBytes, hashed.ManifestBytes)
	}
	if ra.read >= int64(len(w)) {
		t.Fatalf("Build read %d of %d bytes with the digest given; want the header and BatchNorm tensors only", ra.read, len(w))
	}
	d.WeightsDigest = artifact.FromBytes(artifact.SHA256, []byte("other"))
	if got := build(t, w, scaler(), d).Manifest.Layers[0].Digest; got != d.WeightsDigest {
		t.Fatalf("weights layer digest %s, want the given %s", got, d.WeightsDigest)
	}
}
