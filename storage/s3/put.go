package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Put implements storage.Driver. It reads up to one part into a buffer; a
// stream that ends within it is sent with one PutObject, a longer one as a
// multipart upload with at most Concurrency part buffers of PartSize bytes.
func (d *Driver) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	bufSize := d.partSize
	if size >= 0 && size < bufSize {
		bufSize = size + 1 // room to see the end of a stream of the declared size
	}
	buf := make([]byte, bufSize)
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		_, err = d.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: &d.bucket, Key: aws.String(d.key(key)),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		return mapErr(key, err)
	case err != nil:
		return fmt.Errorf("put %s: %w", key, err)
	case bufSize < d.partSize:
		return fmt.Errorf("put %s: stream is longer than the declared %d bytes", key, size)
	}
	return d.multipart(ctx, key, buf, r)
}

// multipart uploads first and the rest of r as the parts of one multipart
// upload, completed only if r ends cleanly, aborted on any error.
func (d *Driver) multipart(ctx context.Context, key string, first []byte, r io.Reader) error {
	out, err := d.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(key))})
	if err != nil {
		return mapErr(key, err)
	}
	up := &upload{d: d, key: d.key(key), id: out.UploadId, buffers: make(chan []byte, d.concurrency)}
	for range d.concurrency - 1 {
		up.buffers <- nil
	}
	err = up.send(ctx, first, r)
	if err == nil {
		err = up.complete(ctx)
	}
	if err != nil {
		// The request context may be done; the abort must still happen.
		up.abort(context.WithoutCancel(ctx))
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// upload is one multipart upload in progress.
type upload struct {
	d       *Driver
	key     string
	id      *string
	buffers chan []byte // free part buffers; nil entries are not yet allocated

	wg    sync.WaitGroup
	mu    sync.Mutex
	parts []types.CompletedPart
	err   error // the first failed part's
}

// send uploads first and then r's remaining bytes, part by part, and waits
// for every part.
func (u *upload) send(ctx context.Context, first []byte, r io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u.start(ctx, cancel, 1, first, len(first))
	var err error
	for number := int32(2); err == nil && u.failed() == nil; number++ {
		buf := <-u.buffers
		if buf == nil {
			buf = make([]byte, u.d.partSize)
		}
		var n int
		n, err = io.ReadFull(r, buf)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		if n == 0 || err != nil && err != io.EOF {
			u.buffers <- buf
			break
		}
		u.start(ctx, cancel, number, buf, n)
	}
	u.wg.Wait()
	if err != nil && err != io.EOF {
		return err
	}
	return u.failed()
}

// start uploads buf[:n] as part number in the background and returns buf to
// the pool when done; a failure cancels ctx.
func (u *upload) start(ctx context.Context, cancel context.CancelFunc, number int32, buf []byte, n int) {
	u.wg.Go(func() {
		defer func() { u.buffers <- buf }()
		out, err := u.d.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &u.d.bucket, Key: &u.key, UploadId: u.id, PartNumber: aws.Int32(number),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		u.mu.Lock()
		defer u.mu.Unlock()
		if err != nil {
			if u.err == nil {
				u.err = fmt.Errorf("part %d: %w", number, err)
			}
			cancel()
			return
		}
		u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(number)})
	})
}

// failed returns the first part upload error, if any.
func (u *upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

// complete assembles the uploaded parts into the object.
func (u *upload) complete(ctx context.Context) error {
	slices.SortFunc(u.parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err := u.d.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &u.d.bucket, Key: &u.key, UploadId: u.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	})
	return err
}

// abort discards the upload and its parts.
func (u *upload) abort(ctx context.Context) {
	u.d.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &u.d.bucket, Key: &u.key, UploadId: u.id})
}
