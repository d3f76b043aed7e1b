package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The direct SDK transfers use normreg's defaults: 16 MiB parts, 4 uploads
// at once; downloads fetch 16 MiB ranges, 8 at once.
const (
	partSize       = 16 << 20
	putConcurrency = 4
	getConcurrency = 8
	normregPrefix  = "bench-normreg" // where normreg-s3 keeps its data in the bucket
	directKey      = "bench-direct"  // the object of the direct transfers
)

// s3Config is the S3 server scripts/s3.sh started.
type s3Config struct{ endpoint, bucket, region string }

// s3FromEnv reads NORMREG_TEST_S3_ENDPOINT, NORMREG_TEST_S3_BUCKET and AWS_REGION.
func s3FromEnv() (s3Config, error) {
	c := s3Config{os.Getenv("NORMREG_TEST_S3_ENDPOINT"), os.Getenv("NORMREG_TEST_S3_BUCKET"), os.Getenv("AWS_REGION")}
	if c.endpoint == "" || c.bucket == "" {
		return c, fmt.Errorf(`no S3 server: run eval "$(scripts/s3.sh start)" first`)
	}
	if c.region == "" {
		c.region = "us-east-1"
	}
	return c, nil
}

// s3Client is an SDK client of c (path-style, checksums only when required, as storage/s3).
func (c s3Config) client(ctx context.Context) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(c.region))
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle = aws.String(c.endpoint), true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}

// s3Group measures normreg on S3 beside aws s3 cp and the direct SDK
// transfers, the uploads and the downloads in round's turn (see matrix).
func (b *bench) s3Group(ctx context.Context, label string, f bundleFiles, round int) error {
	defer b.s3Clean(ctx)
	g := label + " s3"
	srv, err := b.startNormregS3(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	proxy, err := b.startNormregS3Proxy(ctx)
	if err != nil {
		return err
	}
	defer proxy.stop()
	single, err := b.startNormregS3Single(ctx)
	if err != nil {
		return err
	}
	defer single.stop()
	ref := srv.addr + "/bench/model:v1"
	out := filepath.Join(b.work, "pulled")
	k := label + "/s3/"
	cache := b.coldCache()
	uploads := []s3Step{
		{step{key: "sdk-put", name: "direct SDK multipart upload", argv: b.s3Self("s3put", f.weights, directKey)}, nil, nil},
		{step{key: "aws-put", name: "aws s3 cp (up)", argv: b.awsCp(f.weights, b.s3URL(directKey))}, nil, nil},
		{step{key: "normreg-push", name: "push regctl→normreg-s3", env: cache, argv: b.clients()[0].push(ref, f)}, []string{k + "sdk-put", k + "aws-put"}, nil},
		{step{key: "normreg-push-single", name: "push regctl→normreg-s3 (single-put-max=5GiB)", env: b.coldCache(), argv: b.clients()[0].push(single.addr+"/bench/model:v1", f)}, []string{k + "sdk-put", k + "aws-put"}, single},
	}
	// The four uploads, then the four downloads, take turns at going first.
	if err := b.s3Steps(ctx, srv, f, g, k, turn(uploads, round)); err != nil {
		return err
	}
	// The direct downloads fetch the object normreg keeps the weights in,
	// so that every download reads the same file of the S3 server.
	key, err := b.objectOfSize(ctx, normregPrefix+"/", f.size)
	if err != nil {
		return err
	}
	downloads := []s3Step{
		{step{key: "sdk-get", name: "direct SDK parallel ranged download", argv: b.s3Self("s3get", out, key), out: out}, nil, nil},
		{step{key: "aws-get", name: "aws s3 cp (down)", argv: b.awsCp(b.s3URL(key), out), out: out}, nil, nil},
		{step{key: "normreg-pull", name: "pull regctl←normreg-s3 (--s3-redirect)", argv: b.clients()[0].pull(ref, out), out: out}, []string{k + "sdk-get", k + "aws-get"}, nil},
		{step{key: "normreg-pull-direct", name: "pull regctl←normreg-s3 (--s3-redirect, --direct)", argv: append(b.clients()[0].pull(ref, out), "--direct"), out: out}, []string{k + "sdk-get", k + "aws-get"}, nil},
	}
	proxied := s3Step{step{key: "normreg-pull-proxied", name: "pull regctl←normreg-s3 (through the registry)", argv: b.clients()[0].pull(proxy.addr+"/bench/model:v1", out), out: out}, []string{k + "sdk-get", k + "aws-get"}, proxy}
	if err := b.s3Steps(ctx, srv, f, g, k, append(turn(downloads, round), proxied)); err != nil {
		return err
	}
	srv.stop()
	proxy.stop()
	single.stop()
	b.s3Clean(ctx)
	push := step{key: k + "normreg-push", group: g, name: "push regctl→normreg-s3", env: cache}
	return b.warmPush(ctx, serverStarter{"normreg-s3", b.startNormregS3}, b.clients()[0], f, push, []string{k + "sdk-put", k + "aws-put"})
}

// s3Step is a step of the S3 group: its bases, and the registry whose RSS
// is measured (nil: the group's registry).
type s3Step struct {
	step
	bases []string
	via   *server
}

// s3Steps measures steps of f in order, their keys under k, against srv unless
// a step names its registry; a step without bases (a direct transfer, not
// through a registry) reports no registry RSS.
func (b *bench) s3Steps(ctx context.Context, srv *server, f bundleFiles, group, k string, steps []s3Step) error {
	for _, s := range steps {
		s.key, s.group = k+s.key, group
		if err := b.measure(ctx, cmp.Or(s.via, srv), f, s.step); err != nil {
			return err
		}
		b.rep.Rows[len(b.rep.Rows)-1].Bases = s.bases
		if s.bases == nil {
			b.rep.Rows[len(b.rep.Rows)-1].ServerRSSMiB = 0
		}
	}
	return nil
}

// objectOfSize is the key of an object under prefix of size bytes: after
// a push, the object normreg keeps the weights in.
func (b *bench) objectOfSize(ctx context.Context, prefix string, size int64) (string, error) {
	c, err := b.s3.client(ctx)
	if err != nil {
		return "", err
	}
	var key string
	err = eachObject(ctx, c, b.s3.bucket, prefix, func(o types.Object) {
		if aws.ToInt64(o.Size) == size {
			key = aws.ToString(o.Key)
		}
	})
	if err == nil && key == "" {
		err = fmt.Errorf("no object of %d bytes under %s/%s after the push", size, b.s3.bucket, prefix)
	}
	return key, err
}

// eachObject calls do for every object of bucket under prefix.
func eachObject(ctx context.Context, c *s3.Client, bucket, prefix string, do func(types.Object)) error {
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			do(o)
		}
	}
	return nil
}

// s3URL is object key as an s3:// URL.
func (b *bench) s3URL(key string) string { return "s3://" + b.s3.bucket + "/" + key }

// awsCp is aws s3 cp from src to dst against the bench's S3 server.
func (b *bench) awsCp(src, dst string) []string {
	return []string{"aws", "--endpoint-url", b.s3.endpoint, "--only-show-errors", "s3", "cp", src, dst}
}

// s3Self runs this binary's s3put or s3get of file as object key.
func (b *bench) s3Self(cmd, file, key string) []string {
	return []string{b.self, cmd, "-file", file, "-key", key}
}

// s3Clean removes what the S3 group left in the bucket.
func (b *bench) s3Clean(ctx context.Context) {
	c, err := b.s3.client(ctx)
	if err != nil {
		return
	}
	for _, prefix := range []string{normregPrefix, directKey} {
		eachObject(ctx, c, b.s3.bucket, prefix, func(o types.Object) {
			c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.s3.bucket, Key: o.Key})
		})
	}
}

// s3Transfer parses s3put/s3get's flags and runs do.
func s3Transfer(ctx context.Context, args []string, do func(context.Context, *s3.Client, string, string, string) error) error {
	fl := flag.NewFlagSet("s3", flag.ContinueOnError)
	file := fl.String("file", "", "local file")
	key := fl.String("key", directKey, "object key")
	if err := fl.Parse(args); err != nil {
		return err
	}
	cfg, err := s3FromEnv()
	if err != nil {
		return err
	}
	c, err := cfg.client(ctx)
	if err != nil {
		return err
	}
	return do(ctx, c, cfg.bucket, *key, *file)
}

// forParts runs part(number, offset, length) for every part of size bytes,
// at most n at once, and returns the first error.
func forParts(size int64, n int, part func(number int32, off, length int64) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, n)
	)
	for off, num := int64(0), int32(1); off < size; off, num = off+partSize, num+1 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := part(num, off, min(partSize, size-off)); err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// s3Put uploads file as key with a multipart upload straight from the file.
func s3Put(ctx context.Context, c *s3.Client, bucket, key, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var parts []types.CompletedPart
	err = forParts(st.Size(), putConcurrency, func(num int32, off, length int64) error {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(num), Body: io.NewSectionReader(f, off, length), ContentLength: aws.Int64(length)})
		if err == nil {
			mu.Lock()
			parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId})
		return err
	}
	slices.SortFunc(parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// s3Get downloads key into file with parallel ranged GETs.
func s3Get(ctx context.Context, c *s3.Client, bucket, key, file string) error {
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	err = forParts(aws.ToInt64(head.ContentLength), getConcurrency, func(_ int32, off, length int64) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key,
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1))})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		_, err = io.Copy(io.NewOffsetWriter(f, off), out.Body)
		return err
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
