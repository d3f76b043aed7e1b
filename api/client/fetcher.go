package client

import (
	"bytes"
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

// Fetch returns desc's content from offset to its end: a manifest by its
// digest (offset 0 only), or a blob, with a Range request when offset > 0.
// The content is not verified here; callers verify what they read whole.
func (f Fetcher) Fetch(ctx context.Context, desc artifact.Descriptor, offset int64) (io.ReadCloser, error) {
	if manifest.IsManifestMediaType(desc.MediaType) {
		if offset != 0 {
			return nil, fmt.Errorf("manifest %s: reading from offset %d is not supported", desc.Digest, offset)
		}
		_, data, err := f.c.FetchManifest(ctx, f.repo, desc.Digest.String())
		return io.NopCloser(bytes.NewReader(data)), err
	}
	return f.c.openBlob(ctx, f.repo, desc.Digest, offset, -1)
}
