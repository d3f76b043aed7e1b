package artifact

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// interopPath is the path of a file of a testdata/interop case made by real
// PyTorch and scikit-learn.
func interopPath(name, file string) string {
	return filepath.Join("..", "testdata", "interop", name, file)
}

// interopSamples is the part of a case.json the skew tests read.
type interopSamples struct {
	Push struct {
		Features []string `json:"features"`
	} `json:"push"`
	Samples struct {
		ShiftedFeatures []string `json:"shifted_features"`
	} `json:"samples"`
}

// fixtureCase reads a case's case.json.
func fixtureCase(t *testing.T, name string) interopSamples {
	t.Helper()
	var c interopSamples
	b, err := os.ReadFile(interopPath(name, "case.json"))
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixtureStandardizer returns the standardizer of a case's scaler.json.
func fixtureStandardizer(t *testing.T, name string) *Standardizer {
	t.Helper()
	b, err := os.ReadFile(interopPath(name, "scaler.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseScaler(b)
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewStandardizer(s, fixtureCase(t, name).Push.Features)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// openRows opens a file as a RowReader.
func openRows(t *testing.T, path string) RowReader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rr, err := NewRowReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}
