package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// PresignGet implements storage.Redirector: a SigV4 query-signed GetObject
// URL of key on the driver's endpoint (path-style when an endpoint is set),
// valid for expires. It signs only the host, so clients may add a Range.
func (d *Driver) PresignGet(ctx context.Context, key string, expires time.Duration) (string, error) {
	req, err := d.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(key))},
		s3.WithPresignExpires(expires))
	if err != nil {
		return "", fmt.Errorf("%s: presigning: %w", key, err)
	}
	return req.URL, nil
}
