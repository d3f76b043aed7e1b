package manifest_test

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/manifest/bundlepb"
	"google.golang.org/protobuf/proto"
)

func sampleConfig() *bundlepb.BundleConfig {
	return &bundlepb.BundleConfig{
		ModelName:     "team/churn",
		WeightsFormat: bundlepb.WeightsFormat_WEIGHTS_FORMAT_SAFETENSORS,
		Features:      []string{"age", "income", "tenure"},
		Input:         &bundlepb.InputBinding{Tensor: "fc1.weight", Axis: 1},
		Mode:          bundlepb.Mode_MODE_EVAL,
		Preprocessing: &bundlepb.Preprocessing{Kind: bundlepb.PreprocessingKind_PREPROCESSING_KIND_STANDARD_SCALER, ScalerDigest: "sha256:" + string(bytes.Repeat([]byte("a"), 64))},
		BatchNorm:     &bundlepb.BatchNorm{LayerCount: 2, Frozen: true},
		Training:      &bundlepb.Training{BatchSize: 32, CodeRevision: "abc123"},
		Labels:        map[string]string{"z": "last", "a": "first", "m": "middle"},
	}
}

func TestConfigRoundTripAndDeterminism(t *testing.T) {
	first, err := manifest.MarshalConfig(sampleConfig())
	if err != nil {
		t.Fatal(err)
	}
	for range 20 { // protojson varies its whitespace; the bytes must not
		again, err := manifest.MarshalConfig(sampleConfig())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatalf("config bytes differ:\n%s\n%s", first, again)
		}
	}
	if !bytes.Contains(first, []byte(`"mode":"MODE_EVAL"`)) || !bytes.Contains(first, []byte(`"labels":{"a":"first","m":"middle","z":"last"}`)) {
		t.Errorf("config is not compact protojson with enum names and sorted labels: %s", first)
	}
	got, err := manifest.ParseConfig(first)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, sampleConfig()) {
		t.Errorf("round trip changed the config:\n got %v\nwant %v", got, sampleConfig())
	}
}

func TestParseConfigRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"not json":     []byte("{"),
		"wrong type":   []byte(`{"features":"age"}`),
		"over the cap": append(append([]byte(`{"modelName":"`), bytes.Repeat([]byte("x"), manifest.MaxConfigSize)...), `"}`...),
	} {
		if _, err := manifest.ParseConfig(b); !errors.Is(err, manifest.ErrInvalidBundle) {
			t.Errorf("%s: err = %v, want ErrInvalidBundle", name, err)
		}
	}
	c, err := manifest.ParseConfig([]byte(`{"modelName":"m","fromTheFuture":1,"mode":"MODE_FROM_THE_FUTURE"}`))
	if err != nil || c.GetModelName() != "m" || c.GetMode() != bundlepb.Mode_MODE_UNSPECIFIED {
		t.Errorf("a config from a newer schema: %v, %v; want it read, the unknown mode as unspecified", c, err)
	}
}

func TestBNStatsRoundTrip(t *testing.T) {
	want := &artifact.BNStats{Layers: []artifact.BNLayer{
		{Name: "net.1", Channels: 3, RunningMean: []float64{0.5, -1, math.Pi}, RunningVar: []float64{1, 2, 3}, NumBatchesTracked: 420, HasTracked: true},
		{Name: "net.4", Channels: 2, RunningMean: []float64{0, 0}, RunningVar: []float64{1, 1}},
	}}
	b, err := manifest.MarshalBNStats(want)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := manifest.MarshalBNStats(want); !bytes.Equal(b, again) {
		t.Error("bnstats bytes differ between two encodings")
	}
	got, err := manifest.ParseBNStats(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != 2 || got.Layers[0].RunningMean[2] != math.Pi || got.Layers[0].NumBatchesTracked != 420 ||
		!got.Layers[0].HasTracked || got.Layers[1].HasTracked || got.Layers[1].Name != "net.4" {
		t.Errorf("round trip: got %+v, want %+v", got, want)
	}
	if _, err := manifest.ParseBNStats([]byte{0xff, 0xff}); !errors.Is(err, manifest.ErrInvalidBundle) {
		t.Errorf("garbage bnstats: err = %v, want ErrInvalidBundle", err)
	}
}
