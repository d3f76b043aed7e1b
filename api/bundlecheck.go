package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
	"github.com/normreg/normreg/storage"
)

// storeFetcher is a manifest.Fetcher over one repository of the store:
// blobs are streamed from storage from the asked offset, cut to the asked
// length (so the weights header and BatchNorm tensors are read by ranges),
// manifests (a parent bundle) are read from the same repository.
type storeFetcher struct {
	store *storage.Store
	repo  string
}

var _ manifest.Fetcher = storeFetcher{}

// Fetch implements manifest.Fetcher.
func (f storeFetcher) Fetch(ctx context.Context, desc artifact.Descriptor, offset, length int64) (io.ReadCloser, error) {
	if !manifest.IsManifestMediaType(desc.MediaType) {
		rc, _, err := f.store.Blobs.Open(ctx, f.repo, desc.Digest, offset)
		if err != nil {
			return nil, err
		}
		return manifest.LimitFetched(rc, length), nil
	}
	mf, err := f.store.Manifests.Get(ctx, f.repo, desc.Digest)
	if err != nil {
		return nil, err
	}
	if offset < 0 || offset > int64(len(mf.Data)) {
		return nil, fmt.Errorf("%w: offset %d of a %d-byte manifest", storage.ErrRangeInvalid, offset, len(mf.Data))
	}
	return manifest.SliceFetched(mf.Data, offset, length)
}

// errNotBundle: a repository that --require-bundles names got a manifest
// that is not a normreg bundle. It wraps manifest.ErrManifestInvalid.
var errNotBundle = fmt.Errorf("%w: the repository accepts only normreg bundles (artifactType %s)", manifest.ErrManifestInvalid, manifest.ArtifactTypeBundle)

// refusedError is a pushed bundle that the checks refuse. It wraps
// manifest.ErrManifestInvalid; its detail (the error response's detail
// field) is {"reason": "...", "findings": [...]}, every finding with id,
// severity, message and fix.
type refusedError struct {
	findings artifact.Findings
}

// Error lists the refusing findings' ids and messages.
func (e *refusedError) Error() string {
	var parts []string
	for _, f := range e.findings {
		if f.Severity == artifact.Refuse {
			parts = append(parts, string(f.ID)+": "+f.Message)
		}
	}
	return "bundle refused by the checks: " + strings.Join(parts, "; ")
}

// Unwrap makes a refusal a MANIFEST_INVALID.
func (e *refusedError) Unwrap() error { return manifest.ErrManifestInvalid }

// errorDetail is the JSON detail sent with the error: the reason and every finding.
func (e *refusedError) errorDetail() any {
	return map[string]any{"reason": e.Error(), "findings": e.findings}
}

// guardManifest runs the push-time checks on manifest m (bytes data) pushed
// to repo, before anything of it is stored: a normreg bundle must pass
// manifest.Check (the checks regctl runs), and a repository matching a
// --require-bundles pattern accepts only bundles (and indexes, which carry
// no content of their own).
func (s *server) guardManifest(ctx context.Context, repo string, m *manifest.Manifest, data []byte) error {
	if m.ArtifactType == manifest.ArtifactTypeBundle {
		return s.checkBundle(ctx, repo, data)
	}
	if !m.IsIndex() && matchAny(s.requireBundles, repo) {
		return fmt.Errorf("%w: %s matches --require-bundles %s, and this manifest has artifactType %q",
			errNotBundle, repo, strings.Join(s.requireBundles, ","), m.ArtifactType)
	}
	return nil
}

// checkBundle runs manifest.Check on a pushed bundle over the repository's
// stored blobs. A bundle the checks cannot read is MANIFEST_INVALID; one
// with a refusing finding is a *refusedError, counted in the metrics. A
// storage failure while reading is the error it is (storage.ErrUnavailable:
// 503), never a verdict on the bundle.
func (s *server) checkBundle(ctx context.Context, repo string, data []byte) error {
	v, findings, err := s.check(ctx, repo, data)
	if errors.Is(err, manifest.ErrInvalidBundle) {
		return fmt.Errorf("%w: %w", manifest.ErrManifestInvalid, err)
	}
	if err == nil && v.Bundle != nil {
		err = outage(v.Bundle.ScalerReadErr, v.ParentErr)
	}
	if err != nil {
		return err
	}
	if !findings.Refused() {
		return nil
	}
	s.metrics.rejected(findings)
	return &refusedError{findings: findings}
}

// maxChecks is how many bundle checks (a push's, the model API's) run at
// once; the others wait for one to end. A check holds the weights'
// safetensors header, up to artifact.MaxSafetensorsHeader bytes and a few
// times that while it is parsed, so this bounds the memory concurrent
// requests can make the registry take.
const maxChecks = 2

// check runs manifest.Check on the manifest data over repo's stored blobs,
// at most maxChecks at once.
func (s *server) check(ctx context.Context, repo string, data []byte) (*manifest.View, artifact.Findings, error) {
	select {
	case s.checks <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, context.Cause(ctx)
	}
	defer func() { <-s.checks }()
	return manifest.Check(ctx, data, storeFetcher{store: s.store, repo: repo}, manifest.CheckOptions{})
}

// outage returns the first of errs, the reads the checks record as
// findings (a scaler or parent bundle that cannot be read), that failed
// because the storage is unavailable: such a read says nothing of the
// bundle. It returns nil when there is none.
func outage(errs ...error) error {
	for _, err := range errs {
		if errors.Is(err, storage.ErrUnavailable) {
			return err
		}
	}
	return nil
}
