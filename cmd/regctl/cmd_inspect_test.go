package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestInspectTextUnset renders a bundle that declares no feature schema, no
// input tensor and no batch size: inspect says so, rather than "0: ",
// "axis 0, size -1" and "batch size 0".
func TestInspectTextUnset(t *testing.T) {
	var buf bytes.Buffer
	if err := (inspection{Ref: "h/r:t", Digest: "sha256:ab", InputSize: -1}).write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"features       (unset: the scaler's feature names are not checked against the model's)\n",
		"input          (unset: the feature count is not checked against the model)\n",
		"training       batch size (unset: small-batch is not checked), BatchNorm frozen false, parent (unset)\n",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("inspect text:\n%s\nwant a line %q", buf.String(), want)
		}
	}
}
