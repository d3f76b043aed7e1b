package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/normreg/normreg/api/client"
	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// remoteBundle is a bundle read from a registry and checked.
type remoteBundle struct {
	g        *globalOptions
	ref      client.Ref
	c        *client.Client
	digest   artifact.Digest
	raw      []byte         // the manifest bytes
	view     *manifest.View // nil when the manifest itself did not verify
	findings artifact.Findings
}

// blobSink receives a verified blob's content; the writer it returns gets
// the bytes as they stream and is closed after the last.
type blobSink func(desc artifact.Descriptor) (io.WriteCloser, error)

// checkRemote fetches the bundle REF names and runs every check on it. With
// a sink, every blob (config and layers) is then streamed into it while its
// digest is verified, unless the checks already refused the bundle; content
// that does not match its digest is a digest-mismatch finding. Blobs are
// streamed even when the checks could not run (an unreadable weights header),
// so that a corrupt blob is reported as a refusal (digest-mismatch) rather
// than as that error; the error is returned only when nothing refuses.
func checkRemote(ctx context.Context, g *globalOptions, s string, opts manifest.CheckOptions, sink blobSink) (*remoteBundle, error) {
	ref, c, err := g.connect(s)
	if err != nil {
		return nil, err
	}
	rb := &remoteBundle{g: g, ref: ref, c: c}
	desc, raw, err := c.FetchManifest(ctx, ref.Repo, ref.Reference())
	if errors.Is(err, artifact.ErrDigestMismatch) {
		rb.findings = artifact.Findings{artifact.DigestMismatchFinding("manifest of "+ref.String(), artifact.Digest(ref.Reference()), err)}
		return rb, nil
	}
	if err != nil {
		return nil, registryError(ref.Host, fmt.Errorf("fetching %s: %w", ref, err))
	}
	rb.digest, rb.raw = desc.Digest, raw
	var checkErr error
	rb.view, rb.findings, checkErr = manifest.Check(ctx, raw, c.Fetcher(ref.Repo), opts)
	if sink != nil && !rb.findings.Refused() {
		if err := rb.stream(ctx, sink); err != nil {
			return nil, err
		}
	}
	if checkErr != nil && !rb.findings.Refused() {
		return nil, fmt.Errorf("checking %s: %w", ref, checkErr)
	}
	return rb, nil
}

// stream copies every blob of the bundle into sink, verifying digests.
func (rb *remoteBundle) stream(ctx context.Context, sink blobSink) error {
	m, err := manifest.Parse("", rb.raw)
	if err != nil {
		return fmt.Errorf("%s: %w", rb.ref, err)
	}
	for _, desc := range append([]artifact.Descriptor{*m.Config}, m.Layers...) {
		err := rb.copyBlob(ctx, desc, sink)
		if errors.Is(err, artifact.ErrDigestMismatch) || errors.Is(err, artifact.ErrSizeMismatch) {
			rb.findings = append(rb.findings, artifact.DigestMismatchFinding("blob", desc.Digest, err))
			continue
		}
		if err != nil {
			return registryError(rb.ref.Host, err)
		}
	}
	return nil
}

// copyBlob streams one blob into sink, verifying it.
func (rb *remoteBundle) copyBlob(ctx context.Context, desc artifact.Descriptor, sink blobSink) error {
	w, err := sink(desc)
	if err != nil {
		return err
	}
	rc, err := rb.c.FetchBlob(ctx, rb.ref.Repo, desc)
	if err != nil {
		w.Close()
		return fmt.Errorf("fetching %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	_, err = io.Copy(w, rb.g.progress("fetch", desc, rc))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	return nil
}

// discard is a sink that verifies and keeps nothing.
func discard(artifact.Descriptor) (io.WriteCloser, error) { return nopWriteCloser{io.Discard}, nil }

// nopWriteCloser is a writer whose Close does nothing.
type nopWriteCloser struct{ io.Writer }

// Close implements io.Closer.
func (nopWriteCloser) Close() error { return nil }
