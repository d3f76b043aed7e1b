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
	dir := manifestsDir(repo)
	infos := []ManifestInfo{}
	for _, alg := range []artifact.Algorithm{artifact.SHA256, artifact.SHA512} { // Driver.List lists objects, not folders
		alg := string(alg)
		err := listAll(ctx, m.d, dir+alg+"/", func(hex string) error {
			info, err := m.d.Stat(ctx, dir+alg+"/"+hex)
			if errors.Is(err, ErrNotFound) { // deleted since listed
				return nil
			}
			if err != nil {
				return err
			}
			infos = append(infos, ManifestInfo{Digest: artifact.Digest(alg + ":" + hex), Pushed: info.Modified})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return infos, nil
}
