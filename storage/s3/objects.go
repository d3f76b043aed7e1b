package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/normreg/normreg/storage"
)

// Open implements storage.Driver with a ranged GET.
func (d *Driver) Open(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(key))}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := d.client.GetObject(ctx, in)
	if httpStatus(err) == 416 {
		return d.openAtEnd(ctx, key, offset)
	}
	if err != nil {
		return nil, mapErr(key, err)
	}
	return cutOff{ReadCloser: out.Body, key: key}, nil
}

// cutOff is an object's body as S3 sends it. A read that fails (the
// connection broken off mid-body: net/http's io.ErrUnexpectedEOF, a reset)
// is storage.ErrUnavailable: the storage failed, which says nothing of the
// object, where io.ErrUnexpectedEOF would read as content shorter than it
// should be. The cause is kept in the text, not the chain.
type cutOff struct {
	io.ReadCloser
	key string
}

// Read implements io.Reader.
func (c cutOff) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: reading %s: %v", storage.ErrUnavailable, c.key, err)
	}
	return n, err
}

// openAtEnd handles a range S3 cannot satisfy: reading from exactly the end
// of the object yields nothing; beyond it is an error.
func (d *Driver) openAtEnd(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	info, err := d.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	if offset != info.Size {
		return nil, fmt.Errorf("%s: offset %d outside 0..%d", key, offset, info.Size)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// Stat implements storage.Driver with a HEAD.
func (d *Driver) Stat(ctx context.Context, key string) (storage.Info, error) {
	out, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(key))})
	if err != nil {
		return storage.Info{}, mapErr(key, err)
	}
	return storage.Info{
		Key:      key,
		Size:     aws.ToInt64(out.ContentLength),
		Version:  aws.ToString(out.ETag),
		Modified: aws.ToTime(out.LastModified),
	}, nil
}

// Get implements storage.Driver.
func (d *Driver) Get(ctx context.Context, key string, max int64) ([]byte, string, error) {
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(key))})
	if err != nil {
		return nil, "", mapErr(key, err)
	}
	defer out.Body.Close()
	if size := aws.ToInt64(out.ContentLength); size > max {
		return nil, "", fmt.Errorf("%s: %d bytes, at most %d: %w", key, size, max, storage.ErrTooLarge)
	}
	data, err := io.ReadAll(io.LimitReader(cutOff{ReadCloser: out.Body, key: key}, max+1))
	if err == nil && int64(len(data)) > max {
		err = fmt.Errorf("%s: more than %d bytes: %w", key, max, storage.ErrTooLarge)
	}
	if err != nil {
		return nil, "", err
	}
	return data, aws.ToString(out.ETag), nil
}

// PutIf implements storage.Driver with If-None-Match: * or If-Match: <etag>.
// A conflicting concurrent conditional write (409) also counts as a failed
// precondition, and so does If-Match on a missing key.
func (d *Driver) PutIf(ctx context.Context, key string, data []byte, ifVersion string) (string, error) {
	in := &s3.PutObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(key)), Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))}
	if ifVersion == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifVersion)
	}
	out, err := d.client.PutObject(ctx, in)
	if status := httpStatus(err); status == 409 || status == 404 && ifVersion != "" {
		return "", fmt.Errorf("%s: %w", key, storage.ErrPreconditionFailed)
	}
	if err != nil {
		return "", mapErr(key, err)
	}
	return aws.ToString(out.ETag), nil
}

// List implements storage.Driver with ListObjectsV2, delimiter "/". S3
// counts deeper levels ("common prefixes") against MaxKeys, so it may take
// several requests to fill a page.
func (d *Driver) List(ctx context.Context, dir, after string, limit int) ([]string, error) {
	prefix := d.key(dir)
	in := &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(prefix), Delimiter: aws.String("/")}
	if after != "" {
		in.StartAfter = aws.String(prefix + after)
	}
	var names []string
	for len(names) < limit {
		in.MaxKeys = aws.Int32(int32(limit - len(names)))
		out, err := d.client.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, mapErr(dir, err)
		}
		for _, obj := range out.Contents {
			names = append(names, strings.TrimPrefix(aws.ToString(obj.Key), prefix))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.ContinuationToken = out.NextContinuationToken
	}
	return names, nil
}

// Delete implements storage.Driver.
func (d *Driver) Delete(ctx context.Context, key string) error {
	_, err := d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(key))})
	if err = mapErr(key, err); errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}
