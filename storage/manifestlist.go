package storage

import (
	"context"
	"errors"
	"time"

	"github.com/normreg/normreg/artifact"
)

// ManifestInfo is one manifest of a repository: its digest and when it was
// last pushed to the repository.
type ManifestInfo struct {
	Digest artifact.Digest
	Pushed time.Time
}

// List returns repo's manifests, ordered by digest (algorithm, then hex).
// A repository without manifests gives an empty list.
func (m *Manifests) List(ctx context.Context, repo string) ([]ManifestInfo, error) {
	if err := artifact.ValidateRepository(repo); err != nil {
		return nil, err
	}
	infos := []ManifestInfo{}
	err := listDigests(ctx, m.d, manifestsDir(repo), func(d artifact.Digest) error {
		info, err := m.d.Stat(ctx, manifestKey(repo, d))
		if errors.Is(err, ErrNotFound) { // deleted since listed
			return nil
		}
		if err != nil {
			return err
		}
		infos = append(infos, ManifestInfo{Digest: d, Pushed: info.Modified})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return infos, nil
}
