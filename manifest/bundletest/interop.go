package bundletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// InteropCase is a testdata/interop/<case>/case.json: the regctl push flags
// of a fixture made by real PyTorch and scikit-learn, and its expected outcome.
type InteropCase struct {
	Description string `json:"description"`
	Push        struct {
		Weights     string   `json:"weights"`
		Scaler      *string  `json:"scaler"` // nil: no scaler file
		Mode        string   `json:"mode"`
		Features    []string `json:"features"`
		InputTensor string   `json:"input_tensor"`
		InputAxis   int      `json:"input_axis"`
		BatchSize   *int     `json:"batch_size"` // nil: no --batch-size flag
		Parent      *string  `json:"parent"`     // the parent case's name, pushed first
		BNFrozen    bool     `json:"bn_frozen"`
		NoScaler    bool     `json:"no_scaler"`
	} `json:"push"`
	Expect struct {
		Outcome  string             `json:"outcome"`  // "ok" or "refused"
		Findings []artifact.CheckID `json:"findings"` // distinct ids, warnings included
	} `json:"expect"`
	Samples struct {
		ShiftedFeatures []string `json:"shifted_features"` // the features sample-shifted.csv shifts
	} `json:"samples"`
}

// Declared returns the case's push flags as the declarations regctl push
// makes for model name, without a parent.
func (c *InteropCase) Declared(name string) manifest.Declared {
	p := c.Push
	d := manifest.Declared{ModelName: name, Mode: artifact.Mode(p.Mode), Features: p.Features,
		InputTensor: p.InputTensor, InputAxis: p.InputAxis, BNFrozen: p.BNFrozen, NoScaler: p.NoScaler}
	if p.BatchSize != nil {
		d.BatchSize = *p.BatchSize
	}
	return d
}

// InteropExpected is a testdata/interop/<case>/expected.json: what torch and
// scikit-learn computed.
type InteropExpected struct {
	BN map[string]struct {
		RunningMean       []float64 `json:"running_mean"`
		RunningVar        []float64 `json:"running_var"`
		NumBatchesTracked int64     `json:"num_batches_tracked"`
	} `json:"bn"`
	Scaler *struct {
		Mean  []float64 `json:"mean_"`
		Scale []float64 `json:"scale_"`
	} `json:"scaler"` // NaN values (Python's bare NaN token) read as 0
	ScalerSHA256  string `json:"scaler_sha256"`
	WeightsSHA256 string `json:"weights_sha256"`
}

// ReadInteropCase reads dir/case.json.
func ReadInteropCase(dir string) (*InteropCase, error) {
	var c InteropCase
	return &c, readFixtureJSON(filepath.Join(dir, "case.json"), &c)
}

// ReadInteropExpected reads dir/expected.json.
func ReadInteropExpected(dir string) (*InteropExpected, error) {
	var e InteropExpected
	return &e, readFixtureJSON(filepath.Join(dir, "expected.json"), &e)
}

// readFixtureJSON decodes a fixture file, reading Python's bare NaN tokens
// (json.dump of a NaN scaler value) as null.
func readFixtureJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(bytes.ReplaceAll(b, []byte("NaN"), []byte("null")), v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
