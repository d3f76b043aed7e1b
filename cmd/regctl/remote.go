package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

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
// a sink, every blob (config and layers) is streamed into it while its
// digest is verified, at the same time as the checks run, so that a pull
// takes the time of its download rather than that of the checks' requests
// plus the download; content that does not match its digest is a
// digest-mismatch finding. When the checks refuse the bundle, the streaming
// is cancelled and what it wrote counts for nothing (pull writes into a temp
// dir it removes). Blobs are streamed even when the checks could not run (an
// unreadable weights header), so that a corrupt blob is reported as a
// refusal (digest-mismatch) rather than as that error; the error is returned
// only when nothing refuses.
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
	var streamed func() (artifact.Findings, error)
	if sink != nil {
		var stop func()
		streamed, stop = rb.startStream(ctx, sink)
		defer func() { stop(); streamed() }() // an early return stops and waits for the stream
	}
	var checkErr error
	rb.view, rb.findings, checkErr = manifest.Check(ctx, raw, c.Fetcher(ref.Repo), opts)
	if streamed != nil && !rb.findings.Refused() {
		found, err := streamed()
		if err != nil {
			return nil, err
		}
		rb.findings = append(rb.findings, found...)
	}
	if checkErr != nil && !rb.findings.Refused() {
		return nil, fmt.Errorf("checking %s: %w", ref, checkErr)
	}
	return rb, nil
}

// startStream starts copying every blob of the bundle into sink, each in
// its own goroutine, verifying digests, and returns the function that waits
// for them and the one that cancels them. wait returns a digest-mismatch
// finding for each blob whose content does not match, in manifest order, or
// the first other error (which cancels the other copies); it may be called
// more than once.
func (rb *remoteBundle) startStream(ctx context.Context, sink blobSink) (wait func() (artifact.Findings, error), stop func()) {
	m, err := manifest.Parse("", rb.raw)
	if err != nil {
		return func() (artifact.Findings, error) { return nil, fmt.Errorf("%s: %w", rb.ref, err) }, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	blobs := append([]artifact.Descriptor{*m.Config}, m.Layers...)
	errs := make([]error, len(blobs))
	var wg sync.WaitGroup
	for i, desc := range blobs {
		wg.Go(func() {
			errs[i] = rb.copyBlob(ctx, desc, sink)
			if errs[i] != nil && !artifact.IsMismatch(errs[i]) {
				cancel()
			}
		})
	}
	return sync.OnceValues(func() (artifact.Findings, error) {
		wg.Wait()
		cancel()
		var found artifact.Findings
		var first error // the first error in manifest order, one that is not a cancellation if any
		for i, err := range errs {
			switch {
			case err == nil:
			case artifact.IsMismatch(err):
				found = append(found, artifact.DigestMismatchFinding("blob", blobs[i].Digest, err))
			case first == nil || errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled):
				first = fmt.Errorf("blob %s: %w", blobs[i].Digest, err)
			}
		}
		if first != nil {
			return nil, registryError(rb.ref.Host, first)
		}
		return found, nil
	}), cancel
}

// copyBlob streams one blob into sink, verifying it. Its errors do not name
// the blob: startStream names it once, in the finding or the error.
func (rb *remoteBundle) copyBlob(ctx context.Context, desc artifact.Descriptor, sink blobSink) error {
	w, err := sink(desc)
	if err != nil {
		return err
	}
	rc, err := rb.c.FetchBlob(ctx, rb.ref.Repo, desc)
	if err != nil {
		w.Close()
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rb.g.progress("fetch", desc, rc))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// discard is a sink that verifies and keeps nothing.
func discard(artifact.Descriptor) (io.WriteCloser, error) { return nopWriteCloser{io.Discard}, nil }

// nopWriteCloser is a writer whose Close does nothing.
type nopWriteCloser struct{ io.Writer }

// Close implements io.Closer.
func (nopWriteCloser) Close() error { return nil }
