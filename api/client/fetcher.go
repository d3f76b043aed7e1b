package client

import (
	"context"
	"fmt"
	"io"

	"github.com/normreg/normreg/artifact"
	"github.com/normreg/normreg/manifest"
)

// Fetcher reads one repository of the registry as a manifest.Fetcher, so
// the manifest package can gather and check a bundle from the registry.
type Fetcher struct {
	c    *Client
	repo string
}

var _ manifest.Fetcher = Fetcher{}

// Fetcher returns a manifest.Fetcher of repo.
func (c *Client) Fetcher(repo string) Fetcher { return Fetcher{c: c, repo: repo} }

// Fetch returns length bytes of desc's content from offset (to its end when
// length < 0): a manifest by its digest (offset 0 only), or a blob, with a
// closed Range request bytes=offset-(offset+length-1) when length >= 0 and
// an open one when offset > 0. The content is not verified here; callers
// verify what they read whole.
func (f Fetcher) Fetch(ctx context.Context, desc artifact.Descriptor, offset, length int64) (io.ReadCloser, error) {
	if manifest.IsManifestMediaType(desc.MediaType) {
		if offset != 0 {
			return nil, fmt.Errorf("manifest %s: reading from offset %d is not supported", desc.Digest, offset)
		}
		_, data, err := f.c.FetchManifest(ctx, f.repo, desc.Digest.String())
		if err != nil {
			return nil, err
		}
		return manifest.SliceFetched(data, 0, length)
	}
	end := int64(-1)
	if length >= 0 {
		end = offset + length
	}
	rc, err := f.c.openBlob(ctx, f.repo, desc.Digest, offset, end)
	if err != nil {
		return nil, err
	}
	return manifest.LimitFetched(rc, length), nil // a registry that ignores Range sends the rest
}
