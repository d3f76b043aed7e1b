package s3

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/normreg/normreg/storage"
)

var _ storage.Sweeper = (*Driver)(nil)

// Sweep implements storage.Sweeper: it counts, and with remove aborts, the
// multipart uploads under the driver's prefix neither begun nor given a
// part since before. Put aborts its own uploads when it fails, but not when
// the server is gone at that moment (or the process is killed), and the
// parts of such an upload stay in the bucket, unseen and billed, until
// someone aborts it.
func (d *Driver) Sweep(ctx context.Context, before time.Time, remove bool) (int, error) {
	pages := s3.NewListMultipartUploadsPaginator(d.client, &s3.ListMultipartUploadsInput{Bucket: &d.bucket, Prefix: aws.String(d.prefix)})
	found := 0
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return found, fmt.Errorf("listing multipart uploads: %w", err)
		}
		for _, up := range page.Uploads {
			swept, err := d.sweepUpload(ctx, up, before, remove)
			if err != nil {
				return found, err
			}
			if swept {
				found++
			}
		}
	}
	return found, nil
}

// sweepUpload reports whether upload up was neither begun nor given a part
// since before and, with remove, aborts it (then reporting whether it did).
// An upload completed or aborted meanwhile is not an error.
func (d *Driver) sweepUpload(ctx context.Context, up types.MultipartUpload, before time.Time, remove bool) (bool, error) {
	last, err := d.lastWrite(ctx, up)
	if err == nil {
		if !last.Before(before) || !remove {
			return last.Before(before), nil
		}
		_, err = d.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &d.bucket, Key: up.Key, UploadId: up.UploadId})
	}
	switch {
	case err == nil:
		return true, nil
	case isNoSuchUpload(err):
		return false, nil
	}
	return false, fmt.Errorf("multipart upload of %s: %w", aws.ToString(up.Key), err)
}

// lastWrite is when upload up was begun or last given a part, whichever is later.
func (d *Driver) lastWrite(ctx context.Context, up types.MultipartUpload) (time.Time, error) {
	last := aws.ToTime(up.Initiated)
	parts := s3.NewListPartsPaginator(d.client, &s3.ListPartsInput{Bucket: &d.bucket, Key: up.Key, UploadId: up.UploadId})
	for parts.HasMorePages() {
		page, err := parts.NextPage(ctx)
		if err != nil {
			return last, err
		}
		for _, p := range page.Parts {
			if t := aws.ToTime(p.LastModified); t.After(last) {
				last = t
			}
		}
	}
	return last, nil
}

// isNoSuchUpload reports whether err says the multipart upload is gone.
func isNoSuchUpload(err error) bool {
	var gone *types.NoSuchUpload
	return errors.As(err, &gone) || httpStatus(err) == 404
}
