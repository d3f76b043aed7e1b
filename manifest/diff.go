package manifest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/normreg/normreg/artifact"
)

// DiffReport is a diff between two bundles as regctl diff --json prints it
// and the model API's diff route serves it: the two references, the
// manifest digests they resolved to, and what changed.
type DiffReport struct {
	From       string          `json:"from"`
	FromDigest artifact.Digest `json:"from_digest"`
	To         string          `json:"to"`
	ToDigest   artifact.Digest `json:"to_digest"`
	*artifact.BundleDiff
}

// DiffSide returns what artifact.Diff reads of the bundle view describes
// (a view Check returned with a non-nil Bundle): its features, scaler and
// BatchNorm statistics (the bnstats layer's, else the weights'), and the
// weights header, read again from f by closed ranges. With tensorBytes,
// the side's TensorDigest hashes one tensor's bytes fetched by one closed
// range; the whole weights are never read.
func DiffSide(ctx context.Context, view *View, f Fetcher, tensorBytes bool) (artifact.DiffSide, error) {
	b, w := view.Bundle, view.Weights
	h, err := artifact.ReadSafetensorsHeader(io.NewSectionReader(newRangeReader(ctx, f, w), 0, w.Size))
	if err != nil {
		return artifact.DiffSide{}, fmt.Errorf("weights %s: %w", w.Digest, err)
	}
	side := artifact.DiffSide{Features: b.Features, Scaler: b.Scaler, BN: b.BNLayer, Weights: h, WeightsDigest: w.Digest, ScalerDigest: b.ScalerLayer}
	if side.BN == nil {
		side.BN = b.BNWeights
	}
	if tensorBytes {
		side.TensorDigest = func(t artifact.TensorInfo) (artifact.Digest, error) {
			return fetchedSHA256(ctx, f, w, h.DataStart+t.Begin, t.Bytes())
		}
	}
	return side, nil
}

// fetchedSHA256 returns the sha256 digest of length bytes of desc from
// offset, streamed by one Fetch.
func fetchedSHA256(ctx context.Context, f Fetcher, desc artifact.Descriptor, offset, length int64) (artifact.Digest, error) {
	if length == 0 {
		return artifact.FromBytes(artifact.SHA256, nil), nil
	}
	rc, err := f.Fetch(ctx, desc, offset, length)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return "", err
	}
	if n != length {
		return "", fmt.Errorf("%s: read %d bytes at %d, want %d: %w", desc.Digest, n, offset, length, io.ErrUnexpectedEOF)
	}
	return artifact.FromHash(artifact.SHA256, h), nil
}
