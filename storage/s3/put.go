package s3

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/normreg/normreg/internal/readfull"
	"github.com/normreg/normreg/storage"
)

// Put implements storage.Driver. It reads up to one part into a buffer; a
// stream that ends within it is sent with one PutObject, a longer one as a
// multipart upload with at most Concurrency part buffers of PartSize bytes.
func (d *Driver) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	first, more, err := d.firstPart(r, size)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if more {
		return d.multipart(ctx, key, first, r)
	}
	_, err = d.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &d.bucket, Key: aws.String(d.key(key)),
		Body: bytes.NewReader(first), ContentLength: aws.Int64(int64(len(first))),
	})
	return mapErr(key, err)
}

// PutFresh implements storage.FreshPutter. A stream longer than a part of
// known size up to Config.SinglePutMax is streamed as the body of one
// PutObject, not buffered: S3 stores the object once, where a multipart
// upload's parts are assembled into it afterwards (on servers that keep
// objects as files, such as versitygw, a second write of every byte). Any
// other goes through Put. The request cannot be retried. If it fails, the
// body was broken off incomplete (see exactReader); S3 stores nothing, but
// a server may store the incomplete body anyway (versitygw does), even after
// PutFresh has returned. So the request carries If-None-Match: *, and a
// failed one is followed by an empty placeholder put under the same
// condition, which such a late write then cannot replace; if the
// placeholder finds an object there, that object is deleted.
func (d *Driver) PutFresh(ctx context.Context, key string, r io.Reader, size int64) error {
	if size < 0 {
		return d.Put(ctx, key, r, size)
	}
	body := &exactReader{r: r, left: size, size: size}
	if size <= d.partSize || size > d.singlePutMax {
		return d.Put(ctx, key, body, size)
	}
	_, err := d.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &d.bucket, Key: aws.String(d.key(key)), IfNoneMatch: aws.String("*"),
		Body: body, ContentLength: aws.Int64(size),
	}, unsignedPayload)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("put %s: %w", key, cmp.Or(body.err, unavailable(err)))
	// The request context may be done; the clean-up must still happen.
	ctx = context.WithoutCancel(ctx)
	_, perr := d.PutIf(ctx, key, nil, "")
	if errors.Is(perr, storage.ErrPreconditionFailed) {
		perr = d.Delete(ctx, key)
	}
	return errors.Join(err, perr)
}

// exactReader yields the size bytes of r and makes sure r ends there before
// it yields the last of them: when r fails at its end instead (a verifying
// reader's digest mismatch), runs shorter or runs longer, the request body
// is broken off incomplete. err is what broke it off.
type exactReader struct {
	r          io.Reader
	left, size int64
	err        error
}

// Read implements io.Reader.
func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil || e.left == 0 {
		return 0, cmp.Or(e.err, io.EOF)
	}
	n, err := e.r.Read(p[:min(int64(len(p)), e.left)])
	e.left -= int64(n)
	switch {
	case err == nil && e.left == 0:
		var one [1]byte
		if m, end := io.ReadFull(e.r, one[:]); m > 0 {
			err = fmt.Errorf("stream is longer than the declared %d bytes", e.size)
		} else if !errors.Is(end, io.EOF) {
			err = end
		}
	case errors.Is(err, io.EOF) && e.left > 0:
		err = fmt.Errorf("stream ended %d bytes short of the declared %d", e.left, e.size)
	case errors.Is(err, io.EOF):
		err = nil
	}
	if err != nil {
		e.err = err
		return 0, err
	}
	return n, nil
}

// smallBuffer is where a stream of unknown size is read first, so that small
// objects do not cost a whole part buffer.
const smallBuffer = 64 << 10

// firstPart reads the start of r: all of it if it ends within a part (more
// is false), else a full part buffer. A stream of known size is read into a
// buffer one byte larger, to see its end.
func (d *Driver) firstPart(r io.Reader, size int64) (buf []byte, more bool, err error) {
	small := int64(smallBuffer)
	if size >= 0 {
		small = size + 1
	}
	buf = make([]byte, min(small, d.partSize))
	n, eof, err := fill(r, buf)
	switch {
	case err != nil || eof:
		return buf[:n], false, err
	case int64(n) == d.partSize:
		return buf, true, nil
	case size >= 0:
		return nil, false, fmt.Errorf("stream is longer than the declared %d bytes", size)
	}
	part := make([]byte, d.partSize)
	copy(part, buf)
	m, eof, err := fill(r, part[n:])
	return part[:n+m], !eof, err
}

// fill reads r into buf until buf is full or r ends (eof). Any other error
// of r, io.ErrUnexpectedEOF included (a request body whose connection was
// cut off), is returned.
func fill(r io.Reader, buf []byte) (n int, eof bool, err error) {
	n, err = readfull.Read(r, buf)
	if errors.Is(err, io.EOF) {
		return n, true, nil
	}
	return n, false, err
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
		return fmt.Errorf("put %s: %w", key, unavailable(err))
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
	u.start(ctx, cancel, 1, first)
	err := u.sendRest(ctx, cancel, r)
	u.wg.Wait()
	return cmp.Or(err, u.failed())
}

// sendRest reads the rest of r into free part buffers and starts their
// uploads, until r ends, reading it fails or a part fails.
func (u *upload) sendRest(ctx context.Context, cancel context.CancelFunc, r io.Reader) error {
	for number := int32(2); u.failed() == nil; number++ {
		buf := <-u.buffers
		if buf == nil {
			buf = make([]byte, u.d.partSize)
		}
		n, eof, err := fill(r, buf)
		if err != nil {
			return err
		}
		if n > 0 {
			u.start(ctx, cancel, number, buf[:n])
		}
		if eof {
			return nil
		}
	}
	return nil
}

// start uploads part in the background and then returns its buffer to the
// pool; a failure cancels ctx.
func (u *upload) start(ctx context.Context, cancel context.CancelFunc, number int32, part []byte) {
	u.wg.Go(func() {
		defer func() { u.buffers <- part[:cap(part)] }()
		out, err := u.d.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &u.d.bucket, Key: &u.key, UploadId: u.id, PartNumber: aws.Int32(number),
			Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part))),
		}, unsignedPayload)
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

// unsignedPayload signs a part upload without hashing its bytes: the
// whole blob's digest is verified before the upload is completed, so a
// second sha256 pass per byte (a quarter of the registry's CPU on a push)
// would check nothing more.
func unsignedPayload(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
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

// abortRechecks are the pauses after which abort looks again for the upload.
var abortRechecks = []time.Duration{100 * time.Millisecond, 400 * time.Millisecond}

// abort discards the upload and its parts. A part whose request was cut off
// (the Put cancelled, or the parts in flight when another failed) may be
// stored by the server after the abort, which brings the upload back with
// that part (versitygw does; AWS documents that an abort may need to be
// repeated). So abort looks again after each pause of abortRechecks and
// aborts again while ListParts finds the upload. A failed abort (the server
// gone) ends it: nothing more can be done.
func (u *upload) abort(ctx context.Context) {
	in := &s3.AbortMultipartUploadInput{Bucket: &u.d.bucket, Key: &u.key, UploadId: u.id}
	if _, err := u.d.client.AbortMultipartUpload(ctx, in); err != nil {
		return
	}
	for _, pause := range abortRechecks {
		time.Sleep(pause)
		_, err := u.d.client.ListParts(ctx, &s3.ListPartsInput{Bucket: &u.d.bucket, Key: &u.key, UploadId: u.id, MaxParts: aws.Int32(1)})
		if err != nil {
			continue // gone (NoSuchUpload), or the server does not answer: look again after the next pause
		}
		if _, err := u.d.client.AbortMultipartUpload(ctx, in); err != nil {
			return
		}
	}
}
