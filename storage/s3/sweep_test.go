package s3

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/normreg/normreg/storage/storagetest"
)

// TestSweep leaves a multipart upload with a part under the driver's prefix,
// as a Put does whose abort could not reach the server, and one under
// another registry's prefix in the same bucket: Sweep leaves the fresh
// upload while it counts as in progress, then finds it, aborts it only with
// remove, and never touches the other prefix.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	d, err := New(ctx, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	other, err := New(ctx, testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { noPendingUploads(t, d) })
	leave := func(d *Driver) *string {
		key := d.key("blobdata/cut-off")
		up, err := d.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &d.bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &d.bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("half a blob"))})
		if err != nil {
			t.Fatal(err)
		}
		return up.UploadId
	}
	leave(d)
	theirs := leave(other)
	t.Cleanup(func() {
		other.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &other.bucket, Key: aws.String(other.key("blobdata/cut-off")), UploadId: theirs})
	})
	if n, err := d.Sweep(ctx, time.Now().Add(-time.Hour), true); err != nil || n != 0 {
		t.Fatalf("Sweep of uploads idle for an hour = %d, %v; want none (the upload is fresh)", n, err)
	}
	if n, err := d.Sweep(ctx, time.Now().Add(time.Minute), false); err != nil || n != 1 {
		t.Fatalf("Sweep of everything without remove = %d, %v; want the upload found", n, err)
	}
	if n, err := d.Sweep(ctx, time.Now().Add(time.Minute), true); err != nil || n != 1 {
		t.Fatalf("Sweep of everything = %d, %v; want the upload aborted", n, err)
	}
	out, err := other.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &other.bucket, Prefix: aws.String(other.prefix)})
	if err != nil || len(out.Uploads) != 1 {
		t.Errorf("the other prefix's uploads after Sweep: %d, %v; want its one upload untouched", len(out.Uploads), err)
	}
}

// TestScrub runs the scrub check on S3, where an upload is committed by
// reference to its blob data.
func TestScrub(t *testing.T) {
	d, err := New(context.Background(), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(t, d) })
	storagetest.Scrub(t, d, true)
}

// TestOrphans runs the orphan blob data check on S3 with single-put-max (of
// three parts), so that a large first chunk is one PutObject.
func TestOrphans(t *testing.T) {
	cfg := testConfig(t)
	cfg.SinglePutMax = 3 * storagetest.PartSize
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(t, d) })
	storagetest.Orphans(t, d)
}
