package manifest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/manifest/bundlepb"
	"github.com/normreg/normreg/manifest/bundletest"
)

// bundle is a built bundle with its weights, checkable through fetcher.
type bundle struct {
	*manifest.Built
	weights []byte
}

func newBundle(t *testing.T, w, sc []byte, d manifest.Declared) bundle {
	return bundle{build(t, w, sc, d), w}
}

// fetcher serves the bundle, with overrides taking precedence and next
// serving anything else (e.g. a parent bundle).
func (b bundle) fetcher(overrides map[artifact.Digest][]byte, next manifest.Fetcher) manifest.Fetcher {
	local := b.Fetcher(bytes.NewReader(b.weights), next)
	return bundletest.FetcherFunc(func(ctx context.Context, d artifact.Descriptor, off, n int64) (io.ReadCloser, error) {
		if c, ok := overrides[d.Digest]; ok {
			return manifest.SliceFetched(c, off, n)
		}
		return local.Fetch(ctx, d, off, n)
	})
}

// edited returns the bundle's manifest bytes after edit changed a copy.
func (b bundle) edited(t *testing.T, edit func(m *manifest.Manifest)) []byte {
	t.Helper()
	var m manifest.Manifest
	if err := json.Unmarshal(b.ManifestBytes, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	out, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func check(t *testing.T, manifestBytes []byte, f manifest.Fetcher) (*manifest.View, artifact.Findings) {
	t.Helper()
	v, fs, err := manifest.Check(context.Background(), manifestBytes, f, manifest.CheckOptions{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return v, fs
}

func wantIDs(t *testing.T, what string, fs artifact.Findings, want ...artifact.CheckID) {
	t.Helper()
	got := slices.Clone(fs.IDs())
	slices.Sort(got)
	got = slices.Compact(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: finding ids %v, want %v; findings:\n%v", what, got, want, fs)
	}
}

func TestCheckGoodBundle(t *testing.T) {
	b := newBundle(t, weights(nil, trained), scaler(), declared())
	v, fs := check(t, b.ManifestBytes, b.fetcher(nil, nil))
	wantIDs(t, "good bundle", fs)
	if v.Digest != b.Digest || v.Scaler == nil || v.BNStats == nil || v.Weights.Digest != b.Manifest.Layers[0].Digest {
		t.Errorf("view digests: %+v", v)
	}
	if v.Bundle.Scaler == nil || !slices.Equal(v.Bundle.Scaler.FeatureNames, features) || v.Bundle.InputSize != 3 {
		t.Errorf("view lacks the scaler or input size: %+v", v.Bundle)
	}
	if v.Bundle.BNLayer == nil || v.Bundle.BNWeights == nil || len(v.Bundle.BNLayer.Layers) != 1 ||
		!slices.Equal(v.Bundle.BNLayer.Layers[0].RunningVar, v.Bundle.BNWeights.Layers[0].RunningVar) {
		t.Errorf("BN statistics: layer %+v, weights %+v", v.Bundle.BNLayer, v.Bundle.BNWeights)
	}
}

func TestCheckScalerLayerTampering(t *testing.T) {
	b := newBundle(t, weights(nil, trained), scaler(), declared())
	other := bundletest.Scaler(features, []float64{41, 50000, 7}, []float64{150, 1.1e8, 15}, 900)
	otherDesc := b.Manifest.Layers[1]
	otherDesc.Digest, otherDesc.Size = artifact.FromBytes(artifact.SHA256, other), int64(len(other))

	removed := b.edited(t, func(m *manifest.Manifest) { m.Layers = slices.Delete(m.Layers, 1, 2) })
	_, fs := check(t, removed, b.fetcher(nil, nil))
	wantIDs(t, "scaler layer removed", fs, artifact.ScalerMissing)

	replaced := b.edited(t, func(m *manifest.Manifest) { m.Layers[1] = otherDesc })
	_, fs = check(t, replaced, b.fetcher(map[artifact.Digest][]byte{otherDesc.Digest: other}, nil))
	wantIDs(t, "scaler layer replaced", fs, artifact.ScalerMismatch)

	corrupt := bytes.Replace(scaler(), []byte("40"), []byte("49"), 1)
	_, fs = check(t, b.ManifestBytes, b.fetcher(map[artifact.Digest][]byte{b.Manifest.Layers[1].Digest: corrupt}, nil))
	if !slices.Contains(fs.IDs(), artifact.DigestMismatch) || !fs.Refused() {
		t.Errorf("corrupt scaler layer: findings %v, want a refusing digest-mismatch", fs)
	}
}

func TestCheckBNStatsLayerTampering(t *testing.T) {
	b := newBundle(t, weights(nil, trained), scaler(), declared())
	bnDesc := b.Manifest.Layers[2]
	corrupt := slices.Clone(b.Blobs[bnDesc.Digest])
	corrupt[len(corrupt)-1] ^= 1
	_, fs := check(t, b.ManifestBytes, b.fetcher(map[artifact.Digest][]byte{bnDesc.Digest: corrupt}, nil))
	wantIDs(t, "corrupt bnstats", fs, artifact.DigestMismatch)

	stale, err := manifest.MarshalBNStats(&artifact.BNStats{Layers: []artifact.BNLayer{{Name: "net.1", Channels: 4,
		RunningMean: []float64{0, 0, 0, 0}, RunningVar: []float64{1.5, 2, 0.5, 3}, NumBatchesTracked: 120, HasTracked: true}}})
	if err != nil {
		t.Fatal(err)
	}
	staleDesc := bnDesc
	staleDesc.Digest, staleDesc.Size = artifact.FromBytes(artifact.SHA256, stale), int64(len(stale))
	replaced := b.edited(t, func(m *manifest.Manifest) { m.Layers[2] = staleDesc })
	_, fs = check(t, replaced, b.fetcher(map[artifact.Digest][]byte{staleDesc.Digest: stale}, nil))
	wantIDs(t, "bnstats layer disagreeing with the weights", fs, artifact.BNMismatch)
}

func TestCheckCorruptConfig(t *testing.T) {
	b := newBundle(t, weights(nil, trained), scaler(), declared())
	cfg := b.Manifest.Config.Digest
	_, fs := check(t, b.ManifestBytes, b.fetcher(map[artifact.Digest][]byte{cfg: bytes.ToUpper(b.Blobs[cfg])}, nil))
	wantIDs(t, "corrupt config", fs, artifact.DigestMismatch)
}

func TestCheckRefusesNonBundles(t *testing.T) {
	b := newBundle(t, weights(nil, trained), scaler(), declared())
	for name, edit := range map[string]func(*manifest.Manifest){
		"other artifactType": func(m *manifest.Manifest) { m.ArtifactType = "application/vnd.example.thing" },
		"no weights":         func(m *manifest.Manifest) { m.Layers = m.Layers[1:] },
		"two scalers":        func(m *manifest.Manifest) { m.Layers = append(m.Layers, m.Layers[1]) },
	} {
		_, _, err := manifest.Check(context.Background(), b.edited(t, edit), b.fetcher(nil, nil), manifest.CheckOptions{})
		if !errors.Is(err, manifest.ErrInvalidBundle) {
			t.Errorf("%s: err = %v, want ErrInvalidBundle", name, err)
		}
	}
}

// reads counts the fetches of one blob and the bytes read from them.
type reads struct{ fetches, bytes atomic.Int64 }

// countingFetcher counts the fetches and bytes read through it per digest.
func countingFetcher(next manifest.Fetcher, counts map[artifact.Digest]*reads) manifest.Fetcher {
	return bundletest.FetcherFunc(func(ctx context.Context, d artifact.Descriptor, off, n int64) (io.ReadCloser, error) {
		rc, err := next.Fetch(ctx, d, off, n)
		c := counts[d.Digest]
		if err != nil || c == nil {
			return rc, err
		}
		c.fetches.Add(1)
		return struct {
			io.Reader
			io.Closer
		}{io.TeeReader(rc, countWriter{&c.bytes}), rc}, nil
	})
}

type countWriter struct{ n *atomic.Int64 }

func (c countWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// TestCheckReadsOnlyTheWeightsHeaderAndBNTensors checks that Check reads
// the weights' header and BatchNorm statistics by ranges, not the tensors
// between them, in blocks: header and statistics within the first 64 KiB
// take one fetch (they took one per read: five here, the header's length,
// the header and the layer's three statistics),
// statistics beyond them one more.
func TestCheckReadsOnlyTheWeightsHeaderAndBNTensors(t *testing.T) {
	bn := func(name string) []bundletest.Tensor {
		return bundletest.BatchNorm(name, slices.Repeat([]float64{0.5}, 512), slices.Repeat([]float64{2}, 512), 50)
	}
	var near, far []bundletest.Tensor
	near = append(near, bundletest.Linear("net.0", 512, 3)...)
	near = append(near, bn("net.1")...)
	near = append(near, bundletest.Linear("net.2", 1024, 512)...) // 2 MiB that must not be read
	far = append(far, near[:2]...)                                // net.0
	far = append(far, bundletest.Linear("net.2", 1024, 512)...)   // 2 MiB that must not be read
	far = append(far, bn("net.3")...)
	for _, c := range []struct {
		name    string
		tensors []bundletest.Tensor
		fetches int64
	}{{"statistics near the header", near, 1}, {"statistics after a large tensor", far, 2}} {
		w := bundletest.Safetensors(nil, c.tensors...)
		b := newBundle(t, w, scaler(), declared())
		wd := b.Manifest.Layers[0].Digest
		counts := map[artifact.Digest]*reads{wd: {}}
		_, fs := check(t, b.ManifestBytes, countingFetcher(b.fetcher(nil, nil), counts))
		wantIDs(t, c.name, fs)
		if n, f := counts[wd].bytes.Load(), counts[wd].fetches.Load(); n == 0 || n > c.fetches*64<<10 || f != c.fetches {
			t.Errorf("%s: Check read %d bytes of %d-byte weights in %d fetches; want the header and BN tensors only, in %d fetches of 64 KiB at most", c.name, n, len(w), f, c.fetches)
		}
	}
}

func TestCheckAgainstParent(t *testing.T) {
	parent := newBundle(t, weights(nil, trained), scaler(), declared())
	// Fine-tuned with BatchNorm left in eval mode: other weights, same running stats.
	var ts []bundletest.Tensor
	ts = append(ts, bundletest.Linear("net.0", 4, 3)...)
	ts[0].Values[0] = 9
	ts = append(ts, bundletest.BatchNorm("net.1", trained, []float64{1.5, 2, 0.5, 3}, 120)...)
	ts = append(ts, bundletest.Linear("net.3", 1, 4)...)
	w := bundletest.Safetensors(nil, ts...)

	d := declared()
	d.ParentDigest, d.ParentWeightsDigest = parent.Digest, parent.Manifest.Layers[0].Digest
	child := newBundle(t, w, scaler(), d)
	v, fs := check(t, child.ManifestBytes, child.fetcher(nil, parent.fetcher(nil, nil)))
	wantIDs(t, "fine-tune with stale BN", fs, artifact.BNStale)
	if v.Bundle.Parent == nil || v.Bundle.Parent.WeightsDigest != parent.Manifest.Layers[0].Digest || v.ParentErr != nil {
		t.Errorf("parent facts %+v, error %v", v.Bundle.Parent, v.ParentErr)
	}

	d.BNFrozen = true
	frozen := newBundle(t, w, scaler(), d)
	_, fs = check(t, frozen.ManifestBytes, frozen.fetcher(nil, parent.fetcher(nil, nil)))
	wantIDs(t, "fine-tune with BN declared frozen", fs)

	v, _ = check(t, child.ManifestBytes, child.fetcher(nil, nil))
	if v.Bundle.Parent != nil || v.ParentErr == nil {
		t.Errorf("unreachable parent: facts %+v, error %v; want no facts and an error", v.Bundle.Parent, v.ParentErr)
	}
}

// TestCheckReadsParentAffineOnlyWhenKept: against its parent, a fine-tune
// whose BatchNorm layers all moved reads nothing of the parent's weights; one
// in which a layer kept the parent's running statistics reads the parent's
// weight and bias of it (the bnstats layer has none) and, as they were
// trained, is refused naming that layer.
func TestCheckReadsParentAffineOnlyWhenKept(t *testing.T) {
	model := func(bn1, bn4 []bundletest.Tensor) []byte {
		var ts []bundletest.Tensor
		ts = append(ts, bundletest.Linear("net.0", 4, 3)...)
		ts = append(ts, bn1...)
		ts = append(ts, bundletest.Linear("net.3", 2, 4)...)
		ts = append(ts, bn4...)
		return bundletest.Safetensors(nil, append(ts, bundletest.Linear("net.6", 1, 2)...)...)
	}
	bn4 := func(tracked int64) []bundletest.Tensor {
		return bundletest.BatchNorm("net.4", []float64{0.5, -0.5}, []float64{2, 3}, tracked)
	}
	parent := newBundle(t, model(bundletest.BatchNorm("net.1", trained, []float64{1.5, 2, 0.5, 3}, 120), bn4(120)), scaler(), declared())
	d := declared()
	d.ParentDigest, d.ParentWeightsDigest = parent.Digest, parent.Manifest.Layers[0].Digest
	moved := bundletest.BatchNorm("net.1", []float64{0.2, -0.1, 0.3, 0.5}, []float64{1.4, 2, 0.6, 3}, 150)
	trainedInEval := bn4(120)
	trainedInEval[0].Values[1] = 1.5 // net.4.weight
	for _, c := range []struct {
		name    string
		bn4     []bundletest.Tensor
		fetches bool
		ids     []artifact.CheckID
	}{{"every layer moved", bn4(150), false, nil}, {"net.4 kept its statistics, weight trained", trainedInEval, true, []artifact.CheckID{artifact.BNStale}}} {
		child := newBundle(t, model(moved, c.bn4), scaler(), d)
		pw := parent.Manifest.Layers[0].Digest
		counts := map[artifact.Digest]*reads{pw: {}}
		_, fs := check(t, child.ManifestBytes, countingFetcher(child.fetcher(nil, parent.fetcher(nil, nil)), counts))
		wantIDs(t, c.name, fs, c.ids...)
		if f := counts[pw].fetches.Load(); (f > 0) != c.fetches {
			t.Errorf("%s: %d fetches of the parent's weights; want some: %v", c.name, f, c.fetches)
		}
		if text := fmt.Sprint(fs); c.ids != nil && (!strings.Contains(text, "1 of 2 BatchNorm layers kept the running statistics") || !strings.Contains(text, "trained: net.4;")) {
			t.Errorf("%s: findings %s; want net.4 named", c.name, text)
		}
	}
}

// withConfig returns the bundle's manifest with its config changed by edit
// (a bundle assembled by hand), and a fetcher serving the new config.
func (b bundle) withConfig(t *testing.T, edit func(c *bundlepb.BundleConfig)) ([]byte, manifest.Fetcher) {
	t.Helper()
	cfg, err := manifest.ParseConfig(b.Blobs[b.Manifest.Config.Digest])
	if err != nil {
		t.Fatal(err)
	}
	edit(cfg)
	raw, err := manifest.MarshalConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := artifact.FromBytes(artifact.SHA256, raw)
	m := b.edited(t, func(m *manifest.Manifest) { m.Config.Digest, m.Config.Size = d, int64(len(raw)) })
	return m, b.fetcher(map[artifact.Digest][]byte{d: raw}, nil)
}

func TestCheckInputTensorMissingFromWeights(t *testing.T) {
	b := newBundle(t, weights(nil, trained), scaler(), declared())
	m, f := b.withConfig(t, func(c *bundlepb.BundleConfig) { c.Input.Tensor = "fc9.weight" })
	v, fs := check(t, m, f)
	wantIDs(t, "unknown input tensor", fs, artifact.ScalerMismatch)
	if v.Bundle.InputErr == nil || v.Bundle.InputSize != -1 {
		t.Errorf("InputErr %v, InputSize %d; want the reason and -1", v.Bundle.InputErr, v.Bundle.InputSize)
	}
}

func TestCheckConfigContradictingWeightsMetadata(t *testing.T) {
	meta := map[string]string{"normreg.mode": "train", "normreg.features": "age,income,tenure"}
	d := declared()
	d.Mode = ""
	b := newBundle(t, weights(meta, trained), scaler(), d)
	m, f := b.withConfig(t, func(c *bundlepb.BundleConfig) { c.Mode = bundlepb.Mode_MODE_EVAL })
	_, fs := check(t, m, f)
	wantIDs(t, "config eval, metadata train", fs, artifact.ModeUnknown)

	m, f = b.withConfig(t, func(c *bundlepb.BundleConfig) {
		c.Mode = bundlepb.Mode_MODE_EVAL
		c.Features = []string{"income", "age", "tenure"}
	})
	_, fs = check(t, m, f)
	if ids := fs.IDs(); !slices.Contains(ids, artifact.ModeUnknown) || !slices.Contains(ids, artifact.ScalerMismatch) {
		t.Errorf("config features permuted against the metadata: %v, want mode-unknown and scaler-mismatch", fs)
	}
}

// TestCheckWeightsFetchFails: a fetch of the weights that fails is Check's
// error as the fetcher gave it, not ErrInvalidBundle (it said "invalid
// safetensors", calling the bundle corrupt), while weights shorter than
// their descriptor still are ErrInvalidBundle.
func TestCheckWeightsFetchFails(t *testing.T) {
	b := newBundle(t, weights(nil, trained), scaler(), declared())
	w := b.Manifest.Layers[0].Digest
	down := errors.New("storage down")
	failing := bundletest.FetcherFunc(func(ctx context.Context, d artifact.Descriptor, off, n int64) (io.ReadCloser, error) {
		if d.Digest == w {
			return nil, down
		}
		return b.fetcher(nil, nil).Fetch(ctx, d, off, n)
	})
	_, _, err := manifest.Check(context.Background(), b.ManifestBytes, failing, manifest.CheckOptions{})
	if !errors.Is(err, down) || errors.Is(err, manifest.ErrInvalidBundle) {
		t.Errorf("failing fetch: err = %v, want the fetcher's error, not ErrInvalidBundle", err)
	}
	short := b.fetcher(map[artifact.Digest][]byte{w: b.weights[:len(b.weights)-1]}, nil)
	if _, _, err := manifest.Check(context.Background(), b.ManifestBytes, short, manifest.CheckOptions{}); !errors.Is(err, manifest.ErrInvalidBundle) {
		t.Errorf("short weights: err = %v, want ErrInvalidBundle", err)
	}
}
