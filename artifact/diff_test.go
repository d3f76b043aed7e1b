package artifact

import (
	"crypto/sha256"
	"io"
	"os"
	"slices"
	"testing"
)

// fixtureSide reads a case's scaler, weights header, BatchNorm statistics
// and per-tensor digests, as regctl diff gathers them from a registry.
func fixtureSide(t *testing.T, name string) DiffSide {
	t.Helper()
	f, err := os.Open(interopPath(name, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	h, err := ReadSafetensorsHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	bn, err := ReadBNStatsAt(h, f)
	if err != nil {
		t.Fatal(err)
	}
	whole := sha256.New()
	if _, err := io.Copy(whole, io.NewSectionReader(f, 0, h.FileSize())); err != nil {
		t.Fatal(err)
	}
	side := fixtureStandardizerSide(t, name)
	side.Weights, side.BN, side.WeightsDigest = h, bn, FromHash(SHA256, whole)
	side.TensorDigest = func(ti TensorInfo) (Digest, error) {
		hh := sha256.New()
		_, err := io.Copy(hh, io.NewSectionReader(f, h.DataStart+ti.Begin, ti.Bytes()))
		return FromHash(SHA256, hh), err
	}
	return side
}

// fixtureStandardizerSide reads a case's features and scaler.
func fixtureStandardizerSide(t *testing.T, name string) DiffSide {
	b, err := os.ReadFile(interopPath(name, "scaler.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseScaler(b)
	if err != nil {
		t.Fatal(err)
	}
	return DiffSide{Features: fixtureCase(t, name).Push.Features, Scaler: s}
}

// bnStatuses returns each layer's status.
func bnStatuses(d *BundleDiff) map[string]string {
	out := map[string]string{}
	for _, c := range d.BatchNorm {
		out[c.Layer] = c.Status
	}
	return out
}

// TestDiffFineTunes diffs mlp with its proper fine-tune (BatchNorm moved)
// and with its stale fine-tune (BatchNorm unchanged, weights changed).
func TestDiffFineTunes(t *testing.T) {
	mlp := fixtureSide(t, "mlp")
	for name, want := range map[string]string{"finetune-ok": BNMoved, "finetune-stale": BNUnchanged} {
		d, err := Diff(mlp, fixtureSide(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := bnStatuses(d); len(got) != 2 || got["net.1"] != want || got["net.4"] != want {
			t.Errorf("%s: BatchNorm %v, want both %s", name, got, want)
		}
		for _, c := range d.BatchNorm {
			moved := c.MaxMeanShift > 0 || c.OldTracked != c.NewTracked
			if moved != (want == BNMoved) {
				t.Errorf("%s layer %s: shift %v, tracked %d -> %d", name, c.Layer, c.MaxMeanShift, c.OldTracked, c.NewTracked)
			}
		}
		w := d.Weights
		if w.Same || len(w.Changed) == 0 || len(w.Added)+len(w.Removed)+len(w.Unknown) != 0 {
			t.Errorf("%s weights: %+v", name, w)
		}
		if !slices.ContainsFunc(w.Changed, func(c TensorChange) bool { return c.Name == "net.0.weight" }) {
			t.Errorf("%s: net.0.weight not reported changed: %+v", name, w.Changed)
		}
		if len(d.Scaler) != 6 || d.Scaler[0].MeanShift != 0 || d.Scaler[0].StdRatio != 1 || len(d.Features.Added)+len(d.Features.Removed) != 0 {
			t.Errorf("%s: same scaler reported changed: %+v %+v", name, d.Features, d.Scaler)
		}
	}
	d, err := Diff(mlp, fixtureSide(t, "finetune-ok"))
	if err != nil {
		t.Fatal(err)
	}
	if d.BatchNorm[0].OldTracked != 160 || d.BatchNorm[0].NewTracked != 192 {
		t.Errorf("num_batches_tracked %d -> %d, want 160 -> 192", d.BatchNorm[0].OldTracked, d.BatchNorm[0].NewTracked)
	}
}

// TestDiffSchemaAndScaler diffs mlp with a permuted and a smaller scaler.
func TestDiffSchemaAndScaler(t *testing.T) {
	mlp := fixtureStandardizerSide(t, "mlp")
	mlp.Weights = &SafetensorsHeader{}
	fewer := fixtureStandardizerSide(t, "scaler-fewer")
	fewer.Features, fewer.Weights = fewer.Scaler.FeatureNames, &SafetensorsHeader{}
	d, err := Diff(mlp, fewer)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Features.Removed, []string{"balance"}) || len(d.Features.Added) != 0 || d.Features.Reordered || len(d.Scaler) != 5 {
		t.Errorf("fewer: %+v, %d scaler rows", d.Features, len(d.Scaler))
	}
	perm := fixtureStandardizerSide(t, "scaler-permuted")
	perm.Features, perm.Weights = perm.Scaler.FeatureNames, &SafetensorsHeader{}
	if d, _ = Diff(mlp, perm); !d.Features.Reordered {
		t.Errorf("permuted: %+v", d.Features)
	}
	refit := fixtureStandardizerSide(t, "scaler-refit")
	refit.Weights = &SafetensorsHeader{}
	d, _ = Diff(mlp, refit)
	for _, c := range d.Scaler {
		if (c.Feature == "income") != (c.MeanShift > 0.5) {
			t.Errorf("refit on shifted income: %s shift %v", c.Feature, c.MeanShift)
		}
	}
}

// TestDiffTensorHeaders reports tensors added, removed, reshaped, retyped,
// and bytes unknown without per-tensor digests.
func TestDiffTensorHeaders(t *testing.T) {
	h := func(ts ...TensorInfo) *SafetensorsHeader {
		sh := &SafetensorsHeader{Tensors: ts, index: map[string]int{}}
		for i, t := range ts {
			sh.index[t.Name] = i
		}
		return sh
	}
	old := DiffSide{WeightsDigest: "sha256:1", Weights: h(
		TensorInfo{Name: "a", DType: "F32", Shape: []int64{2}}, TensorInfo{Name: "b", DType: "F32", Shape: []int64{2}},
		TensorInfo{Name: "c", DType: "F32", Shape: []int64{2}}, TensorInfo{Name: "gone", DType: "F32"})}
	new := DiffSide{WeightsDigest: "sha256:2", Weights: h(
		TensorInfo{Name: "a", DType: "F32", Shape: []int64{3}}, TensorInfo{Name: "b", DType: "F16", Shape: []int64{2}},
		TensorInfo{Name: "c", DType: "F32", Shape: []int64{2}}, TensorInfo{Name: "new", DType: "F32"})}
	d, err := Diff(old, new)
	if err != nil {
		t.Fatal(err)
	}
	w := d.Weights
	if !slices.Equal(w.Added, []string{"new"}) || !slices.Equal(w.Removed, []string{"gone"}) || !slices.Equal(w.Unknown, []string{"c"}) {
		t.Fatalf("weights diff %+v", w)
	}
	if len(w.Changed) != 2 || w.Changed[0].Changes[0] != "shape [2] -> [3]" || w.Changed[1].Changes[0] != "dtype F32 -> F16" {
		t.Errorf("changed %+v", w.Changed)
	}
}
