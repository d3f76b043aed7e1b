package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/normreg/normreg/artifact"
)

// ErrRedirectUnsupported: the driver cannot hand out URLs of its objects.
var ErrRedirectUnsupported = errors.New("storage driver cannot presign URLs")

// Redirector is an optional Driver interface: a driver whose objects can be
// read by clients directly, without the registry in the data path.
type Redirector interface {
	// PresignGet returns a URL that lets anyone holding it GET the object at
	// key (Range requests included) for expires from now, with no other
	// credentials. It does not check that the object exists.
	PresignGet(ctx context.Context, key string, expires time.Duration) (string, error)
}

// RedirectURL returns a URL that reads blob d of repo directly from storage
// for expires: ErrBlobUnknown if the blob is not linked into repo (as
// Open), ErrRedirectUnsupported if the driver is not a Redirector.
func (b *Blobs) RedirectURL(ctx context.Context, repo string, d artifact.Digest, expires time.Duration) (string, error) {
	r, ok := b.d.(Redirector)
	if !ok {
		return "", fmt.Errorf("blob %s: %w", d, ErrRedirectUnsupported)
	}
	key, _, err := b.locate(ctx, repo, d)
	if err != nil {
		return "", err
	}
	return r.PresignGet(ctx, key, expires)
}
