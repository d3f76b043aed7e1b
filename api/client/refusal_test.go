package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/api/client/registrytest"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// TestRefusedFindings pushes a bundle without its scaler layer to normreg's
// registry: the push fails with MANIFEST_INVALID, and RefusedFindings reads
// the registry's findings from the error detail (regctl exits 3 on them).
func TestRefusedFindings(t *testing.T) {
	w, err := os.ReadFile("../../testdata/interop/mlp/weights.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := os.ReadFile("../../testdata/interop/mlp/scaler.json")
	if err != nil {
		t.Fatal(err)
	}
	built, err := manifest.Build(bytes.NewReader(w), int64(len(w)), sc, manifest.Declared{Mode: artifact.ModeEval})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := registrytest.Normreg(t)
	c, ctx := client.New(host, client.Options{}), context.Background()
	if err := c.PushBlob(ctx, "team/m", built.Manifest.Layers[0], bytes.NewReader(w)); err != nil {
		t.Fatal(err)
	}
	cfg := *built.Manifest.Config
	if err := c.PushBlob(ctx, "team/m", cfg, bytes.NewReader(built.Blobs[cfg.Digest])); err != nil {
		t.Fatal(err)
	}
	m := *built.Manifest
	m.Layers = m.Layers[:1] // the weights only
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PushManifest(ctx, "team/m", "v1", manifest.MediaTypeImageManifest, body)
	var ce *client.Error
	if !errors.As(err, &ce) || !ce.HasCode("MANIFEST_INVALID") {
		t.Fatalf("push: %v, want MANIFEST_INVALID", err)
	}
	if fs := client.RefusedFindings(err); !slices.Contains(fs.IDs(), artifact.ScalerMissing) || fs[0].Message == "" {
		t.Fatalf("RefusedFindings %+v, want scaler-missing with its message", fs)
	}
	if fs := client.RefusedFindings(errors.New("other")); fs != nil {
		t.Fatalf("RefusedFindings of a plain error: %v", fs)
	}
}
